#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "env/constraint.h"

static bool matches(const char *c, const char *v)
{
        struct skiff_constraint k;
        struct skiff_constraint_version ver;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_constraint_parse(c, &k, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(skiff_constraint_parse_version(v, &ver, &err), 0, "%s", skiff_error_msg(err));
        return skiff_constraint_match(&k, &ver);
}

Test(constraint, operators)
{
        cr_assert(matches(">=12.4", "12.4"));
        cr_assert(matches(">=12.4", "12.4.1"));
        cr_assert(matches(">=12.4", "13"));
        cr_assert_not(matches(">=12.4", "12.3.99"));
        cr_assert_not(matches(">=12.4", "12"));
        cr_assert(matches(">12.4", "12.4.1"));
        cr_assert_not(matches(">12.4", "12.4.0"));
        cr_assert(matches("<=12.4", "12.4"));
        cr_assert_not(matches("<12.4", "12.4"));
        cr_assert(matches("<12.4", "12.3"));
        cr_assert(matches("==12.4", "12.4.0"));
        cr_assert_not(matches("==12.4", "12.4.1"));
        cr_assert(matches(" >= 11.8 , < 13 ", "12.2"));
        cr_assert_not(matches(">=11.8,<13", "13.0"));
        cr_assert(matches(">=12.10", "12.10"));
        cr_assert_not(matches(">=12.10", "12.9"));
}

Test(constraint, format_canonical)
{
        struct skiff_constraint k;
        cr_assert_eq(skiff_constraint_parse(" >= 12.4 ,<13", &k, NULL), 0);
        _cleanup_free_ char *s = skiff_constraint_format(&k);
        cr_assert_str_eq(s, ">=12.4,<13");
}

Test(constraint, rejects_malformed)
{
        const char *bad[] = {"",     "12.4",         "=12.4",   ">=",        ">=12.",
                             ">=.4", ">=1.2.3.4.5",  ">=12,",   ">=12,,<13", "~>1",
                             ">=1x", ">=1234567890", ">= 12 4", NULL};
        for (const char **b = bad; *b; b++) {
                struct skiff_constraint k;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_constraint_parse(*b, &k, &err), -EINVAL, "accepted `%s`", *b);
                cr_assert(strstr(err->msg, "constraint"), "%s", err->msg);
                skiff_error_free(&err);
        }
}
