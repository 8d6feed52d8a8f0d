/* skiff run [--view closure|store] REF... -- CMD... : the container's environment view without
 * containerd (Slurm jobs, laptops, CI).
 *
 * The environment is realized first (as `skiff prefetch`), then the command runs in a new mount
 * namespace (as root) or a new user + mount namespace mapping the caller to root (unprivileged)
 * whose root is a tmpfs holding binds of every top-level entry of the host's root, so nothing on
 * the host is written: /run is rebuilt the same way, /nix/store is the closure view (a tmpfs with
 * one read-only bind per store path, then made read-only) or the store view (a read-only bind of
 * the node store), and /run/skiff/env is a read-only bind of the merged profile. The process
 * environment and hook follow design §6, with the caller's environment in the role of the pod
 * spec. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mount.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "env/activation.h"
#include "env/annotations.h"
#include "env/assemble.h"
#include "env/realize.h"
#include "env/ref.h"
#include "store/config.h"

extern char **environ;

static void usage(FILE *f)
{
        fprintf(f,
                "usage: skiff run [--config FILE] [--view closure|store] REF... -- CMD [ARG...]\n"
                "\n"
                "Realizes the environments (layers in order, later wins) and runs CMD in them, as\n"
                "a container of a pod annotated skiff.dev/environment would see them: /nix/store\n"
                "shows the closure (or, with --view store, the whole node store) read-only,\n"
                "/run/skiff/env is the merged profile, PATH starts with /run/skiff/env/bin, the\n"
                "environment's variables and hook apply; the rest of the host stays visible.\n"
                "As root it uses a new mount namespace; otherwise a user namespace that maps the\n"
                "caller to root (the node config's store_root must then be writable).\n"
                "  --config FILE   node config (default " SKIFF_CONFIG_PATH_DEFAULT ")\n"
                "\n"
                "Exit codes: CMD's status; 1 failure, 2 usage error.\n");
}

static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *a)
{
        return (int)syscall(SYS_mount_setattr, dfd, path, flags, a, sizeof(*a));
}

/* Makes the mount at path read-only, nosuid, nodev (recursively), keeping other flags. */
static int seal(const char *path, skiff_err_t *err)
{
        struct mount_attr a = {.attr_set =
                                   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
        if (sys_mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &a) == 0)
                return 0;
        if (errno != ENOSYS)
                return skiff_error_set_errno(err, errno, "make `%s` read-only", path);
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
            0)
                return skiff_error_set_errno(err, errno, "make `%s` read-only", path);
        return 0;
}

static int bind(const char *src, const char *dst, bool ro, skiff_err_t *err)
{
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                return skiff_error_set_errno(err, errno, "bind `%s` on `%s`", src, dst);
        return ro ? seal(dst, err) : 0;
}

/* Creates dst like the host entry src (directory, file, or the same symlink) and binds it. */
static int mirror_entry(const char *src, const char *dst, skiff_err_t *err)
{
        struct stat st;
        if (lstat(src, &st) < 0)
                return 0; /* vanished */
        if (S_ISLNK(st.st_mode)) {
                char buf[PATH_MAX];
                ssize_t n = readlink(src, buf, sizeof(buf) - 1);
                if (n < 0)
                        return 0;
                buf[n] = '\0';
                if (symlink(buf, dst) < 0)
                        return skiff_error_set_errno(err, errno, "symlink `%s`", dst);
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                if (mkdir(dst, 0755) < 0 && errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "mkdir `%s`", dst);
        } else {
                int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
                if (fd < 0)
                        return skiff_error_set_errno(err, errno, "create `%s`", dst);
                close(fd);
        }
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
                if (errno == EACCES || errno == EPERM || errno == EINVAL)
                        return 0; /* not visible to us: leave the empty mount point */
                return skiff_error_set_errno(err, errno, "bind `%s`", src);
        }
        return 0;
}

