#include "store/sig.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/base64.h"
#include "store/sig-internal.h"

SKIFF_DEFINE_CLEANUP(EVP_PKEY *, EVP_PKEY_free)
SKIFF_DEFINE_CLEANUP(EVP_MD_CTX *, EVP_MD_CTX_free)

int skiff_sig_parse_secret(const char *s, struct skiff_sig_seckey *ret, skiff_err_t *err)
{
        struct skiff_sig_seckey k;
        uint8_t raw[64];
        int r = skiff_sig_split_key(s, "secret key", k.name, raw, 64, err);
        if (r < 0)
                return r;
        memcpy(k.seed, raw, 32);
        memcpy(k.pub, raw + 32, 32);
        OPENSSL_cleanse(raw, sizeof(raw));
        *ret = k;
        OPENSSL_cleanse(&k, sizeof(k));
        return 0;
}

static char *format_key(const char *name, const uint8_t *bytes, size_t n)
{
        char b64[128];
        skiff_base64_encode(bytes, n, b64);
        char *s = xasprintf("%s:%s", name, b64);
        OPENSSL_cleanse(b64, sizeof(b64));
        return s;
}

int skiff_sig_keygen(const char *name, char **ret_secret, char **ret_public, skiff_err_t *err)
{
        if (!*name || strchr(name, ':') || strlen(name) > SKIFF_SIG_NAME_MAX)
                return skiff_error_set(err, EINVAL, "invalid key name `%s`", name);
        uint8_t raw[64];
        if (RAND_bytes(raw, 32) != 1)
                return skiff_error_set(err, EIO, "generate key: no randomness from libcrypto");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32);
        size_t pl = 32;
        if (!pk || EVP_PKEY_get_raw_public_key(pk, raw + 32, &pl) != 1 || pl != 32) {
                OPENSSL_cleanse(raw, sizeof(raw));
                return skiff_error_set(err, EIO, "generate key: libcrypto failed");
        }
        *ret_secret = format_key(name, raw, 64);
        *ret_public = format_key(name, raw + 32, 32);
        OPENSSL_cleanse(raw, sizeof(raw));
        return 0;
}

char *skiff_sig_public_of(const struct skiff_sig_seckey *sk)
{
        return format_key(sk->name, sk->pub, 32);
}

int skiff_sig_sign(const struct skiff_sig_seckey *sk, const char *msg, size_t len, char **ret,
                   skiff_err_t *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk->seed, 32);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t sig[64];
        size_t sl = sizeof(sig);
        if (!pk || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
            EVP_DigestSign(ctx, sig, &sl, (const uint8_t *)msg, len) != 1 || sl != 64)
                return skiff_error_set(err, EIO, "sign with key `%s`: libcrypto failed", sk->name);
        *ret = format_key(sk->name, sig, 64);
        return 0;
}

static bool verify_one(const uint8_t key[32], const uint8_t sig[64], const char *msg, size_t len)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk =
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, 32);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!pk || !ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
                return false;
        return EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)msg, len) == 1;
}

int skiff_sig_verify_any(const char *msg, size_t len, char *const *sigs,
                         const struct skiff_sig_pubkey *trusted, size_t ntrusted, size_t *ret_key,
                         skiff_err_t *err)
{
        _cleanup_strbuf_ struct skiff_strbuf seen = SKIFF_STRBUF_INIT;
        for (char *const *p = sigs; p && *p; p++) {
                char name[SKIFF_SIG_NAME_MAX + 1];
                uint8_t sig[64];
                if (skiff_sig_split_key(*p, "signature", name, sig, 64, NULL) < 0) {
                        skiff_strbuf_puts(&seen, seen.len ? ", (malformed)" : "(malformed)");
                        continue;
                }
                skiff_strbuf_printf(&seen, "%s`%s`", seen.len ? ", " : "", name);
                for (size_t i = 0; i < ntrusted; i++) {
                        if (strcmp(trusted[i].name, name) != 0)
                                continue;
                        if (verify_one(trusted[i].key, sig, msg, len)) {
                                if (ret_key)
                                        *ret_key = i;
                                return 0;
                        }
                }
        }
        return skiff_error_set(err, EPERM, "no valid signature by a trusted key (signatures: %s)",
                               seen.len ? seen.buf : "none");
}
