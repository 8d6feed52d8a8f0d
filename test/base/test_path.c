#include <criterion/criterion.h>

#include "base/cleanup.h"
#include "base/path.h"

static void check_clean(const char *in, const char *want)
{
        _cleanup_free_ char *got = skiff_path_clean(in);
        cr_assert_str_eq(got, want, "clean(%s)", in);
}

Test(path, clean_like_go)
{
        check_clean("/run/containerd/containerd.sock/default/test",
                    "/run/containerd/containerd.sock/default/test");
        check_clean("a//b/../c/", "a/c");
        check_clean("", ".");
        check_clean("/../x", "/x");
        check_clean("../../a", "../../a");
        check_clean("/a/./b/.", "/a/b");
}

Test(path, join)
{
        _cleanup_free_ char *a = skiff_path_join("/", "etc");
        _cleanup_free_ char *b = skiff_path_join("/a/", "/b");
        cr_assert_str_eq(a, "/etc");
        cr_assert_str_eq(b, "/a/b");
}

Test(path, safety)
{
        cr_assert(skiff_path_is_safe_relative("a/b"));
        cr_assert(!skiff_path_is_safe_relative("a/../../b"));
        cr_assert(!skiff_path_is_safe_relative("/a"));
        cr_assert(!skiff_path_is_component(".."));
        cr_assert(!skiff_path_is_component("a/b"));
        cr_assert(skiff_path_is_component("a b"));
}

Test(path, strip_trailing_slashes)
{
        static const char *const cases[][2] = {
            {"https://cache.example/", "https://cache.example"},
            {"file:///srv/hub//", "file:///srv/hub"},
            {"/a/b", "/a/b"},
            {"/", ""},
            {"", ""},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                _cleanup_free_ char *s = skiff_path_strip_trailing_slashes(cases[i][0]);
                cr_assert_str_eq(s, cases[i][1], "`%s`", cases[i][0]);
        }
}
