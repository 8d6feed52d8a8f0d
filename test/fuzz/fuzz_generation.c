/* libFuzzer target for generation documents: the parser and validator, and for documents that
 * parse, the writer (whose output must parse again and write identically) and the signature
 * check (the input's second half used as a signature file). Also fuzzes the version-constraint
 * grammar on the raw input. None may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "env/constraint.h"
#include "env/generation.h"
#include "store/sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        skiff_err_t err = NULL;
        struct skiff_generation *g = NULL;
        if (skiff_generation_parse(buf, size, &g, &err) == 0) {
                char *out = NULL, *out2 = NULL;
                size_t len = 0, len2 = 0;
                if (skiff_generation_write(g, &out, &len, &err) != 0)
                        abort(); /* a parsed document must be writable */
                struct skiff_generation *g2 = NULL;
                if (skiff_generation_parse(out, len, &g2, &err) != 0)
                        abort(); /* and what is written must parse */
                if (skiff_generation_write(g2, &out2, &len2, &err) != 0 || len != len2 ||
                    memcmp(out, out2, len) != 0)
                        abort(); /* deterministically */
                free(out);
                free(out2);
                skiff_generation_free(g2);
                skiff_generation_free(g);
        }
        skiff_error_free(&err);

        static const struct skiff_sig_pubkey key = {.name = "k"};
        size_t half = size / 2;
        (void)skiff_generation_verify(buf, half, buf + half, size - half, &key, 1, NULL, &err);
        skiff_error_free(&err);

        char *s = xstrndup(buf, size);
        struct skiff_constraint c;
        if (skiff_constraint_parse(s, &c, &err) == 0)
                free(skiff_constraint_format(&c));
        skiff_error_free(&err);
        int64_t t;
        (void)skiff_generation_parse_time(s, &t, &err);
        skiff_error_free(&err);
        free(s);
        return 0;
}
