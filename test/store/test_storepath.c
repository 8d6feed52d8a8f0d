#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store/nar.h"
#include "store/nixhash.h"
#include "store/storepath.h"
#include "store_helpers.h"

Test(storepath, name_rules)
{
        cr_assert_eq(skiff_storepath_check_name("hello-2.12.1", NULL), 0);
        cr_assert_eq(skiff_storepath_check_name("a+b_c?d=e.f", NULL), 0);
        cr_assert_eq(skiff_storepath_check_name("", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name(".hidden", NULL), 0);
        cr_assert_eq(skiff_storepath_check_name("..x", NULL), 0);
        cr_assert_eq(skiff_storepath_check_name("...", NULL), 0);
        cr_assert_eq(skiff_storepath_check_name(".", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name("..", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name(".-x", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name("..-x", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name("a/b", NULL), -EINVAL);
        cr_assert_eq(skiff_storepath_check_name("with space", NULL), -EINVAL);
        char longname[213];
        memset(longname, 'x', 212);
        longname[212] = '\0';
        cr_assert_eq(skiff_storepath_check_name(longname, NULL), -EINVAL);
        longname[211] = '\0';
        cr_assert_eq(skiff_storepath_check_name(longname, NULL), 0);
}

Test(storepath, parse_full_paths)
{
        const char *base = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_storepath_parse("/nix/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello",
                                           "/nix/store", &base, NULL),
                     0);
        cr_assert_str_eq(base, "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello");
        cr_assert_eq(skiff_storepath_parse("/nix/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pe-hello",
                                           "/nix/store", &base, &err),
                     -EINVAL); /* 'e' is not nixbase32 */
        cr_assert(strstr(err->msg, "hash"));
        cr_assert_eq(skiff_storepath_parse("/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello",
                                           "/nix/store", &base, &err),
                     -EINVAL);
        cr_assert_eq(skiff_storepath_parse("/nix/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-",
                                           "/nix/store", &base, &err),
                     -EINVAL);
        cr_assert_eq(skiff_storepath_parse("/nix/store/short-hello", "/nix/store", &base, &err),
                     -EINVAL);
        skiff_error_free(&err);
}

Test(storepath, source_path_equals_nix_store_add)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("%s/test/fixtures/store/mktree.sh %s/my-tree", SKIFF_SOURCE_DIR, tmp),
                     0);
        _cleanup_free_ char *dir = xasprintf("%s/my-tree", tmp);
        struct skiff_nixhash h;
        cr_assert_eq(skiff_nar_hash_path(AT_FDCWD, dir, &h, NULL, NULL), 0);
        _cleanup_free_ char *ours = skiff_storepath_make_source(&h, "my-tree", "/nix/store");
        _cleanup_free_ char *ref = th_out(NIX_ENV "nix-store --add %s", dir);
        cr_assert_str_eq(ours, ref);
        th_sh("rm -rf %s", tmp);
}
