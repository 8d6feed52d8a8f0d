#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/strv.h"
#include "store/cache.h"
#include "store/config.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store/store.h"
#include "fetch_server.h"
#include "store_helpers.h"

/* A file:// cache with lib (a directory) and app (references lib), both signed; a node store
 * under F.tmp/root. */
static struct {
        char *tmp, *cache, *root, *lib, *app, *pk_text;
        struct skiff_sig_seckey sk;
        struct skiff_config *cfg;
} F;

static char *narinfo_path(const char *store_path)
{
        return xasprintf("%s/%.32s.narinfo", F.cache, strrchr(store_path, '/') + 1);
}

static struct skiff_narinfo *read_narinfo(const char *store_path)
{
        _cleanup_free_ char *p = narinfo_path(store_path);
        size_t len = 0;
        _cleanup_free_ char *buf = th_read(p, &len);
        struct skiff_narinfo *ni = NULL;
        cr_assert_eq(skiff_narinfo_parse(buf, len, "/nix/store", &ni, NULL), 0);
        return ni;
}

static void write_narinfo(const struct skiff_narinfo *ni)
{
        _cleanup_free_ char *text = skiff_narinfo_format(ni);
        _cleanup_free_ char *p = narinfo_path(ni->store_path);
        cr_assert_eq(skiff_fs_write_file_atomic(p, text, strlen(text), 0644, false, NULL), 0);
}

/* Replaces the references of a cached path and signs it again with sk (or leaves it unsigned). */
static void set_references(const char *store_path, char **refs, const struct skiff_sig_seckey *sk)
{
        _cleanup_narinfo_ struct skiff_narinfo *ni = read_narinfo(store_path);
        skiff_strv_free(ni->references);
        ni->references = skiff_strv_copy(refs);
        skiff_strv_free(ni->sigs);
        ni->sigs = NULL;
        if (sk) {
                _cleanup_free_ char *fp = skiff_narinfo_fingerprint(ni, "/nix/store");
                char *sig = NULL;
                cr_assert_eq(skiff_sig_sign(sk, fp, strlen(fp), &sig, NULL), 0);
                skiff_strv_push_take(&ni->sigs, sig);
        }
        write_narinfo(ni);
}

static void open_config(const char *extra)
{
        skiff_config_free(F.cfg);
        _cleanup_free_ char *c =
            xasprintf("{\"store_root\": \"%s\", \"substituters\": [\"file://%s\"], "
                      "\"trusted_public_keys\": [\"%s\"], \"retries\": 0%s%s}",
                      F.root, F.cache, F.pk_text, extra ? ", " : "", extra ? extra : "");
        F.cfg = NULL;
        cr_assert_eq(skiff_config_parse(c, strlen(c), &F.cfg, NULL), 0, "%s", c);
}

