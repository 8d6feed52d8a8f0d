/* libFuzzer target for the annotation grammar and references: the input is split on '\n' into
 * alternating annotation keys and values (the first line, when it does not start with
 * "skiff.dev/", is the container name); every reference that parses must round-trip through
 * skiff_ref_format(). None may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/annotations.h"
#include "env/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ref(const char *s, bool allow)
{
        struct skiff_ref r = {0};
        skiff_err_t err = NULL;
        if (skiff_ref_parse(s, allow, &r, &err) == 0) {
                char *f = skiff_ref_format(&r);
                struct skiff_ref r2 = {0};
                if (strcmp(f, s) != 0 || skiff_ref_parse(f, allow, &r2, NULL) != 0 ||
                    !skiff_ref_equal(&r, &r2))
                        abort();
                skiff_ref_done(&r2);
                free(f);
                skiff_ref_done(&r);
        }
        skiff_error_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (memchr(data, '\0', size))
                return 0;
        char *s = xstrndup((const char *)data, size);
        check_ref(s, true);
        check_ref(s, false);
        char **lines = skiff_strv_split(s, "\n", false);
        const char *container = NULL;
        char **kv = lines;
        if (lines[0] && strncmp(lines[0], "skiff.dev/", 10) != 0) {
                container = lines[0];
                kv = lines + 1;
        }
        for (int allow = 0; allow < 2; allow++) {
                struct skiff_annotations a = {0};
                skiff_err_t err = NULL;
                if (skiff_annotations_parse(kv, container, allow, &a, &err) == 0) {
                        if (a.opted_in && a.n_layers == 0)
                                abort();
                        skiff_annotations_done(&a);
                }
                skiff_error_free(&err);
        }
        (void)skiff_annotations_container_name(kv);
        skiff_strv_free(lines);
        free(s);
        return 0;
}
