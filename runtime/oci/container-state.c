/* The state file <bundle>/skiff-state.json and the teardown that works from it alone. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "oci/container-internal.h"
#include "oci/container.h"
#include "oci/mounts.h"

#define STATE_MAX_SIZE (64u << 10)

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
int skiff_container_start_time(pid_t pid, uint64_t *out)
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

int skiff_container_pidfd_open(pid_t pid)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd; /* pidfds are always close-on-exec */
}

int skiff_container_write_state(const struct skiff_container *c, skiff_err_t *err)
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

int skiff_container_remove_state(const char *path, skiff_err_t *err)
{
        if (unlink(path) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove `%s`", path);
        return 0;
}

int skiff_container_remove_cgroup(struct skiff_cgroup *cg, skiff_err_t *err)
{
        int r = skiff_cgroup_kill(cg, SIGKILL, err);
        if (r >= 0)
                r = skiff_cgroup_remove(cg, err);
        return r;
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
            {"rootfs_mounted", skiff_json_dec_bool, offsetof(struct state, rootfs_mounted), false},
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
        _cleanup_close_ int pidfd = skiff_container_pidfd_open(pid);
        uint64_t now = 0;
        if (pidfd < 0 || skiff_container_start_time(pid, &now) < 0 || now != start_time)
                return;
        (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

int skiff_container_cleanup(const char *bundle, const char *id, pid_t *init_pid, skiff_err_t *err)
{
        if (init_pid)
                *init_pid = 0;
        _cleanup_free_ char *path = skiff_path_join(bundle, SKIFF_CONTAINER_STATE_FILE);
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
                        r = skiff_container_remove_cgroup(cg, err);
                skiff_cgroup_free(cg);
                if (r == -ENOENT) {
                        skiff_error_free(err);
                        r = 0;
                }
        }
        if (r >= 0 && s.rootfs_mounted)
                r = skiff_mounts_rootfs_umount(s.rootfs ? s.rootfs : default_rootfs, err);
        if (r >= 0)
                r = skiff_container_remove_state(path, err);
        if (r >= 0 && init_pid)
                *init_pid = (pid_t)s.pid;
        state_clear(&s);
        if (r < 0)
                return skiff_error_wrap(err, "clean up container `%s`", id ? id : "");
        return 0;
}
