#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "env/flox.h"
#include "env_helpers.h"

struct paths {
        char *hello, *hello_man, *htop, *flake_out, *flake_dev, *sp, *darwin;
};

static struct paths P;

static void setup(void)
{
        P.hello = th_store_path("/nix/store", "hello", "hello-2.12.3");
        P.hello_man = th_store_path("/nix/store", "hello-man", "hello-2.12.3-man");
        P.htop = th_store_path("/nix/store", "htop", "htop-3.3.0");
        P.flake_out = th_store_path("/nix/store", "fo", "ripgrep-14.1.0");
        P.flake_dev = th_store_path("/nix/store", "fd", "ripgrep-14.1.0-dev");
        P.sp = th_store_path("/nix/store", "sp", "mytool");
        P.darwin = th_store_path("/nix/store", "darwin", "hello-2.12.3");
}

/* A lockfile in the shape Flox 1.x writes: catalog, flake and store-path packages for two
 * systems, manifest vars and an on-activate hook, plus keys skiff ignores. */
static char *lockfile(void)
{
        return xasprintf(
            "{\"lockfile-version\": 1,\n"
            " \"manifest\": {\"schema-version\": \"1.14.0\", \"install\": {\"hello\": "
            "{\"pkg-path\": \"hello\"}},\n"
            "   \"vars\": {\"GREETING\": \"hi\", \"LANG\": \"C\"},\n"
            "   \"hook\": {\"on-activate\": \"export X=1\\n\"}, \"profile\": {},\n"
            "   \"options\": {\"systems\": [\"x86_64-linux\", \"aarch64-darwin\"]}},\n"
            " \"packages\": [\n"
            "  {\"attr_path\": \"hello\", \"broken\": false, \"derivation\": "
            "\"/nix/store/x.drv\",\n"
            "   \"install_id\": \"hello\", \"name\": \"hello-2.12.3\", \"pname\": \"hello\",\n"
            "   \"version\": \"2.12.3\", \"outputs_to_install\": [\"out\", \"man\"],\n"
            "   \"outputs\": {\"out\": \"%s\", \"man\": \"%s\"},\n"
            "   \"system\": \"x86_64-linux\", \"group\": \"toplevel\", \"priority\": 5},\n"
            "  {\"install_id\": \"hello\", \"outputs\": {\"out\": \"%s\"}, \"outputs_to_install\": "
            "null,\n"
            "   \"system\": \"aarch64-darwin\", \"priority\": 5},\n"
            "  {\"install_id\": \"htop\", \"outputs\": {\"out\": \"%s\"}, \"system\": "
            "\"x86_64-linux\",\n"
            "   \"priority\": 3, \"stabilities\": [\"unstable\"]},\n"
            "  {\"install_id\": \"rg\", \"locked-url\": \"github:NixOS/nixpkgs/abc\",\n"
            "   \"outputs\": {\"dev\": \"%s\", \"out\": \"%s\"}, \"output-names\": [\"out\", "
            "\"dev\"],\n"
            "   \"outputs-to-install\": [\"out\"], \"package-system\": \"x86_64-linux\",\n"
            "   \"system\": \"x86_64-linux\", \"name\": \"ripgrep-14.1.0\"},\n"
            "  {\"install_id\": \"mytool\", \"store_path\": \"%s\", \"system\": \"x86_64-linux\",\n"
            "   \"priority\": 7},\n"
            "  {\"install_id\": \"again\", \"store_path\": \"%s\", \"system\": \"x86_64-linux\",\n"
            "   \"priority\": 1}\n"
            " ]}\n",
            P.hello, P.hello_man, P.darwin, P.htop, P.flake_dev, P.flake_out, P.sp, P.htop);
}

TestSuite(flox, .init = setup);

Test(flox, reads_catalog_flake_and_store_path_packages)
{
        _cleanup_free_ char *doc = lockfile();
        _cleanup_flox_ struct skiff_flox_lock *l = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_flox_parse(doc, strlen(doc), "x86_64-linux", "/nix/store", &l, &err), 0,
                     "%s", skiff_error_msg(err));
        cr_assert_eq(l->n_packages, 5);
        cr_assert_str_eq(l->packages[0].path, P.hello);
        cr_assert_str_eq(l->packages[0].install_id, "hello");
        cr_assert_eq(l->packages[0].priority, 5);
        cr_assert_str_eq(l->packages[1].path, P.hello_man);
        /* htop installed twice: kept once, with the lower priority number. */
        cr_assert_str_eq(l->packages[2].path, P.htop);
        cr_assert_eq(l->packages[2].priority, 1);
        /* flake package: only the requested output, default priority. */
        cr_assert_str_eq(l->packages[3].path, P.flake_out);
        cr_assert_eq(l->packages[3].priority, 5);
        cr_assert_str_eq(l->packages[4].path, P.sp);
        cr_assert_eq(l->packages[4].priority, 7);
        cr_assert_str_eq(l->vars[0], "GREETING");
        cr_assert_str_eq(l->vars[1], "hi");
        cr_assert_str_eq(l->vars[2], "LANG");
        cr_assert_null(l->vars[4]);
        cr_assert_str_eq(l->on_activate, "export X=1\n");
}

