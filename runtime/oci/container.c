/* Container lifecycle: create / start / exec, signals, the cgroup-backed operations and
 * destroy. Spawning lives in container-spawn.c, the state file in container-state.c.
 *
 * Process tree: the caller forks an intermediate, which joins the namespaces given by path and
 * clone()s the container process with CLONE_PARENT and the new-namespace flags, reports its pid
 * over the sync socket and exits; the intermediate is reaped here by pid. The container process
 * is therefore a direct child of the caller, in the right pid namespace. */
#include "oci/container.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "oci/container-internal.h"
#include "oci/mounts.h"
#include "oci/seccomp.h"
#include "oci/sync.h"

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
                        struct skiff_container_child *a, skiff_err_t *err)
{
        const struct skiff_spec *spec = cfg->spec;
        int r = skiff_exec_plan_init(&a->plan, &spec->process, err);
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
                       const struct skiff_container_child *a, int *console_fd, skiff_err_t *err)
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
        r = skiff_container_start_time(c->pid, &c->start_time);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "read start time of pid %d", (int)c->pid);
        return skiff_container_write_state(c, err);
}

int skiff_container_create(const struct skiff_container_config *cfg, struct skiff_container **out,
                           int *console_fd, skiff_err_t *err)
{
        if (console_fd)
                *console_fd = -1;
        if (!cfg->id || !*cfg->id || !cfg->bundle || cfg->bundle[0] != '/' || !cfg->spec)
                return skiff_error_set(err, EINVAL,
                                       "create container: id, absolute bundle and "
                                       "spec are required");
        if (!cfg->spec->has_process)
                return skiff_error_set(err, EINVAL,
                                       "create container `%s`: the spec has no "
                                       "`process`",
                                       cfg->id);
        __attribute__((cleanup(container_freep))) struct skiff_container *c =
            xcalloc(1, sizeof(*c));
        c->id = xstrdup(cfg->id);
        c->bundle = xstrdup(cfg->bundle);
        c->rootfs = resolve_rootfs(cfg);
        c->state_path = skiff_path_join(cfg->bundle, SKIFF_CONTAINER_STATE_FILE);
        c->pidfd = c->sync_fd = -EBADF;

        struct skiff_container_child a = {.root_fd = -EBADF,
                                          .devnull = -EBADF,
                                          .plan.sync_fd = -EBADF,
                                          .pre_pivot = cfg->pre_pivot,
                                          .pre_pivot_data = cfg->pre_pivot_data};
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
        struct skiff_spec_resources res =
            with_device_rules(spec, spec->linux_.has_resources ? &spec->linux_.resources : NULL);
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
                r = skiff_container_spawn(&a, &c->pid, &c->sync_fd, err);
        skiff_container_child_done(&a);
        if (r < 0)
                goto fail;
        r = skiff_container_pidfd_open(c->pid);
        c->pidfd = r >= 0 ? r : -EBADF;
        r = finish_init(cfg, c, &a, &console, err);
        if (r < 0)
                goto fail;
        *out = TAKE_PTR(c);
        if (console_fd)
                *console_fd = console >= 0 ? TAKE_FD(console) : -1;
        return 0;
fail:
        skiff_container_child_done(&a);
        skiff_container_kill_and_reap(c->pid);
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
        return skiff_error_set(err, EPROTO, "start container `%s`: unexpected sync message", c->id);
}

static int prepare_exec(struct skiff_container *c, const struct skiff_exec_config *cfg,
                        struct skiff_container_child *a, skiff_err_t *err)
{
        int r = skiff_exec_plan_init(&a->plan, cfg->process, err);
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
                *console_fd = -1;
        if (c->destroyed || c->pid <= 0)
                return skiff_error_set(err, ESRCH, "container `%s` is not running", c->id);
        struct skiff_container_child a = {
            .root_fd = -EBADF, .devnull = -EBADF, .plan.sync_fd = -EBADF};
        skiff_ns_fds_init(&a.ns);
        pid_t child = 0;
        _cleanup_close_ int sock = -EBADF, console = -EBADF;
        int r = prepare_exec(c, cfg, &a, err);
        if (r >= 0)
                r = skiff_container_spawn(&a, &child, &sock, err);
        skiff_container_child_done(&a);
        if (r >= 0)
                r = finish_exec(c, cfg, child, sock, &console, err);
        if (r < 0) {
                /* Not handed to the caller yet: nobody else will reap it. */
                skiff_container_kill_and_reap(child);
                return skiff_error_wrap(err, "exec in container `%s`", c->id);
        }
        *pid = child;
        if (console_fd)
                *console_fd = console >= 0 ? TAKE_FD(console) : -1;
        return 0;
}

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
                r = skiff_container_remove_cgroup(c->cg, err);
        if (r >= 0 && c->rootfs_mounted) {
                r = skiff_mounts_rootfs_umount(c->rootfs, err);
                if (r >= 0)
                        c->rootfs_mounted = false;
        }
        if (r >= 0)
                r = skiff_container_remove_state(c->state_path, err);
        if (r < 0)
                return skiff_error_wrap(err, "destroy container `%s`", c->id);
        c->destroyed = true;
        return 0;
}
