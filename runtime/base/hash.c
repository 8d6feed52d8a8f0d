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
