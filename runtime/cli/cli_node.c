/* skiff node install | uninstall: put skiff on a Kubernetes node from a privileged pod that sees
 * the host filesystem at --host-root (the DaemonSet's init container), or on the host itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/cri.h"
#include "cli/ctrdsetup.h"
#include "cli/kube.h"
#include "store/config.h"

#define SHIM_NAME     "containerd-shim-skiff-v2"
#define CLI_NAME      "skiff"
#define NODE_CONFIG   "/etc/skiff/config.json"
#define STUB_DEST     "/var/lib/skiff/images/stub-image.tar"
#define STUB_REF      "skiff.dev/empty:1"
#define NODE_LABEL    "skiff.dev/enabled"
#define BINARY_MAX    (512u << 20)
#define HOST_PATH_VAR "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum restart_mode { RESTART_SYSTEMD, RESTART_SIGNAL, RESTART_NONE };
enum host_exec { HOST_EXEC_AUTO, HOST_EXEC_NSENTER, HOST_EXEC_CHROOT, HOST_EXEC_LOCAL };

struct node_args {
        bool install;
        const char *host_root;
        const char *bin_dir;
        const char *containerd_config;
        const char *dropin;
        enum skiff_ctrdsetup_flavor flavor;
        enum restart_mode restart;
        const char *systemd_unit;
        const char *config_json;
        const char *wait_socket;
        long wait_timeout;
        const char *stub_image;
        const char *ctr;
        const char *handler;
        const char *source_dir;
        enum host_exec host_exec;
        bool dry_run;
        bool no_label;
        bool no_image;
        bool keep_binaries;
        bool purge;
};

static void usage(FILE *f)
{
        fprintf(
            f, "usage: skiff node install [options]\n"
               "       skiff node uninstall [options] [--keep-binaries] [--purge]\n"
               "\n"
               "Installs skiff on this node: copies `" SHIM_NAME "` and `skiff` (and the\n"
               "private lib dir <prefix>/lib/skiff) into BIN-DIR, writes the node config,\n"
               "registers the runtime handler with containerd (a drop-in plus an `imports`\n"
               "entry; k3s/RKE2: config.toml.tmpl), restarts containerd, waits until CRI serves\n"
               "the handler, imports the stub image " STUB_REF " into the k8s.io namespace and\n"
               "labels the node " NODE_LABEL "=true. Every step is idempotent; uninstall undoes\n"
               "them and restores containerd's config from its backup byte for byte.\n"
               "\n"
               "  --host-root DIR          the host filesystem (default /)\n"
               "  --bin-dir DIR            host install dir (default /usr/local/bin)\n"
               "  --containerd-config PATH main config (default by flavor:\n"
               "                           " SKIFF_CTRDSETUP_CONFIG_DEFAULT ", k3s/RKE2:\n"
               "                           /var/lib/rancher/{k3s,rke2}/agent/etc/containerd/...)\n"
               "  --dropin PATH            drop-in file (default <config dir>/conf.d/skiff.toml)\n"
               "  --flavor auto|containerd|k3s\n"
               "  --restart systemd|signal|none   how to restart containerd (default systemd):\n"
               "                           systemd runs `systemctl restart UNIT` in the host's\n"
               "                           mount namespace; signal sends SIGTERM to containerd\n"
               "                           (SIGHUP does not reload it) and relies on its\n"
               "                           supervisor to start it again; none leaves it alone\n"
               "  --systemd-unit UNIT      default containerd (k3s: the active one of rke2-agent,\n"
               "                           rke2-server, k3s-agent, k3s)\n"
               "  --config-json FILE       node config to install as " NODE_CONFIG " (validated)\n"
               "  --wait-socket PATH       CRI socket (host path; default\n"
               "                           /run/containerd/containerd.sock, k3s:\n"
               "                           /run/k3s/containerd/containerd.sock)\n"
               "  --wait-timeout SECONDS   default 120\n"
               "  --stub-image FILE        OCI archive of " STUB_REF " (default\n"
               "                           <prefix>/share/skiff/stub-image.tar when present)\n"
               "  --ctr CMD                host command for `ctr` (default `ctr`; k3s: `k3s ctr`)\n"
               "  --no-image, --no-label   skip those steps\n"
               "  --handler NAME           CRI handler / RuntimeClass handler (default skiff)\n"
               "  --source-dir DIR         where the binaries come from (default: this binary's)\n"
               "  --host-exec auto|nsenter|chroot|local   how host commands (systemctl, ctr) run:\n"
               "                           nsenter = in PID 1's mount namespace (hostPID pods),\n"
               "                           chroot = in --host-root, local = here, with host\n"
               "                           paths prefixed by --host-root (default auto)\n"
               "  --dry-run                report what would change, change nothing\n"
               "\n"
               "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static void say(const char *line, void *userdata)
{
        const struct node_args *a = userdata;
        printf("skiff node %s: %s\n", a->install ? "install" : "uninstall", line);
        fflush(stdout);
}

static void sayf(const struct node_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sayf(const struct node_args *a, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *line = xvasprintf(fmt, ap);
        va_end(ap);
        say(line, (void *)a);
}

static bool root_is_slash(const struct node_args *a)
{
        return strcmp(a->host_root, "/") == 0;
}

/* The host path p as seen from this process. */
static char *in_root(const struct node_args *a, const char *p)
{
        return root_is_slash(a) ? xstrdup(p) : skiff_path_join(a->host_root, p);
}

