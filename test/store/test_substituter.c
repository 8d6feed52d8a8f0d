#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "base/fs.h"
#include "store/config.h"
#include "store/fetch.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store/substituter.h"
#include "fetch_server.h"
#include "store_helpers.h"

#define BASE  "0123456789abcdfghijklmnpqrsvwxyz-pkg-1"
#define OTHER "zyxwvsrqpnmlkjihgfdcba9876543210-other-1"
#define HASH  "sha256:0000000000000000000000000000000000000000000000000000"

static struct {
        char *tmp, *c1, *c2, *c1_url, *c2_url;
        struct skiff_sig_seckey sk, other_sk;
        struct skiff_sig_pubkey pk;
        struct skiff_config *cfg;
        struct skiff_fetch *f;
} F;

/* Writes DIR/<hash of base>.narinfo describing /nix/store/describes, signed by sk (or not). */
static void put_narinfo(const char *dir, const char *base, const char *describes,
                        const struct skiff_sig_seckey *sk)
{
        struct skiff_narinfo ni = {0};
        ni.store_path = xasprintf("/nix/store/%s", describes);
        ni.url = "nar/x.nar";
        ni.compression = "none";
        cr_assert_eq(skiff_nixhash_parse(HASH, &ni.nar_hash, NULL), 0);
        ni.nar_size = 8;
        ni.references = (char *[]){NULL};
        _cleanup_free_ char *sig = NULL;
        if (sk) {
                _cleanup_free_ char *fp = skiff_narinfo_fingerprint(&ni, "/nix/store");
                cr_assert_eq(skiff_sig_sign(sk, fp, strlen(fp), &sig, NULL), 0);
        }
        ni.sigs = sk ? (char *[]){sig, NULL} : (char *[]){NULL};
        _cleanup_free_ char *text = skiff_narinfo_format(&ni);
        _cleanup_free_ char *p = xasprintf("%s/%.32s.narinfo", dir, base);
        cr_assert_eq(skiff_fs_write_file_atomic(p, text, strlen(text), 0644, false, NULL), 0);
        free(ni.store_path);
}

