#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/hash.h"
#include "store/nixbase32.h"
#include "store/nixhash.h"
#include "store_helpers.h"

Test(nixbase32, empty_string_sha256_vector)
{
        uint8_t d[32];
        skiff_sha256_oneshot("", 0, d);
        char out[53];
        skiff_nixbase32_encode(d, 32, out);
        cr_assert_str_eq(out, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
        uint8_t back[32];
        cr_assert_eq(skiff_nixbase32_decode(out, 52, back, 32), 0);
        cr_assert_arr_eq(back, d, 32);
}

Test(nixbase32, matches_nix_hash_to_base32)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        for (int i = 0; i < 20; i++) {
                char seed[32];
                snprintf(seed, sizeof(seed), "vector-%d", i);
                uint8_t d[32];
                skiff_sha256_oneshot(seed, strlen(seed), d);
                char hex[65], b32[53];
                skiff_hex_encode(d, 32, hex);
                skiff_nixbase32_encode(d, 32, b32);
                char *ref = th_out("nix-hash --type sha256 --to-base32 %s", hex);
                cr_assert_str_eq(b32, ref, "vector %d", i);
                free(ref);
        }
}

Test(nixbase32, lengths_and_20_byte_roundtrip)
{
        cr_assert_eq(skiff_nixbase32_encoded_len(20), 32);
        cr_assert_eq(skiff_nixbase32_encoded_len(32), 52);
        uint8_t in[20], back[20];
        for (int i = 0; i < 20; i++)
                in[i] = (uint8_t)(i * 37 + 11);
        char s[33];
        skiff_nixbase32_encode(in, 20, s);
        cr_assert_eq(strlen(s), 32);
        cr_assert_eq(skiff_nixbase32_decode(s, 32, back, 20), 0);
        cr_assert_arr_eq(in, back, 20);
}

Test(nixbase32, rejects_bad_input)
{
        uint8_t d[32];
        /* 'e', 'o', 'u', 't' are not in the alphabet. */
        cr_assert_eq(skiff_nixbase32_decode("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e",
                                            52, d, 32),
                     -EINVAL);
        cr_assert_eq(skiff_nixbase32_decode("abc", 3, d, 32), -EINVAL);
        /* The first character carries only 1 significant bit for 32 bytes: 'z' overflows. */
        cr_assert_eq(skiff_nixbase32_decode("zmdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
                                            52, d, 32),
                     -EINVAL);
}

Test(nixhash, parses_every_form_nix_accepts)
{
        const char *b32 = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
        const char *hex = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        const char *b64 = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        const char *sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        struct skiff_nixhash a, b, c, d;
        cr_assert_eq(skiff_nixhash_parse(b32, &a, NULL), 0);
        cr_assert_eq(skiff_nixhash_parse(hex, &b, NULL), 0);
        cr_assert_eq(skiff_nixhash_parse(b64, &c, NULL), 0);
        cr_assert_eq(skiff_nixhash_parse(sri, &d, NULL), 0);
        cr_assert(skiff_nixhash_equal(&a, &b) && skiff_nixhash_equal(&a, &c) &&
                  skiff_nixhash_equal(&a, &d));
        char out[SKIFF_NIXHASH_STR_MAX];
        skiff_nixhash_format(&d, out);
        cr_assert_str_eq(out, b32);
}

Test(nixhash, errors_quote_the_input)
{
        struct skiff_nixhash h;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_nixhash_parse("md5:abcd", &h, &err), -ENOTSUP);
        cr_assert(strstr(err->msg, "md5:abcd"));
        cr_assert_eq(skiff_nixhash_parse("sha256:1234", &h, &err), -EINVAL);
        cr_assert(strstr(err->msg, "sha256:1234"));
        cr_assert_eq(skiff_nixhash_parse("nohash", &h, &err), -EINVAL);
        skiff_error_free(&err);
}
