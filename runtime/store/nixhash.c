#include "store/nixhash.h"

#include <errno.h>
#include <string.h>

#include "base/hash.h"
#include "store/base64.h"
#include "store/nixbase32.h"

static int decode_body(const char *b, struct skiff_nixhash *h, bool sri)
{
        size_t len = strlen(b);
        if (!sri && len == 52)
                return skiff_nixbase32_decode(b, len, h->d, SKIFF_NIXHASH_LEN);
        if (!sri && len == 64)
                return skiff_hex_decode(b, h->d, SKIFF_NIXHASH_LEN);
        if (len == 44) {
                int n = skiff_base64_decode(b, len, h->d, SKIFF_NIXHASH_LEN);
                return n == SKIFF_NIXHASH_LEN ? 0 : -EINVAL;
        }
        return -EINVAL;
}

int skiff_nixhash_parse(const char *s, struct skiff_nixhash *ret, skiff_err_t *err)
{
        const char *sep = s ? strpbrk(s, ":-") : NULL;
        if (!sep)
                return skiff_error_set(err, EINVAL, "invalid hash `%s`: expected `sha256:...`",
                                       s ? s : "");
        if ((size_t)(sep - s) != 6 || strncmp(s, "sha256", 6) != 0)
                return skiff_error_set(err, ENOTSUP, "unsupported hash algorithm in `%s`", s);
        struct skiff_nixhash h;
        if (decode_body(sep + 1, &h, *sep == '-') < 0)
                return skiff_error_set(err, EINVAL, "invalid sha256 hash `%s`", s);
        *ret = h;
        return 0;
}

void skiff_nixhash_format(const struct skiff_nixhash *h, char out[SKIFF_NIXHASH_STR_MAX])
{
        memcpy(out, "sha256:", 7);
        skiff_nixbase32_encode(h->d, SKIFF_NIXHASH_LEN, out + 7);
}

bool skiff_nixhash_equal(const struct skiff_nixhash *a, const struct skiff_nixhash *b)
{
        return memcmp(a->d, b->d, SKIFF_NIXHASH_LEN) == 0;
}
