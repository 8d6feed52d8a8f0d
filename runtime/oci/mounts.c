#include "oci/mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "oci/devices.h"
#include "oci/mounts-internal.h"
#include "oci/spec.h"

/* --- option table ------------------------------------------------------------------------- */

enum opt_kind {
        OPT_SET,         /* flags |= flag */
        OPT_CLEAR,       /* flags &= ~flag, remembered in clear */
        OPT_PROPAGATION, /* propagation = flag */
        OPT_BIND,        /* bind (recursive when flag has MS_REC) */
        OPT_ATTR_SET,    /* attr_set |= attr (attr_clr |= attr_mask) */
        OPT_ATTR_CLEAR,  /* attr_clr |= attr */
        OPT_IGNORE,      /* dropped */
        OPT_REFUSE,      /* recorded in ->unsupported */
};

struct opt {
        const char *name;
        enum opt_kind kind;
        unsigned long flag;
        uint64_t attr, attr_mask;
};

static const struct opt opt_table[] = {
    {"defaults", OPT_IGNORE, 0, 0, 0},
    {"ro", OPT_SET, MS_RDONLY, 0, 0},
    {"rw", OPT_CLEAR, MS_RDONLY, 0, 0},
    {"nosuid", OPT_SET, MS_NOSUID, 0, 0},
    {"suid", OPT_CLEAR, MS_NOSUID, 0, 0},
    {"nodev", OPT_SET, MS_NODEV, 0, 0},
    {"dev", OPT_CLEAR, MS_NODEV, 0, 0},
    {"noexec", OPT_SET, MS_NOEXEC, 0, 0},
    {"exec", OPT_CLEAR, MS_NOEXEC, 0, 0},
    {"sync", OPT_SET, MS_SYNCHRONOUS, 0, 0},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS, 0, 0},
    {"dirsync", OPT_SET, MS_DIRSYNC, 0, 0},
    {"remount", OPT_SET, MS_REMOUNT, 0, 0},
    {"mand", OPT_SET, MS_MANDLOCK, 0, 0},
    {"nomand", OPT_CLEAR, MS_MANDLOCK, 0, 0},
    {"noatime", OPT_SET, MS_NOATIME, 0, 0},
    {"atime", OPT_CLEAR, MS_NOATIME, 0, 0},
    {"nodiratime", OPT_SET, MS_NODIRATIME, 0, 0},
    {"diratime", OPT_CLEAR, MS_NODIRATIME, 0, 0},
    {"relatime", OPT_SET, MS_RELATIME, 0, 0},
    {"norelatime", OPT_CLEAR, MS_RELATIME, 0, 0},
    {"strictatime", OPT_SET, MS_STRICTATIME, 0, 0},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME, 0, 0},
    {"nosymfollow", OPT_SET, MS_NOSYMFOLLOW, 0, 0},
    {"symfollow", OPT_CLEAR, MS_NOSYMFOLLOW, 0, 0},
    {"bind", OPT_BIND, MS_BIND, 0, 0},
    {"rbind", OPT_BIND, MS_BIND | MS_REC, 0, 0},
    {"private", OPT_PROPAGATION, MS_PRIVATE, 0, 0},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC, 0, 0},
    {"shared", OPT_PROPAGATION, MS_SHARED, 0, 0},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC, 0, 0},
    {"slave", OPT_PROPAGATION, MS_SLAVE, 0, 0},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC, 0, 0},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE, 0, 0},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC, 0, 0},
    {"rro", OPT_ATTR_SET, 0, MOUNT_ATTR_RDONLY, 0},
    {"rrw", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_RDONLY, 0},
    {"rnosuid", OPT_ATTR_SET, 0, MOUNT_ATTR_NOSUID, 0},
    {"rsuid", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_NOSUID, 0},
    {"rnodev", OPT_ATTR_SET, 0, MOUNT_ATTR_NODEV, 0},
    {"rdev", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_NODEV, 0},
    {"rnoexec", OPT_ATTR_SET, 0, MOUNT_ATTR_NOEXEC, 0},
    {"rexec", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_NOEXEC, 0},
    {"rnodiratime", OPT_ATTR_SET, 0, MOUNT_ATTR_NODIRATIME, 0},
    {"rdiratime", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_NODIRATIME, 0},
    {"rnoatime", OPT_ATTR_SET, 0, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"rrelatime", OPT_ATTR_SET, 0, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rstrictatime", OPT_ATTR_SET, 0, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rnosymfollow", OPT_ATTR_SET, 0, MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"rsymfollow", OPT_ATTR_CLEAR, 0, MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"tmpcopyup", OPT_IGNORE, 0, 0, 0},
    {"idmap", OPT_REFUSE, 0, 0, 0},
    {"ridmap", OPT_REFUSE, 0, 0, 0},
};

