#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>

#include "base/strv.h"
#include "env/activation.h"
#include "env/generation.h"
#include "env/profile.h"
#include "env_helpers.h"

struct fx {
        char *tmp, *real, *profile;
        struct skiff_generation *g[2];
};

/* One package with certificates, a locale archive, share/ and bin/sh (a link to the host's
 * shell, standing in for a store shell); layers: acme/app@1 and acme/app@2 documents. */
static void fx_init(struct fx *f, bool with_sh)
{
        f->tmp = th_tmpdir();
        f->real = xasprintf("%s/store", f->tmp);
        _cleanup_free_ char *pkg = th_store_path("/nix/store", "tools", "tools");
        const char *base = strrchr(pkg, '/') + 1;
        _cleanup_free_ char *cert = xasprintf("%s/%s/etc/ssl/certs/ca-bundle.crt", f->real, base);
        _cleanup_free_ char *loc = xasprintf("%s/%s/lib/locale/locale-archive", f->real, base);
        _cleanup_free_ char *doc = xasprintf("%s/%s/share/doc/x", f->real, base);
        th_write(cert, "CERT");
        th_write(loc, "LOC");
        th_write(doc, "x");
        if (with_sh) {
                _cleanup_free_ char *bin = xasprintf("%s/%s/bin", f->real, base);
                cr_assert_eq(skiff_fs_mkdir_p(bin, 0755, NULL), 0);
                _cleanup_free_ char *sh = xasprintf("%s/sh", bin);
                cr_assert_eq(symlink("sh-real", sh), 0);
                _cleanup_free_ char *shr = xasprintf("%s/sh-real", bin);
                th_write(shr, "#!/bin/sh\n");
        }
        struct skiff_profile_package pk[] = {
            {.name = "tools", .path = pkg, .priority = 5, .layer = 0}};
        struct skiff_profile_input in = {
            .store_dir = "/nix/store", .real_store = f->real, .packages = pk, .n_packages = 1};
        _cleanup_free_ char *pdir = xasprintf("%s/profiles", f->tmp);
        cr_assert_eq(skiff_profile_build(&in, pdir, &f->profile, NULL), 0);
        for (unsigned i = 0; i < 2; i++) {
                _cleanup_free_ char *tag = xasprintf("layer%u", i);
                _cleanup_free_ char *d = th_doc(i + 1, tag);
                if (i == 1) {
                        char *d2 = th_replace(d, "echo activated", "export HOOKED=yes");
                        free(d);
                        d = d2;
                }
                cr_assert_eq(skiff_generation_parse(d, strlen(d), &f->g[i], NULL), 0);
        }
}

static void fx_done(struct fx *f)
{
        th_sh("rm -rf '%s'", f->tmp);
        free(f->tmp);
        free(f->real);
        free(f->profile);
        skiff_generation_free(f->g[0]);
        skiff_generation_free(f->g[1]);
}

static struct skiff_activation_input input(struct fx *f, size_t n)
{
        static char *refs[] = {"acme/app@1", "acme/app@2", NULL};
        struct skiff_activation_input in = {
            .profile_dir = f->profile,
            .store_dir = "/nix/store",
            .real_store = f->real,
            .refs = refs,
            .layers = (const struct skiff_generation *const *)f->g,
            .n_layers = n,
        };
        return in;
}

Test(activation, environment_layers_and_precedence)
{
        struct fx f;
        fx_init(&f, true);
        struct skiff_activation_input in = input(&f, 2);
        char *spec[] = {"PATH=/usr/bin:/bin", "LANG=de_DE.UTF-8", "HOSTNAME=pod", NULL};
        _cleanup_strv_ char **env = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_activation_env(&in, spec, &env, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(skiff_strv_env_get(env, "PATH"), "/run/skiff/env/bin:/usr/bin:/bin");
        cr_assert_str_eq(skiff_strv_env_get(env, "SKIFF_ENV"), "/run/skiff/env");
        cr_assert_str_eq(skiff_strv_env_get(env, "SKIFF_ENV_REF"), "acme/app@1,acme/app@2");
        cr_assert_str_eq(skiff_strv_env_get(env, "SSL_CERT_FILE"),
                         "/run/skiff/env/etc/ssl/certs/ca-bundle.crt");
        cr_assert_str_eq(skiff_strv_env_get(env, "NIX_SSL_CERT_FILE"),
                         "/run/skiff/env/etc/ssl/certs/ca-bundle.crt");
        cr_assert_str_eq(skiff_strv_env_get(env, "LOCALE_ARCHIVE"),
                         "/run/skiff/env/lib/locale/locale-archive");
        cr_assert_str_eq(skiff_strv_env_get(env, "XDG_DATA_DIRS"), "/run/skiff/env/share");
        /* The later layer's vars win over the earlier one's; the pod spec wins over both. */
        cr_assert_str_eq(skiff_strv_env_get(env, "GREETING"), "hi layer1");
        cr_assert_str_eq(skiff_strv_env_get(env, "LANG"), "de_DE.UTF-8");
        cr_assert_str_eq(skiff_strv_env_get(env, "HOSTNAME"), "pod");
        size_t paths = 0;
        for (char **e = env; *e; e++)
                paths += strncmp(*e, "PATH=", 5) == 0;
        cr_assert_eq(paths, 1);
        /* An exec process inheriting this environment does not get PATH prepended twice. */
        _cleanup_strv_ char **again = NULL;
        cr_assert_eq(skiff_activation_env(&in, env, &again, NULL), 0);
        cr_assert_str_eq(skiff_strv_env_get(again, "PATH"), "/run/skiff/env/bin:/usr/bin:/bin");
        fx_done(&f);
}

Test(activation, defaults_without_profile_files)
{
        struct fx f;
        fx_init(&f, false);
        free(f.profile);
        f.profile = xasprintf("%s/empty-profile", f.tmp);
        cr_assert_eq(mkdir(f.profile, 0755), 0);
        struct skiff_activation_input in = input(&f, 0);
        _cleanup_strv_ char **env = NULL;
        cr_assert_eq(skiff_activation_env(&in, NULL, &env, NULL), 0);
        cr_assert_str_eq(skiff_strv_env_get(env, "PATH"),
                         "/run/skiff/env/bin:" SKIFF_ACTIVATION_DEFAULT_PATH);
        cr_assert_null(skiff_strv_env_get(env, "SSL_CERT_FILE"));
        cr_assert_null(skiff_strv_env_get(env, "LOCALE_ARCHIVE"));
        cr_assert_null(skiff_strv_env_get(env, "XDG_DATA_DIRS"));
        char *bad[] = {"NOEQUALS", NULL};
        _cleanup_strv_ char **e2 = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_activation_env(&in, bad, &e2, &err), -EINVAL);
        cr_assert(strstr(err->msg, "`NOEQUALS`"), "%s", err->msg);
        skiff_error_free(&err);
        fx_done(&f);
}