static void setup(void)
{
        F.tmp = th_tmpdir();
        F.cache = xasprintf("%s/cache", F.tmp);
        F.root = xasprintf("%s/root", F.tmp);
        _cleanup_free_ char *s = NULL;
        cr_assert_eq(skiff_sig_keygen("test-1", &s, &F.pk_text, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(s, &F.sk, NULL), 0);
        cr_assert_eq(th_sh("set -e; cd '%s'; mkdir -p lib/sub app; echo libc >lib/libc.so; "
                           "printf '#!/bin/sh\\necho hi\\n' >app/run; chmod +x app/run; "
                           "ln -s sub lib/link; : >lib/sub/empty",
                           F.tmp),
                     0);
        _cleanup_free_ char *lsrc = xasprintf("%s/lib", F.tmp), *asrc = xasprintf("%s/app", F.tmp);
        cr_assert_eq(skiff_cache_add_path(F.cache, lsrc, SKIFF_COMPRESSION_ZSTD, &F.sk,
                                          "/nix/store", &F.lib, NULL),
                     0);
        cr_assert_eq(skiff_cache_add_path(F.cache, asrc, SKIFF_COMPRESSION_NONE, &F.sk,
                                          "/nix/store", &F.app, NULL),
                     0);
        set_references(F.app, (char *[]){strrchr(F.lib, '/') + 1, NULL}, &F.sk);
        open_config(NULL);
}

static void teardown(void)
{
        skiff_config_free(F.cfg);
        F.cfg = NULL;
        th_sh("chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", F.tmp, F.tmp);
        free(F.tmp);
        free(F.cache);
        free(F.root);
        free(F.lib);
        free(F.app);
        free(F.pk_text);
}

TestSuite(store, .init = setup, .fini = teardown);

struct events {
        size_t n[_SKIFF_STORE_EVENT_MAX];
        uint64_t downloaded;
};

static void count(const struct skiff_store_event *ev, void *userdata)
{
        struct events *e = userdata;
        e->n[ev->kind]++;
        e->downloaded += ev->file_size;
}

static char *in_store(const char *store_path, const char *rel)
{
        return xasprintf("%s/store/%s%s%s", F.root, strrchr(store_path, '/') + 1, rel ? "/" : "",
                         rel ? rel : "");
}

/* Entries of root/store other than .partial, and of root/store/.partial. */
static size_t count_entries(const char *sub)
{
        _cleanup_free_ char *out =
            th_out("ls -A '%s/%s' 2>/dev/null | grep -vx .partial | wc -l", F.root, sub);
        return strtoul(out, NULL, 10);
}

Test(store, realize_follows_references_and_leaves_read_only_trees)
{
        _cleanup_store_ struct skiff_store *s = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, &err), 0, "%s", skiff_error_msg(err));
        struct events ev = {0};
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.app, NULL}, true, count, &ev, &err), 0,
                     "%s", skiff_error_msg(err));
        cr_assert_eq(ev.n[SKIFF_STORE_EVENT_FETCHED], 2);
        cr_assert_gt(ev.downloaded, 0);
        _cleanup_free_ char *libc = in_store(F.lib, "libc.so"), *run = in_store(F.app, "run");
        _cleanup_free_ char *link = in_store(F.lib, "link"), *top = in_store(F.lib, NULL);
        size_t len = 0;
        _cleanup_free_ char *body = th_read(libc, &len);
        cr_assert_str_eq(body, "libc\n");
        struct stat st;
        cr_assert_eq(stat(run, &st), 0);
        cr_assert(st.st_mode & S_IXUSR, "the executable bit survives");
        cr_assert_eq(st.st_mode & 0222, 0, "store files are read-only");
        cr_assert_eq(stat(top, &st), 0);
        cr_assert_eq(st.st_mode & 0222, 0, "store directories are read-only");
        char target[16] = {0};
        cr_assert_eq(readlink(link, target, sizeof(target) - 1), 3);
        cr_assert_str_eq(target, "sub");
        _cleanup_free_ char *local =
            xasprintf("%s/narinfo/%.32s.narinfo", F.root, strrchr(F.app, '/') + 1);
        cr_assert_eq(access(local, F_OK), 0, "the verified narinfo is kept");

        _cleanup_strv_ char **list = NULL;
        cr_assert_eq(skiff_store_list(s, &list, NULL), 0);
        cr_assert_eq(skiff_strv_len(list), 2);
        cr_assert_lt(strcmp(list[0], list[1]), 0, "sorted");
        cr_assert(skiff_strv_contains(list, F.app) && skiff_strv_contains(list, F.lib));
}

Test(store, a_second_realization_fetches_nothing_and_marks_the_paths_used)
{
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.app, NULL}, true, NULL, NULL, NULL), 0);
        _cleanup_free_ char *local =
            xasprintf("%s/narinfo/%.32s.narinfo", F.root, strrchr(F.lib, '/') + 1);
        struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
        cr_assert_eq(utimensat(AT_FDCWD, local, old, 0), 0);
        cr_assert_eq(th_sh("rm -rf '%s'", F.cache), 0); /* nothing may be asked of the cache */
        struct events ev = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.app, NULL}, true, count, &ev, &err), 0,
                     "%s", skiff_error_msg(err));
        cr_assert_eq(ev.n[SKIFF_STORE_EVENT_PRESENT], 2);
        cr_assert_eq(ev.n[SKIFF_STORE_EVENT_FETCHED], 0);
        struct stat st;
        cr_assert_eq(stat(local, &st), 0);
        cr_assert_gt(st.st_mtime, 1000, "reuse refreshes the narinfo's mtime (GC order)");
}

