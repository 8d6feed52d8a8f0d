/* Container lifecycle: the parent side of create / start / exec and the cgroup-backed
 * operations, plus the state file. The child side lives in container_child() below and in
 * oci/process.c.
 *
 * Process tree: the caller forks an intermediate, which joins the namespaces given by path and
 * clone()s the container process with CLONE_PARENT and the new-namespace flags, reports its pid
 * over the sync socket and exits; the caller reaps the intermediate by pid here. The container
 * process is therefore a direct child of the caller, in the right pid namespace. */
#include "oci/container.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stddef.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "oci/mounts.h"
#include "oci/namespaces.h"
#include "oci/process.h"
#include "oci/seccomp.h"
#include "oci/sync.h"
#include "oci/terminal.h"

#define STATE_FILE     "skiff-state.json"
#define STATE_MAX_SIZE (64u << 10)

struct skiff_container {
        char *id;
        char *bundle;
        char *rootfs;     /* absolute host path of the root filesystem */
        char *state_path; /* <bundle>/skiff-state.json */
        bool rootfs_mounted;
        struct skiff_cgroup *cg;
        pid_t pid;
        int pidfd; /* -EBADF when pidfd_open is unavailable */
        uint64_t start_time;
        int sync_fd; /* parent end of init's sync socket until start */
        bool started;
        bool destroyed;
        void *seccomp; /* the container's compiled profile (scmp_filter_ctx), reused by exec */
};

/* What a child needs; lives on the caller's stack and is copied into the child by clone. */
struct child_args {
        const struct skiff_spec *spec; /* NULL for exec */
        const char *rootfs;
        struct skiff_process_plan plan;
        struct skiff_ns_fds ns;
        int root_fd; /* exec: /proc/<init>/root */
        int clone_flags;
        bool new_time, new_userns, new_cgroupns, new_uts;
        int devnull;
};

static void child_args_done(struct child_args *a)
{
        skiff_ns_fds_close(&a->ns);
        skiff_closep(&a->root_fd);
        skiff_closep(&a->devnull);
        a->root_fd = a->devnull = -EBADF;
}

/* ---- small helpers -------------------------------------------------------------------- */

static int waitpid_retry(pid_t pid, int *status)
{
        int st = 0;
        pid_t r;
        do
                r = waitpid(pid, &st, __WALL);
        while (r < 0 && errno == EINTR);
        if (status)
                *status = st;
        return r < 0 ? -errno : 0;
}

static void kill_and_reap(pid_t pid)
{
        if (pid <= 0)
                return;
        (void)kill(pid, SIGKILL); /* our child: no reuse possible before we reap it */
        (void)waitpid_retry(pid, NULL);
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
static int read_start_time(pid_t pid, uint64_t *out)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *buf = NULL;
        skiff_err_t e = NULL;
        int r = skiff_fs_read_file(path, 4096, &buf, NULL, &e);
        skiff_error_free(&e);
        if (r < 0)
                return r;
        char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        /* Fields are space-separated after the comm's ')'; start time is field 22. */
        for (int field = 3; field <= 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1)
                return -EBADMSG;
        *out = v;
        return 0;
}

static int pidfd_open_pid(pid_t pid)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd; /* pidfds are always close-on-exec */
}

static int signal_init(const struct skiff_container *c, int sig)
{
        if (c->pidfd >= 0) {
                if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) == 0)
                        return 0;
                if (errno != ENOSYS)
                        return -errno;
        }
        return kill(c->pid, sig) < 0 ? -errno : 0;
}

/* Writes /proc/<pid>/oom_score_adj. Lowering the score needs CAP_SYS_RESOURCE, which the
 * runtime may lack: then the child keeps the (higher) score it inherited. */
