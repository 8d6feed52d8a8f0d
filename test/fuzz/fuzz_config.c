/* libFuzzer target: the node config decoder. */
#include <stddef.h>
#include <stdint.h>

#include "store/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct skiff_config *c = NULL;
        skiff_err_t err = NULL;
        if (skiff_config_parse((const char *)data, size, &c, &err) >= 0)
                skiff_config_free(c);
        skiff_error_free(&err);
        return 0;
}
