/* Host side: the CreateTaskRequest rootfs mounts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/container.h"
#include "oci/mounts-internal.h"

/* True when the kernel lists type in /proc/filesystems ("nodev\ttmpfs" or "\text4"). */
static bool fs_type_known(const char *type)
{
        if (strcmp(type, "overlay") == 0) /* loaded on demand by the first mount */
                return true;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (skiff_fs_read_file("/proc/filesystems", 1u << 20, &buf, &len, NULL) < 0)
                return false;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *name = strrchr(line, '\t');
                name = name ? name + 1 : line;
                if (strcmp(name, type) == 0)
                        return true;
        }
        return false;
}

/* Rewrites "lowerdir=/a/b/1:/a/b/2" in data to paths relative to their common parent
 * directory ("lowerdir=1:2"); *ret_dir gets that directory. -E2BIG when there is no
 * lowerdir= option. */
static int overlay_compact(const char *data, char **ret_data, char **ret_dir)
{
        _cleanup_strv_ char **opts = skiff_strv_split(data, ",", false);
        char **lower = NULL;
        for (char **p = opts; *p; p++)
                if (strncmp(*p, "lowerdir=", 9) == 0)
                        lower = p;
        if (!lower)
                return -E2BIG;
        _cleanup_strv_ char **dirs = skiff_strv_split(*lower + 9, ":", true);
        if (!dirs[0] || dirs[0][0] != '/')
                return -E2BIG;
        _cleanup_free_ char *common = skiff_path_dirname(dirs[0]);
        for (;;) {
                size_t n = strcmp(common, "/") == 0 ? 0 : strlen(common);
                bool all = true;
                for (char **d = dirs; *d && all; d++)
                        all = strncmp(*d, common, n) == 0 && (*d)[n] == '/' && (*d)[n + 1];
                if (all)
                        break;
                char *up = skiff_path_dirname(common);
                free(common);
                common = up;
        }
        size_t n = strcmp(common, "/") == 0 ? 0 : strlen(common);
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (char **p = opts; *p; p++) {
                if (sb.len)
                        skiff_strbuf_putc(&sb, ',');
                if (p != lower) {
                        skiff_strbuf_puts(&sb, *p);
                        continue;
                }
                skiff_strbuf_puts(&sb, "lowerdir=");
                for (char **d = dirs; *d; d++) {
                        if (d != dirs)
                                skiff_strbuf_putc(&sb, ':');
                        skiff_strbuf_puts(&sb, *d + n + 1);
                }
        }
        *ret_data = skiff_strbuf_take(&sb);
        *ret_dir = TAKE_PTR(common);
        return 0;
}

/* mount(2) from a forked helper whose cwd is dir, so relative paths in data resolve there and
 * the caller's cwd is untouched. target must be absolute. */
static int mount_from_dir(const char *dir, const char *source, const char *target, const char *type,
                          unsigned long flags, const char *data)
{
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (chdir(dir) < 0)
                        _exit(errno & 0xff);
                if (mount(source, target, type, flags, data) < 0)
                        _exit(errno & 0xff);
                _exit(0);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(st))
                return -EIO;
        return -WEXITSTATUS(st);
}

static int mount_overlay(const char *source, const char *target, unsigned long flags,
                         const char *data, skiff_err_t *err)
{
        size_t limit = (size_t)sysconf(_SC_PAGESIZE);
        if (!data || strlen(data) < limit) {
                if (mount(source, target, "overlay", flags, data) < 0)
                        return skiff_error_set_errno(err, errno, "mount overlay");
                return 0;
        }
        _cleanup_free_ char *short_data = NULL, *dir = NULL;
        int r = overlay_compact(data, &short_data, &dir);
        if (r < 0 || strlen(short_data) >= limit)
                return skiff_error_set(err, E2BIG,
                                       "mount overlay: options are %zu bytes, more than a page "
                                       "(%zu) even with relative lowerdir paths",
                                       short_data ? strlen(short_data) : strlen(data), limit);
        r = mount_from_dir(dir, source, target, "overlay", flags, short_data);
        if (r < 0)
                return skiff_error_set_errno(err, r, "mount overlay (lowerdir relative to `%s`)",
                                             dir);
        return 0;
}

