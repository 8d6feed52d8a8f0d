#include "store/base64.h"

#include <errno.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t skiff_base64_encoded_len(size_t n)
{
        return (n + 2) / 3 * 4;
}

void skiff_base64_encode(const uint8_t *in, size_t n, char *out)
{
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                out[o++] = b64[(v >> 18) & 63];
                out[o++] = b64[(v >> 12) & 63];
                out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < n ? b64[v & 63] : '=';
        }
        out[o] = '\0';
}

static int val(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int skiff_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
        if (len % 4 != 0)
                return -EINVAL;
        size_t o = 0;
        for (size_t i = 0; i < len; i += 4) {
                int pad = 0;
                uint32_t v = 0;
                for (size_t k = 0; k < 4; k++) {
                        char c = in[i + k];
                        int d;
                        if (c == '=') {
                                /* Padding only in the last group, only in its last two slots. */
                                if (i + 4 != len || k < 2)
                                        return -EINVAL;
                                pad++;
                                d = 0;
                        } else {
                                if (pad)
                                        return -EINVAL;
                                d = val(c);
                                if (d < 0)
                                        return -EINVAL;
                        }
                        v = v << 6 | (uint32_t)d;
                }
                size_t nb = 3 - (size_t)pad;
                /* Bits dropped by padding must be zero (canonical encoding). */
                if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
                        return -EINVAL;
                if (o + nb > cap)
                        return -ENOBUFS;
                out[o++] = (uint8_t)(v >> 16);
                if (nb > 1)
                        out[o++] = (uint8_t)(v >> 8);
                if (nb > 2)
                        out[o++] = (uint8_t)v;
        }
        return (int)o;
}