static int set_oom_score_adj(pid_t pid, int value, skiff_err_t *err)
{
        char path[64], val[16];
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        snprintf(val, sizeof(val), "%d", value);
        skiff_err_t e = NULL;
        int r = skiff_fs_write_string(path, val, &e);
        if (r == -EPERM || r == -EACCES) {
                _cleanup_free_ char *cur = NULL;
                int64_t curv = 0;
                if (skiff_fs_read_file(path, 64, &cur, NULL, &e) >= 0 &&
                    (cur[strcspn(cur, "\n")] = '\0', skiff_parse_i64(cur, &curv) == 0) &&
                    value < curv) {
                        log_debug("msg=\"cannot lower oom_score_adj to %d, keeping %" PRId64
                                  "\" pid=%d",
                                  value, curv, (int)pid);
                        skiff_error_free(&e);
                        return 0;
                }
        }
        if (r < 0) {
                r = skiff_error_set(err, -r, "process.oomScoreAdj: %s", skiff_error_msg(e));
                skiff_error_free(&e);
                return r;
        }
        return 0;
}

/* ---- children ------------------------------------------------------------------------- */

static _Noreturn void child_fail(const struct child_args *a, skiff_err_t *err)
{
        skiff_process_fail(a->plan.sync_fd, err, SKIFF_PROCESS_EXIT_SETUP);
}

static int set_sysctls(const struct skiff_spec *spec, skiff_err_t *err)
{
        char **kv = spec->linux_.sysctl;
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
                const char *key = kv[i];
                if (!*key || strstr(key, "..") || key[0] == '.' || key[0] == '/')
                        return skiff_error_set(err, EINVAL, "linux.sysctl: invalid key `%s`", key);
                _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
                for (char *p = path + strlen("/proc/sys/"); *p; p++)
                        if (*p == '.')
                                *p = '/';
                skiff_err_t e = NULL;
                int r = skiff_fs_write_string(path, kv[i + 1], &e);
                if (r < 0) {
                        r = skiff_error_set(err, -r, "linux.sysctl: set `%s` to `%s`: %s", key,
                                            kv[i + 1], strerror(-r));
                        skiff_error_free(&e);
                        return r;
                }
        }
        return 0;
}

