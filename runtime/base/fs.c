#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "path.h"
#include "xalloc.h"

int skiff_fs_read_fd(int fd, size_t max, char **out, size_t *len, skiff_err_t *err)
{
        size_t cap = 4096, n = 0;
        const size_t lim = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1; /* one byte past max */
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        for (;;) {
                if (n == cap) {
                        if (cap >= lim)
                                return skiff_error_set(err, EFBIG, "input exceeds %zu bytes", max);
                        cap = cap > lim / 2 ? lim : cap * 2;
                        buf = xrealloc(buf, cap + 1);
                }
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return skiff_error_set_errno(err, errno, "read");
                }
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n > max)
                        return skiff_error_set(err, EFBIG, "input exceeds %zu bytes", max);
        }
        buf[n] = '\0';
        *out = TAKE_PTR(buf);
        if (len)
                *len = n;
        return 0;
}

int skiff_fs_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                          skiff_err_t *err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        int r = skiff_fs_read_fd(fd, max, out, len, err);
        if (r < 0)
                return skiff_error_wrap(err, "read `%s`", path);
        return 0;
}

int skiff_fs_read_file(const char *path, size_t max, char **out, size_t *len, skiff_err_t *err)
{
        return skiff_fs_read_file_at(AT_FDCWD, path, max, out, len, err);
}

int skiff_fs_write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

ssize_t skiff_fs_read_full(int fd, void *buf, size_t len)
{
        size_t n = 0;
        while (n < len) {
                ssize_t r = read(fd, (char *)buf + n, len - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        return (ssize_t)n;
}

int skiff_fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                               bool do_sync, skiff_err_t *err)
{
        _cleanup_free_ char *dir = skiff_path_dirname(path);
        /* Per thread: two threads of one process may replace the same file. */
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.tmp.%d.%d", dir, skiff_path_basename(path),
                                             (int)getpid(), (int)gettid());
        const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        _cleanup_close_ int fd = open(tmp, flags, mode);
        if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* left by a dead process */
                fd = open(tmp, flags, mode);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "create `%s`", tmp);
        int r = skiff_fs_write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && do_sync && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return skiff_error_set_errno(err, -r, "write `%s`", tmp);
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                return skiff_error_set_errno(err, -r, "rename `%s` to `%s`", tmp, path);
        }
        return 0;
}

int skiff_fs_write_string_at(int dirfd, const char *path, const char *s, skiff_err_t *err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        size_t len = strlen(s);
        ssize_t w;
        do
                w = write(fd, s, len);
        while (w < 0 && errno == EINTR);
        if (w < 0)
                return skiff_error_set_errno(err, errno, "write `%s` to `%s`", s, path);
        if ((size_t)w != len)
                return skiff_error_set(err, EIO, "short write of `%s` to `%s`", s, path);
        return 0;
}

int skiff_fs_write_string(const char *path, const char *s, skiff_err_t *err)
{
        return skiff_fs_write_string_at(AT_FDCWD, path, s, err);
}

int skiff_fs_mkdir_p(const char *path, mode_t mode, skiff_err_t *err)
{
        _cleanup_free_ char *p = xstrdup(path);
        size_t len = strlen(p);
        for (size_t i = 1; i <= len; i++) {
                if (p[i] != '/' && p[i] != '\0')
                        continue;
                char saved = p[i];
                p[i] = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "mkdir `%s`", p);
                p[i] = saved;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return skiff_error_set_errno(err, errno, "stat `%s`", path);
        if (!S_ISDIR(st.st_mode))
                return skiff_error_set(err, ENOTDIR, "`%s` is not a directory", path);
        return 0;
}

static int rm_rf_children(int dfd, const char *what, skiff_err_t *err)
{
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return skiff_error_set_errno(err, errno, "opendir `%s`", what);
        }
        _cleanup_closedir_ DIR *dir = d;
        struct dirent *de;
        while ((errno = 0, de = readdir(dir))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int r = skiff_fs_rm_rf_at(dirfd(dir), de->d_name, err);
                if (r < 0)
                        return r;
        }
        if (errno)
                return skiff_error_set_errno(err, errno, "readdir `%s`", what);
        return 0;
}

int skiff_fs_rm_rf_at(int dirfd, const char *name, skiff_err_t *err)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return skiff_error_set_errno(err, errno, "stat `%s`", name);
        }
        if (S_ISDIR(st.st_mode)) {
                if ((st.st_mode & 0700) != 0700)
                        (void)!fchmodat(dirfd, name, st.st_mode | 0700, 0); /* best effort */
                int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return skiff_error_set_errno(err, errno, "open `%s`", name);
                int r = rm_rf_children(fd, name, err);
                if (r < 0)
                        return r;
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return skiff_error_set_errno(err, errno, "rmdir `%s`", name);
                return 0;
        }
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "unlink `%s`", name);
        return 0;
}

int skiff_fs_rm_rf(const char *path, skiff_err_t *err)
{
        return skiff_fs_rm_rf_at(AT_FDCWD, path, err);
}

int skiff_parse_u64(const char *s, uint64_t *out)
{
        if (!s || !*s || *s < '0' || *s > '9')
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
                        return -ERANGE;
        }
        *out = v;
        return 0;
}

int skiff_parse_i64(const char *s, int64_t *out)
{
        if (!s)
                return -EINVAL;
        bool neg = *s == '-';
        uint64_t u;
        int r = skiff_parse_u64(neg ? s + 1 : s, &u);
        if (r < 0)
                return r;
        if (neg) {
                if (u > (uint64_t)INT64_MAX + 1)
                        return -ERANGE;
                *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
                if (u > INT64_MAX)
                        return -ERANGE;
                *out = (int64_t)u;
        }
        return 0;
}

int skiff_fd_set_nonblock(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
        if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
                return -errno;
        return 0;
}

int skiff_fd_set_cloexec(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0)
                return -errno;
        int nfl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
        if (nfl != fl && fcntl(fd, F_SETFD, nfl) < 0)
                return -errno;
        return 0;
}