static const struct opt *opt_lookup(const char *name)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(opt_table); i++)
                if (strcmp(opt_table[i].name, name) == 0)
                        return &opt_table[i];
        return NULL;
}

void skiff_mount_opts_parse(char *const *options, struct skiff_mount_opts *out)
{
        memset(out, 0, sizeof(*out));
        struct skiff_strbuf data = SKIFF_STRBUF_INIT;
        for (size_t i = 0; options && options[i]; i++) {
                const char *name = options[i];
                const struct opt *o = opt_lookup(name);
                if (!o) {
                        if (!name[0])
                                continue;
                        if (data.len)
                                skiff_strbuf_putc(&data, ',');
                        skiff_strbuf_puts(&data, name);
                        continue;
                }
                switch (o->kind) {
                case OPT_SET:
                        out->flags |= o->flag;
                        out->clear &= ~o->flag;
                        break;
                case OPT_CLEAR:
                        out->flags &= ~o->flag;
                        out->clear |= o->flag;
                        break;
                case OPT_PROPAGATION:
                        out->propagation = o->flag;
                        break;
                case OPT_BIND:
                        out->bind = true;
                        out->recursive = (o->flag & MS_REC) != 0;
                        break;
                case OPT_ATTR_SET:
                        out->attr_clr |= o->attr_mask;
                        out->attr_clr &= ~o->attr;
                        out->attr_set |= o->attr;
                        break;
                case OPT_ATTR_CLEAR:
                        out->attr_set &= ~o->attr;
                        out->attr_clr |= o->attr;
                        break;
                case OPT_IGNORE:
                        break;
                case OPT_REFUSE:
                        if (!out->unsupported)
                                out->unsupported = o->name;
                        break;
                }
        }
        out->data = data.len ? skiff_strbuf_take(&data) : NULL;
        skiff_strbuf_free(&data);
}

void skiff_mount_opts_clear(struct skiff_mount_opts *o)
{
        free(o->data);
        memset(o, 0, sizeof(*o));
}

/* --- paths inside the rootfs -------------------------------------------------------------- */

