#include "hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void skiff_sha256_init(struct skiff_sha256 *h)
{
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
                abort();
        h->ctx = c;
}

void skiff_sha256_update(struct skiff_sha256 *h, const void *data, size_t len)
{
        if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
                abort();
}

void skiff_sha256_final(struct skiff_sha256 *h, uint8_t out[SKIFF_SHA256_LEN])
{
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != SKIFF_SHA256_LEN)
                abort();
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
}

void skiff_sha256_abort(struct skiff_sha256 *h)
{
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
}

void skiff_sha256_oneshot(const void *data, size_t len, uint8_t out[SKIFF_SHA256_LEN])
{
        struct skiff_sha256 h;
        skiff_sha256_init(&h);
        skiff_sha256_update(&h, data, len);
        skiff_sha256_final(&h, out);
}

void skiff_hex_encode(const uint8_t *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int skiff_hex_decode(const char *in, uint8_t *out, size_t n)
{
        if (strlen(in) != 2 * n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}
