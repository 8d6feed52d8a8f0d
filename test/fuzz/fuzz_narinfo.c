/* libFuzzer target: the narinfo parser, writer and fingerprint. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/narinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct skiff_narinfo *ni = NULL;
        skiff_err_t err = NULL;
        if (skiff_narinfo_parse((const char *)data, size, "/nix/store", &ni, &err) >= 0) {
                free(skiff_narinfo_format(ni));
                free(skiff_narinfo_fingerprint(ni, "/nix/store"));
                skiff_narinfo_free(ni);
        }
        skiff_error_free(&err);
        return 0;
}