static int set_hostname(const struct child_args *a, skiff_err_t *err)
{
        const struct skiff_spec *spec = a->spec;
        if (!a->new_uts)
                return 0; /* the hostname belongs to whoever owns the joined (or host) uts ns */
        if (spec->hostname && *spec->hostname &&
            sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return skiff_error_set_errno(err, errno, "hostname: sethostname `%s`",
                                             spec->hostname);
        if (spec->domainname && *spec->domainname &&
            setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
                return skiff_error_set_errno(err, errno, "domainname: setdomainname `%s`",
                                             spec->domainname);
        return 0;
}

static int setup_terminal(const struct child_args *a, bool console, skiff_err_t *err)
{
        const struct skiff_spec_process *p = a->plan.proc;
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        uint32_t rows = p->has_console_size ? p->console_height : 0;
        uint32_t cols = p->has_console_size ? p->console_width : 0;
        int r = skiff_terminal_open(rows, cols, &master, &slave, err);
        if (r >= 0)
                r = skiff_terminal_setup_slave(master, slave, console, err);
        if (r < 0)
                return skiff_error_wrap(err, "process.terminal");
        r = skiff_sync_send(a->plan.sync_fd, SKIFF_SYNC_CONSOLE, 0, NULL, master);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "send the console fd");
        return 0;
}

/* The container process, init (a->spec != NULL) or exec'd. Never returns. */
static _Noreturn void container_child(struct child_args *a)
{
        skiff_err_t err = NULL;
        struct skiff_sync_msg msg;
        const struct skiff_spec_process *proc = a->plan.proc;
        bool init = a->spec != NULL;

        skiff_process_reset_signals();
        if (skiff_sync_expect(a->plan.sync_fd, SKIFF_SYNC_GO, &msg, NULL, "wait for the runtime",
                              &err) < 0)
                _exit(SKIFF_PROCESS_EXIT_SETUP); /* the parent is gone or failed */
        if (a->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
                skiff_error_set_errno(&err, errno, "become root in the new user namespace");
                child_fail(a, &err);
        }
        if (a->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
                skiff_error_set_errno(&err, errno, "create cgroup namespace");
                child_fail(a, &err);
        }
        if (skiff_process_cloexec_fds(&err) < 0)
                child_fail(a, &err);
        if (setsid() < 0) {
                skiff_error_set_errno(&err, errno, "setsid");
                child_fail(a, &err);
        }
        if (!proc->terminal && skiff_process_setup_stdio(&a->plan, a->devnull, &err) < 0)
                child_fail(a, &err);
        if (init) {
                if (skiff_mounts_setup_rootfs(a->spec, a->rootfs, &err) < 0)
                        child_fail(a, &err);
        }
        if (proc->terminal && setup_terminal(a, init, &err) < 0)
                child_fail(a, &err);
        if (init) {
                if (set_hostname(a, &err) < 0 || set_sysctls(a->spec, &err) < 0 ||
                    skiff_process_ensure_cwd(proc, &err) < 0 ||
                    skiff_mounts_finalize(a->spec, &err) < 0)
                        child_fail(a, &err);
        }
        if (skiff_process_set_rlimits(proc, &err) < 0)
                child_fail(a, &err);
        skiff_closep(&a->devnull);
        skiff_process_exec(&a->plan);
}

/* The intermediate: joins namespaces by fd, clones the container process as a sibling and
 * reports its pid. Never returns. */
static _Noreturn void intermediate(struct child_args *a)
{
        skiff_err_t err = NULL;
        skiff_process_reset_signals();
        if (skiff_namespaces_join(&a->ns, a->new_time, &err) < 0)
                child_fail(a, &err);
        if (a->root_fd >= 0 && (fchdir(a->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)) {
                skiff_error_set_errno(&err, errno, "enter the container's root");
                child_fail(a, &err);
        }
        /* With a NULL stack, clone behaves like fork (copy-on-write). */
        long pid = syscall(SYS_clone, (unsigned long)a->clone_flags | CLONE_PARENT | SIGCHLD, NULL,
                           NULL, NULL, NULL);
        if (pid < 0) {
                skiff_error_set_errno(&err, errno, "clone the container process");
                child_fail(a, &err);
        }
        if (pid == 0)
                container_child(a);
        if (skiff_sync_send(a->plan.sync_fd, SKIFF_SYNC_PID, (int32_t)pid, NULL, -1) < 0) {
                (void)kill((pid_t)pid, SIGKILL);
                _exit(SKIFF_PROCESS_EXIT_SETUP);
        }
        _exit(0);
}

/* Parent side of the spawn: fork the intermediate, collect the container process's pid, reap
 * the intermediate. *ret_sock is the parent end of the sync socket. */
static int spawn(struct child_args *a, pid_t *ret_pid, int *ret_sock, skiff_err_t *err)
{
        int sp[2];
        int r = skiff_sync_pair(sp, err);
        if (r < 0)
                return r;
        _cleanup_close_ int sock = sp[0];
        a->plan.sync_fd = sp[1];
        pid_t helper = fork();
        if (helper < 0) {
                r = -errno;
                close(sp[1]);
                return skiff_error_set_errno(err, -r, "fork");
        }
        if (helper == 0) {
                close(sock);
                intermediate(a);
        }
        close(sp[1]);
        a->plan.sync_fd = -EBADF;
        struct skiff_sync_msg msg;
        r = skiff_sync_expect(sock, SKIFF_SYNC_PID, &msg, NULL, "start the container process",
                              err);
        int status = 0;
        int w = waitpid_retry(helper, &status);
        if (r < 0)
                return r;
        if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                kill_and_reap(msg.value);
                return skiff_error_set(err, EPROTO, "the intermediate process failed (status %d)",
                                       status);
        }
        *ret_pid = msg.value;
        *ret_sock = TAKE_FD(sock);
        return 0;
}

/* ---- device rules --------------------------------------------------------------------- */

/* Always allowed, after the spec's own rules (as runc does). */
static const struct skiff_spec_device_rule default_rules[] = {
        {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
        {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"},    {true, 'c', 1, 8, "rwm"},
        {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},    {true, 'c', 5, 1, "rwm"},
        {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}, {true, 'c', 10, 200, "rwm"},
};

/* A shallow copy of r (or empty resources) whose device list is: r's rules, the defaults, an
 * allow rule per linux.devices entry. Only the devices array is owned (free it). */
static struct skiff_spec_resources with_device_rules(const struct skiff_spec *spec,
                                                     const struct skiff_spec_resources *r)
{
        struct skiff_spec_resources out = {0};
        if (r)
                out = *r;
        size_t n_own = r ? r->n_devices : 0;
        size_t n_dev = spec ? spec->linux_.n_devices : 0;
        size_t n = n_own + SKIFF_ARRAY_SIZE(default_rules) + n_dev;
        struct skiff_spec_device_rule *v = xcalloc(n, sizeof(*v));
        size_t k = 0;
        for (size_t i = 0; i < n_own; i++)
                v[k++] = r->devices[i];
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(default_rules); i++)
                v[k++] = default_rules[i];
        for (size_t i = 0; i < n_dev; i++) {
                const struct skiff_spec_device *d = &spec->linux_.devices[i];
                if (d->type == 'p')
                        continue; /* fifos are not subject to the device controller */
                v[k++] = (struct skiff_spec_device_rule){true, d->type == 'u' ? 'c' : d->type,
                                                         d->major, d->minor, "rwm"};
        }
        out.devices = v;
        out.n_devices = k;
        return out;
}

/* ---- state file ----------------------------------------------------------------------- */

static int write_state(const struct skiff_container *c, skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(true);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, "id", c->id);
        skiff_json_gen_kv_i64(g, "pid", c->pid);
        skiff_json_gen_kv_u64(g, "pid_start_time", c->start_time);
        skiff_json_gen_kv_string(g, "cgroup_path", c->cg ? skiff_cgroup_path(c->cg) : NULL);
        skiff_json_gen_kv_string(g, "rootfs", c->rootfs);
        skiff_json_gen_kv_bool(g, "rootfs_mounted", c->rootfs_mounted);
        skiff_json_gen_map_close(g);
        _cleanup_free_ char *doc = NULL;
        size_t len = 0;
        int r = skiff_json_gen_finish(g, &doc, &len, err);
        if (r >= 0)
                r = skiff_fs_write_file_atomic(c->state_path, doc, len, 0600, false, err);
        if (r < 0)
                return skiff_error_wrap(err, "write state of container `%s`", c->id);
        return 0;
}

/* ---- create / start ------------------------------------------------------------------- */

void skiff_container_free(struct skiff_container *c)
{
        if (!c)
                return;
        skiff_closep(&c->pidfd);
        skiff_closep(&c->sync_fd);
        skiff_cgroup_free(c->cg);
        if (c->seccomp)
                seccomp_release(c->seccomp);
        free(c->id);
        free(c->bundle);
        free(c->rootfs);
        free(c->state_path);
        free(c);
}

static inline void container_freep(struct skiff_container **c)
{
        skiff_container_free(*c);
}

static char *resolve_rootfs(const struct skiff_container_config *cfg)
{
        const char *root = cfg->spec->root_path;
        if (cfg->n_rootfs > 0 || !root || !*root)
                return skiff_path_join(cfg->bundle, "rootfs");
        if (root[0] == '/')
                return skiff_path_clean(root);
        _cleanup_free_ char *j = skiff_path_join(cfg->bundle, root);
        return skiff_path_clean(j);
}

static int prepare_init(const struct skiff_container_config *cfg, struct skiff_container *c,
                        struct child_args *a, skiff_err_t *err)
{
        const struct skiff_spec *spec = cfg->spec;
        int r = skiff_process_plan_init(&a->plan, &spec->process, err);
        if (r < 0)
                return r;
        a->spec = spec;
        a->rootfs = c->rootfs;
        a->plan.seccomp = c->seccomp;
        a->plan.barrier = true;
        a->plan.stdio[0] = cfg->stdio.in;
        a->plan.stdio[1] = cfg->stdio.out;
        a->plan.stdio[2] = cfg->stdio.err;
        r = skiff_namespaces_new_flags(spec, &a->clone_flags, err);
        if (r < 0)
                return r;
        if (!skiff_namespaces_is_new(spec, SKIFF_NS_MOUNT))
                return skiff_error_set(err, EINVAL,
                                       "linux.namespaces: a new mount namespace is required");
        a->new_userns = skiff_namespaces_is_new(spec, SKIFF_NS_USER);
        a->new_cgroupns = skiff_namespaces_is_new(spec, SKIFF_NS_CGROUP);
        a->new_time = skiff_namespaces_is_new(spec, SKIFF_NS_TIME);
        a->new_uts = skiff_namespaces_is_new(spec, SKIFF_NS_UTS);
        r = skiff_namespaces_open_paths(spec, &a->ns, err);
        if (r < 0)
                return r;
        a->devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (a->devnull < 0)
                return skiff_error_set_errno(err, errno, "open `/dev/null`");
        return 0;
}

/* After the clone: cgroup, id maps, oom score, then let the child set up and wait for it. */
static int finish_init(const struct skiff_container_config *cfg, struct skiff_container *c,
                       const struct child_args *a, int *console_fd, skiff_err_t *err)
{
        const struct skiff_spec *spec = cfg->spec;
        int r = skiff_cgroup_enter(c->cg, c->pid, err);
        if (r >= 0 && a->new_userns)
                r = skiff_namespaces_write_idmaps(c->pid, spec, err);
        if (r >= 0 && spec->process.has_oom_score_adj)
                r = set_oom_score_adj(c->pid, spec->process.oom_score_adj, err);
        if (r < 0)
                return r;
        r = skiff_sync_send(c->sync_fd, SKIFF_SYNC_GO, 0, NULL, -1);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "release container init");
        struct skiff_sync_msg msg;
        if (spec->process.terminal) {
                r = skiff_sync_expect(c->sync_fd, SKIFF_SYNC_CONSOLE, &msg, console_fd,
                                      "container init", err);
                if (r < 0)
                        return r;
        }
        r = skiff_sync_expect(c->sync_fd, SKIFF_SYNC_READY, &msg, NULL, "container init", err);
        if (r < 0)
                return r;
        r = read_start_time(c->pid, &c->start_time);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "read start time of pid %d", (int)c->pid);
        return write_state(c, err);
}

