#include "oci/devices.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "oci/mounts-internal.h"
#include "oci/spec.h"

struct node {
        const char *path;
        char type; /* 'c', 'b', 'u' or 'p' */
        unsigned major, minor;
        mode_t perm;
        uid_t uid;
        gid_t gid;
};

static const struct node default_nodes[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

static const struct {
        const char *target, *name;
} default_links[] = {
    {"/proc/self/fd", "fd"},
    {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"},
};

/* The node could not be created (EPERM, e.g. in a user namespace): an empty file with the
 * host's node of the same path bind-mounted on it. */
static int bind_host_node(int pfd, const char *name, const struct node *n, skiff_err_t *err)
{
        int f = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
                return skiff_error_set_errno(err, errno, "create `%s`", n->path);
        close(f);
        _cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", n->path);
        if (mount(n->path, skiff_fdpath(fd).p, NULL, MS_BIND, NULL) < 0)
                return skiff_error_set_errno(err, errno, "bind host `%s`", n->path);
        return 0;
}

static int create_node(int rootfd, const struct node *n, skiff_err_t *err)
{
        mode_t type;
        switch (n->type) {
        case 'c':
        case 'u':
                type = S_IFCHR;
                break;
        case 'b':
                type = S_IFBLK;
                break;
        case 'p':
                type = S_IFIFO;
                break;
        default:
                return skiff_error_set(err, EINVAL, "device `%s`: unknown type `%c`", n->path,
                                       n->type);
        }
        _cleanup_close_ int pfd = -EBADF;
        _cleanup_free_ char *name = NULL;
        int r = skiff_mounts_open_parent_in_root(rootfd, n->path, true, &pfd, &name, err);
        if (r < 0)
                return r;
        if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "device `%s`: remove existing file",
                                             n->path);
        dev_t dev = type == S_IFIFO ? 0 : makedev(n->major, n->minor);
        if (mknodat(pfd, name, type | n->perm, dev) < 0) {
                if (errno == EPERM && type != S_IFIFO)
                        return bind_host_node(pfd, name, n, err);
                return skiff_error_set_errno(err, errno, "device `%s`: mknod", n->path);
        }
        /* mknod honours the umask; set the exact mode. */
        if (fchmodat(pfd, name, n->perm, 0) < 0)
                return skiff_error_set_errno(err, errno, "device `%s`: chmod", n->path);
        if (fchownat(pfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return skiff_error_set_errno(err, errno, "device `%s`: chown", n->path);
        return 0;
}

static int setup_defaults(int rootfd, skiff_err_t *err)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(default_nodes); i++) {
                int r = create_node(rootfd, &default_nodes[i], err);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int devfd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, "/dev/pts", SKIFF_MOUNTS_MKDIR, &devfd, err);
        if (r < 0)
                return r;
        close(TAKE_FD(devfd));
        r = skiff_mounts_open_in_root(rootfd, "/dev", SKIFF_MOUNTS_NO_CREATE, &devfd, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(default_links); i++)
                if (symlinkat(default_links[i].target, devfd, default_links[i].name) < 0 &&
                    errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "create symlink `/dev/%s`",
                                                     default_links[i].name);
        /* The container's devpts instance provides pts/ptmx; replace whatever is there. */
        if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove `/dev/ptmx`");
        if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
                return skiff_error_set_errno(err, errno, "create symlink `/dev/ptmx`");
        return 0;
}

static int setup_shm(int rootfd, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, "/dev/shm", SKIFF_MOUNTS_MKDIR, &fd, err);
        if (r < 0)
                return r;
        if (mount("shm", skiff_fdpath(fd).p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=1777,size=65536k") < 0)
                return skiff_error_set_errno(err, errno, "mount tmpfs on `/dev/shm`");
        return 0;
}

int skiff_devices_setup(const struct skiff_spec *spec, int rootfd, unsigned flags, skiff_err_t *err)
{
        int r;
        if (flags & SKIFF_DEVICES_DEFAULTS) {
                r = setup_defaults(rootfd, err);
                if (r < 0)
                        return r;
        }
        if (flags & SKIFF_DEVICES_SHM) {
                r = setup_shm(rootfd, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < spec->linux_.n_devices; i++) {
                const struct skiff_spec_device *d = &spec->linux_.devices[i];
                if (!d->path || d->path[0] != '/')
                        return skiff_error_set(err, EINVAL,
                                               "`linux.devices[%zu].path` is not absolute", i);
                if (d->major < 0 || d->minor < 0 || d->major > 0xfff || d->minor > 0xfffff)
                        return skiff_error_set(err, EINVAL,
                                               "`linux.devices[%zu]`: major/minor out of range", i);
                struct node n = {
                    .path = d->path,
                    .type = d->type,
                    .major = (unsigned)d->major,
                    .minor = (unsigned)d->minor,
                    .perm = d->has_file_mode ? (mode_t)(d->file_mode & 07777) : 0666,
                    .uid = d->has_uid ? d->uid : 0,
                    .gid = d->has_gid ? d->gid : 0,
                };
                r = create_node(rootfd, &n, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`linux.devices[%zu]`", i);
        }
        return 0;
}