/* Fills dst (an empty tmpfs) with the entries of the host directory src, except skip. */
static int mirror_dir(const char *src, const char *dst, char *const *skip, skiff_err_t *err)
{
        DIR *d = opendir(src);
        if (!d)
                return skiff_error_set_errno(err, errno, "open `%s`", src);
        _cleanup_closedir_ DIR *dd = d;
        struct dirent *de;
        while ((de = readdir(dd))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    skiff_strv_contains(skip, de->d_name))
                        continue;
                _cleanup_free_ char *s = skiff_path_join(src, de->d_name);
                _cleanup_free_ char *t = skiff_path_join(dst, de->d_name);
                int r = mirror_entry(s, t, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_map(const char *file, const char *content, skiff_err_t *err)
{
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", file);
        int r = skiff_fs_write_all(fd, content, strlen(content));
        close(fd);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "write `%s`", file);
        return 0;
}

static int enter_namespaces(skiff_err_t *err)
{
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (uid == 0) {
                if (unshare(CLONE_NEWNS) < 0)
                        return skiff_error_set_errno(err, errno, "unshare the mount namespace");
        } else {
                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                        return skiff_error_set_errno(err, errno,
                                                     "unshare a user namespace (are "
                                                     "unprivileged user namespaces enabled?)");
                char map[64];
                int r = write_map("/proc/self/setgroups", "deny", err);
                snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
                if (r >= 0)
                        r = write_map("/proc/self/uid_map", map, err);
                snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
                if (r >= 0)
                        r = write_map("/proc/self/gid_map", map, err);
                if (r < 0)
                        return r;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return skiff_error_set_errno(err, errno, "make `/` private");
        return 0;
}

static int build_root(const struct skiff_assemble_plan *p, enum skiff_annotations_view view,
                      char **ret_root, skiff_err_t *err)
{
        _cleanup_free_ char *root = xstrdup("/tmp/skiff-run.XXXXXX");
        if (!mkdtemp(root))
                return skiff_error_set_errno(err, errno, "create a directory in `/tmp`");
        int r;
        if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return skiff_error_set_errno(err, errno, "mount a tmpfs on `%s`", root);
        /* The store dir's first component ("nix") and "run" are rebuilt; "tmp" is the host's. */
        _cleanup_strv_ char **parts = skiff_strv_split(p->store_dir, "/", true);
        char *skip_top[] = {parts && parts[0] ? parts[0] : "nix", "run", NULL};
        r = mirror_dir("/", root, skip_top, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *run = skiff_path_join(root, "run");
        if (mkdir(run, 0755) < 0 ||
            mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return skiff_error_set_errno(err, errno, "mount a tmpfs on `%s`", run);
        char *skip_run[] = {"skiff", NULL};
        if (access("/run", F_OK) == 0 && (r = mirror_dir("/run", run, skip_run, err)) < 0)
                return r;
        /* A store dir outside "nix" whose first component exists on the host is rebuilt too. */
        _cleanup_free_ char *first = xasprintf("%s/%s", root, skip_top[0]);
        if (mkdir(first, 0755) < 0 && errno != EEXIST)
                return skiff_error_set_errno(err, errno, "mkdir `%s`", first);
        _cleanup_free_ char *store = xasprintf("%s%s", root, p->store_dir);
        r = skiff_fs_mkdir_p(store, 0755, err);
        if (r < 0)
                return r;
        if (view == SKIFF_ANNOTATIONS_VIEW_STORE) {
                r = bind(p->real_store, store, true, err);
                if (r < 0)
                        return r;
        } else {
                if (mount("tmpfs", store, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                        return skiff_error_set_errno(err, errno, "mount a tmpfs on `%s`", store);
                for (size_t i = 0; p->closure[i]; i++) {
                        const char *base = skiff_path_basename(p->closure[i]);
                        _cleanup_free_ char *src = skiff_path_join(p->real_store, base);
                        _cleanup_free_ char *dst = skiff_path_join(store, base);
                        if (mkdir(dst, 0755) < 0)
                                return skiff_error_set_errno(err, errno, "mkdir `%s`", dst);
                        r = bind(src, dst, true, err);
                        if (r < 0)
                                return r;
                }
                r = seal(store, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *envdir = xasprintf("%s%s", root, SKIFF_ACTIVATION_MOUNT);
        r = skiff_fs_mkdir_p(envdir, 0755, err);
        if (r >= 0)
                r = bind(p->profile, envdir, true, err);
        if (r < 0)
                return r;
        *ret_root = TAKE_PTR(root);
        return 0;
}

int skiff_cli_run(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"view", required_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = NULL;
        enum skiff_annotations_view view = SKIFF_ANNOTATIONS_VIEW_CLOSURE;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'v':
                        if (strcmp(optarg, "closure") == 0) {
                                view = SKIFF_ANNOTATIONS_VIEW_CLOSURE;
                        } else if (strcmp(optarg, "store") == 0) {
                                view = SKIFF_ANNOTATIONS_VIEW_STORE;
                        } else {
                                fprintf(stderr,
                                        "skiff run: unknown view `%s` (expected closure or "
                                        "store)\n",
                                        optarg);
                                return SKIFF_EXIT_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        int dash = -1;
        for (int i = optind; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        dash = i;
                        break;
                }
        if (dash < optind || dash + 1 >= argc) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_ref refs[64] = {0};
        size_t n = 0;
        int r = skiff_ref_parse_list(argv + optind, (size_t)(dash - optind), true, refs,
                                     SKIFF_ARRAY_SIZE(refs), &n, &err);
        if (r < 0 || n == 0) {
                if (r < 0)
                        fprintf(stderr, "skiff run: %s\n", err->msg);
                else
                        usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_config_ struct skiff_config *cfg = NULL;
        struct skiff_realize_result res = {0};
        struct skiff_assemble_plan plan = {0};
        r = skiff_config_load(config, &cfg, &err);
        if (r >= 0) {
                struct skiff_realize_opts o = {.cfg = cfg};
                r = skiff_realize_run(&o, refs, n, &res, &err);
        }
        for (size_t i = 0; i < n; i++)
                skiff_ref_done(&refs[i]);
        if (r >= 0)
                r = skiff_realize_plan(&res, &plan, &err);
        skiff_realize_result_done(&res);
        if (r < 0)
                return skiff_cli_fail("run", err->msg);

        _cleanup_strv_ char **env = NULL;
        _cleanup_strv_ char **args = skiff_strv_copy(plan.hook_argv);
        for (int i = dash + 1; i < argc; i++)
                skiff_strv_push(&args, argv[i]);
        r = skiff_assemble_env(&plan, environ, &env, &err);
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
                snprintf(cwd, sizeof(cwd), "/");
        _cleanup_free_ char *root = NULL;
        if (r >= 0)
                r = enter_namespaces(&err);
        if (r >= 0)
                r = build_root(&plan, view, &root, &err);
        skiff_assemble_plan_done(&plan);
        if (r >= 0 && chroot(root) < 0)
                r = skiff_error_set_errno(&err, errno, "chroot into `%s`", root);
        if (r < 0)
                return skiff_cli_fail("run", err->msg);
        if (chdir(cwd) < 0 && chdir("/") < 0)
                return skiff_cli_fail("run", "cannot change to the working directory");
        environ = env;
        execvp(args[0], args);
        int e = errno;
        fprintf(stderr, "skiff run: exec `%s`: %s\n", args[0], strerror(e));
        return e == ENOENT ? 127 : 126;
}
