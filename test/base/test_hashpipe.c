#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashpipe.h"

/* Deterministic pseudo-random bytes (xorshift), so a lost, repeated or reordered slot changes the
 * digest. */
static uint8_t *make_data(size_t n)
{
        uint8_t *d = malloc(n ? n : 1);
        cr_assert_not_null(d);
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                d[i] = (uint8_t)x;
        }
        return d;
}

/* Feeds n bytes in chunks whose sizes cycle through a list that crosses slot boundaries in
 * every way (tiny, odd, exactly a slot, several slots in one call). */
static void pipe_digest(const uint8_t *d, size_t n, uint8_t out[SKIFF_SHA256_LEN])
{
        static const size_t steps[] = {1, 4093, 1 << 20, 7, (3 << 20) + 5, 65536, 999999};
        struct skiff_hashpipe p;
        skiff_hashpipe_init(&p);
        size_t off = 0;
        for (size_t i = 0; off < n; i++) {
                size_t k = steps[i % (sizeof(steps) / sizeof(steps[0]))];
                if (k > n - off)
                        k = n - off;
                skiff_hashpipe_update(&p, d + off, k);
                off += k;
        }
        skiff_hashpipe_final(&p, out);
        cr_assert_null(p.ring, "final joins the helper and frees the ring");
}

static void check_size(size_t n)
{
        uint8_t *d = make_data(n);
        uint8_t want[SKIFF_SHA256_LEN], got[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(d, n, want);
        pipe_digest(d, n, got);
        cr_assert_arr_eq(want, got, sizeof(want), "digest of %zu bytes", n);
        free(d);
}

Test(hashpipe, equals_oneshot_across_the_inline_boundary_and_slots)
{
        const size_t sizes[] = {0,
                                1,
                                SKIFF_HASHPIPE_INLINE - 1,
                                SKIFF_HASHPIPE_INLINE,
                                SKIFF_HASHPIPE_INLINE + 1,
                                SKIFF_HASHPIPE_INLINE + (1 << 20),
                                (17u << 20) + 12345};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
                check_size(sizes[i]);
}

Test(hashpipe, one_call_larger_than_the_ring)
{
        size_t n = 11u << 20;
        uint8_t *d = make_data(n);
        uint8_t want[SKIFF_SHA256_LEN], got[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(d, n, want);
        struct skiff_hashpipe p;
        skiff_hashpipe_init(&p);
        skiff_hashpipe_update(&p, d, n);
        cr_assert_not_null(p.ring, "a long stream is hashed on the helper thread");
        skiff_hashpipe_final(&p, got);
        cr_assert_arr_eq(want, got, sizeof(want));
        free(d);
}

Test(hashpipe, small_streams_start_no_thread)
{
        uint8_t d[4096] = {0};
        struct skiff_hashpipe p;
        skiff_hashpipe_init(&p);
        for (int i = 0; i < 16; i++)
                skiff_hashpipe_update(&p, d, sizeof(d));
        cr_assert_null(p.ring);
        uint8_t out[SKIFF_SHA256_LEN];
        skiff_hashpipe_final(&p, out);
}

Test(hashpipe, abort_mid_stream_and_reuse)
{
        size_t n = 9u << 20;
        uint8_t *d = make_data(n);
        struct skiff_hashpipe p;
        skiff_hashpipe_init(&p);
        skiff_hashpipe_update(&p, d, n);
        skiff_hashpipe_abort(&p); /* joins without hashing the rest; ASan sees no leak */
        cr_assert_null(p.ring);
        skiff_hashpipe_abort(&p); /* safe on an ended pipe */
        uint8_t want[SKIFF_SHA256_LEN], got[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(d, n, want);
        pipe_digest(d, n, got); /* a fresh pipe after abort */
        cr_assert_arr_eq(want, got, sizeof(want));
        free(d);
}

Test(hashpipe, feeds_ending_exactly_at_the_inline_boundary_start_the_helper)
{
        size_t n = 8u << 20, step = 256 * 1024; /* SKIFF_HASHPIPE_INLINE is a multiple of step */
        uint8_t *d = make_data(n);
        uint8_t want[SKIFF_SHA256_LEN], got[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(d, n, want);
        struct skiff_hashpipe p;
        skiff_hashpipe_init(&p);
        for (size_t off = 0; off < n; off += step)
                skiff_hashpipe_update(&p, d + off, step);
        cr_assert_not_null(p.ring, "the helper starts on the first feed past the inline prefix");
        skiff_hashpipe_final(&p, got);
        cr_assert_arr_eq(want, got, sizeof(want));
        free(d);
}

Test(hashpipe, helper_budget_is_shared_and_released)
{
        skiff_hashpipe_set_max_helpers(1);
        size_t n = 6u << 20;
        uint8_t *d = make_data(n);
        uint8_t want[SKIFF_SHA256_LEN], got_a[SKIFF_SHA256_LEN], got_b[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(d, n, want);
        struct skiff_hashpipe a, b;
        skiff_hashpipe_init(&a);
        skiff_hashpipe_init(&b);
        skiff_hashpipe_update(&a, d, n / 2);
        skiff_hashpipe_update(&b, d, n / 2);
        cr_assert_not_null(a.ring, "the first pipe past its prefix gets the one helper");
        cr_assert_null(b.ring, "the second hashes inline while the budget is spent");
        skiff_hashpipe_update(&a, d + n / 2, n - n / 2);
        skiff_hashpipe_final(&a, got_a);
        skiff_hashpipe_update(&b, d + n / 2, 1 << 20);
        cr_assert_not_null(b.ring, "a helper freed by final() is taken on the next update");
        skiff_hashpipe_update(&b, d + n / 2 + (1 << 20), n - n / 2 - (1 << 20));
        skiff_hashpipe_final(&b, got_b);
        cr_assert_arr_eq(want, got_a, sizeof(want));
        cr_assert_arr_eq(want, got_b, sizeof(want),
                         "switching to the helper mid-stream keeps order");
        skiff_hashpipe_set_max_helpers(0);
        free(d);
}