int skiff_container_create(const struct skiff_container_config *cfg, struct skiff_container **out,
                           int *console_fd, skiff_err_t *err)
{
        if (console_fd)
                *console_fd = -EBADF;
        if (!cfg->id || !*cfg->id || !cfg->bundle || cfg->bundle[0] != '/' || !cfg->spec)
                return skiff_error_set(err, EINVAL, "create container: id, absolute bundle and "
                                                    "spec are required");
        if (!cfg->spec->has_process)
                return skiff_error_set(err, EINVAL, "create container `%s`: the spec has no "
                                                    "`process`",
                                       cfg->id);
        __attribute__((cleanup(container_freep))) struct skiff_container *c =
                xcalloc(1, sizeof(*c));
        c->id = xstrdup(cfg->id);
        c->bundle = xstrdup(cfg->bundle);
        c->rootfs = resolve_rootfs(cfg);
        c->state_path = skiff_path_join(cfg->bundle, STATE_FILE);
        c->pidfd = c->sync_fd = -EBADF;

        struct child_args a = {.root_fd = -EBADF, .devnull = -EBADF, .plan.sync_fd = -EBADF};
        skiff_ns_fds_init(&a.ns);
        _cleanup_close_ int console = -EBADF;
        int r = 0;
        if (cfg->n_rootfs > 0) {
                r = skiff_fs_mkdir_p(c->rootfs, 0711, err);
                if (r >= 0)
                        r = skiff_mounts_rootfs_mount(c->rootfs, cfg->rootfs, cfg->n_rootfs, err);
                if (r < 0)
                        goto fail;
                c->rootfs_mounted = true;
        }
        const struct skiff_spec *spec = cfg->spec;
        struct skiff_spec_resources res = with_device_rules(
                spec, spec->linux_.has_resources ? &spec->linux_.resources : NULL);
        r = skiff_cgroup_create(spec->linux_.cgroups_path, cfg->id, &res, &c->cg, err);
        free(res.devices);
        if (r < 0)
                goto fail;
        if (spec->linux_.has_seccomp) {
                r = skiff_seccomp_compile(&spec->linux_.seccomp, &c->seccomp, err);
                if (r < 0)
                        goto fail;
        }
        r = prepare_init(cfg, c, &a, err);
        if (r >= 0)
                r = spawn(&a, &c->pid, &c->sync_fd, err);
        child_args_done(&a);
        if (r < 0)
                goto fail;
        r = pidfd_open_pid(c->pid);
        c->pidfd = r >= 0 ? r : -EBADF;
        r = finish_init(cfg, c, &a, &console, err);
        if (r < 0)
                goto fail;
        *out = TAKE_PTR(c);
        if (console_fd)
                *console_fd = TAKE_FD(console);
        return 0;
fail:
        child_args_done(&a);
        kill_and_reap(c->pid);
        c->pid = 0;
        skiff_err_t ignored = NULL;
        if (c->cg)
                (void)skiff_cgroup_remove(c->cg, &ignored);
        skiff_error_free(&ignored);
        if (c->rootfs_mounted)
                (void)skiff_mounts_rootfs_umount(c->rootfs, &ignored);
        skiff_error_free(&ignored);
        (void)unlink(c->state_path);
        return skiff_error_wrap(err, "create container `%s`", cfg->id);
}

