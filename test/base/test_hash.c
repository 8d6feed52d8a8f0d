#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/hash.h"

Test(hash, socket_address_vector)
{
        const char *s = "/run/containerd/containerd.sock/default/test";
        uint8_t d[SKIFF_SHA256_LEN];
        char hex[2 * SKIFF_SHA256_LEN + 1];
        skiff_sha256_oneshot(s, strlen(s), d);
        skiff_hex_encode(d, sizeof(d), hex);
        cr_assert_str_eq(hex, "cfa94b04d543b3f64f78eff8125c7a7cd0903173f673d87367be72ff09fc92c2");
}

Test(hash, streaming_equals_oneshot)
{
        uint8_t a[SKIFF_SHA256_LEN], b[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot("hello world", 11, a);
        struct skiff_sha256 h;
        skiff_sha256_init(&h);
        skiff_sha256_update(&h, "hello ", 6);
        skiff_sha256_update(&h, "world", 5);
        skiff_sha256_final(&h, b);
        cr_assert_arr_eq(a, b, sizeof(a));
        uint8_t back[2];
        cr_assert_eq(skiff_hex_decode("ab0F", back, 2), 0);
        cr_assert_eq(back[0], 0xab);
        cr_assert_eq(skiff_hex_decode("zz00", back, 2), -EINVAL);
}

Test(hash, oneshot_matches_libcrypto_on_all_lengths)
{
        uint8_t buf[300];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 131 + 7);
        for (size_t len = 0; len <= sizeof(buf); len++) {
                uint8_t a[SKIFF_SHA256_LEN], b[SKIFF_SHA256_LEN];
                skiff_sha256_oneshot(buf, len, a);
                struct skiff_sha256 h;
                skiff_sha256_init(&h);
                skiff_sha256_update(&h, buf, len);
                skiff_sha256_final(&h, b);
                cr_assert_arr_eq(a, b, sizeof(a), "length %zu", len);
        }
}
