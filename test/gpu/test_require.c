#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "gpu/require.h"

static const struct skiff_require_facts h100 = {"13.0", "580.159.04", NULL, NULL};
static const struct skiff_require_facts known = {"12.4", "550.54.15", "9.0", "Unknown"};
static const struct skiff_require_facts nocuda = {NULL, "535.0", NULL, NULL};

struct req_case {
        const char *expr;
        const struct skiff_require_facts *facts;
        int r;
        const char *msg;
};

Test(require, nvidia_require_table)
{
        static const struct req_case cases[] = {
            {"cuda>=12.4", &h100, 0, NULL},
            {"cuda>=13", &h100, 0, NULL},
            {"cuda>=13.0.0", &h100, 0, NULL},
            {"CUDA>=12.0 brand=unknown", &h100, 0, NULL},
            {"cuda>=14.0", &h100, -ERANGE,
             "requirement `R`: unsatisfied condition: cuda>=14.0, please update your driver to a "
             "newer version, or use an earlier cuda container (driver 580.159.04, CUDA 13.0)"},
            {"cuda>=14.0 brand=tesla,driver>=580,driver<581", &h100, 0, NULL}, /* brand unknown */
            {"cuda>=14.0 driver>=470,driver<471", &h100, -ERANGE,
             "unsatisfied condition: cuda>=14.0"},
            {"cuda>=12.8 brand=tesla,driver>=535,driver<536", &known, -ERANGE, "CUDA 12.4"},
            {"cuda>=12.2 brand=unknown,driver>=550,driver<551", &known, 0, NULL},
            {"driver>=580.100", &h100, 0, NULL},
            {"driver>=580.160", &h100, -ERANGE, "unsatisfied condition: driver>=580.160 ("},
            {"driver=580.159.4", &h100, 0, NULL}, /* 04 == 4 */
            {"arch>=9.0", &known, 0, NULL},
            {"arch>=10.0", &known, -ERANGE, "arch>=10.0"},
            {"arch>=10.0", &h100, 0, NULL}, /* unknown arch: satisfied */
            {"cuda!=13.0", &h100, -ERANGE, NULL},
            {"cuda<13.1", &h100, 0, NULL},
            {"cuda>13", &h100, -ERANGE, NULL},
            {"", &h100, 0, NULL},
            {"cuda>>12", &h100, -EINVAL, "requirement `R`: invalid expression `cuda>>12`"},
            {"cuda>=12.x", &h100, -EINVAL, "invalid expression"},
            {"brand>=tesla", &h100, -EINVAL, "invalid expression `brand>=tesla`"},
            {"gpu>=1", &h100, -EINVAL, "invalid expression `gpu>=1`"},
            {"cuda>=12,,driver>=1", &h100, -EINVAL, "invalid expression ``"},
            {"cuda>=14 cuda>=x", &h100, -EINVAL, "invalid expression `cuda>=x`"},
            {"cuda>=12.0", &nocuda, -ERANGE, "does not tell its CUDA version"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_require_check("R", cases[i].expr, cases[i].facts, &err);
                cr_assert_eq(r, cases[i].r, "`%s`: %d %s", cases[i].expr, r, skiff_error_msg(err));
                if (cases[i].msg)
                        cr_assert(strstr(skiff_error_msg(err), cases[i].msg), "`%s`: %s",
                                  cases[i].expr, skiff_error_msg(err));
        }
}

Test(require, requires_cuda_table)
{
        static const struct req_case cases[] = {
            {">=12.4", &h100, 0, NULL},
            {"12", &h100, 0, NULL},
            {"13", &h100, 0, NULL},
            {" >= 13.0 ", &h100, 0, NULL},
            {">=99.0", &h100, -ERANGE,
             "environment requires CUDA >=99.0, but the driver 580.159.04 supports CUDA 13.0"},
            {"14", &h100, -ERANGE, "requires CUDA >=14, but"},
            {"<13", &h100, -ERANGE, NULL},
            {"==13.0", &h100, 0, NULL},
            {"latest", &h100, -EINVAL, "`requires.cuda`: invalid value `latest`"},
            {">=", &h100, -EINVAL, NULL},
            {">=12", &nocuda, -ERANGE, "CUDA version of driver 535.0 is unknown"},
            /* the generation document's grammar: clauses joined with ',' all hold */
            {">=12.4,<14", &h100, 0, NULL},
            {">=12.4, <13", &h100, -ERANGE,
             "environment requires CUDA >=12.4, <13, but the driver 580.159.04 supports CUDA "
             "13.0"},
            {">=12,>=99.0", &h100, -ERANGE, "requires CUDA >=12,>=99.0, but"},
            {">=12,", &h100, 0, NULL},
            {",", &h100, -EINVAL, "invalid value `,`"},
            {">=12,x", &h100, -EINVAL, "invalid value `>=12,x`"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_require_check_cuda(cases[i].expr, cases[i].facts, &err);
                cr_assert_eq(r, cases[i].r, "`%s`: %d %s", cases[i].expr, r, skiff_error_msg(err));
                if (cases[i].msg)
                        cr_assert(strstr(skiff_error_msg(err), cases[i].msg), "`%s`: %s",
                                  cases[i].expr, skiff_error_msg(err));
        }
}

Test(require, version_cmp)
{
        int c = 99;
        cr_assert_eq(skiff_require_version_cmp("12", "12.0.0", &c), 0);
        cr_assert_eq(c, 0);
        cr_assert_eq(skiff_require_version_cmp("12.10", "12.9", &c), 0);
        cr_assert_gt(c, 0);
        cr_assert_eq(skiff_require_version_cmp("1.", "1", &c), -EINVAL);
        cr_assert_eq(skiff_require_version_cmp("", "1", &c), -EINVAL);
}