pid_t skiff_container_pid(const struct skiff_container *c)
{
        return c->pid;
}

const char *skiff_container_id(const struct skiff_container *c)
{
        return c->id;
}

int skiff_container_start(struct skiff_container *c, skiff_err_t *err)
{
        if (c->started || c->sync_fd < 0)
                return skiff_error_set(err, EBUSY, "container `%s` was already started", c->id);
        c->started = true;
        _cleanup_close_ int sock = TAKE_FD(c->sync_fd);
        int r = skiff_sync_send(sock, SKIFF_SYNC_START, 0, NULL, -1);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "start container `%s`", c->id);
        struct skiff_sync_msg msg;
        r = skiff_sync_recv(sock, &msg, NULL, err);
        if (r < 0)
                return skiff_error_wrap(err, "start container `%s`", c->id);
        if (msg.type == SKIFF_SYNC_EOF)
                return 0;
        if (msg.type == SKIFF_SYNC_ERROR)
                return skiff_error_set(err, msg.value > 0 ? msg.value : EIO, "%s", msg.text);
        return skiff_error_set(err, EPROTO, "start container `%s`: unexpected sync message",
                               c->id);
}

/* ---- exec ----------------------------------------------------------------------------- */

static int prepare_exec(struct skiff_container *c, const struct skiff_exec_config *cfg,
                        struct child_args *a, skiff_err_t *err)
{
        int r = skiff_process_plan_init(&a->plan, cfg->process, err);
        if (r < 0)
                return r;
        a->plan.seccomp = c->seccomp;
        a->plan.stdio[0] = cfg->stdio.in;
        a->plan.stdio[1] = cfg->stdio.out;
        a->plan.stdio[2] = cfg->stdio.err;
        r = skiff_namespaces_open_pid(c->pid, &a->ns, err);
        if (r < 0)
                return r;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root", (int)c->pid);
        a->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (a->root_fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        /* The fds above must belong to our init, not to a process that reused its pid. */
        if (signal_init(c, 0) < 0)
                return skiff_error_set(err, ESRCH, "container `%s` is not running", c->id);
        a->devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (a->devnull < 0)
                return skiff_error_set_errno(err, errno, "open `/dev/null`");
        return 0;
}

static int finish_exec(struct skiff_container *c, const struct skiff_exec_config *cfg, pid_t pid,
                       int sock, int *console_fd, skiff_err_t *err)
{
        int r = skiff_cgroup_enter(c->cg, pid, err);
        if (r >= 0 && cfg->process->has_oom_score_adj)
                r = set_oom_score_adj(pid, cfg->process->oom_score_adj, err);
        if (r < 0)
                return r;
        r = skiff_sync_send(sock, SKIFF_SYNC_GO, 0, NULL, -1);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "release the exec process");
        struct skiff_sync_msg msg;
        if (cfg->process->terminal) {
                r = skiff_sync_expect(sock, SKIFF_SYNC_CONSOLE, &msg, console_fd, "exec process",
                                      err);
                if (r < 0)
                        return r;
        }
        r = skiff_sync_recv(sock, &msg, NULL, err);
        if (r < 0)
                return r;
        if (msg.type == SKIFF_SYNC_EOF)
                return 0;
        if (msg.type == SKIFF_SYNC_ERROR)
                return skiff_error_set(err, msg.value > 0 ? msg.value : EIO, "%s", msg.text);
        return skiff_error_set(err, EPROTO, "exec process: unexpected sync message");
}

