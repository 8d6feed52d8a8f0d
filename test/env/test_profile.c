#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "env/generation.h"
#include "env/profile.h"
#include "env_helpers.h"

struct fx {
        char *tmp;
        char *real; /* the host directory holding store paths */
        char *profiles;
};

static void fx_init(struct fx *f)
{
        f->tmp = th_tmpdir();
        f->real = xasprintf("%s/store", f->tmp);
        f->profiles = xasprintf("%s/profiles", f->tmp);
}

static void fx_done(struct fx *f)
{
        th_sh("rm -rf '%s'", f->tmp);
        free(f->tmp);
        free(f->real);
        free(f->profiles);
}

/* Creates a store path directory with files "rel=content" and links "rel->target"; returns the
 * container path (heap). */
static char *mkpkg(struct fx *f, const char *name, const char *const *entries)
{
        char *path = th_store_path("/nix/store", name, name);
        const char *base = strrchr(path, '/') + 1;
        for (const char *const *e = entries; *e; e++) {
                const char *arrow = strstr(*e, "->"), *eq = strchr(*e, '=');
                if (arrow) {
                        _cleanup_free_ char *rel = xstrndup(*e, (size_t)(arrow - *e));
                        _cleanup_free_ char *lp = xasprintf("%s/%s/%s", f->real, base, rel);
                        _cleanup_free_ char *dir = xstrdup(lp);
                        *strrchr(dir, '/') = '\0';
                        cr_assert_eq(skiff_fs_mkdir_p(dir, 0755, NULL), 0);
                        cr_assert_eq(symlink(arrow + 2, lp), 0);
                } else {
                        _cleanup_free_ char *rel = xstrndup(*e, (size_t)(eq - *e));
                        _cleanup_free_ char *fp = xasprintf("%s/%s/%s", f->real, base, rel);
                        th_write(fp, eq + 1);
                }
        }
        return path;
}

static char *link_at(const char *profile, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", profile, rel);
        char buf[PATH_MAX];
        ssize_t n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return xstrdup(buf);
}

static bool is_real_dir(const char *profile, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", profile, rel);
        struct stat st;
        return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

#define PKG(n, p, prio, l)                                                                         \
        {                                                                                          \
                .name = (char *)(n), .path = (p), .priority = (prio), .layer = (l)                 \
        }

Test(profile, merges_directories_and_links_files)
{
        struct fx f;
        fx_init(&f);
        _cleanup_free_ char *hello =
            mkpkg(&f, "hello",
                  (const char *[]){"bin/hello=#!x", "share/man/man1/hello.1=m",
                                   "nix-support/setup-hook=x", NULL});
        _cleanup_free_ char *other = mkpkg(
            &f, "other",
            (const char *[]){"bin/other=o", "share/doc/other/README=r", "lib/libo.so=l", NULL});
        struct skiff_profile_package pk[] = {PKG("hello", hello, 5, 0), PKG("other", other, 5, 0)};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f.real, .packages = pk, .n_packages = 2};
        _cleanup_free_ char *prof = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert(is_real_dir(prof, "bin"));
        cr_assert(is_real_dir(prof, "share"));
        _cleanup_free_ char *l1 = link_at(prof, "bin/hello"), *l2 = link_at(prof, "bin/other");
        _cleanup_free_ char *e1 = xasprintf("%s/bin/hello", hello);
        _cleanup_free_ char *e2 = xasprintf("%s/bin/other", other);
        cr_assert_str_eq(l1, e1);
        cr_assert_str_eq(l2, e2);
        /* Provided by one package only: a single link to the whole directory. */
        _cleanup_free_ char *l3 = link_at(prof, "lib"), *l4 = link_at(prof, "share/man");
        _cleanup_free_ char *e3 = xasprintf("%s/lib", other),
                            *e4 = xasprintf("%s/share/man", hello);
        cr_assert_str_eq(l3, e3);
        cr_assert_str_eq(l4, e4);
        _cleanup_free_ char *ns = xasprintf("%s/nix-support", prof);
        cr_assert_neq(access(ns, F_OK), 0);
        /* Idempotent: the same layer set gives the same directory. */
        struct stat a, b;
        cr_assert_eq(stat(prof, &a), 0);
        _cleanup_free_ char *prof2 = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof2, NULL), 0);
        cr_assert_str_eq(prof, prof2);
        cr_assert_eq(stat(prof2, &b), 0);
        cr_assert_eq(a.st_ino, b.st_ino);
        char dg[SKIFF_PROFILE_DIGEST_LEN + 1];
        skiff_profile_digest(&in, dg);
        cr_assert(strstr(prof, dg));
        cr_assert_eq(th_sh("ls -a '%s' | grep -q tmp", f.profiles), 1, "temp dir left behind");
        fx_done(&f);
}