static int openat2_in_root(int rootfd, const char *abs_clean, int flags)
{
        const char *rel = abs_clean + strspn(abs_clean, "/");
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        for (int tries = 0;; tries++) {
                long fd = syscall(SYS_openat2, rootfd, rel[0] ? rel : ".", &how, sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                /* EAGAIN: a concurrent rename raced the lookup; retry a few times. */
                if ((errno == EAGAIN || errno == EINTR) && tries < 16)
                        continue;
                return -errno;
        }
}

static char *abs_clean(const char *path)
{
        _cleanup_free_ char *a = xasprintf("/%s", path);
        return skiff_path_clean(a);
}

int skiff_mounts_open_parent_in_root(int rootfd, const char *path, bool mkdir_parents, int *ret_fd,
                                     char **ret_name, skiff_err_t *err)
{
        _cleanup_free_ char *clean = abs_clean(path);
        if (strcmp(clean, "/") == 0)
                return skiff_error_set(err, EINVAL, "path `%s` has no parent", path);
        _cleanup_free_ char *dir = skiff_path_dirname(clean);
        int fd = -EBADF;
        int r = skiff_mounts_open_in_root(
            rootfd, dir, mkdir_parents ? SKIFF_MOUNTS_MKDIR : SKIFF_MOUNTS_NO_CREATE, &fd, err);
        if (r < 0)
                return r;
        *ret_name = xstrdup(skiff_path_basename(clean));
        *ret_fd = fd;
        return 0;
}

/* A dangling symlink at parent/name: the path it points to, interpreted inside the root. */
static char *dangling_target(int pfd, const char *name, const char *clean)
{
        struct stat st;
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
                return NULL;
        char target[PATH_MAX];
        ssize_t n = readlinkat(pfd, name, target, sizeof(target) - 1);
        if (n <= 0)
                return NULL;
        target[n] = '\0';
        if (target[0] == '/')
                return xstrdup(target);
        _cleanup_free_ char *dir = skiff_path_dirname(clean);
        return skiff_path_join(dir, target);
}

static int open_in_root(int rootfd, const char *path, enum skiff_mounts_create create, int depth,
                        int *ret_fd, skiff_err_t *err)
{
        _cleanup_free_ char *clean = abs_clean(path);
        int fd = openat2_in_root(rootfd, clean, O_PATH);
        if (fd == -ENOENT && create != SKIFF_MOUNTS_NO_CREATE && strcmp(clean, "/") != 0) {
                _cleanup_close_ int pfd = -EBADF;
                _cleanup_free_ char *name = NULL;
                _cleanup_free_ char *dir = skiff_path_dirname(clean);
                int r = open_in_root(rootfd, dir, SKIFF_MOUNTS_MKDIR, depth, &pfd, err);
                if (r < 0)
                        return r;
                name = xstrdup(skiff_path_basename(clean));
                if (create == SKIFF_MOUNTS_MKDIR) {
                        r = mkdirat(pfd, name, 0755);
                } else {
                        r = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                   0644);
                        if (r >= 0)
                                r = close(r);
                }
                if (r < 0 && errno == EEXIST) {
                        /* A dangling symlink: create what it points to, inside the root. */
                        _cleanup_free_ char *target = dangling_target(pfd, name, clean);
                        if (target) {
                                if (depth >= 40)
                                        return skiff_error_set(err, ELOOP,
                                                               "open `%s` in rootfs: too many "
                                                               "levels of symbolic links",
                                                               clean);
                                return open_in_root(rootfd, target, create, depth + 1, ret_fd, err);
                        }
                } else if (r < 0) {
                        return skiff_error_set_errno(
                            err, errno, "create %s `%s`",
                            create == SKIFF_MOUNTS_MKDIR ? "directory" : "file", clean);
                }
                fd = openat2_in_root(rootfd, clean, O_PATH);
        }
        if (fd < 0)
                return skiff_error_set_errno(err, -fd, "open `%s` in rootfs", clean);
        *ret_fd = fd;
        return 0;
}

int skiff_mounts_open_in_root(int rootfd, const char *path, enum skiff_mounts_create create,
                              int *ret_fd, skiff_err_t *err)
{
        return open_in_root(rootfd, path, create, 0, ret_fd, err);
}

/* --- mount helpers ------------------------------------------------------------------------ */

static unsigned long statvfs_to_ms(unsigned long f)
{
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* statvfs f_flag bit (Linux 5.10), missing from older glibc */
#endif
        static const struct {
                unsigned long st, ms;
        } map[] = {
            {ST_RDONLY, MS_RDONLY},     {ST_NOSUID, MS_NOSUID},
            {ST_NODEV, MS_NODEV},       {ST_NOEXEC, MS_NOEXEC},
            {ST_NOATIME, MS_NOATIME},   {ST_NODIRATIME, MS_NODIRATIME},
            {ST_RELATIME, MS_RELATIME}, {ST_NOSYMFOLLOW, MS_NOSYMFOLLOW},
        };
        unsigned long ms = 0;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(map); i++)
                if (f & map[i].st)
                        ms |= map[i].ms;
        return ms;
}

