#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/fs.h"
#include "store/config.h"
#include "store/gc.h"
#include "store/narinfo.h"
#include "store_helpers.h"

#define HASH "sha256:0000000000000000000000000000000000000000000000000000"

static struct {
        char *tmp;
        struct skiff_config *cfg;
} F;

/* A store path name: 32 nixbase32 characters derived from i, then -name. */
static char *base_of(unsigned i, const char *name)
{
        static const char alpha[] = "0123456789abcdfghijklmnpqrsvwxyz";
        char h[33];
        for (int k = 31; k >= 0; k--, i /= 32)
                h[k] = alpha[i % 32];
        h[32] = '\0';
        return xasprintf("%s-%s", h, name);
}

/* Puts a realized path into the store: its directory and its narinfo (size, references, and an
 * mtime of `age` seconds since the epoch, so tests can order paths). */
static void put_path(const char *base, uint64_t size, char **refs, time_t age)
{
        cr_assert_eq(th_sh("mkdir -p '%s/store/%s' '%s/narinfo' && echo x >'%s/store/%s/f'", F.tmp,
                           base, F.tmp, F.tmp, base),
                     0);
        struct skiff_narinfo ni = {0};
        ni.store_path = xasprintf("/nix/store/%s", base);
        ni.url = "nar/x.nar";
        ni.compression = "none";
        cr_assert_eq(skiff_nixhash_parse(HASH, &ni.nar_hash, NULL), 0);
        ni.nar_size = size;
        ni.references = refs ? refs : (char *[]){NULL};
        ni.sigs = (char *[]){NULL};
        _cleanup_free_ char *text = skiff_narinfo_format(&ni);
        _cleanup_free_ char *p = xasprintf("%s/narinfo/%.32s.narinfo", F.tmp, base);
        cr_assert_eq(skiff_fs_write_file_atomic(p, text, strlen(text), 0644, false, NULL), 0);
        struct timespec ts[2] = {{.tv_sec = age}, {.tv_sec = age}};
        cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
        free(ni.store_path);
}

static void put_root(const char *name, const char *text)
{
        _cleanup_free_ char *d = xasprintf("%s/roots/pods", F.tmp);
        cr_assert_eq(skiff_fs_mkdir_p(d, 0755, NULL), 0);
        _cleanup_free_ char *p = xasprintf("%s/%s", d, name);
        cr_assert_eq(skiff_fs_write_file_atomic(p, text, strlen(text), 0644, false, NULL), 0);
}

static bool present(const char *base)
{
        _cleanup_free_ char *p = xasprintf("%s/store/%s", F.tmp, base);
        struct stat st;
        return stat(p, &st) == 0;
}

struct report {
        char *paths[16];
        size_t n;
};

static void on_delete(const char *path, uint64_t size, void *userdata)
{
        (void)size;
        struct report *r = userdata;
        cr_assert_lt(r->n, 16);
        r->paths[r->n++] = xstrdup(path);
}

static void report_free(struct report *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->paths[i]);
}

static void setup(void)
{
        F.tmp = th_tmpdir();
        _cleanup_free_ char *c = xasprintf("{\"store_root\": \"%s\"}", F.tmp);
        cr_assert_eq(skiff_config_parse(c, strlen(c), &F.cfg, NULL), 0);
}

static void teardown(void)
{
        skiff_config_free(F.cfg);
        th_sh("rm -rf '%s'", F.tmp);
        free(F.tmp);
}

TestSuite(gc, .init = setup, .fini = teardown);

Test(gc, roots_and_their_closures_stay_the_rest_goes)
{
        _cleanup_free_ char *lib = base_of(1, "lib"), *app = base_of(2, "app"),
                            *old = base_of(3, "old"), *dep = base_of(4, "olddep");
        put_path(lib, 100, NULL, 1000);
        put_path(app, 200, (char *[]){lib, app, NULL}, 1000); /* self-references are normal */
        put_path(dep, 300, NULL, 1000);
        put_path(old, 400, (char *[]){dep, NULL}, 1000);
        _cleanup_free_ char *root = xasprintf("# comment\n/nix/store/%s\n\n", app);
        put_root("pod-1", root);
        struct report rep = {0};
        struct skiff_gc_opts o = {.report = on_delete, .userdata = &rep};
        struct skiff_gc_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.total, 4);
        cr_assert_eq(res.live, 2);
        cr_assert_eq(res.deleted, 2);
        cr_assert_eq(res.freed, 700);
        cr_assert_eq(res.size_after, 300);
        cr_assert(present(lib) && present(app));
        cr_assert(!present(old) && !present(dep));
        _cleanup_free_ char *ni = xasprintf("%s/narinfo/%.32s.narinfo", F.tmp, old);
        cr_assert_neq(access(ni, F_OK), 0, "the deleted path's narinfo goes with it");
        cr_assert_eq(rep.n, 2);
        for (size_t i = 0; i < rep.n; i++)
                cr_assert(strncmp(rep.paths[i], "/nix/store/", 11) == 0, "%s", rep.paths[i]);
        report_free(&rep);
}

Test(gc, a_dry_run_deletes_nothing_and_reports_the_same)
{
        _cleanup_free_ char *a = base_of(1, "a"), *b = base_of(2, "b");
        put_path(a, 10, NULL, 1000);
        put_path(b, 20, NULL, 1000);
        struct skiff_gc_opts o = {.dry_run = true};
        struct skiff_gc_result res = {0};
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, NULL), 0);
        cr_assert_eq(res.deleted, 2);
        cr_assert_eq(res.freed, 30);
        cr_assert(present(a) && present(b));
}

