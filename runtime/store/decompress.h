/* Streaming decompression of binary-cache NARs: "none", "xz" (liblzma), "zstd" (libzstd),
 * "bzip2" (libbz2; Nix's default when a narinfo names none), "br" (brotli) and "gzip" (zlib).
 * Concatenated streams (xz, bzip2, gzip members, zstd frames) are decoded one after another.
 * Push style: feed compressed chunks, decompressed bytes arrive through a callback. Pure CPU;
 * never blocks on I/O by itself. */
#ifndef SKIFF_STORE_DECOMPRESS_H
#define SKIFF_STORE_DECOMPRESS_H

#include <stddef.h>

#include "base/error.h"

enum skiff_compression {
        SKIFF_COMPRESSION_NONE,
        SKIFF_COMPRESSION_XZ,
        SKIFF_COMPRESSION_ZSTD,
        SKIFF_COMPRESSION_BZIP2,
        SKIFF_COMPRESSION_BR,
        SKIFF_COMPRESSION_GZIP,
        _SKIFF_COMPRESSION_MAX,
};

/* Maps a narinfo Compression value; unknown or unsupported ones (lz4, lzip, ...) are -ENOTSUP
 * naming the value and listing the supported ones. */
int skiff_compression_from_name(const char *name, enum skiff_compression *ret, skiff_err_t *err);
const char *skiff_compression_name(enum skiff_compression c);

/* Receives decompressed bytes; a negative return (with *err set) aborts the feed. */
typedef int (*skiff_decompress_out_cb)(const void *data, size_t len, void *userdata,
                                       skiff_err_t *err);

struct skiff_decompress;

int skiff_decompress_new(enum skiff_compression c, skiff_decompress_out_cb cb, void *userdata,
                         struct skiff_decompress **ret, skiff_err_t *err);
/* Decompresses len bytes; corrupt input is -EBADMSG. Callback errors are passed through. */
int skiff_decompress_feed(struct skiff_decompress *d, const void *data, size_t len,
                          skiff_err_t *err);
/* Signals the end of input; a truncated stream is -EBADMSG. */
int skiff_decompress_finish(struct skiff_decompress *d, skiff_err_t *err);
struct skiff_decompress *skiff_decompress_free(struct skiff_decompress *d); /* NULL-safe */
static inline void skiff_decompress_freep(struct skiff_decompress **p)
{
        skiff_decompress_free(*p);
}
#define _cleanup_decompress_ __attribute__((cleanup(skiff_decompress_freep)))

#endif
