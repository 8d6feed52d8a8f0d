#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

Test(xalloc, xstrdup_of_null_is_null)
{
        cr_assert_null(xstrdup(NULL));
        _cleanup_free_ char *s = xstrdup("copy");
        cr_assert_str_eq(s, "copy");
}

Test(xalloc, xstrndup_copies_at_most_n_bytes)
{
        _cleanup_free_ char *a = xstrndup("abcdef", 3);
        _cleanup_free_ char *b = xstrndup("ab", 10);
        _cleanup_free_ char *c = xstrndup("abc", 0);
        cr_assert_str_eq(a, "abc");
        cr_assert_str_eq(b, "ab");
        cr_assert_str_eq(c, "");
}

Test(xalloc, xmemdup_copies_bytes_including_nul)
{
        _cleanup_free_ char *p = xmemdup("a\0b", 3);
        cr_assert_eq(memcmp(p, "a\0b", 3), 0);
        _cleanup_free_ char *z = xmemdup("", 0);
        cr_assert_not_null(z, "a zero-length copy is still a freeable pointer");
}

Test(xalloc, xasprintf_formats_into_a_heap_string)
{
        _cleanup_free_ char *s = xasprintf("%s/%d/%05x", "pod", -3, 255u);
        cr_assert_str_eq(s, "pod/-3/000ff");
}

Test(xalloc, xreallocarray_grows_and_keeps_the_contents)
{
        uint32_t *v = xreallocarray(NULL, 4, sizeof(*v));
        for (uint32_t i = 0; i < 4; i++)
                v[i] = i * 3;
        v = xreallocarray(v, 100000, sizeof(*v));
        for (uint32_t i = 0; i < 4; i++)
                cr_assert_eq(v[i], i * 3);
        v[99999] = 7;
        free(v);
}

Test(xalloc, xreallocarray_aborts_on_multiplication_overflow, .signal = SIGABRT)
{
        void *p = xreallocarray(NULL, SIZE_MAX / 2 + 2, 2);
        free(p);
}