/* The host path p as seen by a host command. */
static char *for_host_cmd(const struct node_args *a, const char *p)
{
        return a->host_exec == HOST_EXEC_LOCAL ? in_root(a, p) : xstrdup(p);
}

static enum host_exec resolve_host_exec(const struct node_args *a)
{
        if (a->host_exec != HOST_EXEC_AUTO)
                return a->host_exec;
        if (root_is_slash(a))
                return HOST_EXEC_LOCAL;
        struct stat self, init;
        if (stat("/proc/self/ns/mnt", &self) == 0 && stat("/proc/1/ns/mnt", &init) == 0 &&
            self.st_ino != init.st_ino)
                return HOST_EXEC_NSENTER;
        return HOST_EXEC_CHROOT;
}

/* Runs argv on the host (see --host-exec); captures up to 1 MiB of stdout in *out when not
 * NULL. Returns the exit status (>= 0) or -errno. */
static int host_run(const struct node_args *a, char *const *argv, char **out, skiff_err_t *err)
{
        int pfd[2] = {-EBADF, -EBADF};
        if (out && pipe2(pfd, O_CLOEXEC) < 0)
                return skiff_error_set_errno(err, errno, "pipe");
        _cleanup_close_ int rd = pfd[0];
        _cleanup_close_ int wr = pfd[1];
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return skiff_error_set_errno(err, errno, "fork");
        if (pid == 0) {
                if (a->host_exec == HOST_EXEC_NSENTER) {
                        int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || setns(fd, CLONE_NEWNS) < 0) {
                                fprintf(stderr, "skiff node: enter the host mount namespace: %m\n");
                                _exit(126);
                        }
                } else if (a->host_exec == HOST_EXEC_CHROOT) {
                        if (chroot(a->host_root) < 0) {
                                fprintf(stderr, "skiff node: chroot `%s`: %m\n", a->host_root);
                                _exit(126);
                        }
                }
                if (a->host_exec != HOST_EXEC_LOCAL && chdir("/") < 0)
                        _exit(126);
                if (out && dup2(wr, STDOUT_FILENO) < 0)
                        _exit(126);
                if (!out && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                        _exit(126);
                putenv((char *)HOST_PATH_VAR);
                execvp(argv[0], argv);
                fprintf(stderr, "skiff node: run `%s`: %m\n", argv[0]);
                _exit(127);
        }
        if (wr >= 0)
                close(TAKE_FD(wr));
        int r = 0;
        if (out) {
                _cleanup_free_ char *buf = NULL;
                r = skiff_fs_read_fd(rd, 1 << 20, &buf, NULL, err);
                if (r >= 0)
                        *out = TAKE_PTR(buf);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return skiff_error_set_errno(err, errno, "wait for `%s`", argv[0]);
        if (r < 0)
                return r;
        if (WIFSIGNALED(status))
                return skiff_error_set(err, EIO, "`%s` killed by signal %d", argv[0],
                                       WTERMSIG(status));
        return WEXITSTATUS(status);
}

static int host_run_ok(const struct node_args *a, char *const *argv, skiff_err_t *err)
{
        int r = host_run(a, argv, NULL, err);
        if (r > 0) {
                _cleanup_free_ char *cmd = NULL;
                struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                for (size_t i = 0; argv[i]; i++)
                        skiff_strbuf_printf(&sb, "%s%s", i ? " " : "", argv[i]);
                cmd = skiff_strbuf_take(&sb);
                return skiff_error_set(err, EIO, "`%s` exited with status %d", cmd, r);
        }
        return r;
}

/* Copies src to dst (atomic replace) unless dst already has the same bytes. 1 when written. */
static int copy_file(const struct node_args *a, const char *src, const char *dst, mode_t mode,
                     const char *shown, skiff_err_t *err)
{
        _cleanup_free_ char *data = NULL, *old = NULL;
        size_t len = 0, old_len = 0;
        int r = skiff_fs_read_file(src, BINARY_MAX, &data, &len, err);
        if (r < 0)
                return r;
        _cleanup_error_ skiff_err_t e2 = NULL;
        if (skiff_fs_read_file(dst, BINARY_MAX, &old, &old_len, &e2) >= 0 && old_len == len &&
            memcmp(old, data, len) == 0) {
                struct stat st;
                if (stat(dst, &st) == 0 && (st.st_mode & 07777) == mode) {
                        sayf(a, "unchanged `%s`", shown);
                        return 0;
                }
        }
        sayf(a, "%s `%s`", a->dry_run ? "would write" : "wrote", shown);
        if (a->dry_run)
                return 1;
        _cleanup_free_ char *dir = skiff_path_dirname(dst);
        r = skiff_fs_mkdir_p(dir, 0755, err);
        if (r >= 0)
                r = skiff_fs_write_file_atomic(dst, data, len, mode, true, err);
        return r < 0 ? r : 1;
}

static int remove_file(const struct node_args *a, const char *path, const char *shown,
                       skiff_err_t *err)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return 0;
        sayf(a, "%s `%s`", a->dry_run ? "would remove" : "removed", shown);
        if (!a->dry_run && unlink(path) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove `%s`", shown);
        return 0;
}

static char *lib_dir_of(const char *bin_dir)
{
        _cleanup_free_ char *parent = skiff_path_dirname(bin_dir);
        return skiff_path_join(parent, "lib/skiff");
}

/* Applies fn to every regular file name in dir (missing dir: nothing). */
static int each_lib(const char *dir, int (*fn)(const char *name, void *ud, skiff_err_t *err),
                    void *ud, skiff_err_t *err)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : skiff_error_set_errno(err, errno, "open `%s`", dir);
        struct dirent *de;
        _cleanup_strv_ char **names = NULL;
        while ((de = readdir(d)))
                if (skiff_path_is_component(de->d_name))
                        skiff_strv_push(&names, de->d_name);
        for (size_t i = 0; names && names[i]; i++) {
                int r = fn(names[i], ud, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct lib_copy {
        const struct node_args *a;
        const char *src_dir, *dst_dir, *shown_dir;
};

static int copy_lib(const char *name, void *ud, skiff_err_t *err)
{
        struct lib_copy *c = ud;
        _cleanup_free_ char *src = skiff_path_join(c->src_dir, name);
        _cleanup_free_ char *dst = skiff_path_join(c->dst_dir, name);
        _cleanup_free_ char *shown = skiff_path_join(c->shown_dir, name);
        struct stat st;
        if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        int r = copy_file(c->a, src, dst, st.st_mode & 0755, shown, err);
        return r < 0 ? r : 0;
}

static int remove_lib(const char *name, void *ud, skiff_err_t *err)
{
        struct lib_copy *c = ud;
        _cleanup_free_ char *dst = skiff_path_join(c->dst_dir, name);
        _cleanup_free_ char *shown = skiff_path_join(c->shown_dir, name);
        return remove_file(c->a, dst, shown, err);
}

static int install_binaries(const struct node_args *a, skiff_err_t *err)
{
        static const char *const names[] = {SHIM_NAME, CLI_NAME};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *src = skiff_path_join(a->source_dir, names[i]);
                _cleanup_free_ char *shown = skiff_path_join(a->bin_dir, names[i]);
                _cleanup_free_ char *dst = in_root(a, shown);
                int r = copy_file(a, src, dst, 0755, shown, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *src_parent = skiff_path_dirname(a->source_dir);
        _cleanup_free_ char *src_lib = skiff_path_join(src_parent, "lib/skiff");
        _cleanup_free_ char *shown = lib_dir_of(a->bin_dir);
        _cleanup_free_ char *dst = in_root(a, shown);
        struct lib_copy c = {a, src_lib, dst, shown};
        return each_lib(src_lib, copy_lib, &c, err);
}

static int uninstall_binaries(const struct node_args *a, skiff_err_t *err)
{
        static const char *const names[] = {SHIM_NAME, CLI_NAME};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *shown = skiff_path_join(a->bin_dir, names[i]);
                _cleanup_free_ char *dst = in_root(a, shown);
                int r = remove_file(a, dst, shown, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *shown = lib_dir_of(a->bin_dir);
        _cleanup_free_ char *dst = in_root(a, shown);
        struct lib_copy c = {a, NULL, dst, shown};
        int r = each_lib(dst, remove_lib, &c, err);
        if (r >= 0 && !a->dry_run && rmdir(dst) < 0 && errno != ENOENT && errno != ENOTEMPTY)
                return skiff_error_set_errno(err, errno, "remove `%s`", shown);
        return r;
}

static int install_config(const struct node_args *a, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(a->config_json, SKIFF_CONFIG_MAX, &buf, &len, err);
        if (r < 0)
                return r;
        _cleanup_config_ struct skiff_config *cfg = NULL;
        r = skiff_config_parse(buf, len, &cfg, err);
        if (r < 0)
                return skiff_error_wrap(err, "node config `%s`", a->config_json);
        _cleanup_free_ char *dst = in_root(a, NODE_CONFIG);
        /* 0600: the node config may hold binary-cache credentials. */
        r = copy_file(a, a->config_json, dst, 0600, NODE_CONFIG, err);
        return r < 0 ? r : 0;
}

static const char *const K3S_UNITS[] = {"rke2-agent", "rke2-server", "k3s-agent", "k3s"};

static int restart_systemd(const struct node_args *a, enum skiff_ctrdsetup_flavor flavor,
                           skiff_err_t *err)
{
        const char *unit = a->systemd_unit;
        if (!unit && flavor == SKIFF_CTRDSETUP_K3S) {
                for (size_t i = 0; !unit && i < SKIFF_ARRAY_SIZE(K3S_UNITS); i++) {
                        char *const argv[] = {"systemctl", "is-active", "--quiet",
                                              (char *)K3S_UNITS[i], NULL};
                        if (host_run(a, argv, NULL, err) == 0)
                                unit = K3S_UNITS[i];
                        skiff_error_free(err);
                }
                if (!unit)
                        return skiff_error_set(err, ENOENT,
                                               "no active k3s or RKE2 unit; pass --systemd-unit");
        }
        if (!unit)
                unit = "containerd";
        sayf(a, "restarting `%s` with systemctl", unit);
        char *const argv[] = {"systemctl", "restart", (char *)unit, NULL};
        return host_run_ok(a, argv, err);
}

/* SIGTERM to every process named containerd (needs the host PID namespace), then waits up to 30
 * seconds for them to exit; the supervisor (systemd, k3s) starts containerd again. */
static int restart_signal(const struct node_args *a, skiff_err_t *err)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        if (!d)
                return skiff_error_set_errno(err, errno, "open `/proc`");
        pid_t pids[64];
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < SKIFF_ARRAY_SIZE(pids)) {
                uint64_t pid;
                if (skiff_parse_u64(de->d_name, &pid) < 0 || pid <= 1)
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/%s/comm", de->d_name), *comm = NULL;
                _cleanup_error_ skiff_err_t e2 = NULL;
                if (skiff_fs_read_file(path, 256, &comm, NULL, &e2) < 0)
                        continue;
                if (strcmp(comm, "containerd\n") == 0)
                        pids[n++] = (pid_t)pid;
        }
        if (n == 0)
                return skiff_error_set(err, ESRCH,
                                       "no containerd process visible (the pod needs hostPID)");
        for (size_t i = 0; i < n; i++) {
                sayf(a, "sending SIGTERM to containerd (pid %d)", (int)pids[i]);
                if (kill(pids[i], SIGTERM) < 0 && errno != ESRCH)
                        return skiff_error_set_errno(err, errno, "kill %d", (int)pids[i]);
        }
        for (int t = 0; t < 300; t++) {
                bool alive = false;
                for (size_t i = 0; i < n; i++)
                        alive = alive || kill(pids[i], 0) == 0;
                if (!alive)
                        return 0;
                poll(NULL, 0, 100);
        }
        return skiff_error_set(err, ETIMEDOUT, "containerd did not exit within 30 seconds");
}

static int restart(const struct node_args *a, enum skiff_ctrdsetup_flavor flavor, skiff_err_t *err)
{
        if (a->dry_run) {
                sayf(a, "would restart containerd (%s)",
                     a->restart == RESTART_NONE ? "--restart none: skipped" : "as configured");
                return 0;
        }
        switch (a->restart) {
        case RESTART_SYSTEMD:
                return restart_systemd(a, flavor, err);
        case RESTART_SIGNAL:
                return restart_signal(a, err);
        case RESTART_NONE:
                sayf(a, "not restarting containerd (--restart none): restart it to load the "
                        "new configuration");
                return 0;
        }
        return 0;
}

static const char *socket_for(const struct node_args *a, enum skiff_ctrdsetup_flavor flavor)
{
        if (a->wait_socket)
                return a->wait_socket;
        return flavor == SKIFF_CTRDSETUP_K3S ? "/run/k3s/containerd/containerd.sock"
                                             : "/run/containerd/containerd.sock";
}

/* Polls CRI Status until its config lists the handler. */
static int wait_cri(const struct node_args *a, const char *sock, skiff_err_t *err)
{
        _cleanup_free_ char *path = in_root(a, sock);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int last = 0;
        for (;;) {
                _cleanup_free_ char *config = NULL;
                skiff_error_free(err);
                int r = skiff_cri_status_config(path, 5000, &config, err);
                if (r >= 0) {
                        r = skiff_cri_config_has_handler(config, a->handler, err);
                        if (r > 0) {
                                sayf(a, "CRI on `%s` serves runtime handler `%s`", sock,
                                     a->handler);
                                return 0;
                        }
                        if (r == 0)
                                r = skiff_error_set(err, ENOENT,
                                                    "CRI on `%s` does not list runtime handler "
                                                    "`%s`",
                                                    sock, a->handler);
                }
                last = r;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - t0.tv_sec >= a->wait_timeout)
                        return skiff_error_wrap(err, "after waiting %ld seconds", a->wait_timeout);
                poll(NULL, 0, 500);
        }
        return last;
}

static int import_stub(const struct node_args *a, const char *sock, skiff_err_t *err)
{
        _cleanup_free_ char *dst = in_root(a, STUB_DEST);
        int r = copy_file(a, a->stub_image, dst, 0644, STUB_DEST, err);
        if (r < 0 || a->dry_run)
                return r < 0 ? r : 0;
        _cleanup_free_ char *hsock = for_host_cmd(a, sock), *htar = for_host_cmd(a, STUB_DEST);
        _cleanup_strv_ char **argv = skiff_strv_split(a->ctr, " ", true);
        static const char *const rest[] = {"--address", NULL,     "--namespace", "k8s.io",
                                           "images",    "import", NULL};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(rest); i++)
                skiff_strv_push(&argv, i == 1 ? hsock : rest[i] ? rest[i] : htar);
        sayf(a, "importing `%s` into containerd namespace k8s.io", STUB_REF);
        return host_run_ok(a, argv, err);
}

static int label(const struct node_args *a, skiff_err_t *err)
{
        const char *node = secure_getenv("NODE_NAME");
        if (!skiff_kube_in_cluster() || !node || !*node) {
                sayf(a, "not in a Kubernetes cluster ($KUBERNETES_SERVICE_HOST, $NODE_NAME or the "
                        "service account token missing): skipping the node label");
                return 0;
        }
        sayf(a, "%s label " NODE_LABEL " on node `%s`",
             a->dry_run ? "would set" : (a->install ? "setting" : "removing"), node);
        if (a->dry_run)
                return 0;
        return skiff_kube_label_node(node, NODE_LABEL, a->install ? "true" : NULL, err);
}

static int do_install(struct node_args *a, skiff_err_t *err)
{
        int r = install_binaries(a, err);
        if (r >= 0 && a->config_json)
                r = install_config(a, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *shim = skiff_path_join(a->bin_dir, SHIM_NAME);
        struct skiff_ctrdsetup_opts o = {
            .host_root = a->host_root,
            .config_path = a->containerd_config,
            .flavor = a->flavor,
            .shim_path = shim,
            .handler = a->handler,
            .dropin = a->dropin,
            .dry_run = a->dry_run,
            .report = say,
            .userdata = a,
        };
        struct skiff_ctrdsetup_result res = {0};
        r = skiff_ctrdsetup_install(&o, &res, err);
        if (r < 0)
                return skiff_error_wrap(err, "register the runtime with containerd");
        sayf(a, "containerd config `%s` (%s, version %d)%s", res.config_path,
             res.flavor == SKIFF_CTRDSETUP_K3S ? "k3s" : "containerd", res.version,
             res.changed ? "" : " already registers the runtime");
        if (!a->ctr)
                a->ctr = res.flavor == SKIFF_CTRDSETUP_K3S ? "k3s ctr" : "ctr";
        const char *sock = socket_for(a, res.flavor);
        if (res.changed) {
                r = restart(a, res.flavor, err);
                if (r < 0)
                        return skiff_error_wrap(err, "restart containerd");
        }
        if (!a->dry_run && (a->restart != RESTART_NONE || a->wait_socket)) {
                r = wait_cri(a, sock, err);
                if (r < 0)
                        return r;
        }
        if (!a->no_image && a->stub_image) {
                r = import_stub(a, sock, err);
                if (r < 0)
                        return skiff_error_wrap(err, "import the stub image");
        } else if (!a->no_image) {
                sayf(a, "no stub image archive (--stub-image): skipping the import of " STUB_REF);
        }
        if (!a->no_label)
                r = label(a, err);
        return r;
}

static int do_uninstall(struct node_args *a, skiff_err_t *err)
{
        int r = 0;
        if (!a->no_label)
                r = label(a, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *shim = skiff_path_join(a->bin_dir, SHIM_NAME);
        struct skiff_ctrdsetup_opts o = {
            .host_root = a->host_root,
            .config_path = a->containerd_config,
            .flavor = a->flavor,
            .shim_path = shim,
            .handler = a->handler,
            .dropin = a->dropin,
            .dry_run = a->dry_run,
            .report = say,
            .userdata = a,
        };
        struct skiff_ctrdsetup_result res = {0};
        r = skiff_ctrdsetup_uninstall(&o, &res, err);
        if (r < 0)
                return skiff_error_wrap(err, "deregister the runtime from containerd");
        if (res.changed) {
                r = restart(a, res.flavor, err);
                if (r < 0)
                        return skiff_error_wrap(err, "restart containerd");
        }
        if (!a->keep_binaries)
                r = uninstall_binaries(a, err);
        if (r >= 0 && a->purge) {
                _cleanup_free_ char *cfg = in_root(a, NODE_CONFIG), *stub = in_root(a, STUB_DEST);
                r = remove_file(a, cfg, NODE_CONFIG, err);
                if (r >= 0)
                        r = remove_file(a, stub, STUB_DEST, err);
        }
        return r;
}

static char *self_dir(void)
{
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n <= 0)
                return xstrdup(".");
        buf[n] = '\0';
        return skiff_path_dirname(buf);
}

int skiff_cli_node(int argc, char **argv)
{
        enum {
                O_HOST_ROOT = 256,
                O_BIN_DIR,
                O_CTRD_CONFIG,
                O_DROPIN,
                O_FLAVOR,
                O_RESTART,
                O_UNIT,
                O_CONFIG_JSON,
                O_WAIT_SOCKET,
                O_WAIT_TIMEOUT,
                O_STUB,
                O_CTR,
                O_HANDLER,
                O_SOURCE,
                O_HOST_EXEC,
                O_DRY_RUN,
                O_NO_LABEL,
                O_NO_IMAGE,
                O_KEEP,
                O_PURGE,
        };
        static const struct option opts[] = {
            {"host-root", required_argument, NULL, O_HOST_ROOT},
            {"bin-dir", required_argument, NULL, O_BIN_DIR},
            {"containerd-config", required_argument, NULL, O_CTRD_CONFIG},
            {"dropin", required_argument, NULL, O_DROPIN},
            {"flavor", required_argument, NULL, O_FLAVOR},
            {"restart", required_argument, NULL, O_RESTART},
            {"systemd-unit", required_argument, NULL, O_UNIT},
            {"config-json", required_argument, NULL, O_CONFIG_JSON},
            {"wait-socket", required_argument, NULL, O_WAIT_SOCKET},
            {"wait-timeout", required_argument, NULL, O_WAIT_TIMEOUT},
            {"stub-image", required_argument, NULL, O_STUB},
            {"ctr", required_argument, NULL, O_CTR},
            {"handler", required_argument, NULL, O_HANDLER},
            {"source-dir", required_argument, NULL, O_SOURCE},
            {"host-exec", required_argument, NULL, O_HOST_EXEC},
            {"dry-run", no_argument, NULL, O_DRY_RUN},
            {"no-label", no_argument, NULL, O_NO_LABEL},
            {"no-image", no_argument, NULL, O_NO_IMAGE},
            {"keep-binaries", no_argument, NULL, O_KEEP},
            {"purge", no_argument, NULL, O_PURGE},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? SKIFF_EXIT_USAGE : SKIFF_EXIT_OK;
        }
        struct node_args a = {
            .host_root = "/",
            .bin_dir = "/usr/local/bin",
            .restart = RESTART_SYSTEMD,
            .wait_timeout = 120,
            .handler = "skiff",
        };
        if (strcmp(argv[1], "install") == 0)
                a.install = true;
        else if (strcmp(argv[1], "uninstall") != 0) {
                fprintf(stderr, "skiff node: unknown subcommand `%s`\n", argv[1]);
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_free_ char *source = NULL, *stub = NULL;
        _cleanup_error_ skiff_err_t err = NULL; /* before any `goto bad` (cleanup scope) */
        int c;
        optind = 1;
        argc--;
        argv++;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                uint64_t v;
                switch (c) {
                case O_HOST_ROOT:
                        a.host_root = optarg;
                        break;
                case O_BIN_DIR:
                        a.bin_dir = optarg;
                        break;
                case O_CTRD_CONFIG:
                        a.containerd_config = optarg;
                        break;
                case O_DROPIN:
                        a.dropin = optarg;
                        break;
                case O_FLAVOR:
                        if (skiff_ctrdsetup_parse_flavor(optarg, &a.flavor) < 0)
                                goto bad;
                        break;
                case O_RESTART:
                        if (strcmp(optarg, "systemd") == 0)
                                a.restart = RESTART_SYSTEMD;
                        else if (strcmp(optarg, "signal") == 0)
                                a.restart = RESTART_SIGNAL;
                        else if (strcmp(optarg, "none") == 0)
                                a.restart = RESTART_NONE;
                        else
                                goto bad;
                        break;
                case O_UNIT:
                        a.systemd_unit = optarg;
                        break;
                case O_CONFIG_JSON:
                        a.config_json = optarg;
                        break;
                case O_WAIT_SOCKET:
                        a.wait_socket = optarg;
                        break;
                case O_WAIT_TIMEOUT:
                        if (skiff_parse_u64(optarg, &v) < 0 || v > 3600)
                                goto bad;
                        a.wait_timeout = (long)v;
                        break;
                case O_STUB:
                        a.stub_image = optarg;
                        break;
                case O_CTR:
                        a.ctr = optarg;
                        break;
                case O_HANDLER:
                        a.handler = optarg;
                        break;
                case O_SOURCE:
                        a.source_dir = optarg;
                        break;
                case O_HOST_EXEC:
                        if (strcmp(optarg, "auto") == 0)
                                a.host_exec = HOST_EXEC_AUTO;
                        else if (strcmp(optarg, "nsenter") == 0)
                                a.host_exec = HOST_EXEC_NSENTER;
                        else if (strcmp(optarg, "chroot") == 0)
                                a.host_exec = HOST_EXEC_CHROOT;
                        else if (strcmp(optarg, "local") == 0)
                                a.host_exec = HOST_EXEC_LOCAL;
                        else
                                goto bad;
                        break;
                case O_DRY_RUN:
                        a.dry_run = true;
                        break;
                case O_NO_LABEL:
                        a.no_label = true;
                        break;
                case O_NO_IMAGE:
                        a.no_image = true;
                        break;
                case O_KEEP:
                        a.keep_binaries = true;
                        break;
                case O_PURGE:
                        a.purge = true;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind != argc || a.bin_dir[0] != '/' ||
            (a.containerd_config && a.containerd_config[0] != '/') ||
            (a.wait_socket && a.wait_socket[0] != '/'))
                goto bad;
        if (!a.source_dir)
                a.source_dir = source = self_dir();
        if (!a.stub_image) {
                _cleanup_free_ char *parent = skiff_path_dirname(a.source_dir);
                stub = skiff_path_join(parent, "share/skiff/stub-image.tar");
                if (access(stub, R_OK) == 0)
                        a.stub_image = stub;
        }
        a.host_exec = resolve_host_exec(&a);
        int r = a.install ? do_install(&a, &err) : do_uninstall(&a, &err);
        if (r < 0)
                return skiff_cli_fail(a.install ? "node install" : "node uninstall", err->msg);
        say(a.dry_run ? "dry run: nothing was changed" : "done", &a);
        return SKIFF_EXIT_OK;
bad:
        fprintf(stderr, "skiff node: invalid arguments (paths must be absolute)\n");
        usage(stderr);
        return SKIFF_EXIT_USAGE;
}