int skiff_mounts_remount_bind(const char *target, unsigned long flags, unsigned long keep_clear,
                              skiff_err_t *err)
{
        flags &= SKIFF_MOUNTS_REMOUNT_MASK;
        if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
                return 0;
        int e = errno;
        if (e == EPERM) {
                struct statvfs sv;
                if (statvfs(target, &sv) == 0) {
                        unsigned long locked = statvfs_to_ms(sv.f_flag) & ~keep_clear;
                        const unsigned long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
                        if (flags & atime)
                                locked &= ~atime;
                        if ((flags | locked) != flags &&
                            mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags | locked,
                                  NULL) == 0)
                                return 0;
                }
        }
        return skiff_error_set_errno(err, e, "remount bind with flags 0x%lx", flags);
}

static int setattr_recursive(int fd, uint64_t set, uint64_t clr, skiff_err_t *err)
{
        struct mount_attr attr = {.attr_set = set, .attr_clr = clr};
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                return skiff_error_set_errno(err, errno,
                                             "set recursive mount attributes (set 0x%llx, clear "
                                             "0x%llx)",
                                             (unsigned long long)set, (unsigned long long)clr);
        return 0;
}

int skiff_mounts_post_mount(int fd, const struct skiff_mount_opts *o, bool bind, skiff_err_t *err)
{
        struct skiff_fdpath fp = skiff_fdpath(fd);
        if (bind && (o->flags & SKIFF_MOUNTS_REMOUNT_MASK)) {
                /* Only the top mount: "ro" on an rbind leaves submounts as they are (OCI and
                 * runc semantics; CRI's non-recursive read-only volumes rely on it). "rro" asks
                 * for the whole tree, through attr_set below. */
                int r = skiff_mounts_remount_bind(fp.p, o->flags, o->clear, err);
                if (r < 0)
                        return r;
        }
        if (o->attr_set || o->attr_clr) {
                int r = setattr_recursive(fd, o->attr_set, o->attr_clr, err);
                if (r < 0)
                        return r;
        }
        if (o->propagation && mount(NULL, fp.p, NULL, o->propagation, NULL) < 0)
                return skiff_error_set_errno(err, errno, "set propagation 0x%lx", o->propagation);
        return 0;
}

/* --- mountinfo ---------------------------------------------------------------------------- */

/* Undoes the \ooo escapes of mountinfo in place. */
static void unescape_octal(char *s)
{
        char *w = s;
        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
                        r += 4;
                } else {
                        *w++ = *r++;
                }
        }
        *w = '\0';
}

