/* The spec's "cgroup" / "cgroup2" mounts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/mounts-internal.h"
#include "oci/spec.h"

/* One line of /proc/self/cgroup: "<id>:<controllers>:<path>". */
struct cg_line {
        char *ctrls; /* "" for the cgroup2 line */
        char *path;
};

struct cg_lines {
        struct cg_line *v;
        size_t n;
};

static void cg_lines_free(struct cg_lines *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].ctrls);
                free(l->v[i].path);
        }
        free(l->v);
}

static int read_self_cgroup(struct cg_lines *out, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file("/proc/self/cgroup", 1u << 20, &buf, &len, err);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
                out->v[out->n].ctrls = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
                out->v[out->n].path = xstrdup(c2 + 1);
                out->n++;
        }
        return 0;
}

/* A cgroup hierarchy mounted directly under /sys/fs/cgroup on the host. */
struct hier {
        char *mount_point, *root, *fstype, *super_opts;
};

struct hiers {
        struct hier *v;
        size_t n;
        bool only_v2; /* collect cgroup2 mounts anywhere under /sys/fs/cgroup */
};

static void hiers_free(struct hiers *h)
{
        for (size_t i = 0; i < h->n; i++) {
                free(h->v[i].mount_point);
                free(h->v[i].root);
                free(h->v[i].fstype);
                free(h->v[i].super_opts);
        }
        free(h->v);
}

static int collect_hier_cb(const struct skiff_mountinfo *mi, void *ud)
{
        struct hiers *h = ud;
        bool v2 = strcmp(mi->fstype, "cgroup2") == 0;
        if (!v2 && strcmp(mi->fstype, "cgroup") != 0)
                return 0;
        if (h->only_v2) {
                if (!v2 || (strcmp(mi->mount_point, "/sys/fs/cgroup") != 0 &&
                            strncmp(mi->mount_point, "/sys/fs/cgroup/", 15) != 0))
                        return 0;
        } else {
                _cleanup_free_ char *dir = skiff_path_dirname(mi->mount_point);
                if (strcmp(dir, "/sys/fs/cgroup") != 0)
                        return 0;
        }
        h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
        h->v[h->n++] = (struct hier){
            .mount_point = xstrdup(mi->mount_point),
            .root = xstrdup(mi->root),
            .fstype = xstrdup(mi->fstype),
            .super_opts = xstrdup(mi->super_opts),
        };
        return 0;
}

static bool has_token(const char *list, const char *tok, size_t toklen)
{
        for (const char *p = list; *p;) {
                size_t n = strcspn(p, ",");
                if (n == toklen && strncmp(p, tok, n) == 0)
                        return true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* The /proc/self/cgroup line of hierarchy h, or NULL. */
static const struct cg_line *line_for(const struct cg_lines *l, const struct hier *h)
{
        bool v2 = strcmp(h->fstype, "cgroup2") == 0;
        for (size_t i = 0; i < l->n; i++) {
                const char *c = l->v[i].ctrls;
                if (v2 ? c[0] == '\0' : c[0] && has_token(h->super_opts, c, strcspn(c, ",")))
                        return &l->v[i];
        }
        return NULL;
}

/* Host directory of our own cgroup in hierarchy h. */
static char *own_dir(const struct hier *h, const struct cg_line *l)
{
        const char *p = l->path;
        size_t rn = strlen(h->root);
        if (strcmp(h->root, "/") != 0 && strncmp(p, h->root, rn) == 0 &&
            (p[rn] == '/' || p[rn] == '\0'))
                p += rn;
        return skiff_path_join(h->mount_point, p);
}

/* Super options of a v1 hierarchy minus the read-only/read-write flag. */
static char *v1_data(const char *super)
{
        _cleanup_strv_ char **parts = skiff_strv_split(super, ",", true);
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (char **p = parts; *p; p++) {
                if (strcmp(*p, "rw") == 0 || strcmp(*p, "ro") == 0)
                        continue;
                if (sb.len)
                        skiff_strbuf_putc(&sb, ',');
                skiff_strbuf_puts(&sb, *p);
        }
        return skiff_strbuf_take(&sb);
}

static int bind_dir(const char *src, int fd, skiff_err_t *err)
{
        struct skiff_fdpath fp = skiff_fdpath(fd);
        if (mount(src, fp.p, NULL, MS_BIND | MS_REC, NULL) < 0)
                return skiff_error_set_errno(err, errno, "bind `%s`", src);
        return 0;
}

static int mount_cgroup2(const struct skiff_spec *spec, int rootfd, const char *dest,
                         const struct skiff_mount_opts *o, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, dest, SKIFF_MOUNTS_MKDIR, &fd, err);
        if (r < 0)
                return r;
        bool bind = false;
        struct skiff_mount_opts o2 = *o;
        if (!skiff_mounts_spec_has_ns(spec, SKIFF_NS_CGROUP) ||
            mount("cgroup2", skiff_fdpath(fd).p, "cgroup2", o->flags, o->data) < 0) {
                if (skiff_mounts_spec_has_ns(spec, SKIFF_NS_CGROUP) && errno != EPERM &&
                    errno != EBUSY)
                        return skiff_error_set_errno(err, errno, "mount cgroup2");
                /* No cgroup namespace (or mounting is refused): show our own cgroup2
                 * directory of the host. */
                _cleanup_(hiers_free) struct hiers h = {.only_v2 = true};
                _cleanup_(cg_lines_free) struct cg_lines l = {0};
                r = skiff_mountinfo_foreach(collect_hier_cb, &h, err);
                if (r >= 0)
                        r = read_self_cgroup(&l, err);
                if (r < 0)
                        return r;
                const struct cg_line *line = h.n ? line_for(&l, &h.v[0]) : NULL;
                if (!line)
                        return skiff_error_set(err, ENOENT,
                                               "no cgroup2 hierarchy on the host to bind");
                _cleanup_free_ char *src = own_dir(&h.v[0], line);
                r = bind_dir(src, fd, err);
                if (r < 0)
                        return r;
                bind = true;
                o2.recursive = true;
        }
        _cleanup_close_ int mfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, dest, SKIFF_MOUNTS_NO_CREATE, &mfd, err);
        if (r < 0)
                return r;
        return skiff_mounts_post_mount(mfd, &o2, bind, err);
}

