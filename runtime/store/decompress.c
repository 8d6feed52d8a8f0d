#include "store/decompress.h"

#include <brotli/decode.h>
#include <bzlib.h>
#include <errno.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
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
        bool any;   /* any input seen */
        bool ended; /* the last stream (member, frame) is complete and nothing follows yet */
        lzma_stream xz;
        ZSTD_DCtx *zd;
        bz_stream bz;
        bool bz_live; /* BZ2_bzDecompressInit done, End not yet */
        z_stream gz;
        bool gz_live;
        BrotliDecoderState *br;
};

/* One codec: set up its state (d->out is allocated by the caller), decode len bytes of input
 * (finish: no more input follows) passing output to d->cb, and release. */
struct codec {
        const char *name;
        int (*init)(struct skiff_decompress *d, skiff_err_t *err);
        int (*run)(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                   skiff_err_t *err);
        void (*end)(struct skiff_decompress *d);
};

static int emit(struct skiff_decompress *d, size_t produced, skiff_err_t *err)
{
        return produced ? d->cb(d->out, produced, d->userdata, err) : 0;
}

/* ---- none ------------------------------------------------------------------------------- */

static int none_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                    skiff_err_t *err)
{
        return len ? d->cb(in, len, d->userdata, err) : 0;
}

/* ---- xz --------------------------------------------------------------------------------- */

static int xz_init(struct skiff_decompress *d, skiff_err_t *err)
{
        lzma_stream init = LZMA_STREAM_INIT;
        d->xz = init;
        lzma_ret lr = lzma_stream_decoder(&d->xz, UINT64_MAX, LZMA_CONCATENATED);
        if (lr != LZMA_OK)
                return skiff_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EIO,
                                       "initialise xz decoder (liblzma error %d)", lr);
        return 0;
}

static int xz_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                  skiff_err_t *err)
{
        lzma_action action = finish ? LZMA_FINISH : LZMA_RUN;
        d->xz.next_in = in;
        d->xz.avail_in = len;
        for (;;) {
                if (d->ended) {
                        if (d->xz.avail_in)
                                return skiff_error_set(err, EBADMSG,
                                                       "xz: trailing data after the stream");
                        return 0;
                }
                d->xz.next_out = d->out;
                d->xz.avail_out = OUT_CHUNK;
                lzma_ret lr = lzma_code(&d->xz, action);
                int r = emit(d, OUT_CHUNK - d->xz.avail_out, err);
                if (r < 0)
                        return r;
                if (lr == LZMA_STREAM_END) {
                        d->ended = true;
                        continue;
                }
                if (lr == LZMA_BUF_ERROR && finish)
                        return skiff_error_set(err, EBADMSG, "xz: truncated stream");
                if (lr != LZMA_OK)
                        return skiff_error_set(err, EBADMSG,
                                               "xz: corrupt stream (liblzma error %d)", lr);
                if (d->xz.avail_in == 0 && d->xz.avail_out != 0 && !finish)
                        return 0;
        }
}

static void xz_end(struct skiff_decompress *d)
{
        lzma_end(&d->xz);
}

/* ---- zstd ------------------------------------------------------------------------------- */

static int zstd_init(struct skiff_decompress *d, skiff_err_t *err)
{
        /* Its window (2 MiB and more) comes pre-faulted and is recycled across paths. */
        d->zd = ZSTD_createDCtx_advanced(
            (ZSTD_customMem){skiff_bigbuf_zalloc, skiff_bigbuf_zfree, NULL});
        if (!d->zd)
                return skiff_error_set(err, ENOMEM, "initialise zstd decoder");
        d->ended = true; /* no frame begun */
        return 0;
}

static int zstd_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                    skiff_err_t *err)
{
        if (finish)
                return d->ended ? 0 : skiff_error_set(err, EBADMSG, "zstd: truncated stream");
        if (!len)
                return 0;
        ZSTD_inBuffer ib = {in, len, 0};
        for (;;) {
                ZSTD_outBuffer ob = {d->out, OUT_CHUNK, 0};
                size_t z = ZSTD_decompressStream(d->zd, &ob, &ib);
                if (ZSTD_isError(z))
                        return skiff_error_set(err, EBADMSG, "zstd: %s", ZSTD_getErrorName(z));
                d->ended = z == 0; /* 0: a frame just ended */
                int r = emit(d, ob.pos, err);
                if (r < 0)
                        return r;
                if (ib.pos == ib.size && ob.pos < ob.size)
                        return 0;
        }
}

static void zstd_end(struct skiff_decompress *d)
{
        ZSTD_freeDCtx(d->zd);
}