Test(store, a_corrupted_nar_is_refused_and_nothing_becomes_visible)
{
        /* app's NAR is stored uncompressed: flip one byte of the executable's contents. */
        _cleanup_narinfo_ struct skiff_narinfo *ni = read_narinfo(F.app);
        _cleanup_free_ char *nar = xasprintf("%s/%s", F.cache, ni->url);
        cr_assert_eq(th_sh("sed -i 's/echo hi/echo HI/' '%s'", nar), 0);
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_store_realize(s, (char *[]){F.app, NULL}, false, NULL, NULL, &err), 0);
        const char *m = skiff_error_msg(err);
        cr_assert(strstr(m, strrchr(F.app, '/') + 1), "names the path: %s", m);
        cr_assert(strstr(m, "Hash mismatch"), "names the reason: %s", m);
        skiff_error_free(&err);
        cr_assert_eq(count_entries("store"), 0);
        cr_assert_eq(count_entries("store/.partial"), 0, "no partial left behind");
}

Test(store, signatures_are_required_by_default)
{
        set_references(F.app, (char *[]){strrchr(F.lib, '/') + 1, NULL}, NULL); /* unsigned */
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_store_realize(s, (char *[]){F.app, NULL}, true, NULL, NULL, &err), 0);
        cr_assert(strstr(skiff_error_msg(err), strrchr(F.app, '/') + 1), "%s",
                  skiff_error_msg(err));
        skiff_error_free(&err);
        _cleanup_free_ char *app = in_store(F.app, NULL);
        cr_assert_neq(access(app, F_OK), 0);
        skiff_store_close(TAKE_PTR(s));

        open_config("\"require_signatures\": false");
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.app, NULL}, true, NULL, NULL, &err), 0,
                     "%s", skiff_error_msg(err));
        cr_assert_eq(access(app, F_OK), 0);
}

Test(store, a_path_no_cache_has_is_an_error_naming_it)
{
        const char *missing = "/nix/store/00000000000000000000000000000000-missing";
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_store_realize(s, (char *[]){(char *)missing, NULL}, true, NULL, NULL, &err),
            -ENOENT);
        cr_assert(strstr(skiff_error_msg(err), "00000000000000000000000000000000"), "%s",
                  skiff_error_msg(err));
        skiff_error_free(&err);
}

Test(store, a_described_closure_needs_no_narinfo_and_is_checked_against_the_description)
{
        _cleanup_narinfo_ struct skiff_narinfo *lib = read_narinfo(F.lib);
        _cleanup_free_ char *lib_ni = narinfo_path(F.lib);
        cr_assert_eq(unlink(lib_ni), 0); /* described: the cache's narinfo is not needed */

        /* A wrong NarHash in the description is caught, whatever the cache serves. */
        lib->nar_hash.d[0] ^= 1;
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        const struct skiff_narinfo *known[] = {lib};
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_store_realize_described(s, known, 1, NULL, NULL, NULL, &err), 0);
        cr_assert(strstr(skiff_error_msg(err), strrchr(F.lib, '/') + 1), "%s",
                  skiff_error_msg(err));
        skiff_error_free(&err);
        cr_assert_eq(count_entries("store"), 0);

        lib->nar_hash.d[0] ^= 1;
        cr_assert_eq(skiff_store_realize_described(s, known, 1, NULL, NULL, NULL, &err), 0, "%s",
                     skiff_error_msg(err));
        _cleanup_free_ char *libc = in_store(F.lib, "libc.so");
        cr_assert_eq(access(libc, F_OK), 0);
}

Test(store, roots_are_written_replaced_and_removed)
{
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_store_root_add(s, "pods/uid-1/c1", (char *[]){F.app, F.lib, NULL}, &err),
                     0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *rp = xasprintf("%s/roots/pods/uid-1/c1", F.root);
        size_t len = 0;
        _cleanup_free_ char *body = th_read(rp, &len);
        cr_assert(strstr(body, F.app) && strstr(body, F.lib), "%s", body);
        cr_assert_eq(skiff_store_root_add(s, "pods/uid-1/c1", (char *[]){F.lib, NULL}, &err), 0);
        _cleanup_free_ char *body2 = th_read(rp, &len);
        cr_assert(!strstr(body2, F.app) && strstr(body2, F.lib), "replaced: %s", body2);
        cr_assert_eq(skiff_store_root_remove(s, "pods/uid-1/c1", &err), 0);
        cr_assert_neq(access(rp, F_OK), 0);
        cr_assert_lt(skiff_store_root_add(s, "../escape", (char *[]){F.lib, NULL}, &err), 0);
        cr_assert(strstr(skiff_error_msg(err), "../escape"), "%s", skiff_error_msg(err));
        skiff_error_free(&err);
        cr_assert_lt(skiff_store_root_add(s, "/abs", (char *[]){F.lib, NULL}, &err), 0);
        skiff_error_free(&err);
        _cleanup_free_ char *escaped = xasprintf("%s/escape", F.root);
        cr_assert_neq(access(escaped, F_OK), 0);
}

