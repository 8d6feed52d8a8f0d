/* Parsing of Nix-format keys ("<name>:<base64>"), without libcrypto: this object is linked by
 * the node config decoder, which the shim uses, and must not pull in OpenSSL (its relocations
 * alone cost the shim daemon ~0.6 MB). Signing and verification live in sig.c. */
#include <errno.h>
#include <string.h>

#include "store/base64.h"
#include "store/sig-internal.h"
#include "store/sig.h"

/* Splits "<name>:<base64>" and decodes exactly want bytes. */
int skiff_sig_split_key(const char *s, const char *what, char name[SKIFF_SIG_NAME_MAX + 1],
                        uint8_t *out, size_t want, skiff_err_t *err)
{
        const char *colon = strchr(s, ':');
        if (!colon || colon == s)
                return skiff_error_set(err, EINVAL, "invalid %s: expected `<name>:<base64>`", what);
        size_t nl = (size_t)(colon - s);
        if (nl > SKIFF_SIG_NAME_MAX)
                return skiff_error_set(err, EINVAL, "invalid %s: name longer than %d bytes", what,
                                       SKIFF_SIG_NAME_MAX);
        uint8_t buf[128];
        int n = skiff_base64_decode(colon + 1, strlen(colon + 1), buf, sizeof(buf));
        if (n < 0 || (size_t)n != want) {
                explicit_bzero(buf, sizeof(buf));
                return skiff_error_set(err, EINVAL,
                                       "invalid %s `%.*s`: expected base64 of %zu bytes", what,
                                       (int)nl, s, want);
        }
        memcpy(name, s, nl);
        name[nl] = '\0';
        memcpy(out, buf, want);
        explicit_bzero(buf, sizeof(buf));
        return 0;
}

int skiff_sig_parse_public(const char *s, struct skiff_sig_pubkey *ret, skiff_err_t *err)
{
        struct skiff_sig_pubkey k;
        int r = skiff_sig_split_key(s, "public key", k.name, k.key, 32, err);
        if (r < 0)
                return r;
        *ret = k;
        return 0;
}