int skiff_mountinfo_foreach(int (*cb)(const struct skiff_mountinfo *mi, void *ud), void *ud,
                            skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file("/proc/self/mountinfo", 64u << 20, &buf, &len, err);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[6] = {0};
                char *p = line;
                /* id parent major:minor root mount_point mount_opts [optional...] - fstype
                 * source super_opts */
                for (int i = 0; i < 6 && p; i++) {
                        f[i] = p;
                        p = strchr(p, ' ');
                        if (p)
                                *p++ = '\0';
                }
                char *sep = p ? strstr(p, "- ") : NULL;
                if (!f[5] || !sep || (sep != p && sep[-1] != ' '))
                        continue;
                const char *optional = "";
                if (sep != p) {
                        sep[-1] = '\0';
                        optional = p;
                }
                char *rest = sep + 2;
                char *fstype = rest, *source = NULL, *super = NULL;
                if ((source = strchr(fstype, ' ')))
                        *source++ = '\0';
                if (source && (super = strchr(source, ' ')))
                        *super++ = '\0';
                unescape_octal(f[3]);
                unescape_octal(f[4]);
                struct skiff_mountinfo mi = {
                    .root = f[3],
                    .mount_point = f[4],
                    .mount_opts = f[5],
                    .optional = optional,
                    .fstype = fstype,
                    .source = source ? source : "",
                    .super_opts = super ? super : "",
                };
                r = cb(&mi, ud);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct find_mount {
        const char *path;
        char *mount_point; /* longest mount point that is a prefix of path */
        bool shared;
};

static int find_mount_cb(const struct skiff_mountinfo *mi, void *ud)
{
        struct find_mount *fm = ud;
        size_t n = strlen(mi->mount_point);
        bool prefix =
            strcmp(mi->mount_point, "/") == 0 || (strncmp(fm->path, mi->mount_point, n) == 0 &&
                                                  (fm->path[n] == '/' || fm->path[n] == '\0'));
        /* Later lines are mounted later, so >= picks the top of a stack. */
        if (prefix && (!fm->mount_point || n >= strlen(fm->mount_point))) {
                free(fm->mount_point);
                fm->mount_point = xstrdup(mi->mount_point);
                fm->shared = strstr(mi->optional, "shared:") != NULL;
        }
        return 0;
}

/* pivot_root refuses a new root whose parent mount is shared: make the mount holding rootfs
 * private (only that one mount). */
static int make_parent_private(const char *rootfs, skiff_err_t *err)
{
        struct find_mount fm = {.path = rootfs};
        int r = skiff_mountinfo_foreach(find_mount_cb, &fm, err);
        _cleanup_free_ char *mp = fm.mount_point;
        if (r < 0)
                return r;
        if (mp && fm.shared && mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0)
                return skiff_error_set_errno(err, errno, "make `%s` private", mp);
        return 0;
}

bool skiff_mounts_spec_has_ns(const struct skiff_spec *spec, int type)
{
        for (size_t i = 0; i < spec->linux_.n_namespaces; i++)
                if ((int)spec->linux_.namespaces[i].type == type)
                        return true;
        return false;
}

/* --- spec mounts -------------------------------------------------------------------------- */

struct setup_state {
        bool dev_mounted, dev_bind, shm_mounted;
};

static int mount_bind_entry(int rootfd, const struct skiff_spec_mount *m,
                            const struct skiff_mount_opts *o, skiff_err_t *err)
{
        if (!m->source || !m->source[0])
                return skiff_error_set(err, EINVAL, "bind mount without a source");
        struct stat st;
        if (stat(m->source, &st) < 0)
                return skiff_error_set_errno(err, errno, "stat source `%s`", m->source);
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(
            rootfd, m->destination, S_ISDIR(st.st_mode) ? SKIFF_MOUNTS_MKDIR : SKIFF_MOUNTS_MKFILE,
            &fd, err);
        if (r < 0)
                return r;
        bool rec = o->recursive || (m->type && strcmp(m->type, "rbind") == 0);
        if (mount(m->source, skiff_fdpath(fd).p, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
                return skiff_error_set_errno(err, errno, "bind");
        _cleanup_close_ int mfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, m->destination, SKIFF_MOUNTS_NO_CREATE, &mfd, err);
        if (r < 0)
                return r;
        struct skiff_mount_opts o2 = *o;
        o2.recursive = rec;
        return skiff_mounts_post_mount(mfd, &o2, true, err);
}

static int mount_fs_entry(int rootfd, const struct skiff_spec_mount *m,
                          const struct skiff_mount_opts *o, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, m->destination, SKIFF_MOUNTS_MKDIR, &fd, err);
        if (r < 0)
                return r;
        const char *source = m->source && m->source[0] ? m->source : m->type;
        bool bind = false;
        struct skiff_mount_opts o2 = *o;
        if (mount(source, skiff_fdpath(fd).p, m->type, o->flags, o->data) < 0) {
                int e = errno;
                /* sysfs needs a network namespace owned by our user namespace; without one
                 * the kernel says EPERM: show the host's /sys instead. */
                if (e != EPERM || strcmp(m->type, "sysfs") != 0)
                        return skiff_error_set_errno(err, e, "mount");
                if (mount("/sys", skiff_fdpath(fd).p, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return skiff_error_set_errno(err, errno, "bind `/sys` (sysfs fallback)");
                bind = true;
                o2.recursive = true;
                /* sysfs is always nosuid,nodev,noexec in practice; keep it so. */
                o2.flags |= MS_NOSUID | MS_NODEV | MS_NOEXEC;
        }
        _cleanup_close_ int mfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, m->destination, SKIFF_MOUNTS_NO_CREATE, &mfd, err);
        if (r < 0)
                return r;
        r = skiff_mounts_post_mount(mfd, &o2, bind, err);
        if (r < 0 || !bind || !(o2.flags & MS_RDONLY))
                return r;
        /* The sysfs fallback: the host's submounts of /sys (cgroup, debugfs, ...) are made
         * read-only too where the kernel can (mount_setattr, Linux >= 5.12). */
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 &&
            errno != ENOSYS)
                return skiff_error_set_errno(err, errno, "make submounts of `/sys` read-only");
        return 0;
}

static int mount_spec_entry(const struct skiff_spec *spec, int rootfd,
                            const struct skiff_spec_mount *m, struct setup_state *st,
                            skiff_err_t *err)
{
        if (!m->destination || m->destination[0] != '/')
                return skiff_error_set(err, EINVAL, "destination is not an absolute path");
        _cleanup_mount_opts_ struct skiff_mount_opts o = {0};
        skiff_mount_opts_parse(m->options, &o);
        if (o.unsupported)
                return skiff_error_set(err, EINVAL, "option `%s` is not supported", o.unsupported);
        const char *type = m->type ? m->type : "";
        bool bind = o.bind || strcmp(type, "bind") == 0 || strcmp(type, "rbind") == 0;
        _cleanup_free_ char *dest = skiff_path_clean(m->destination);
        if (strcmp(dest, "/dev") == 0) {
                st->dev_mounted = true;
                st->dev_bind = bind;
        }
        if (strcmp(dest, "/dev/shm") == 0)
                st->shm_mounted = true;
        if (bind)
                return mount_bind_entry(rootfd, m, &o, err);
        if (!type[0] || strcmp(type, "none") == 0)
                return skiff_error_set(err, EINVAL, "missing mount type");
        if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0)
                return skiff_mounts_cgroup(spec, rootfd, m->destination, &o,
                                           strcmp(type, "cgroup2") == 0, err);
        return mount_fs_entry(rootfd, m, &o, err);
}

