#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/bigbuf.h"

Test(bigbuf, small_requests_come_from_malloc_and_large_ones_are_cached)
{
        skiff_bigbuf_trim();
        char *s = skiff_bigbuf_alloc(100);
        memset(s, 'a', 100);
        skiff_bigbuf_free(s);
        cr_assert_eq(skiff_bigbuf_cached(), 0, "small buffers are not cached");

        size_t n = 256 * 1024;
        char *a = skiff_bigbuf_alloc(n);
        memset(a, 'x', n); /* the whole size is usable */
        skiff_bigbuf_free(a);
        if (!SKIFF_BIGBUF_CACHING) {
                cr_assert_eq(skiff_bigbuf_cached(), 0, "nothing is cached under ASan");
                return;
        }
        cr_assert_geq(skiff_bigbuf_cached(), n, "a freed large buffer is kept");
        char *b = skiff_bigbuf_alloc(n);
        cr_assert_eq(a, b, "the same size gets the cached buffer back");
        cr_assert_eq(skiff_bigbuf_cached(), 0);
        char *c = skiff_bigbuf_alloc(n * 2);
        cr_assert_neq(c, b);
        skiff_bigbuf_free(b);
        skiff_bigbuf_free(c);
        skiff_bigbuf_free(NULL);
        skiff_bigbuf_trim();
        cr_assert_eq(skiff_bigbuf_cached(), 0);
}

Test(bigbuf, the_cache_is_bounded)
{
        skiff_bigbuf_trim();
        size_t n = 8u << 20, k = SKIFF_BIGBUF_CACHE / n + 4;
        char *v[64];
        cr_assert_leq(k, 64);
        for (size_t i = 0; i < k; i++)
                v[i] = skiff_bigbuf_alloc(n);
        for (size_t i = 0; i < k; i++)
                skiff_bigbuf_free(v[i]);
        cr_assert_leq(skiff_bigbuf_cached(), SKIFF_BIGBUF_CACHE);
        if (SKIFF_BIGBUF_CACHING)
                cr_assert_geq(skiff_bigbuf_cached(), SKIFF_BIGBUF_CACHE - n - 4096 * 2);
        skiff_bigbuf_trim();
}

static void *churn(void *arg)
{
        unsigned seed = (unsigned)(uintptr_t)arg;
        for (int i = 0; i < 2000; i++) {
                size_t n = SKIFF_BIGBUF_MIN * (1 + (seed = seed * 1103515245u + 12345u) % 4);
                unsigned char *p = skiff_bigbuf_alloc(n);
                p[0] = p[n - 1] = (unsigned char)i;
                cr_assert_eq(p[0], p[n - 1]);
                skiff_bigbuf_free(p);
        }
        return NULL;
}

Test(bigbuf, threads_share_the_cache)
{
        pthread_t t[4];
        for (uintptr_t i = 0; i < 4; i++)
                cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        cr_assert_leq(skiff_bigbuf_cached(), SKIFF_BIGBUF_CACHE);
        skiff_bigbuf_trim();
}

Test(bigbuf, zstd_shaped_callbacks)
{
        void *p = skiff_bigbuf_zalloc(NULL, 3u << 20);
        memset(p, 0, 3u << 20);
        skiff_bigbuf_zfree(NULL, p);
        void *q = skiff_bigbuf_zalloc(NULL, 16);
        skiff_bigbuf_zfree(NULL, q);
        skiff_bigbuf_trim();
}
