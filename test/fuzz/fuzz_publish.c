/* libFuzzer target for the inputs of `skiff publish`, `env log` and `sbom`: Flox manifest.lock
 * files (flox.h), hub index.json files (parsed, written, parsed again to the same bytes), and
 * store-path name splitting (sbom.h). None may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "env/flox.h"
#include "env/publish.h"
#include "env/sbom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        skiff_err_t err = NULL;
        struct skiff_flox_lock *l = NULL;
        if (skiff_flox_parse(buf, size, "x86_64-linux", "/nix/store", &l, &err) == 0)
                skiff_flox_free(l);
        skiff_error_free(&err);

        struct skiff_publish_index *ix = NULL;
        if (skiff_publish_index_parse(buf, size, &ix, &err) == 0) {
                char *out = NULL, *out2 = NULL;
                size_t len = 0, len2 = 0;
                struct skiff_publish_index *ix2 = NULL;
                if (skiff_publish_index_write(ix, &out, &len, &err) != 0 ||
                    skiff_publish_index_parse(out, len, &ix2, &err) != 0 ||
                    skiff_publish_index_write(ix2, &out2, &len2, &err) != 0 || len != len2 ||
                    memcmp(out, out2, len) != 0)
                        abort(); /* what is written parses, and writes identically */
                free(out);
                free(out2);
                skiff_publish_index_free(ix2);
                skiff_publish_index_free(ix);
        }
        skiff_error_free(&err);

        char *s = xstrndup(buf, size);
        char *name = NULL, *version = NULL;
        skiff_sbom_split_name(s, &name, &version);
        if (version && strlen(name) + 1 + strlen(version) != strlen(s))
                abort(); /* name, '-' and version are the whole input */
        free(name);
        free(version);
        free(s);
        return 0;
}