static int parse_root_propagation(const char *s, unsigned long *ret, skiff_err_t *err)
{
        *ret = MS_SLAVE | MS_REC;
        if (!s || !s[0])
                return 0;
        const struct opt *o = opt_lookup(s);
        if (!o || o->kind != OPT_PROPAGATION)
                return skiff_error_set(err, EINVAL, "`linux.rootfsPropagation`: unknown value `%s`",
                                       s);
        *ret = o->flag;
        return 0;
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detach it from inside.
 * Making it rslave first keeps the detach from propagating back to the host. */
static int pivot_into(const char *rootfs, skiff_err_t *err)
{
        _cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0)
                return skiff_error_set_errno(err, errno, "open `/`");
        _cleanup_close_ int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (newroot < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", rootfs);
        if (fchdir(newroot) < 0)
                return skiff_error_set_errno(err, errno, "chdir into `%s`", rootfs);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return skiff_error_set_errno(err, errno, "pivot_root into `%s`", rootfs);
        if (fchdir(oldroot) < 0)
                return skiff_error_set_errno(err, errno, "chdir into the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return skiff_error_set_errno(err, errno, "make the old root rslave");
        if (umount2(".", MNT_DETACH) < 0)
                return skiff_error_set_errno(err, errno, "detach the old root");
        if (chdir("/") < 0)
                return skiff_error_set_errno(err, errno, "chdir `/`");
        return 0;
}

int skiff_mounts_setup_rootfs(const struct skiff_spec *spec, const char *rootfs, skiff_err_t *err)
{
        return skiff_mounts_setup_rootfs_hook(spec, rootfs, NULL, NULL, err);
}

int skiff_mounts_setup_rootfs_hook(const struct skiff_spec *spec, const char *rootfs,
                                   skiff_mounts_pre_pivot_fn hook, void *data, skiff_err_t *err)
{
        unsigned long prop = 0;
        int r = parse_root_propagation(spec->linux_.rootfs_propagation, &prop, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *root = realpath(rootfs, NULL);
        if (!root)
                return skiff_error_set_errno(err, errno, "resolve rootfs `%s`", rootfs);
        /* A shared rootfsPropagation keeps the peer groups copied from the host: a bind of a
         * shared host path then stays a peer of it (bidirectional volumes). Only the mount
         * holding the rootfs is made private, so that pivot_root accepts the new root. */
        bool shared = (prop & MS_SHARED) != 0;
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
                return skiff_error_set_errno(err, errno, "set propagation of `/`");
        r = make_parent_private(root, err);
        if (r < 0)
                return r;
        if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
                return skiff_error_set_errno(err, errno, "bind rootfs `%s` onto itself", root);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return skiff_error_set_errno(err, errno, "open rootfs `%s`", root);

        struct setup_state st = {0};
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct skiff_spec_mount *m = &spec->mounts[i];
                r = mount_spec_entry(spec, rootfd, m, &st, err);
                if (r < 0) {
                        bool bind = m->type && strcmp(m->type, "bind") == 0;
                        const char *what = bind || !m->type ? m->source : m->type;
                        return skiff_error_wrap(err, "mount `%s` on `%s`", what ? what : "",
                                                m->destination ? m->destination : "");
                }
        }

        unsigned dflags = 0;
        if (!st.dev_bind)
                dflags |= SKIFF_DEVICES_DEFAULTS;
        if (st.dev_mounted && !st.dev_bind && !st.shm_mounted)
                dflags |= SKIFF_DEVICES_SHM;
        r = skiff_devices_setup(spec, rootfd, dflags, err);
        if (r < 0)
                return r;
        if (hook) {
                r = hook(rootfd, root, data, err);
                if (r < 0)
                        return r;
        }

        r = pivot_into(root, err);
        if (r < 0)
                return r;
        if (shared && mount(NULL, "/", NULL, prop, NULL) < 0)
                return skiff_error_set_errno(err, errno, "set propagation of the new `/`");
        return 0;
}

/* --- after pivot_root --------------------------------------------------------------------- */

static int make_readonly(const char *path, skiff_err_t *err)
{
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
                if (errno == ENOENT)
                        return 0;
                return skiff_error_set_errno(err, errno, "bind `%s` onto itself", path);
        }
        int r = skiff_mounts_remount_bind(path, MS_RDONLY, 0, err);
        if (r < 0)
                return skiff_error_wrap(err, "make `%s` read-only", path);
        _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 &&
            errno != ENOSYS)
                return skiff_error_set_errno(err, errno, "make submounts of `%s` read-only", path);
        return 0;
}

static int mask_path(const char *path, skiff_err_t *err)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return skiff_error_set_errno(err, errno, "stat masked path `%s`", path);
        }
        int rc = S_ISDIR(st.st_mode)
                     ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             "mode=0555")
                     : mount("/dev/null", path, NULL, MS_BIND, NULL);
        if (rc < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "mask `%s`", path);
        return 0;
}

int skiff_mounts_finalize(const struct skiff_spec *spec, skiff_err_t *err)
{
        for (char **p = spec->linux_.readonly_paths; p && *p; p++) {
                int r = make_readonly(*p, err);
                if (r < 0)
                        return r;
        }
        for (char **p = spec->linux_.masked_paths; p && *p; p++) {
                int r = mask_path(*p, err);
                if (r < 0)
                        return r;
        }
        if (spec->root_readonly) {
                struct statvfs sv;
                if (statvfs("/", &sv) < 0)
                        return skiff_error_set_errno(err, errno, "statvfs `/`");
                int r =
                    skiff_mounts_remount_bind("/", MS_RDONLY | statvfs_to_ms(sv.f_flag), 0, err);
                if (r < 0)
                        return skiff_error_wrap(err, "make `/` read-only");
        }
        return 0;
}
