/* Streaming SHA-256 over OpenSSL libcrypto (SHA-NI when available). */
#ifndef SKIFF_BASE_HASH_H
#define SKIFF_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SKIFF_SHA256_LEN 32

struct skiff_sha256 {
        void *ctx; /* EVP_MD_CTX *, owned */
};

/* Aborts on allocation failure inside libcrypto (treated like OOM). */
void skiff_sha256_init(struct skiff_sha256 *h);
void skiff_sha256_update(struct skiff_sha256 *h, const void *data, size_t len);
/* Writes the digest and releases the context; h may be re-initialised afterwards. */
void skiff_sha256_final(struct skiff_sha256 *h, uint8_t out[SKIFF_SHA256_LEN]);
/* Releases a context that was initialised but not finalised. NULL ctx is fine. */
void skiff_sha256_abort(struct skiff_sha256 *h);
/* One-shot hash of a short input; portable code in its own object (no libcrypto), so callers
 * that need only this (the shim) do not link libcrypto. */
void skiff_sha256_oneshot(const void *data, size_t len, uint8_t out[SKIFF_SHA256_LEN]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void skiff_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2n hex chars into n bytes; -EINVAL on bad input. */
int skiff_hex_decode(const char *in, uint8_t *out, size_t n);

#endif
