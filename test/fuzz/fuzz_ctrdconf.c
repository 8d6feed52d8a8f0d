/* libFuzzer target: the containerd config.toml lexer and editor (runtime/cli/ctrdconf.h).
 * Besides "no crash", it checks the editor's contracts on every document that parses: adding an
 * import yields a document that parses and lists it, removing it again reports a removal, and
 * extracted sections are a parsable document. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/strv.h"
#include "cli/ctrdconf.h"

#define ENTRY "/etc/skiff/containerd-skiff.toml"

static bool lists(const char *text, const char *entry)
{
        struct skiff_ctrdconf *c = NULL;
        skiff_err_t err = NULL;
        char **imports = NULL;
        bool found = false;
        if (skiff_ctrdconf_parse(text, strlen(text), &c, &err) < 0)
                abort(); /* the editor produced an unparsable document */
        if (skiff_ctrdconf_imports(c, &imports, &err) >= 0)
                for (char **i = imports; *i; i++)
                        found |= strcmp(*i, entry) == 0;
        skiff_strv_free(imports);
        skiff_error_free(&err);
        skiff_ctrdconf_free(c);
        return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct skiff_ctrdconf *c = NULL;
        skiff_err_t err = NULL;
        if (skiff_ctrdconf_parse((const char *)data, size, &c, &err) < 0) {
                skiff_error_free(&err);
                return 0;
        }
        int64_t version = 0;
        (void)skiff_ctrdconf_version(c, &version, &err);
        skiff_error_free(&err);
        char **imports = NULL;
        if (skiff_ctrdconf_imports(c, &imports, &err) >= 0)
                skiff_strv_free(imports);
        skiff_error_free(&err);

        const char *const cri2[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, NULL};
        const char *const cri3[] = {"plugins", SKIFF_CTRDCONF_CRI_V3, NULL};
        const char *const rt[] = {
            "plugins", SKIFF_CTRDCONF_CRI_V2, "containerd", "runtimes", "skiff", NULL};
        const char *const snap[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, "containerd", "snapshotter",
                                    NULL};
        (void)skiff_ctrdconf_has_prefix(c, cri2);
        (void)skiff_ctrdconf_has_prefix(c, cri3);
        char *s = NULL;
        if (skiff_ctrdconf_get_string(c, snap, &s, &err) >= 0)
                free(s);
        skiff_error_free(&err);

        char *added = NULL;
        int r = skiff_ctrdconf_add_import(c, ENTRY, &added, &err);
        skiff_error_free(&err);
        if (r >= 0) {
                /* Only a document whose `imports` we could read can be edited and checked. */
                if (!lists(added, ENTRY))
                        abort();
                struct skiff_ctrdconf *c2 = NULL;
                if (skiff_ctrdconf_parse(added, strlen(added), &c2, &err) < 0)
                        abort();
                char *removed = NULL;
                int k = skiff_ctrdconf_remove_import(c2, ENTRY, &removed, &err);
                if (k != 1)
                        abort();
                if (lists(removed, ENTRY))
                        abort();
                free(removed);
                skiff_ctrdconf_free(c2);
                free(added);
        }
        skiff_error_free(&err);

        char *ext = NULL;
        if (skiff_ctrdconf_extract(c, cri2, rt, &ext, &err) >= 0) {
                struct skiff_ctrdconf *c3 = NULL;
                if (skiff_ctrdconf_parse(ext, strlen(ext), &c3, &err) < 0)
                        abort();
                skiff_ctrdconf_free(c3);
                free(ext);
        }
        skiff_error_free(&err);
        skiff_ctrdconf_free(c);
        return 0;
}
