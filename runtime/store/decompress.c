#include "store/decompress.h"

#include <errno.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDCtx_advanced(); libzstd is linked statically */
#include <zstd.h>

#include "base/bigbuf.h"
#include "base/xalloc.h"

#define OUT_CHUNK (256 * 1024)

struct skiff_decompress {
        enum skiff_compression c;
        skiff_decompress_out_cb cb;
        void *userdata;
        uint8_t *out;
        lzma_stream xz;
        bool xz_ended;
        ZSTD_DCtx *zd;
        size_t zlast; /* last ZSTD_decompressStream() hint: 0 when a frame just ended */
        bool zany;    /* any input seen */
};

static const char *const names[_SKIFF_COMPRESSION_MAX] = {
    [SKIFF_COMPRESSION_NONE] = "none",
    [SKIFF_COMPRESSION_XZ] = "xz",
    [SKIFF_COMPRESSION_ZSTD] = "zstd",
};

int skiff_compression_from_name(const char *name, enum skiff_compression *ret, skiff_err_t *err)
{
        for (int i = 0; i < _SKIFF_COMPRESSION_MAX; i++)
                if (strcmp(names[i], name) == 0) {
                        *ret = (enum skiff_compression)i;
                        return 0;
                }
        return skiff_error_set(err, ENOTSUP, "unsupported compression `%s`", name);
}

const char *skiff_compression_name(enum skiff_compression c)
{
        return c < _SKIFF_COMPRESSION_MAX ? names[c] : "?";
}

int skiff_decompress_new(enum skiff_compression c, skiff_decompress_out_cb cb, void *userdata,
                         struct skiff_decompress **ret, skiff_err_t *err)
{
        struct skiff_decompress *d = xcalloc(1, sizeof(*d));
        d->c = c;
        d->cb = cb;
        d->userdata = userdata;
        switch (c) {
        case SKIFF_COMPRESSION_NONE:
                break;
        case SKIFF_COMPRESSION_XZ: {
                lzma_stream init = LZMA_STREAM_INIT;
                d->xz = init;
                lzma_ret lr = lzma_stream_decoder(&d->xz, UINT64_MAX, LZMA_CONCATENATED);
                if (lr != LZMA_OK) {
                        free(d);
                        return skiff_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EIO,
                                               "initialise xz decoder (liblzma error %d)", lr);
                }
                d->out = skiff_bigbuf_alloc(OUT_CHUNK);
                break;
        }
        case SKIFF_COMPRESSION_ZSTD:
                /* Its window (2 MiB and more) comes pre-faulted and is recycled across paths. */
                d->zd = ZSTD_createDCtx_advanced(
                    (ZSTD_customMem){skiff_bigbuf_zalloc, skiff_bigbuf_zfree, NULL});
                if (!d->zd) {
                        free(d);
                        return skiff_error_set(err, ENOMEM, "initialise zstd decoder");
                }
                d->out = skiff_bigbuf_alloc(OUT_CHUNK);
                break;
        default:
                free(d);
                return skiff_error_set(err, EINVAL, "invalid compression %d", (int)c);
        }
        *ret = d;
        return 0;
}

struct skiff_decompress *skiff_decompress_free(struct skiff_decompress *d)
{
        if (!d)
                return NULL;
        if (d->c == SKIFF_COMPRESSION_XZ)
                lzma_end(&d->xz);
        ZSTD_freeDCtx(d->zd);
        skiff_bigbuf_free(d->out);
        free(d);
        return NULL;
}

static int xz_run(struct skiff_decompress *d, const void *data, size_t len, lzma_action action,
                  skiff_err_t *err)
{
        d->xz.next_in = data;
        d->xz.avail_in = len;
        for (;;) {
                if (d->xz_ended) {
                        if (d->xz.avail_in)
                                return skiff_error_set(err, EBADMSG,
                                                       "xz: trailing data after the stream");
                        return 0;
                }
                d->xz.next_out = d->out;
                d->xz.avail_out = OUT_CHUNK;
                lzma_ret lr = lzma_code(&d->xz, action);
                size_t produced = OUT_CHUNK - d->xz.avail_out;
                if (produced) {
                        int r = d->cb(d->out, produced, d->userdata, err);
                        if (r < 0)
                                return r;
                }
                if (lr == LZMA_STREAM_END) {
                        d->xz_ended = true;
                        continue;
                }
                if (lr == LZMA_BUF_ERROR && action == LZMA_FINISH)
                        return skiff_error_set(err, EBADMSG, "xz: truncated stream");
                if (lr != LZMA_OK)
                        return skiff_error_set(err, EBADMSG,
                                               "xz: corrupt stream (liblzma error %d)", lr);
                if (d->xz.avail_in == 0 && d->xz.avail_out != 0 && action == LZMA_RUN)
                        return 0;
        }
}

static int zstd_run(struct skiff_decompress *d, const void *data, size_t len, skiff_err_t *err)
{
        ZSTD_inBuffer in = {data, len, 0};
        if (len)
                d->zany = true;
        for (;;) {
                ZSTD_outBuffer out = {d->out, OUT_CHUNK, 0};
                size_t z = ZSTD_decompressStream(d->zd, &out, &in);
                if (ZSTD_isError(z))
                        return skiff_error_set(err, EBADMSG, "zstd: %s", ZSTD_getErrorName(z));
                d->zlast = z;
                if (out.pos) {
                        int r = d->cb(d->out, out.pos, d->userdata, err);
                        if (r < 0)
                                return r;
                }
                if (in.pos == in.size && out.pos < out.size)
                        return 0;
        }
}

int skiff_decompress_feed(struct skiff_decompress *d, const void *data, size_t len,
                          skiff_err_t *err)
{
        switch (d->c) {
        case SKIFF_COMPRESSION_NONE:
                return len ? d->cb(data, len, d->userdata, err) : 0;
        case SKIFF_COMPRESSION_XZ:
                return xz_run(d, data, len, LZMA_RUN, err);
        case SKIFF_COMPRESSION_ZSTD:
                return zstd_run(d, data, len, err);
        default:
                return skiff_error_set(err, EINVAL, "invalid compression");
        }
}

int skiff_decompress_finish(struct skiff_decompress *d, skiff_err_t *err)
{
        switch (d->c) {
        case SKIFF_COMPRESSION_NONE:
                return 0;
        case SKIFF_COMPRESSION_XZ: {
                int r = xz_run(d, NULL, 0, LZMA_FINISH, err);
                if (r < 0)
                        return r;
                if (!d->xz_ended)
                        return skiff_error_set(err, EBADMSG, "xz: truncated stream");
                return 0;
        }
        case SKIFF_COMPRESSION_ZSTD:
                if (!d->zany)
                        return skiff_error_set(err, EBADMSG, "zstd: empty stream");
                if (d->zlast != 0)
                        return skiff_error_set(err, EBADMSG, "zstd: truncated stream");
                return 0;
        default:
                return skiff_error_set(err, EINVAL, "invalid compression");
        }
}