Test(gc, the_keep_list_is_a_root)
{
        _cleanup_free_ char *a = base_of(1, "a"), *b = base_of(2, "b"), *c = base_of(3, "c");
        put_path(c, 1, NULL, 1000);
        put_path(a, 1, (char *[]){c, NULL}, 1000);
        put_path(b, 1, NULL, 1000);
        _cleanup_free_ char *full = xasprintf("/nix/store/%s", a);
        struct skiff_gc_opts o = {.keep = (char *[]){full, b, NULL}}; /* full path or basename */
        struct skiff_gc_result res = {0};
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, NULL), 0);
        cr_assert_eq(res.deleted, 0);
        cr_assert(present(a) && present(b) && present(c));
}

Test(gc, a_size_budget_deletes_the_oldest_first_and_stops_when_it_fits)
{
        _cleanup_free_ char *p1 = base_of(1, "p"), *p2 = base_of(2, "p"), *p3 = base_of(3, "p"),
                            *p4 = base_of(4, "p");
        put_path(p3, 100, NULL, 3000);
        put_path(p1, 100, NULL, 1000); /* oldest */
        put_path(p4, 100, NULL, 4000);
        put_path(p2, 100, NULL, 2000);
        struct skiff_gc_opts o = {.max_size = 250};
        struct skiff_gc_result res = {0};
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, NULL), 0);
        cr_assert_eq(res.deleted, 2);
        cr_assert_eq(res.size_after, 200);
        cr_assert(!present(p1) && !present(p2));
        cr_assert(present(p3) && present(p4));
}

Test(gc, equally_old_paths_go_in_name_order)
{
        _cleanup_free_ char *pa = base_of(7, "x"), *pb = base_of(5, "x"), *pc = base_of(6, "x");
        put_path(pa, 100, NULL, 1000);
        put_path(pb, 100, NULL, 1000);
        put_path(pc, 100, NULL, 1000);
        struct skiff_gc_opts o = {.max_size = 100};
        struct skiff_gc_result res = {0};
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, NULL), 0);
        cr_assert_eq(res.deleted, 2);
        cr_assert(!present(pb) && !present(pc) && present(pa));
}

Test(gc, a_path_without_a_narinfo_is_kept)
{
        _cleanup_free_ char *a = base_of(1, "a"), *b = base_of(2, "b");
        put_path(a, 10, NULL, 1000);
        cr_assert_eq(th_sh("mkdir -p '%s/store/%s'", F.tmp, b), 0); /* no narinfo */
        struct skiff_gc_opts o = {0};
        struct skiff_gc_result res = {0};
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, NULL), 0);
        cr_assert_eq(res.deleted, 1);
        cr_assert(!present(a) && present(b));
}

Test(gc, a_long_reference_chain_is_kept_whole)
{
        /* 10000 paths, each referencing the next, marked from one root. */
        enum { N = 10000 };
        _cleanup_free_ char *st = xasprintf("%s/store", F.tmp),
                            *nd = xasprintf("%s/narinfo", F.tmp);
        cr_assert_eq(skiff_fs_mkdir_p(st, 0755, NULL), 0);
        cr_assert_eq(skiff_fs_mkdir_p(nd, 0755, NULL), 0);
        for (unsigned i = 0; i < N; i++) {
                _cleanup_free_ char *b = base_of(i, "c"), *next = base_of(i + 1, "c");
                _cleanup_free_ char *d = xasprintf("%s/%s", st, b);
                cr_assert_eq(mkdir(d, 0755), 0);
                _cleanup_free_ char *ni = xasprintf(
                    "StorePath: /nix/store/%s\nURL: nar/x.nar\nCompression: none\nNarHash: %s\n"
                    "NarSize: 1\nReferences: %s\n",
                    b, HASH, i + 1 < N ? next : "");
                _cleanup_free_ char *p = xasprintf("%s/%.32s.narinfo", nd, b);
                cr_assert_eq(skiff_fs_write_file_atomic(p, ni, strlen(ni), 0644, false, NULL), 0);
        }
        _cleanup_free_ char *head = base_of(0, "c"), *root = xasprintf("/nix/store/%s\n", head);
        put_root("chain", root);
        struct skiff_gc_opts o = {0};
        struct skiff_gc_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_gc_run(F.cfg, &o, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.total, N);
        cr_assert_eq(res.live, N);
        cr_assert_eq(res.deleted, 0);
}

Test(gc, a_roots_file_that_cannot_be_read_is_an_error_that_names_it)
{
        _cleanup_free_ char *a = base_of(1, "a");
        put_path(a, 10, NULL, 1000);
        put_root("huge", "x\n");
        _cleanup_free_ char *p = xasprintf("%s/roots/pods/huge", F.tmp);
        cr_assert_eq(truncate(p, 32 << 20), 0); /* over the 16 MiB a roots file may have */
        struct skiff_gc_opts o = {0};
        struct skiff_gc_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_gc_run(F.cfg, &o, &res, &err), 0);
        cr_assert(strstr(skiff_error_msg(err), p), "%s", skiff_error_msg(err));
        skiff_error_free(&err);
        cr_assert(present(a), "nothing is deleted when the roots cannot all be read");
}
