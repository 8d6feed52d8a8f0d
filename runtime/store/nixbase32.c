#include "store/nixbase32.h"

#include <errno.h>
#include <string.h>

static const char alphabet[] = "0123456789abcdfghijklmnpqrsvwxyz";

size_t skiff_nixbase32_encoded_len(size_t n)
{
        return n == 0 ? 0 : (n * 8 - 1) / 5 + 1;
}

void skiff_nixbase32_encode(const uint8_t *in, size_t n, char *out)
{
        size_t len = skiff_nixbase32_encoded_len(n);
        /* Character k (counting from the end of the string) holds bits [5k, 5k+5) of the input
         * read as a little-endian bit string. */
        for (size_t k = 0; k < len; k++) {
                size_t bit = k * 5, i = bit / 8, j = bit % 8;
                unsigned v = in[i] >> j;
                if (i + 1 < n)
                        v |= (unsigned)in[i + 1] << (8 - j);
                out[len - 1 - k] = alphabet[v & 31];
        }
        out[len] = '\0';
}

static int digit_of(char c)
{
        const char *p = c ? strchr(alphabet, c) : NULL;
        return p ? (int)(p - alphabet) : -1;
}

bool skiff_nixbase32_is_char(char c)
{
        return digit_of(c) >= 0;
}

int skiff_nixbase32_decode(const char *in, size_t len, uint8_t *out, size_t n)
{
        if (n == 0 || len != skiff_nixbase32_encoded_len(n))
                return -EINVAL;
        memset(out, 0, n);
        for (size_t k = 0; k < len; k++) {
                int d = digit_of(in[len - 1 - k]);
                if (d < 0)
                        return -EINVAL;
                size_t bit = k * 5, i = bit / 8, j = bit % 8;
                out[i] |= (uint8_t)((unsigned)d << j);
                unsigned carry = (unsigned)d >> (8 - j);
                if (i + 1 < n)
                        out[i + 1] |= (uint8_t)carry;
                else if (carry)
                        return -EINVAL;
        }
        return 0;
}