Test(flox, other_system_and_default_outputs)
{
        _cleanup_free_ char *doc = lockfile();
        _cleanup_flox_ struct skiff_flox_lock *l = NULL;
        cr_assert_eq(skiff_flox_parse(doc, strlen(doc), "aarch64-darwin", "/nix/store", &l, NULL),
                     0);
        cr_assert_eq(l->n_packages, 1);
        cr_assert_str_eq(l->packages[0].path, P.darwin);

        /* No outputs_to_install and no "out": every output. */
        _cleanup_free_ char *d2 = xasprintf(
            "{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"rg\", \"system\": "
            "\"x86_64-linux\", \"outputs\": {\"bin\": \"%s\", \"dev\": \"%s\"}}]}",
            P.flake_out, P.flake_dev);
        _cleanup_flox_ struct skiff_flox_lock *l2 = NULL;
        cr_assert_eq(skiff_flox_parse(d2, strlen(d2), "x86_64-linux", "/nix/store", &l2, NULL), 0);
        cr_assert_eq(l2->n_packages, 2);
        cr_assert_null(l2->on_activate);
        cr_assert_null(l2->vars[0]);

        /* An environment with no packages at all (vars and hook only) is fine. */
        const char *d3 = "{\"lockfile-version\": 1, \"manifest\": {\"vars\": {\"A\": \"b\"}}, "
                         "\"packages\": []}";
        _cleanup_flox_ struct skiff_flox_lock *l3 = NULL;
        cr_assert_eq(skiff_flox_parse(d3, strlen(d3), "x86_64-linux", "/nix/store", &l3, NULL), 0);
        cr_assert_eq(l3->n_packages, 0);
        cr_assert_str_eq(l3->vars[1], "b");
}

static void parse_err(const char *doc, int want, const char *needle)
{
        struct skiff_flox_lock *l = NULL;
        skiff_err_t err = NULL;
        int r = skiff_flox_parse(doc, strlen(doc), "x86_64-linux", "/nix/store", &l, &err);
        cr_assert_eq(r, -want, "got %d for %s", r, doc);
        cr_assert_null(l);
        cr_assert(strstr(err->msg, needle), "`%s` lacks `%s`", err->msg, needle);
        skiff_error_free(&err);
}

Test(flox, errors_name_the_json_path)
{
        parse_err("{\"packages\": []}", EINVAL, "lockfile-version: missing");
        parse_err("{\"lockfile-version\": 0, \"packages\": {}}", ENOTSUP, "lockfile-version: 0");
        parse_err("{\"lockfile-version\": \"1\", \"packages\": []}", EINVAL, "lockfile-version");
        parse_err("{\"lockfile-version\": 1}", EINVAL, "packages: missing");
        parse_err("[]", EINVAL, "expected an object");
        parse_err("{\"lockfile-version\": 1, \"packages\": [{\"system\": \"x86_64-linux\"}]}",
                  EINVAL, "packages[0].install_id");
        parse_err("{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"a\", \"system\": "
                  "\"x86_64-linux\"}]}",
                  EINVAL, "neither `outputs` nor `store_path`");
        _cleanup_free_ char *d1 = xasprintf(
            "{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"h\", \"system\": "
            "\"x86_64-linux\", \"outputs\": {\"out\": \"%s\"}, \"outputs_to_install\": "
            "[\"bin\"]}]}",
            P.hello);
        parse_err(d1, EINVAL,
                  "packages[0].outputs_to_install[0]: install id `h` has no output "
                  "`bin`");
        parse_err("{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"h\", \"system\": "
                  "\"x86_64-linux\", \"store_path\": \"/usr/bin/hello\"}]}",
                  EINVAL, "packages[0].store_path");
        _cleanup_free_ char *d2 = xasprintf(
            "{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"h\", \"system\": "
            "\"x86_64-linux\", \"store_path\": \"%s\", \"priority\": 4294967296}]}",
            P.hello);
        parse_err(d2, EINVAL, "packages[0].priority");
        _cleanup_free_ char *d3 = xasprintf(
            "{\"lockfile-version\": 1, \"packages\": [{\"install_id\": \"h\", \"system\": "
            "\"aarch64-darwin\", \"store_path\": \"%s\"}]}",
            P.hello);
        parse_err(d3, ENOENT, "none for system `x86_64-linux` (the lockfile has `aarch64-darwin`)");
        parse_err("{\"lockfile-version\": 1, \"manifest\": {\"vars\": {\"A\": 1}}, \"packages\": "
                  "[]}",
                  EINVAL, "manifest.vars.A");
        parse_err("{\"lockfile-version\": 1, \"manifest\": {\"hook\": {\"on-activate\": 3}}, "
                  "\"packages\": []}",
                  EINVAL, "manifest.hook.on-activate");
}