static int mount_one(const char *root, const struct skiff_rootfs_mount *m, char **ret_dest,
                     skiff_err_t *err)
{
        _cleanup_mount_opts_ struct skiff_mount_opts o = {0};
        skiff_mount_opts_parse(m->options, &o);
        if (o.unsupported)
                return skiff_error_set(err, EINVAL, "option `%s` is not supported", o.unsupported);
        const char *type = m->type ? m->type : "";
        bool bind = strcmp(type, "bind") == 0 || strcmp(type, "rbind") == 0 ||
                    ((!type[0] || strcmp(type, "none") == 0) && o.bind);
        if (!bind && (!type[0] || !fs_type_known(type)))
                return skiff_error_set(err, EINVAL, "unknown mount type `%s`", type);
        if (!m->source || !m->source[0])
                return skiff_error_set(err, EINVAL, "missing source");

        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", root);
        _cleanup_close_ int fd = -EBADF;
        enum skiff_mounts_create create = SKIFF_MOUNTS_MKDIR;
        struct stat st;
        if (bind && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode))
                create = SKIFF_MOUNTS_MKFILE;
        const char *rel = m->target && m->target[0] ? m->target : "/";
        int r = skiff_mounts_open_in_root(rootfd, rel, create, &fd, err);
        if (r < 0)
                return r;
        struct skiff_fdpath fp = skiff_fdpath(fd);
        char dest[PATH_MAX];
        ssize_t dn = readlink(fp.p, dest, sizeof(dest) - 1);
        if (dn < 0)
                return skiff_error_set_errno(err, errno, "resolve target `%s`", rel);
        dest[dn] = '\0';

        if (bind) {
                bool rec = o.recursive || strcmp(type, "rbind") == 0;
                if (mount(m->source, fp.p, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
                        return skiff_error_set_errno(err, errno, "bind `%s` on `%s`", m->source,
                                                     dest);
                o.recursive = rec;
        } else if (strcmp(type, "overlay") == 0) {
                r = mount_overlay(m->source, fp.p, o.flags, o.data, err);
                if (r < 0)
                        return r;
        } else if (mount(m->source, fp.p, type, o.flags, o.data) < 0) {
                return skiff_error_set_errno(err, errno, "mount %s `%s` on `%s`", type, m->source,
                                             dest);
        }
        *ret_dest = xstrdup(dest);
        _cleanup_close_ int mfd = open(dest, O_PATH | O_CLOEXEC);
        if (mfd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", dest);
        return skiff_mounts_post_mount(mfd, &o, bind, err);
}

int skiff_mounts_rootfs_mount(const char *target, const struct skiff_rootfs_mount *m, size_t n,
                              skiff_err_t *err)
{
        _cleanup_free_ char *root = realpath(target, NULL);
        if (!root)
                return skiff_error_set_errno(err, errno, "resolve rootfs target `%s`", target);
        _cleanup_strv_ char **done = NULL;
        for (size_t i = 0; i < n; i++) {
                char *dest = NULL;
                int r = mount_one(root, &m[i], &dest, err);
                if (dest)
                        skiff_strv_push_take(&done, dest);
                if (r >= 0)
                        continue;
                /* Roll back in reverse order; a detach takes submounts with it. */
                for (size_t j = skiff_strv_len(done); j > 0; j--)
                        (void)umount2(done[j - 1], MNT_DETACH); /* best effort */
                return skiff_error_wrap(err, "mount rootfs[%zu]", i);
        }
        return 0;
}

int skiff_mounts_rootfs_umount(const char *target, skiff_err_t *err)
{
        for (int i = 0; i < 4096; i++) {
                if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                        continue;
                if (errno == EINVAL || errno == ENOENT)
                        return 0;
                if (errno == EINTR)
                        continue;
                return skiff_error_set_errno(err, errno, "unmount rootfs `%s`", target);
        }
        return skiff_error_set(err, EBUSY, "unmount rootfs `%s`: still mounted after 4096 unmounts",
                               target);
}
