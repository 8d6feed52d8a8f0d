#include "oci/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE 0xb703 /* _IO(0xb7, 0x3) */
#endif

static const struct {
        const char *name;
        int flag;
} ns_table[_SKIFF_NS_MAX] = {
    [SKIFF_NS_PID] = {"pid", CLONE_NEWPID},          [SKIFF_NS_NETWORK] = {"net", CLONE_NEWNET},
    [SKIFF_NS_MOUNT] = {"mnt", CLONE_NEWNS},         [SKIFF_NS_IPC] = {"ipc", CLONE_NEWIPC},
    [SKIFF_NS_UTS] = {"uts", CLONE_NEWUTS},          [SKIFF_NS_USER] = {"user", CLONE_NEWUSER},
    [SKIFF_NS_CGROUP] = {"cgroup", CLONE_NEWCGROUP}, [SKIFF_NS_TIME] = {"time", CLONE_NEWTIME},
};

/* setns order: the user namespace first (it grants the capabilities for the rest), the mount
 * namespace last (after it, /proc paths of the caller may no longer resolve). */
static const enum skiff_ns_type join_order[_SKIFF_NS_MAX] = {
    SKIFF_NS_USER, SKIFF_NS_IPC,    SKIFF_NS_UTS,  SKIFF_NS_NETWORK,
    SKIFF_NS_PID,  SKIFF_NS_CGROUP, SKIFF_NS_TIME, SKIFF_NS_MOUNT,
};

void skiff_ns_fds_init(struct skiff_ns_fds *f)
{
        for (int i = 0; i < _SKIFF_NS_MAX; i++)
                f->fd[i] = -EBADF;
}

void skiff_ns_fds_close(struct skiff_ns_fds *f)
{
        for (int i = 0; i < _SKIFF_NS_MAX; i++)
                skiff_closep(&f->fd[i]), f->fd[i] = -EBADF;
}

const char *skiff_namespace_name(enum skiff_ns_type t)
{
        return (unsigned)t < _SKIFF_NS_MAX ? ns_table[t].name : "?";
}

int skiff_namespace_clone_flag(enum skiff_ns_type t)
{
        return (unsigned)t < _SKIFF_NS_MAX ? ns_table[t].flag : 0;
}

bool skiff_namespaces_is_new(const struct skiff_spec *spec, enum skiff_ns_type t)
{
        for (size_t i = 0; i < spec->linux_.n_namespaces; i++) {
                const struct skiff_spec_namespace *ns = &spec->linux_.namespaces[i];
                if (ns->type == t && (!ns->path || !*ns->path))
                        return true;
        }
        return false;
}

int skiff_namespaces_new_flags(const struct skiff_spec *spec, int *flags, skiff_err_t *err)
{
        bool seen[_SKIFF_NS_MAX] = {false};
        int f = 0;
        for (size_t i = 0; i < spec->linux_.n_namespaces; i++) {
                const struct skiff_spec_namespace *ns = &spec->linux_.namespaces[i];
                if ((unsigned)ns->type >= _SKIFF_NS_MAX)
                        return skiff_error_set(err, EINVAL, "linux.namespaces[%zu]: bad type", i);
                if (seen[ns->type])
                        return skiff_error_set(err, EINVAL,
                                               "linux.namespaces[%zu]: namespace `%s` listed twice",
                                               i, ns_table[ns->type].name);
                seen[ns->type] = true;
                if (ns->path && *ns->path)
                        continue;
                if (ns->type == SKIFF_NS_CGROUP || ns->type == SKIFF_NS_TIME)
                        continue;
                f |= ns_table[ns->type].flag;
        }
        *flags = f;
        return 0;
}

static int check_ns_fd(int fd, enum skiff_ns_type t, const char *path, skiff_err_t *err)
{
        int type = ioctl(fd, NS_GET_NSTYPE);
        if (type < 0)
                return skiff_error_set_errno(err, errno, "namespace `%s` (%s): NS_GET_NSTYPE", path,
                                             ns_table[t].name);
        if (type != ns_table[t].flag)
                return skiff_error_set(err, EINVAL, "`%s` is not a namespace of type `%s`", path,
                                       ns_table[t].name);
        return 0;
}

int skiff_namespaces_open_paths(const struct skiff_spec *spec, struct skiff_ns_fds *out,
                                skiff_err_t *err)
{
        for (size_t i = 0; i < spec->linux_.n_namespaces; i++) {
                const struct skiff_spec_namespace *ns = &spec->linux_.namespaces[i];
                if (!ns->path || !*ns->path || (unsigned)ns->type >= _SKIFF_NS_MAX)
                        continue;
                skiff_closep(&out->fd[ns->type]);
                out->fd[ns->type] = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (out->fd[ns->type] < 0)
                        return skiff_error_set_errno(err, errno, "open %s namespace `%s`",
                                                     ns_table[ns->type].name, ns->path);
                int r = check_ns_fd(out->fd[ns->type], ns->type, ns->path, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int skiff_namespaces_open_pid(pid_t pid, struct skiff_ns_fds *out, skiff_err_t *err)
{
        for (int t = 0; t < _SKIFF_NS_MAX; t++) {
                char path[64], self[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_table[t].name);
                snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_table[t].name);
                struct stat a, b;
                if (stat(path, &a) < 0) {
                        int e = errno;
                        if (e == ENOENT && stat(self, &b) < 0 && errno == ENOENT)
                                continue; /* the kernel lacks this namespace type */
                        return skiff_error_set_errno(err, e, "stat `%s`", path);
                }
                if (stat(self, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        continue;
                skiff_closep(&out->fd[t]);
                out->fd[t] = open(path, O_RDONLY | O_CLOEXEC);
                if (out->fd[t] < 0)
                        return skiff_error_set_errno(err, errno, "open `%s`", path);
        }
        return 0;
}

int skiff_namespaces_join(struct skiff_ns_fds *f, bool new_time, skiff_err_t *err)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(join_order); i++) {
                enum skiff_ns_type t = join_order[i];
                if (f->fd[t] < 0)
                        continue;
                if (setns(f->fd[t], ns_table[t].flag) < 0)
                        return skiff_error_set_errno(err, errno, "join %s namespace",
                                                     ns_table[t].name);
                close(f->fd[t]);
                f->fd[t] = -EBADF;
        }
        if (new_time && unshare(CLONE_NEWTIME) < 0)
                return skiff_error_set_errno(err, errno, "create time namespace");
        return 0;
}

static int write_map(pid_t pid, const char *file, const struct skiff_spec_idmap *m, size_t n,
                     skiff_err_t *err)
{
        if (n == 0)
                return 0;
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n; i++)
                skiff_strbuf_printf(&sb, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
        _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        /* The kernel wants the whole map in one write. */
        ssize_t w = write(fd, sb.buf, sb.len);
        if (w < 0)
                return skiff_error_set_errno(err, errno, "write `%s`", path);
        if ((size_t)w != sb.len)
                return skiff_error_set(err, EIO, "write `%s`: short write", path);
        return 0;
}

int skiff_namespaces_write_idmaps(pid_t pid, const struct skiff_spec *spec, skiff_err_t *err)
{
        const struct skiff_spec_linux *l = &spec->linux_;
        int r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err);
        if (r < 0)
                return skiff_error_wrap(err, "linux.uidMappings");
        r = write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err);
        if (r < 0)
                return skiff_error_wrap(err, "linux.gidMappings");
        return 0;
}