/* Recreates the host's comount symlinks ("cpu" -> "cpu,cpuacct") in the tmpfs. */
static int copy_cgroup_symlinks(int tfd, skiff_err_t *err)
{
        _cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
        if (!d)
                return skiff_error_set_errno(err, errno, "open `/sys/fs/cgroup`");
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_LNK)
                        continue;
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                if (symlinkat(target, tfd, de->d_name) < 0 && errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "create symlink `%s`", de->d_name);
        }
        return 0;
}

static int mount_cgroup_v1(const struct skiff_spec *spec, int rootfd, const char *dest,
                           const struct skiff_mount_opts *o, skiff_err_t *err)
{
        bool has_ns = skiff_mounts_spec_has_ns(spec, SKIFF_NS_CGROUP);
        _cleanup_(hiers_free) struct hiers h = {0};
        _cleanup_(cg_lines_free) struct cg_lines l = {0};
        int r = skiff_mountinfo_foreach(collect_hier_cb, &h, err);
        if (r >= 0)
                r = read_self_cgroup(&l, err);
        if (r < 0)
                return r;

        _cleanup_close_ int fd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, dest, SKIFF_MOUNTS_MKDIR, &fd, err);
        if (r < 0)
                return r;
        unsigned long tflags = o->flags & ~(MS_RDONLY | MS_REMOUNT);
        if (mount("tmpfs", skiff_fdpath(fd).p, "tmpfs", tflags, "mode=755") < 0)
                return skiff_error_set_errno(err, errno, "mount tmpfs");
        _cleanup_close_ int tfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, dest, SKIFF_MOUNTS_NO_CREATE, &tfd, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < h.n; i++) {
                const struct hier *hi = &h.v[i];
                const struct cg_line *line = line_for(&l, hi);
                if (!line)
                        continue;
                const char *name = skiff_path_basename(hi->mount_point);
                if (mkdirat(tfd, name, 0755) < 0 && errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "create directory `%s`", name);
                _cleanup_close_ int cfd =
                    openat(tfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                        return skiff_error_set_errno(err, errno, "open `%s`", name);
                struct skiff_fdpath cp = skiff_fdpath(cfd);
                if (has_ns) {
                        /* In a cgroup namespace a fresh mount shows the container's cgroup as
                         * the root. */
                        bool v2 = strcmp(hi->fstype, "cgroup2") == 0;
                        _cleanup_free_ char *data = v2 ? NULL : v1_data(hi->super_opts);
                        if (mount("cgroup", cp.p, hi->fstype, o->flags & ~MS_REMOUNT, data) < 0)
                                return skiff_error_set_errno(err, errno, "mount %s `%s`",
                                                             hi->fstype, name);
                        continue;
                }
                _cleanup_free_ char *src = own_dir(hi, line);
                r = bind_dir(src, cfd, err);
                if (r < 0)
                        return r;
                _cleanup_close_ int mfd = openat(tfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (mfd < 0)
                        return skiff_error_set_errno(err, errno, "open `%s`", name);
                struct skiff_mount_opts o2 = {.flags = o->flags, .clear = o->clear};
                r = skiff_mounts_post_mount(mfd, &o2, true, err);
                if (r < 0)
                        return skiff_error_wrap(err, "cgroup `%s`", name);
        }
        r = copy_cgroup_symlinks(tfd, err);
        if (r < 0)
                return r;
        struct skiff_mount_opts o2 = *o;
        o2.recursive = false;
        return skiff_mounts_post_mount(tfd, &o2, true, err);
}

int skiff_mounts_cgroup(const struct skiff_spec *spec, int rootfd, const char *dest,
                        const struct skiff_mount_opts *o, bool want_v2, skiff_err_t *err)
{
        struct statfs sfs;
        if (statfs("/sys/fs/cgroup", &sfs) < 0)
                return skiff_error_set_errno(err, errno, "statfs `/sys/fs/cgroup`");
        if (want_v2 || sfs.f_type == CGROUP2_SUPER_MAGIC)
                return mount_cgroup2(spec, rootfd, dest, o, err);
        return mount_cgroup_v1(spec, rootfd, dest, o, err);
}
