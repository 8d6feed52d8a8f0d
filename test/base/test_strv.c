#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"

/* Asserts that v holds exactly the n strings of want, in order, followed by NULL. */
static void assert_strv(char *const *v, const char *const *want, size_t n)
{
        cr_assert_not_null(v);
        cr_assert_eq(skiff_strv_len(v), n, "length %zu, want %zu", skiff_strv_len(v), n);
        for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(v[i], want[i], "entry %zu", i);
        cr_assert_null(v[n]);
}

#define ASSERT_STRV(v, ...)                                                                        \
        do {                                                                                       \
                static const char *const _want[] = {__VA_ARGS__};                                  \
                assert_strv((v), _want, SKIFF_ARRAY_SIZE(_want));                                  \
        } while (0)

Test(strv, len_counts_entries_and_treats_null_as_empty)
{
        cr_assert_eq(skiff_strv_len(NULL), 0);
        char *empty[] = {NULL};
        cr_assert_eq(skiff_strv_len(empty), 0);
        char *three[] = {"a", "", "c", NULL};
        cr_assert_eq(skiff_strv_len(three), 3);
}

Test(strv, free_of_null_is_a_no_op)
{
        skiff_strv_free(NULL);
        _cleanup_strv_ char **v = NULL;
        cr_assert_null(v);
}

Test(strv, push_onto_null_creates_a_vector_holding_a_copy)
{
        _cleanup_strv_ char **v = NULL;
        char src[] = "first";
        skiff_strv_push(&v, src);
        src[0] = 'X';
        ASSERT_STRV(v, "first");
        cr_assert_neq(v[0], src);
}

Test(strv, push_keeps_order_and_terminator_over_many_entries)
{
        _cleanup_strv_ char **v = NULL;
        for (int i = 0; i < 1000; i++) {
                char buf[16];
                snprintf(buf, sizeof(buf), "e%d", i);
                skiff_strv_push(&v, buf);
                cr_assert_null(v[i + 1]);
        }
        cr_assert_eq(skiff_strv_len(v), 1000);
        cr_assert_str_eq(v[0], "e0");
        cr_assert_str_eq(v[517], "e517");
        cr_assert_str_eq(v[999], "e999");
}

Test(strv, push_take_stores_the_given_pointer)
{
        _cleanup_strv_ char **v = NULL;
        skiff_strv_push(&v, "a");
        char *s = xstrdup("owned");
        skiff_strv_push_take(&v, s);
        cr_assert_eq(v[1], s, "no copy is made");
        ASSERT_STRV(v, "a", "owned");
        /* Freeing the vector frees s; ASan reports a leak or double free otherwise. */
}

Test(strv, copy_of_null_is_null)
{
        cr_assert_null(skiff_strv_copy(NULL));
}

Test(strv, copy_of_an_empty_vector_is_empty_but_not_null)
{
        char *empty[] = {NULL};
        _cleanup_strv_ char **c = skiff_strv_copy(empty);
        cr_assert_not_null(c);
        cr_assert_null(c[0]);
}

Test(strv, copy_is_deep)
{
        char **v = NULL;
        skiff_strv_push(&v, "x=1");
        skiff_strv_push(&v, "");
        skiff_strv_push(&v, "z");
        _cleanup_strv_ char **c = skiff_strv_copy(v);
        for (size_t i = 0; i < 3; i++)
                cr_assert_neq(c[i], v[i], "entry %zu is copied", i);
        v[0][0] = 'Q';
        skiff_strv_free(v);
        ASSERT_STRV(c, "x=1", "", "z");
}

Test(strv, contains_matches_whole_strings_only)
{
        char *v[] = {"alpha", "", "beta", NULL};
        cr_assert(skiff_strv_contains(v, "alpha"));
        cr_assert(skiff_strv_contains(v, "beta"));
        cr_assert(skiff_strv_contains(v, ""));
        cr_assert(!skiff_strv_contains(v, "alph"));
        cr_assert(!skiff_strv_contains(v, "alphabet"));
        cr_assert(!skiff_strv_contains(v, "gamma"));
        char *none[] = {NULL};
        cr_assert(!skiff_strv_contains(none, ""));
        cr_assert(!skiff_strv_contains(NULL, "alpha"));
}

Test(strv, split_on_a_single_separator)
{
        _cleanup_strv_ char **v = skiff_strv_split("/usr/bin:/bin:/sbin", ":", false);
        ASSERT_STRV(v, "/usr/bin", "/bin", "/sbin");
}