int skiff_container_exec(struct skiff_container *c, const struct skiff_exec_config *cfg, pid_t *pid,
                         int *console_fd, skiff_err_t *err)
{
        *pid = 0;
        if (console_fd)
                *console_fd = -EBADF;
        if (c->destroyed || c->pid <= 0)
                return skiff_error_set(err, ESRCH, "container `%s` is not running", c->id);
        struct child_args a = {.root_fd = -EBADF, .devnull = -EBADF, .plan.sync_fd = -EBADF};
        skiff_ns_fds_init(&a.ns);
        pid_t child = 0;
        _cleanup_close_ int sock = -EBADF, console = -EBADF;
        int r = prepare_exec(c, cfg, &a, err);
        if (r >= 0)
                r = spawn(&a, &child, &sock, err);
        child_args_done(&a);
        if (r >= 0)
                r = finish_exec(c, cfg, child, sock, &console, err);
        if (r < 0) {
                /* Not handed to the caller yet: nobody else will reap it. */
                kill_and_reap(child);
                return skiff_error_wrap(err, "exec in container `%s`", c->id);
        }
        *pid = child;
        if (console_fd)
                *console_fd = TAKE_FD(console);
        return 0;
}

/* ---- signals and cgroup operations ---------------------------------------------------- */

int skiff_container_kill(struct skiff_container *c, int sig, bool all, skiff_err_t *err)
{
        if (all) {
                if (!c->cg)
                        return skiff_error_set(err, ESRCH, "container `%s` has no cgroup", c->id);
                int r = skiff_cgroup_kill(c->cg, sig, err);
                return r < 0 ? skiff_error_wrap(err, "kill container `%s`", c->id) : 0;
        }
        if (c->pid <= 0 || c->destroyed)
                return skiff_error_set(err, ESRCH, "container `%s` is not running", c->id);
        int r = signal_init(c, sig);
        if (r == -ESRCH)
                return skiff_error_set(err, ESRCH, "container `%s`: init process is not running",
                                       c->id);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "kill init of container `%s` with signal %d",
                                             c->id, sig);
        return 0;
}