Test(store, verify_finds_a_modified_path_and_repair_restores_it)
{
        _cleanup_store_ struct skiff_store *s = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, NULL), 0);
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.app, NULL}, true, NULL, NULL, NULL), 0);
        struct skiff_store_verify_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_store_verify(s, false, NULL, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.checked, 2);
        cr_assert_eq(res.bad, 0);

        _cleanup_free_ char *libc = in_store(F.lib, "libc.so"), *top = in_store(F.lib, NULL);
        cr_assert_eq(th_sh("chmod u+w '%s' '%s' && echo evil >'%s' && chmod a-w '%s' '%s'", top,
                           libc, libc, top, libc),
                     0);
        res = (struct skiff_store_verify_result){0};
        cr_assert_eq(skiff_store_verify(s, false, NULL, &res, &err), 0);
        cr_assert_eq(res.bad, 1);
        cr_assert_eq(res.repaired, 0);
        res = (struct skiff_store_verify_result){0};
        cr_assert_eq(skiff_store_verify(s, true, NULL, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.bad, 1);
        cr_assert_eq(res.repaired, 1);
        size_t len = 0;
        _cleanup_free_ char *body = th_read(libc, &len);
        cr_assert_str_eq(body, "libc\n");
}

Test(store, open_removes_stale_partials)
{
        _cleanup_free_ char *partial =
            xasprintf("%s/store/.partial/%s.999999999", F.root, strrchr(F.lib, '/') + 1);
        cr_assert_eq(th_sh("mkdir -p '%s/x' && chmod -R a-w '%s'", partial, partial), 0);
        _cleanup_store_ struct skiff_store *s = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &s, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_neq(access(partial, F_OK), 0, "a partial of a dead writer is removed");
        cr_assert_eq(skiff_store_realize(s, (char *[]){F.lib, NULL}, false, NULL, NULL, &err), 0,
                     "%s", skiff_error_msg(err));
}

Test(store, a_substituter_that_does_not_answer_is_skipped)
{
        skiff_config_free(F.cfg);
        _cleanup_free_ char *c = xasprintf(
            "{\"store_root\": \"%s\", \"substituters\": [\"http://127.0.0.1:%d\", \"file://%s\"], "
            "\"trusted_public_keys\": [\"%s\"], \"retries\": 0}",
            F.root, th_closed_port(), F.cache, F.pk_text);
        F.cfg = NULL;
        cr_assert_eq(skiff_config_parse(c, strlen(c), &F.cfg, NULL), 0);
        _cleanup_store_ struct skiff_store *st = NULL;
        cr_assert_eq(skiff_store_open(F.cfg, &st, NULL), 0);
        skiff_err_t err = NULL;
        /* Through narinfo lookups, and through a described closure (no narinfo). */
        cr_assert_eq(skiff_store_realize(st, (char *[]){F.app, NULL}, true, NULL, NULL, &err), 0,
                     "%s", skiff_error_msg(err));
        _cleanup_narinfo_ struct skiff_narinfo *lib = read_narinfo(F.lib);
        cr_assert_eq(th_sh("chmod -R u+w '%s/store' && rm -rf '%s/store/%s'", F.root, F.root,
                           strrchr(F.lib, '/') + 1),
                     0);
        const struct skiff_narinfo *known[] = {lib};
        cr_assert_eq(skiff_store_realize_described(st, known, 1, NULL, NULL, NULL, &err), 0, "%s",
                     skiff_error_msg(err));
        _cleanup_free_ char *libc = in_store(F.lib, "libc.so");
        cr_assert_eq(access(libc, F_OK), 0);
}