Test(activation, argv_without_hooks_is_the_workload)
{
        struct fx f;
        fx_init(&f, true);
        f.g[0]->on_activate[0] = '\0';
        free(f.g[1]->on_activate);
        f.g[1]->on_activate = NULL;
        struct skiff_activation_input in = input(&f, 2);
        char *args[] = {"python", "train.py", NULL};
        _cleanup_strv_ char **argv = NULL;
        cr_assert_eq(skiff_activation_argv(&in, args, &argv, NULL), 0);
        cr_assert_eq(skiff_strv_len(argv), 2);
        cr_assert_str_eq(argv[0], "python");
        char *none[] = {NULL};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_activation_argv(&in, none, &argv, &err), -EINVAL);
        skiff_error_free(&err);
        fx_done(&f);
}

Test(activation, hook_runs_then_workload_replaces_the_shell)
{
        struct fx f;
        fx_init(&f, true);
        struct skiff_activation_input in = input(&f, 2);
        _cleanup_free_ char *out = xasprintf("%s/out", f.tmp);
        _cleanup_free_ char *wl = xasprintf("echo \"$$ $HOOKED $1\" > %s", out);
        char *args[] = {"/bin/sh", "-c", wl, "wl", "arg1", NULL};
        _cleanup_strv_ char **argv = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_activation_argv(&in, args, &argv, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(argv[0], "/run/skiff/env/bin/sh");
        cr_assert_str_eq(argv[1], "-c");
        cr_assert(strstr(argv[2], "echo activated"));
        cr_assert_lt(strstr(argv[2], "echo activated"), strstr(argv[2], "export HOOKED=yes"));
        cr_assert_str_eq(argv[3], "--");
        cr_assert_str_eq(argv[4], "/bin/sh");
        /* Run it with the host shell in place of the profile's. */
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 1);
                free(argv[0]);
                argv[0] = xstrdup("/bin/sh");
                execv(argv[0], argv);
                _exit(127);
        }
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        _cleanup_free_ char *got = th_read(out);
        _cleanup_free_ char *want = xasprintf("%d yes arg1\n", (int)pid);
        cr_assert_str_eq(got, want, "the workload must keep the shell's PID and see the hook");
        fx_done(&f);
}

Test(activation, failing_hook_stops_the_start)
{
        struct fx f;
        fx_init(&f, true);
        free(f.g[0]->on_activate);
        f.g[0]->on_activate = xstrdup("false");
        struct skiff_activation_input in = input(&f, 1);
        _cleanup_free_ char *out = xasprintf("%s/ran", f.tmp);
        _cleanup_free_ char *wl = xasprintf("touch %s", out);
        char *args[] = {"/bin/sh", "-c", wl, NULL};
        _cleanup_strv_ char **argv = NULL;
        cr_assert_eq(skiff_activation_argv(&in, args, &argv, NULL), 0);
        free(argv[0]);
        argv[0] = xstrdup("/bin/sh");
        pid_t pid = fork();
        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        cr_assert_neq(access(out, F_OK), 0);
        fx_done(&f);
}

Test(activation, hook_without_shell_is_an_error)
{
        struct fx f;
        fx_init(&f, false);
        struct skiff_activation_input in = input(&f, 1);
        char *args[] = {"x", NULL};
        _cleanup_strv_ char **argv = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_activation_argv(&in, args, &argv, &err), -ENOENT);
        cr_assert(strstr(err->msg, "bin/sh"), "%s", err->msg);
        skiff_error_free(&err);
        fx_done(&f);
}