/* ---- bzip2 ------------------------------------------------------------------------------ */

static int bz_init(struct skiff_decompress *d, skiff_err_t *err)
{
        memset(&d->bz, 0, sizeof(d->bz));
        int b = BZ2_bzDecompressInit(&d->bz, 0, 0);
        if (b != BZ_OK)
                return skiff_error_set(err, b == BZ_MEM_ERROR ? ENOMEM : EIO,
                                       "initialise bzip2 decoder (libbz2 error %d)", b);
        d->bz_live = true;
        return 0;
}

static int bz_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                  skiff_err_t *err)
{
        if (finish)
                return d->ended ? 0 : skiff_error_set(err, EBADMSG, "bzip2: truncated stream");
        d->bz.next_in = (char *)in;
        d->bz.avail_in = (unsigned)len;
        for (;;) {
                if (d->ended) {
                        if (!d->bz.avail_in)
                                return 0;
                        /* Another stream follows (as pbzip2 writes). */
                        const char *rest = d->bz.next_in;
                        unsigned left = d->bz.avail_in;
                        BZ2_bzDecompressEnd(&d->bz);
                        d->bz_live = false;
                        int r = bz_init(d, err);
                        if (r < 0)
                                return r;
                        d->bz.next_in = (char *)rest;
                        d->bz.avail_in = left;
                        d->ended = false;
                }
                d->bz.next_out = (char *)d->out;
                d->bz.avail_out = OUT_CHUNK;
                int b = BZ2_bzDecompress(&d->bz);
                if (b != BZ_OK && b != BZ_STREAM_END)
                        return skiff_error_set(err, EBADMSG,
                                               "bzip2: corrupt stream (libbz2 error %d)", b);
                int r = emit(d, OUT_CHUNK - d->bz.avail_out, err);
                if (r < 0)
                        return r;
                if (b == BZ_STREAM_END)
                        d->ended = true;
                else if (!d->bz.avail_in && d->bz.avail_out) /* all input taken, all out */
                        return 0;
        }
}

static void bz_end(struct skiff_decompress *d)
{
        if (d->bz_live)
                BZ2_bzDecompressEnd(&d->bz);
}

/* ---- gzip ------------------------------------------------------------------------------- */

static int gz_init(struct skiff_decompress *d, skiff_err_t *err)
{
        memset(&d->gz, 0, sizeof(d->gz));
        int z = inflateInit2(&d->gz, 16 + MAX_WBITS); /* gzip framing only */
        if (z != Z_OK)
                return skiff_error_set(err, z == Z_MEM_ERROR ? ENOMEM : EIO,
                                       "initialise gzip decoder (zlib error %d)", z);
        d->gz_live = true;
        return 0;
}

static int gz_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                  skiff_err_t *err)
{
        if (finish)
                return d->ended ? 0 : skiff_error_set(err, EBADMSG, "gzip: truncated stream");
        d->gz.next_in = (Bytef *)in;
        d->gz.avail_in = (uInt)len;
        for (;;) {
                if (d->ended && d->gz.avail_in) { /* another member follows */
                        if (inflateReset(&d->gz) != Z_OK)
                                return skiff_error_set(err, EIO, "gzip: reset decoder");
                        d->ended = false;
                }
                d->gz.next_out = d->out;
                d->gz.avail_out = OUT_CHUNK;
                int z = inflate(&d->gz, Z_NO_FLUSH);
                if (z != Z_OK && z != Z_STREAM_END && z != Z_BUF_ERROR)
                        return skiff_error_set(err, EBADMSG, "gzip: corrupt stream (%s)",
                                               d->gz.msg ? d->gz.msg : "zlib error");
                int r = emit(d, OUT_CHUNK - d->gz.avail_out, err);
                if (r < 0)
                        return r;
                if (z == Z_STREAM_END)
                        d->ended = true;
                if (d->gz.avail_in == 0 && d->gz.avail_out != 0)
                        return 0;
        }
}

static void gz_end(struct skiff_decompress *d)
{
        if (d->gz_live)
                inflateEnd(&d->gz);
}

/* ---- brotli ----------------------------------------------------------------------------- */

static int br_init(struct skiff_decompress *d, skiff_err_t *err)
{
        d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        if (!d->br)
                return skiff_error_set(err, ENOMEM, "initialise brotli decoder");
        return 0;
}