#define REQUIRE_CGROUP(c, err)                                                                     \
        do {                                                                                       \
                if (!(c)->cg || (c)->destroyed)                                                    \
                        return skiff_error_set(err, ESRCH, "container `%s` has no cgroup",         \
                                               (c)->id);                                           \
        } while (0)

int skiff_container_pause(struct skiff_container *c, skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_freeze(c->cg, true, err);
}

int skiff_container_resume(struct skiff_container *c, skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_freeze(c->cg, false, err);
}

int skiff_container_pids(struct skiff_container *c, pid_t **pids, size_t *n, skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_pids(c->cg, pids, n, err);
}

int skiff_container_stats(struct skiff_container *c, struct skiff_cgroup_stats *out,
                          skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_stats(c->cg, out, err);
}

int skiff_container_update(struct skiff_container *c, const struct skiff_spec_resources *r,
                           skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        if (r->n_devices == 0)
                return skiff_cgroup_update(c->cg, r, err);
        /* New device rules replace the old ones: keep the defaults allowed. */
        struct skiff_spec_resources res = with_device_rules(NULL, r);
        int ret = skiff_cgroup_update(c->cg, &res, err);
        free(res.devices);
        return ret;
}

int skiff_container_oom_fd(struct skiff_container *c, int *fd, skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_oom_fd(c->cg, fd, err);
}

int skiff_container_oom_check(struct skiff_container *c, bool *oom_killed, skiff_err_t *err)
{
        REQUIRE_CGROUP(c, err);
        return skiff_cgroup_oom_check(c->cg, oom_killed, err);
}

/* ---- teardown ------------------------------------------------------------------------- */

static int remove_cgroup(struct skiff_cgroup *cg, skiff_err_t *err)
{
        int r = skiff_cgroup_kill(cg, SIGKILL, err);
        if (r >= 0)
                r = skiff_cgroup_remove(cg, err);
        return r;
}

