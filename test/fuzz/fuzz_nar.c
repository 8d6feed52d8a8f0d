/* libFuzzer target: the NAR reader in validate-only mode, fed in two chunks. */
#include <stddef.h>
#include <stdint.h>

#include "store/nar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct skiff_nar_reader *r = NULL;
        skiff_err_t err = NULL;
        struct skiff_nar_reader_opts o = {.limits = {.max_depth = 64}};
        if (skiff_nar_reader_new(-1, NULL, &o, &r, &err) < 0)
                return 0;
        size_t half = size / 2;
        if (skiff_nar_reader_feed(r, data, half, &err) >= 0 &&
            skiff_nar_reader_feed(r, data + half, size - half, &err) >= 0)
                (void)skiff_nar_reader_finish(r, NULL, NULL, &err); /* result irrelevant */
        skiff_nar_reader_free(r);
        skiff_error_free(&err);
        return 0;
}