Test(profile, priority_resolves_conflicts)
{
        struct fx f;
        fx_init(&f);
        _cleanup_free_ char *a = mkpkg(&f, "a", (const char *[]){"bin/tool=a", "bin/a=a", NULL});
        _cleanup_free_ char *b = mkpkg(&f, "b", (const char *[]){"bin/tool=b", "bin/b=b", NULL});
        struct skiff_profile_package pk[] = {PKG("a", a, 5, 0), PKG("b", b, 3, 0)};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f.real, .packages = pk, .n_packages = 2};
        _cleanup_free_ char *prof = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof, NULL), 0);
        _cleanup_free_ char *l = link_at(prof, "bin/tool"), *e = xasprintf("%s/bin/tool", b);
        cr_assert_str_eq(l, e);
        /* Reverse priorities: a different digest and the other winner. */
        pk[0].priority = 1;
        _cleanup_free_ char *prof2 = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof2, NULL), 0);
        cr_assert_str_neq(prof, prof2);
        _cleanup_free_ char *l2 = link_at(prof2, "bin/tool"), *e2 = xasprintf("%s/bin/tool", a);
        cr_assert_str_eq(l2, e2);
        fx_done(&f);
}

Test(profile, equal_priority_conflict_names_both_paths)
{
        struct fx f;
        fx_init(&f);
        _cleanup_free_ char *a = mkpkg(&f, "a", (const char *[]){"bin/tool=a", NULL});
        _cleanup_free_ char *b = mkpkg(&f, "b", (const char *[]){"bin/tool=b", NULL});
        struct skiff_profile_package pk[] = {PKG("a", a, 5, 0), PKG("b", b, 5, 0)};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f.real, .packages = pk, .n_packages = 2};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_profile_check(&in, &err), -EEXIST);
        cr_assert(strstr(err->msg, "conflict at `bin/tool`"), "%s", err->msg);
        cr_assert(strstr(err->msg, a) && strstr(err->msg, b), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_eq(skiff_profile_build(&in, f.profiles, NULL, &err), -EEXIST);
        skiff_error_free(&err);
        cr_assert_eq(th_sh("[ -z \"$(ls -A '%s')\" ]", f.profiles), 0, "partial profile left");
        /* Across layers, the later layer wins at equal priority. */
        pk[1].layer = 1;
        _cleanup_free_ char *prof = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof, NULL), 0);
        _cleanup_free_ char *l = link_at(prof, "bin/tool"), *e = xasprintf("%s/bin/tool", b);
        cr_assert_str_eq(l, e);
        fx_done(&f);
}

Test(profile, store_symlinks_to_directories_are_merged)
{
        struct fx f;
        fx_init(&f);
        _cleanup_free_ char *lib = mkpkg(&f, "lib", (const char *[]){"share/x/one=1", NULL});
        _cleanup_free_ char *t = xasprintf("share->%s/share", lib);
        _cleanup_free_ char *wrap = mkpkg(&f, "wrap", (const char *[]){t, "bin/w=w", NULL});
        _cleanup_free_ char *esc =
            mkpkg(&f, "esc", (const char *[]){"share/x/two=2", "etc->/etc", NULL});
        struct skiff_profile_package pk[] = {PKG("wrap", wrap, 5, 0), PKG("esc", esc, 5, 0)};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f.real, .packages = pk, .n_packages = 2};
        _cleanup_free_ char *prof = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_profile_build(&in, f.profiles, &prof, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert(is_real_dir(prof, "share/x"));
        _cleanup_free_ char *l1 = link_at(prof, "share/x/one");
        _cleanup_free_ char *e1 = xasprintf("%s/share/x/one", wrap);
        cr_assert_str_eq(l1, e1);
        /* A link leaving the store is linked as it is, never followed. */
        _cleanup_free_ char *l2 = link_at(prof, "etc"), *e2 = xasprintf("%s/etc", esc);
        cr_assert_str_eq(l2, e2);
        fx_done(&f);
}

Test(profile, missing_package_is_an_error)
{
        struct fx f;
        fx_init(&f);
        _cleanup_free_ char *ghost = th_store_path("/nix/store", "ghost", "ghost");
        struct skiff_profile_package pk[] = {PKG("ghost", ghost, 5, 0)};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f.real, .packages = pk, .n_packages = 1};
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_profile_build(&in, f.profiles, NULL, &err), 0);
        cr_assert(strstr(err->msg, ghost), "%s", err->msg);
        skiff_error_free(&err);
        fx_done(&f);
}

Test(profile, input_from_layers)
{
        _cleanup_free_ char *d1 = th_doc(1, "base"), *d2 = th_doc(3, "app");
        struct skiff_generation *g1 = NULL, *g2 = NULL;
        cr_assert_eq(skiff_generation_parse(d1, strlen(d1), &g1, NULL), 0);
        cr_assert_eq(skiff_generation_parse(d2, strlen(d2), &g2, NULL), 0);
        const struct skiff_generation *layers[] = {g1, g2};
        struct skiff_profile_input in = {0};
        cr_assert_eq(skiff_profile_input_from_layers(layers, 2, "x86_64-linux", "/real", &in, NULL),
                     0);
        cr_assert_eq(in.n_packages, 4);
        cr_assert_eq(in.packages[2].layer, 1);
        cr_assert_str_eq(in.store_dir, "/nix/store");
        cr_assert_str_eq(in.real_store, "/real");
        skiff_profile_input_done(&in);
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_profile_input_from_layers(layers, 2, "aarch64-linux", NULL, &in, &err),
                     -ENOENT);
        cr_assert(strstr(err->msg, "`acme/app@1` has no `aarch64-linux` system"), "%s", err->msg);
        skiff_error_free(&err);
        skiff_generation_free(g1);
        skiff_generation_free(g2);
}
