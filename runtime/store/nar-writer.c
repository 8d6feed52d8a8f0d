/* NAR writer: `nix-store --dump` byte for byte. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/xalloc.h"
#include "store/nar.h"

#define OUT_BUF (256 * 1024)

struct writer {
        skiff_nar_write_cb cb;
        void *userdata;
        uint8_t *buf;
        size_t len;
};

static int flush(struct writer *w, skiff_err_t *err)
{
        if (w->len == 0)
                return 0;
        int r = w->cb(w->buf, w->len, w->userdata, err);
        w->len = 0;
        return r;
}

static int put(struct writer *w, const void *data, size_t n, skiff_err_t *err)
{
        const uint8_t *p = data;
        while (n) {
                if (w->len == OUT_BUF) {
                        int r = flush(w, err);
                        if (r < 0)
                                return r;
                }
                size_t k = OUT_BUF - w->len < n ? OUT_BUF - w->len : n;
                memcpy(w->buf + w->len, p, k);
                w->len += k;
                p += k;
                n -= k;
        }
        return 0;
}

static int put_len(struct writer *w, uint64_t n, skiff_err_t *err)
{
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(n >> (8 * i));
        return put(w, le, 8, err);
}

static int put_pad(struct writer *w, uint64_t n, skiff_err_t *err)
{
        static const uint8_t zero[8];
        return n % 8 ? put(w, zero, 8 - n % 8, err) : 0;
}

static int put_str(struct writer *w, const char *s, size_t n, skiff_err_t *err)
{
        int r = put_len(w, n, err);
        if (r >= 0)
                r = put(w, s, n, err);
        if (r >= 0)
                r = put_pad(w, n, err);
        return r;
}

static int put_strs(struct writer *w, const char *const *v, skiff_err_t *err)
{
        for (; *v; v++) {
                int r = put_str(w, *v, strlen(*v), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dump_node(struct writer *w, int parent, const char *name, const char *shown,
                     skiff_err_t *err);

static int dump_regular(struct writer *w, int dirfd, const char *name, const char *shown,
                        const struct stat *st, skiff_err_t *err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", shown);
        struct stat fst;
        if (fstat(fd, &fst) < 0)
                return skiff_error_set_errno(err, errno, "stat `%s`", shown);
        if (!S_ISREG(fst.st_mode) || fst.st_size != st->st_size)
                return skiff_error_set(err, EAGAIN, "`%s` changed while being archived", shown);
        const char *const head[] = {"(", "type", "regular", NULL};
        int r = put_strs(w, head, err);
        if (r >= 0 && (st->st_mode & S_IXUSR)) {
                const char *const ex[] = {"executable", "", NULL};
                r = put_strs(w, ex, err);
        }
        if (r >= 0)
                r = put_str(w, "contents", 8, err);
        uint64_t size = (uint64_t)st->st_size;
        if (r >= 0)
                r = put_len(w, size, err);
        if (r < 0)
                return r;
        uint64_t done = 0;
        while (done < size) {
                if (w->len == OUT_BUF && (r = flush(w, err)) < 0)
                        return r;
                size_t want = OUT_BUF - w->len;
                if (want > size - done)
                        want = (size_t)(size - done);
                ssize_t n = read(fd, w->buf + w->len, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return skiff_error_set_errno(err, errno, "read `%s`", shown);
                if (n == 0)
                        return skiff_error_set(err, EAGAIN, "`%s` shrank while being archived",
                                               shown);
                w->len += (size_t)n;
                done += (uint64_t)n;
        }
        r = put_pad(w, size, err);
        if (r >= 0)
                r = put_str(w, ")", 1, err);
        return r;
}

static int dump_symlink(struct writer *w, int dirfd, const char *name, const char *shown,
                        const struct stat *st, skiff_err_t *err)
{
        size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
        for (;;) {
                _cleanup_free_ char *t = xmalloc(cap);
                ssize_t n = readlinkat(dirfd, name, t, cap);
                if (n < 0)
                        return skiff_error_set_errno(err, errno, "readlink `%s`", shown);
                if ((size_t)n >= cap) {
                        cap *= 2;
                        continue;
                }
                const char *const head[] = {"(", "type", "symlink", "target", NULL};
                int r = put_strs(w, head, err);
                if (r >= 0)
                        r = put_str(w, t, (size_t)n, err);
                if (r >= 0)
                        r = put_str(w, ")", 1, err);
                return r;
        }
}

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dump_directory(struct writer *w, int dirfd, const char *name, const char *shown,
                          skiff_err_t *err)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", shown);
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                return skiff_error_set_errno(err, e, "opendir `%s`", shown);
        }
        _cleanup_closedir_ DIR *dir = d;
        _cleanup_strv_ char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(dir))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n + 2 > cap) {
                        cap = cap ? cap * 2 : 16;
                        names = xreallocarray(names, cap, sizeof(char *));
                }
                names[n++] = xstrdup(de->d_name);
                names[n] = NULL;
        }
        if (errno)
                return skiff_error_set_errno(err, errno, "readdir `%s`", shown);
        if (n)
                qsort(names, n, sizeof(char *), cmp_name);
        const char *const head[] = {"(", "type", "directory", NULL};
        int r = put_strs(w, head, err);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *const ent[] = {"entry", "(", "name", names[i], "node", NULL};
                r = put_strs(w, ent, err);
                if (r < 0)
                        break;
                _cleanup_free_ char *sub = xasprintf("%s/%s", shown, names[i]);
                r = dump_node(w, fd, names[i], sub, err);
                if (r >= 0)
                        r = put_str(w, ")", 1, err);
        }
        if (r >= 0)
                r = put_str(w, ")", 1, err);
        return r;
}

static int dump_node(struct writer *w, int parent, const char *name, const char *shown,
                     skiff_err_t *err)
{
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return skiff_error_set_errno(err, errno, "stat `%s`", shown);
        if (S_ISREG(st.st_mode))
                return dump_regular(w, parent, name, shown, &st, err);
        if (S_ISLNK(st.st_mode))
                return dump_symlink(w, parent, name, shown, &st, err);
        if (S_ISDIR(st.st_mode))
                return dump_directory(w, parent, name, shown, err);
        return skiff_error_set(err, EINVAL, "`%s` has an unsupported file type", shown);
}

int skiff_nar_dump(int parent, const char *path, skiff_nar_write_cb cb, void *userdata,
                   skiff_err_t *err)
{
        _cleanup_free_ uint8_t *buf = xmalloc(OUT_BUF);
        struct writer w = {.cb = cb, .userdata = userdata, .buf = buf};
        int r = put_str(&w, "nix-archive-1", 13, err);
        if (r >= 0)
                r = dump_node(&w, parent, path, path, err);
        if (r >= 0)
                r = flush(&w, err);
        return r;
}

struct hash_sink {
        struct skiff_sha256 h;
        uint64_t n;
};

static int hash_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        struct hash_sink *s = userdata;
        skiff_sha256_update(&s->h, data, len);
        s->n += len;
        return 0;
}

int skiff_nar_hash_path(int dirfd, const char *path, struct skiff_nixhash *ret_hash,
                        uint64_t *ret_size, skiff_err_t *err)
{
        struct hash_sink s = {.n = 0};
        skiff_sha256_init(&s.h);
        int r = skiff_nar_dump(dirfd, path, hash_cb, &s, err);
        if (r < 0) {
                skiff_sha256_abort(&s.h);
                return r;
        }
        skiff_sha256_final(&s.h, ret_hash->d);
        if (ret_size)
                *ret_size = s.n;
        return 0;
}