Test(strv, split_keeps_empty_fields_at_the_ends_and_between_when_not_skipping)
{
        _cleanup_strv_ char **v = skiff_strv_split(":a::b:", ":", false);
        ASSERT_STRV(v, "", "a", "", "b", "");
}

Test(strv, split_drops_empty_fields_when_skipping)
{
        _cleanup_strv_ char **v = skiff_strv_split(":a::b:", ":", true);
        ASSERT_STRV(v, "a", "b");
}

Test(strv, split_of_an_empty_string_gives_one_empty_field_or_none)
{
        _cleanup_strv_ char **keep = skiff_strv_split("", ":", false);
        ASSERT_STRV(keep, "");
        _cleanup_strv_ char **skip = skiff_strv_split("", ":", true);
        cr_assert_not_null(skip, "never NULL");
        cr_assert_null(skip[0]);
}

Test(strv, split_of_only_separators)
{
        _cleanup_strv_ char **keep = skiff_strv_split(":::", ":", false);
        ASSERT_STRV(keep, "", "", "", "");
        _cleanup_strv_ char **skip = skiff_strv_split(":::", ":", true);
        cr_assert_not_null(skip);
        cr_assert_null(skip[0]);
}

Test(strv, split_on_any_byte_of_several_separators)
{
        _cleanup_strv_ char **v = skiff_strv_split("a,b;c d,,e", ",; ", false);
        ASSERT_STRV(v, "a", "b", "c", "d", "", "e");
        _cleanup_strv_ char **w = skiff_strv_split(" \tcpu  memory\n", " \t\n", true);
        ASSERT_STRV(w, "cpu", "memory");
}

Test(strv, split_without_a_separator_in_the_string_gives_the_whole_string)
{
        _cleanup_strv_ char **v = skiff_strv_split("no-seps-here", ":", true);
        ASSERT_STRV(v, "no-seps-here");
        _cleanup_strv_ char **w = skiff_strv_split("a:b", "", false);
        ASSERT_STRV(w, "a:b");
}

Test(strv, env_get_returns_the_value_of_the_exact_key)
{
        char *env[] = {"PATHEXT=.x", "PATH=/bin", "P=1", "EQ=a=b", "EMPTY=", "NOEQ", NULL};
        cr_assert_str_eq(skiff_strv_env_get(env, "PATH"), "/bin");
        cr_assert_str_eq(skiff_strv_env_get(env, "PATHEXT"), ".x");
        cr_assert_str_eq(skiff_strv_env_get(env, "P"), "1");
        cr_assert_str_eq(skiff_strv_env_get(env, "EQ"), "a=b");
        cr_assert_str_eq(skiff_strv_env_get(env, "EMPTY"), "");
        cr_assert_null(skiff_strv_env_get(env, "PAT"));
        cr_assert_null(skiff_strv_env_get(env, "NOEQ"), "an entry without `=` has no value");
        cr_assert_null(skiff_strv_env_get(env, "MISSING"));
}

Test(strv, env_get_on_a_null_environment_returns_null)
{
        cr_assert_null(skiff_strv_env_get(NULL, "PATH"));
}

Test(strv, env_set_on_a_null_environment_creates_it)
{
        _cleanup_strv_ char **env = NULL;
        skiff_strv_env_set(&env, "HOME", "/root");
        ASSERT_STRV(env, "HOME=/root");
}

Test(strv, env_set_replaces_an_existing_key_in_place)
{
        _cleanup_strv_ char **env = NULL;
        skiff_strv_push(&env, "A=1");
        skiff_strv_push(&env, "PATH=/bin");
        skiff_strv_push(&env, "Z=26");
        skiff_strv_env_set(&env, "PATH", "/usr/bin:/bin");
        ASSERT_STRV(env, "A=1", "PATH=/usr/bin:/bin", "Z=26");
        cr_assert_str_eq(skiff_strv_env_get(env, "PATH"), "/usr/bin:/bin");
}

Test(strv, env_set_does_not_touch_keys_that_share_a_prefix)
{
        _cleanup_strv_ char **env = NULL;
        skiff_strv_push(&env, "PATHEXT=.x");
        skiff_strv_push(&env, "PAT=y");
        skiff_strv_env_set(&env, "PATH", "/bin");
        ASSERT_STRV(env, "PATHEXT=.x", "PAT=y", "PATH=/bin");
}

Test(strv, env_set_with_an_empty_value_keeps_the_key)
{
        _cleanup_strv_ char **env = NULL;
        skiff_strv_env_set(&env, "K", "v");
        skiff_strv_env_set(&env, "K", "");
        ASSERT_STRV(env, "K=");
        cr_assert_str_eq(skiff_strv_env_get(env, "K"), "");
}
