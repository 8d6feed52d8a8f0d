#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "env/ref.h"

Test(ref, parses_pinned_and_round_trips)
{
        const char *cases[] = {"acme/app@7", "hub.example.com/acme/app@1",
                               "internal/acme/py-torch_2.1@2147483648",
                               "hub.local:8080/0wner/n.a-m_e@42", NULL};
        for (const char **c = cases; *c; c++) {
                struct skiff_ref r = {0};
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_ref_parse(*c, false, &r, &err), 0, "%s: %s", *c,
                             skiff_error_msg(err));
                cr_assert(skiff_ref_is_pinned(&r));
                _cleanup_free_ char *s = skiff_ref_format(&r);
                cr_assert_str_eq(s, *c);
                struct skiff_ref r2 = {0};
                cr_assert_eq(skiff_ref_parse(s, false, &r2, NULL), 0);
                cr_assert(skiff_ref_equal(&r, &r2));
                skiff_ref_done(&r);
                skiff_ref_done(&r2);
        }
}

Test(ref, fields)
{
        struct skiff_ref r = {0};
        cr_assert_eq(skiff_ref_parse("h.io/acme/app@12", false, &r, NULL), 0);
        cr_assert_str_eq(r.hub, "h.io");
        cr_assert_str_eq(r.owner, "acme");
        cr_assert_str_eq(r.name, "app");
        cr_assert_eq(r.generation, 12);
        _cleanup_free_ char *en = skiff_ref_env_name(&r);
        cr_assert_str_eq(en, "acme/app");
        skiff_ref_done(&r);
        cr_assert_eq(skiff_ref_parse("acme/app@3", false, &r, NULL), 0);
        cr_assert_null(r.hub);
        skiff_ref_done(&r);
}

Test(ref, unpinned_refused_unless_allowed)
{
        struct skiff_ref r = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ref_parse("acme/pytorch", false, &r, &err), -EPERM);
        cr_assert(strstr(err->msg, "unpinned"), "%s", err->msg);
        cr_assert(strstr(err->msg, "`acme/pytorch`"), "%s", err->msg);
        cr_assert_null(r.owner);
        skiff_error_free(&err);
        cr_assert_eq(skiff_ref_parse("acme/pytorch", true, &r, NULL), 0);
        cr_assert_eq(r.generation, 0);
        cr_assert_not(skiff_ref_is_pinned(&r));
        _cleanup_free_ char *s = skiff_ref_format(&r);
        cr_assert_str_eq(s, "acme/pytorch");
        skiff_ref_done(&r);
}

Test(ref, rejects_malformed)
{
        static const struct {
                const char *in;
                const char *needle;
        } bad[] = {
            {"", "empty"},
            {"acme", "expected"},
            {"acme/app@", "empty generation"},
            {"acme/app@0", "positive"},
            {"acme/app@07", "leading zero"},
            {"acme/app@-1", "not a positive"},
            {"acme/app@1.5", "not a positive"},
            {"acme/app@2147483649", "larger"},
            {"acme/app@99999999999999999999", "larger"},
            {"Acme/app@1", "invalid owner"},
            {"acme/App@1", "invalid name"},
            {"acme/.app@1", "invalid name"},
            {"acme/-app@1", "invalid name"},
            {"/app@1", "invalid owner"},
            {"acme/@1", "invalid name"},
            {"a/b/c/d@1", "too many"},
            {"Hub/acme/app@1", "invalid hub"},
            {"-hub/acme/app@1", "invalid hub"},
            {"hub..io/acme/app@1", "invalid hub"},
            {"hub:0/acme/app@1", "invalid hub"},
            {"hub:70000/acme/app@1", "invalid hub"},
            {"hub:/acme/app@1", "invalid hub"},
            {"acme/app@1@2", "not a positive"},
            {"acme/a pp@1", "invalid name"},
            {NULL, NULL},
        };
        for (size_t i = 0; bad[i].in; i++) {
                struct skiff_ref r = {0};
                skiff_err_t err = NULL;
                int rc = skiff_ref_parse(bad[i].in, true, &r, &err);
                cr_assert_lt(rc, 0, "accepted `%s`", bad[i].in);
                cr_assert(strstr(err->msg, bad[i].needle), "`%s`: %s", bad[i].in, err->msg);
                cr_assert_null(r.owner);
                skiff_error_free(&err);
        }
}

Test(ref, segment_length_bound)
{
        char owner[SKIFF_REF_SEGMENT_MAX + 2];
        memset(owner, 'a', sizeof(owner) - 1);
        owner[SKIFF_REF_SEGMENT_MAX] = '\0';
        cr_assert(skiff_ref_valid_segment(owner));
        owner[SKIFF_REF_SEGMENT_MAX] = 'a';
        owner[SKIFF_REF_SEGMENT_MAX + 1] = '\0';
        cr_assert_not(skiff_ref_valid_segment(owner));
}

Test(ref, parse_list_splits_commas_across_arguments)
{
        char *args[] = {"acme/a@1,acme/b", ",hub.example.com/acme/c@3,", "acme/d@4"};
        struct skiff_ref refs[8] = {0};
        size_t n = 99;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ref_parse_list(args, 3, true, refs, 8, &n, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(n, 4);
        static const char *const want[] = {"acme/a@1", "acme/b", "hub.example.com/acme/c@3",
                                           "acme/d@4"};
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = skiff_ref_format(&refs[i]);
                cr_assert_str_eq(s, want[i]);
                skiff_ref_done(&refs[i]);
        }
        cr_assert_eq(skiff_ref_parse_list(args, 0, true, refs, 8, &n, &err), 0);
        cr_assert_eq(n, 0);
}

Test(ref, parse_list_fails_whole_on_a_bad_item_or_too_many)
{
        char *args[] = {"acme/a@1,acme/b@2", "acme/c@3"};
        struct skiff_ref refs[2] = {0};
        size_t n = 99;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ref_parse_list(args, 2, true, refs, 2, &n, &err), -E2BIG);
        cr_assert_str_eq(skiff_error_msg(err), "too many references");
        cr_assert_eq(n, 0);
        cr_assert_null(refs[0].owner, "parsed references are released");
        cr_assert_null(refs[1].owner);
        skiff_error_free(&err);
        char *bad[] = {"acme/a@1,NOPE"};
        cr_assert_eq(skiff_ref_parse_list(bad, 1, true, refs, 2, &n, &err), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "NOPE"), "%s", skiff_error_msg(err));
        cr_assert_eq(n, 0);
        cr_assert_null(refs[0].owner);
        skiff_error_free(&err);
        char *unpinned[] = {"acme/a"};
        cr_assert_eq(skiff_ref_parse_list(unpinned, 1, false, refs, 2, &n, &err), -EPERM);
        skiff_error_free(&err);
}