static void setup(void)
{
        F.tmp = th_tmpdir();
        F.c1 = xasprintf("%s/c1", F.tmp);
        F.c2 = xasprintf("%s/c2", F.tmp);
        cr_assert_eq(th_sh("mkdir -p '%s' '%s'", F.c1, F.c2), 0);
        F.c1_url = xasprintf("file://%s", F.c1);
        F.c2_url = xasprintf("file://%s//", F.c2); /* trailing slashes are ignored */
        _cleanup_free_ char *s = NULL, *p = NULL, *s2 = NULL, *p2 = NULL;
        cr_assert_eq(skiff_sig_keygen("test-1", &s, &p, NULL), 0);
        cr_assert_eq(skiff_sig_keygen("other-1", &s2, &p2, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(s, &F.sk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(s2, &F.other_sk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(p, &F.pk, NULL), 0);
        const char *c = "{\"retries\": 0}";
        cr_assert_eq(skiff_config_parse(c, strlen(c), &F.cfg, NULL), 0);
        cr_assert_eq(skiff_fetch_new(F.cfg, &F.f, NULL), 0);
}

static void teardown(void)
{
        skiff_fetch_free(F.f);
        skiff_config_free(F.cfg);
        th_sh("rm -rf '%s'", F.tmp);
        free(F.tmp);
        free(F.c1);
        free(F.c2);
        free(F.c1_url);
        free(F.c2_url);
}

TestSuite(substituter, .init = setup, .fini = teardown);

Test(substituter, the_first_cache_that_has_it_wins)
{
        put_narinfo(F.c2, BASE, BASE, &F.sk);
        char *caches[] = {F.c1_url, F.c2_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, &F.pk, 1, &h, &err), 0,
            "%s", skiff_error_msg(err));
        cr_assert_str_eq(h.ni->store_path, "/nix/store/" BASE);
        _cleanup_free_ char *want_cache = xasprintf("file://%s", F.c2);
        cr_assert_str_eq(h.cache, want_cache);
        _cleanup_free_ char *want_url = xasprintf("%s/%.32s.narinfo", want_cache, BASE);
        cr_assert_str_eq(h.url, want_url);
        skiff_substituter_hit_done(&h);
        cr_assert_null(h.ni);
}

Test(substituter, no_cache_has_it_names_the_caches)
{
        char *caches[] = {F.c1_url, F.c2_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, false, NULL, 0, &h, &err),
            -ENOENT);
        cr_assert(strstr(err->msg, F.c1_url) && strstr(err->msg, F.c2_url), "%s", err->msg);
        cr_assert(strstr(err->msg, "0123456789abcdfghijklmnpqrsvwxyz.narinfo"), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_eq(
            skiff_substituter_find(F.f, NULL, "/nix/store", BASE, false, NULL, 0, &h, &err),
            -ENOENT);
        cr_assert(strstr(err->msg, "none given"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(substituter, a_narinfo_for_another_path_is_refused)
{
        put_narinfo(F.c1, BASE, OTHER, &F.sk);
        char *caches[] = {F.c1_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, &F.pk, 1, &h, &err),
            -EBADMSG);
        cr_assert(strstr(err->msg, "describes `/nix/store/" OTHER "`"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(substituter, signatures_are_checked_only_when_asked)
{
        put_narinfo(F.c1, BASE, BASE, &F.other_sk);
        char *caches[] = {F.c1_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_lt(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, &F.pk, 1, &h, &err), 0,
            "signed by an untrusted key");
        cr_assert(strstr(err->msg, "narinfo `"), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_lt(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, NULL, 0, &h, &err), 0,
            "verification with no trusted keys accepts nothing");
        skiff_error_free(&err);
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, false, NULL, 0, &h, &err), 0,
            "%s", skiff_error_msg(err));
        skiff_substituter_hit_done(&h);
}

Test(substituter, a_cache_that_does_not_answer_is_skipped_and_reported_when_nobody_has_it)
{
        put_narinfo(F.c2, BASE, BASE, &F.sk);
        _cleanup_free_ char *down = xasprintf("http://127.0.0.1:%d/cache", th_closed_port());
        char *caches[] = {down, F.c2_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, &F.pk, 1, &h, &err), 0,
            "%s", skiff_error_msg(err));
        _cleanup_free_ char *want = xasprintf("file://%s", F.c2);
        cr_assert_str_eq(h.cache, want);
        skiff_substituter_hit_done(&h);

        /* Nobody has OTHER: the unreachable cache is the error, not "not found". */
        int r = skiff_substituter_find(F.f, caches, "/nix/store", OTHER, true, &F.pk, 1, &h, &err);
        cr_assert(r < 0 && r != -ENOENT, "r = %d", r);
        cr_assert(strstr(err->msg, down), "%s", err->msg);
        cr_assert(strstr(err->msg, "no other cache has it"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(substituter, http_403_moves_on_like_a_missing_file_and_is_named_when_nobody_has_it)
{
        _cleanup_free_ char *dir = th_tmpdir();
        struct th_server srv = {0};
        th_server_start(&srv, dir, "s3");
        put_narinfo(F.c1, BASE, BASE, &F.sk);
        _cleanup_free_ char *s3 = xasprintf("http://127.0.0.1:%d/fail/403/1000/bucket", srv.port);
        char *caches[] = {s3, F.c1_url, NULL};
        struct skiff_substituter_hit h = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_substituter_find(F.f, caches, "/nix/store", BASE, true, &F.pk, 1, &h, &err), 0,
            "%s", skiff_error_msg(err));
        cr_assert_str_eq(h.cache, F.c1_url);
        skiff_substituter_hit_done(&h);
        char *only[] = {s3, NULL};
        cr_assert_eq(
            skiff_substituter_find(F.f, only, "/nix/store", BASE, true, &F.pk, 1, &h, &err),
            -EACCES);
        cr_assert(strstr(err->msg, "403"), "%s", err->msg);
        skiff_error_free(&err);
        th_server_stop(&srv);
        th_sh("rm -rf '%s'", dir);
}