static int remove_state_file(const char *path, skiff_err_t *err)
{
        if (unlink(path) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove `%s`", path);
        return 0;
}

int skiff_container_destroy(struct skiff_container *c, skiff_err_t *err)
{
        if (c->destroyed)
                return 0;
        /* An init still at the exec barrier exits when it sees EOF. */
        skiff_closep(&c->sync_fd);
        c->sync_fd = -EBADF;
        if (c->pid > 0 && c->pidfd >= 0)
                (void)signal_init(c, SIGKILL); /* ESRCH: already gone */
        int r = 0;
        if (c->cg)
                r = remove_cgroup(c->cg, err);
        if (r >= 0 && c->rootfs_mounted) {
                r = skiff_mounts_rootfs_umount(c->rootfs, err);
                if (r >= 0)
                        c->rootfs_mounted = false;
        }
        if (r >= 0)
                r = remove_state_file(c->state_path, err);
        if (r < 0)
                return skiff_error_wrap(err, "destroy container `%s`", c->id);
        c->destroyed = true;
        return 0;
}

struct state {
        char *id, *cgroup_path, *rootfs;
        int64_t pid;
        uint64_t start_time;
        bool rootfs_mounted;
};

static void state_clear(struct state *s)
{
        free(s->id);
        free(s->cgroup_path);
        free(s->rootfs);
}

static int read_state(const char *path, struct state *s, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(path, STATE_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;
        _cleanup_json_ struct skiff_json *doc = NULL;
        r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return skiff_error_wrap(err, "parse `%s`", path);
        static const struct skiff_json_field fields[] = {
                {"id", skiff_json_dec_string, offsetof(struct state, id), true},
                {"pid", skiff_json_dec_i64, offsetof(struct state, pid), true},
                {"pid_start_time", skiff_json_dec_u64, offsetof(struct state, start_time), true},
                {"cgroup_path", skiff_json_dec_string, offsetof(struct state, cgroup_path), false},
                {"rootfs", skiff_json_dec_string, offsetof(struct state, rootfs), false},
                {"rootfs_mounted", skiff_json_dec_bool, offsetof(struct state, rootfs_mounted),
                 false},
                {NULL},
        };
        r = skiff_json_decode_object(skiff_json_root(doc), "", fields, s, true, err);
        if (r < 0)
                return skiff_error_wrap(err, "`%s`", path);
        return 0;
}

/* SIGKILLs pid when it is still the process that was recorded (same start time). */
static void kill_recorded(pid_t pid, uint64_t start_time)
{
        _cleanup_close_ int pidfd = pidfd_open_pid(pid);
        uint64_t now = 0;
        if (pidfd < 0 || read_start_time(pid, &now) < 0 || now != start_time)
                return;
        (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

int skiff_container_cleanup(const char *bundle, const char *id, pid_t *init_pid, skiff_err_t *err)
{
        if (init_pid)
                *init_pid = 0;
        _cleanup_free_ char *path = skiff_path_join(bundle, STATE_FILE);
        _cleanup_free_ char *default_rootfs = skiff_path_join(bundle, "rootfs");
        struct state s = {0};
        int r = read_state(path, &s, err);
        if (r == -ENOENT) {
                skiff_error_free(err);
                r = 0;
                s = (struct state){.rootfs = xstrdup(default_rootfs), .rootfs_mounted = true};
        } else if (r < 0) {
                state_clear(&s);
                return skiff_error_wrap(err, "clean up container `%s`", id);
        } else if (id && s.id && strcmp(id, s.id) != 0) {
                r = skiff_error_set(err, EINVAL, "clean up container `%s`: `%s` belongs to `%s`",
                                    id, path, s.id);
                state_clear(&s);
                return r;
        }
        if (s.pid > 0 && s.pid <= INT32_MAX)
                kill_recorded((pid_t)s.pid, s.start_time);
        if (s.cgroup_path) {
                struct skiff_cgroup *cg = NULL;
                r = skiff_cgroup_open(s.cgroup_path, &cg, err);
                if (r >= 0)
                        r = remove_cgroup(cg, err);
                skiff_cgroup_free(cg);
                if (r == -ENOENT) {
                        skiff_error_free(err);
                        r = 0;
                }
        }
        if (r >= 0 && s.rootfs_mounted)
                r = skiff_mounts_rootfs_umount(s.rootfs ? s.rootfs : default_rootfs, err);
        if (r >= 0)
                r = remove_state_file(path, err);
        if (r >= 0 && init_pid)
                *init_pid = (pid_t)s.pid;
        state_clear(&s);
        if (r < 0)
                return skiff_error_wrap(err, "clean up container `%s`", id ? id : "");
        return 0;
}