static int br_run(struct skiff_decompress *d, const uint8_t *in, size_t len, bool finish,
                  skiff_err_t *err)
{
        if (finish)
                return d->ended ? 0 : skiff_error_set(err, EBADMSG, "br: truncated stream");
        size_t avail_in = len;
        const uint8_t *next_in = in;
        for (;;) {
                size_t avail_out = OUT_CHUNK;
                uint8_t *next_out = d->out;
                BrotliDecoderResult b = BrotliDecoderDecompressStream(d->br, &avail_in, &next_in,
                                                                      &avail_out, &next_out, NULL);
                if (b == BROTLI_DECODER_RESULT_ERROR)
                        return skiff_error_set(
                            err, EBADMSG, "br: corrupt stream (%s)",
                            BrotliDecoderErrorString(BrotliDecoderGetErrorCode(d->br)));
                int r = emit(d, OUT_CHUNK - avail_out, err);
                if (r < 0)
                        return r;
                if (b == BROTLI_DECODER_RESULT_SUCCESS) {
                        d->ended = true;
                        if (avail_in)
                                return skiff_error_set(err, EBADMSG,
                                                       "br: trailing data after the stream");
                        return 0;
                }
                if (b == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
                        return 0; /* all input taken */
                /* NEEDS_MORE_OUTPUT: go round with a fresh chunk */
        }
}

static void br_end(struct skiff_decompress *d)
{
        BrotliDecoderDestroyInstance(d->br);
}

/* ---- dispatch --------------------------------------------------------------------------- */

static const struct codec codecs[_SKIFF_COMPRESSION_MAX] = {
    [SKIFF_COMPRESSION_NONE] = {"none", NULL, none_run, NULL},
    [SKIFF_COMPRESSION_XZ] = {"xz", xz_init, xz_run, xz_end},
    [SKIFF_COMPRESSION_ZSTD] = {"zstd", zstd_init, zstd_run, zstd_end},
    [SKIFF_COMPRESSION_BZIP2] = {"bzip2", bz_init, bz_run, bz_end},
    [SKIFF_COMPRESSION_BR] = {"br", br_init, br_run, br_end},
    [SKIFF_COMPRESSION_GZIP] = {"gzip", gz_init, gz_run, gz_end},
};

int skiff_compression_from_name(const char *name, enum skiff_compression *ret, skiff_err_t *err)
{
        for (int i = 0; i < _SKIFF_COMPRESSION_MAX; i++)
                if (strcmp(codecs[i].name, name) == 0) {
                        *ret = (enum skiff_compression)i;
                        return 0;
                }
        char list[64] = "";
        for (int i = 0; i < _SKIFF_COMPRESSION_MAX; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         codecs[i].name);
        return skiff_error_set(err, ENOTSUP, "unsupported compression `%s` (supported: %s)", name,
                               list);
}

const char *skiff_compression_name(enum skiff_compression c)
{
        return (unsigned)c < _SKIFF_COMPRESSION_MAX ? codecs[c].name : "?";
}

int skiff_decompress_new(enum skiff_compression c, skiff_decompress_out_cb cb, void *userdata,
                         struct skiff_decompress **ret, skiff_err_t *err)
{
        if ((unsigned)c >= _SKIFF_COMPRESSION_MAX)
                return skiff_error_set(err, EINVAL, "invalid compression %d", (int)c);
        struct skiff_decompress *d = xcalloc(1, sizeof(*d));
        d->c = c;
        d->cb = cb;
        d->userdata = userdata;
        if (codecs[c].init) {
                int r = codecs[c].init(d, err);
                if (r < 0) {
                        free(d);
                        return r;
                }
                d->out = skiff_bigbuf_alloc(OUT_CHUNK);
        }
        *ret = d;
        return 0;
}

struct skiff_decompress *skiff_decompress_free(struct skiff_decompress *d)
{
        if (!d)
                return NULL;
        if (codecs[d->c].end)
                codecs[d->c].end(d);
        skiff_bigbuf_free(d->out);
        free(d);
        return NULL;
}

int skiff_decompress_feed(struct skiff_decompress *d, const void *data, size_t len,
                          skiff_err_t *err)
{
        if (len)
                d->any = true;
        /* Slices, so that codecs with 32-bit counters (bzip2, gzip) see any len. */
        const uint8_t *p = data;
        do {
                size_t n = len < (1u << 30) ? len : (1u << 30);
                int r = codecs[d->c].run(d, p, n, false, err);
                if (r < 0)
                        return r;
                p += n;
                len -= n;
        } while (len);
        return 0;
}

int skiff_decompress_finish(struct skiff_decompress *d, skiff_err_t *err)
{
        if (d->c != SKIFF_COMPRESSION_NONE && !d->any)
                return skiff_error_set(err, EBADMSG, "%s: empty stream", codecs[d->c].name);
        return codecs[d->c].run(d, NULL, 0, true, err);
}
