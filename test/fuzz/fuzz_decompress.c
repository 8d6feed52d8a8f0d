/* libFuzzer target: every NAR decompressor on untrusted input. The first byte picks the codec and
 * the chunk size; output is bounded (a decompression bomb stops at 8 MiB). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "store/decompress.h"

static int sink(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        size_t *total = userdata;
        (void)data;
        *total += len;
        return *total > (8u << 20) ? skiff_error_set(err, EFBIG, "output too large") : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        enum skiff_compression c = (enum skiff_compression)(data[0] % _SKIFF_COMPRESSION_MAX);
        size_t step = 1 + (size_t)(data[0] >> 3) * 97;
        data++, size--;
        size_t total = 0;
        struct skiff_decompress *d = NULL;
        skiff_err_t err = NULL;
        if (skiff_decompress_new(c, sink, &total, &d, &err) < 0)
                return 0;
        int r = 0;
        for (size_t off = 0; r >= 0 && off < size; off += step)
                r = skiff_decompress_feed(d, data + off, size - off < step ? size - off : step,
                                          &err);
        if (r >= 0)
                (void)skiff_decompress_finish(d, &err); /* result irrelevant */
        skiff_decompress_free(d);
        skiff_error_free(&err);
        return 0;
}
