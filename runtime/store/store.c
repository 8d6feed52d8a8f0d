#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "store/config.h"
#include "store/decompress.h"
#include "store/fetch.h"
#include "store/nar.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store/storepath.h"
#include "store/substituter.h"

struct skiff_store {
        const struct skiff_config *cfg; /* borrowed */
        int root_fd;
        int store_fd;
        int partial_fd;
        int narinfo_fd;
        int locks_fd;
        int lock_fd; /* locks/store.lock, held shared */
};

const struct skiff_config *skiff_store_config(const struct skiff_store *s)
{
        return s->cfg;
}

int skiff_store_root_fd(const struct skiff_store *s)
{
        return s->root_fd;
}

static int open_dir_at(int dfd, const char *name, int *ret, skiff_err_t *err)
{
        if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
                return skiff_error_set_errno(err, errno, "create `%s`", name);
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", name);
        *ret = fd;
        return 0;
}

static int flock_retry(int fd, int op)
{
        while (flock(fd, op) < 0) {
                if (errno != EINTR)
                        return -errno;
        }
        return 0;
}

/* Opens (creating) locks/<name>.lock and locks it with op. */
static int lock_path(struct skiff_store *s, const char *base, int op, int *ret, skiff_err_t *err)
{
        _cleanup_free_ char *n = xasprintf("%s.lock", base);
        _cleanup_close_ int fd =
            openat(s->locks_fd, n, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open lock `locks/%s`", n);
        int r = flock_retry(fd, op);
        if (r < 0)
                return r == -EWOULDBLOCK ? r : skiff_error_set_errno(err, -r, "lock `locks/%s`", n);
        *ret = TAKE_FD(fd);
        return 0;
}

/* Removes partials of paths nobody holds the lock of. */
static int sweep_partials(struct skiff_store *s, skiff_err_t *err)
{
        int dup_fd = fcntl(s->partial_fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return skiff_error_set_errno(err, errno, "open `store/.partial`");
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return skiff_error_set_errno(err, errno, "open `store/.partial`");
        }
        _cleanup_closedir_ DIR *dir = d;
        rewinddir(dir);
        struct dirent *de;
        _cleanup_strv_ char **names = NULL;
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.')
                        skiff_strv_push(&names, de->d_name);
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *base = xstrdup(*n);
                char *dot = strrchr(base, '.');
                if (!dot)
                        continue;
                *dot = '\0';
                _cleanup_close_ int lk = -EBADF;
                if (lock_path(s, base, LOCK_EX | LOCK_NB, &lk, NULL) < 0)
                        continue; /* in use (or unlockable): leave it */
                int r = skiff_fs_rm_rf_at(s->partial_fd, *n, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int skiff_store_open(const struct skiff_config *cfg, struct skiff_store **ret, skiff_err_t *err)
{
        int r = skiff_fs_mkdir_p(cfg->store_root, 0755, err);
        if (r < 0)
                return r;
        _cleanup_(skiff_store_closep) struct skiff_store *s = xcalloc(1, sizeof(*s));
        s->cfg = cfg;
        s->root_fd = s->store_fd = s->partial_fd = s->narinfo_fd = s->locks_fd = s->lock_fd =
            -EBADF;
        s->root_fd = open(cfg->store_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", cfg->store_root);
        int dummy = -EBADF;
        if ((r = open_dir_at(s->root_fd, "store", &s->store_fd, err)) < 0 ||
            (r = open_dir_at(s->store_fd, ".partial", &s->partial_fd, err)) < 0 ||
            (r = open_dir_at(s->root_fd, "narinfo", &s->narinfo_fd, err)) < 0 ||
            (r = open_dir_at(s->root_fd, "locks", &s->locks_fd, err)) < 0 ||
            (r = open_dir_at(s->root_fd, "roots", &dummy, err)) < 0)
                return skiff_error_wrap(err, "store `%s`", cfg->store_root);
        close(dummy);
        s->lock_fd = openat(s->locks_fd, "store.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lock_fd < 0)
                return skiff_error_set_errno(err, errno, "open `locks/store.lock`");
        r = flock_retry(s->lock_fd, LOCK_SH);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "lock `locks/store.lock`");
        r = sweep_partials(s, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

struct skiff_store *skiff_store_close(struct skiff_store *s)
{
        if (!s)
                return NULL;
        skiff_closep(&s->lock_fd);
        skiff_closep(&s->locks_fd);
        skiff_closep(&s->narinfo_fd);
        skiff_closep(&s->partial_fd);
        skiff_closep(&s->store_fd);
        skiff_closep(&s->root_fd);
        free(s);
        return NULL;
}

static bool exists_at(int dfd, const char *name)
{
        struct stat st;
        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- the per-path pipeline: bytes -> FileHash -> decompress -> NAR reader -------------- */

struct pipeline {
        struct skiff_store *s;
        const struct skiff_narinfo *ni;
        enum skiff_compression comp;
        char *partial; /* name in store/.partial */
        struct skiff_decompress *dec;
        struct skiff_nar_reader *reader;
};

static int dec_out(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        struct pipeline *p = userdata;
        return skiff_nar_reader_feed(p->reader, data, len, err);
}

static void pipeline_done(struct pipeline *p)
{
        p->dec = skiff_decompress_free(p->dec);
        p->reader = skiff_nar_reader_free(p->reader);
}

static int pipeline_start(struct pipeline *p, skiff_err_t *err)
{
        pipeline_done(p);
        int r = skiff_fs_rm_rf_at(p->s->partial_fd, p->partial, err);
        if (r < 0)
                return r;
        struct skiff_nar_reader_opts o = {.canonical = true,
                                          .limits = {.max_total = p->ni->nar_size}};
        r = skiff_nar_reader_new(p->s->partial_fd, p->partial, &o, &p->reader, err);
        if (r < 0)
                return r;
        r = skiff_decompress_new(p->comp, dec_out, p, &p->dec, err);
        if (r < 0)
                return r;
        return 0;
}

static int pipeline_feed(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        struct pipeline *p = userdata;
        return skiff_decompress_feed(p->dec, data, len, err);
}

static int pipeline_reset(void *userdata, skiff_err_t *err)
{
        return pipeline_start(userdata, err);
}

static int mismatch(skiff_err_t *err, const char *what, const struct skiff_nixhash *want,
                    const struct skiff_nixhash *got)
{
        char a[SKIFF_NIXHASH_STR_MAX], b[SKIFF_NIXHASH_STR_MAX];
        skiff_nixhash_format(want, a);
        skiff_nixhash_format(got, b);
        return skiff_error_set(err, EBADMSG, "%s mismatch: expected %s, got %s", what, a, b);
}

/* The FileHash and file size come from the fetcher, which hashes the body as it delivers it.
 * Without compression the file is the NAR, so its hash is the NAR hash and is not computed
 * twice. */
static int pipeline_finish(struct pipeline *p, const struct skiff_fetch_result *fr,
                           skiff_err_t *err)
{
        int r = skiff_decompress_finish(p->dec, err);
        if (r < 0)
                return r;
        struct skiff_nixhash nh, fh;
        uint64_t ns = 0;
        r = skiff_nar_reader_finish(p->reader, &nh, &ns, err);
        if (r < 0)
                return r;
        if (p->comp == SKIFF_COMPRESSION_NONE)
                fh = nh;
        else
                memcpy(fh.d, fr->sha256, sizeof(fh.d));
        if (p->ni->file_size && p->ni->file_size != fr->size)
                return skiff_error_set(err, EBADMSG, "file size mismatch: expected %llu, got %llu",
                                       (unsigned long long)p->ni->file_size,
                                       (unsigned long long)fr->size);
        if (p->ni->has_file_hash && !skiff_nixhash_equal(&p->ni->file_hash, &fh))
                return mismatch(err, "FileHash", &p->ni->file_hash, &fh);
        if (ns != p->ni->nar_size)
                return skiff_error_set(err, EBADMSG, "NAR size mismatch: expected %llu, got %llu",
                                       (unsigned long long)p->ni->nar_size, (unsigned long long)ns);
        if (!skiff_nixhash_equal(&p->ni->nar_hash, &nh))
                return mismatch(err, "NarHash", &p->ni->nar_hash, &nh);
        return 0;
}

/* ---- narinfo lookup ------------------------------------------------------------------- */

/* narinfo/<hash part>.narinfo of a store path basename, relative to s->narinfo_fd. */
static void narinfo_name(const char *base, char name[static 48])
{
        snprintf(name, 48, "%.32s.narinfo", base);
}

static int local_narinfo(struct skiff_store *s, const char *base, struct skiff_narinfo **ret)
{
        char name[48];
        narinfo_name(base, name);
        _cleanup_close_ int fd = openat(s->narinfo_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_fd(fd, SKIFF_NARINFO_MAX, &buf, &len, NULL);
        if (r < 0)
                return r;
        return skiff_narinfo_parse(buf, len, s->cfg->store_dir, ret, NULL);
}

/* Marks a present path as just used: GC under a size budget deletes the least recently realized
 * or reused paths first (by their narinfo's mtime). Best effort. */
static void touch_narinfo(struct skiff_store *s, const char *base)
{
        char name[48];
        narinfo_name(base, name);
        (void)utimensat(s->narinfo_fd, name, NULL, AT_SYMLINK_NOFOLLOW);
}

static int save_narinfo(struct skiff_store *s, const struct skiff_narinfo *ni, skiff_err_t *err)
{
        char hp[33];
        skiff_narinfo_hash_part(ni, hp);
        _cleanup_free_ char *path = xasprintf("%s/narinfo/%s.narinfo", s->cfg->store_root, hp);
        _cleanup_free_ char *doc = skiff_narinfo_format(ni);
        return skiff_fs_write_file_atomic(path, doc, strlen(doc), 0644, false, err);
}

/* Downloads, verifies and adds one path. Called with the path lock held. */
static int fetch_path(struct skiff_store *s, struct skiff_fetch *f, const char *base,
                      const struct skiff_narinfo *ni, const char *sub, skiff_err_t *err)
{
        struct pipeline p = {.s = s, .ni = ni};
        int r = skiff_compression_from_name(ni->compression, &p.comp, err);
        if (r < 0)
                return r;
        p.partial = xasprintf("%s.%d", base, (int)getpid());
        _cleanup_free_ char *url = xasprintf("%s/%s", sub, ni->url);
        uint64_t max = ni->file_size ? ni->file_size : (64ULL << 30);
        struct skiff_fetch_result fr;
        r = pipeline_start(&p, err);
        if (r >= 0)
                r = skiff_fetch_stream(f, url, max,
                                       p.comp == SKIFF_COMPRESSION_NONE ? SKIFF_FETCH_NO_HASH : 0,
                                       pipeline_feed, pipeline_reset, &p, &fr, err);
        if (r >= 0)
                r = pipeline_finish(&p, &fr, err);
        pipeline_done(&p);
        /* Durability before visibility: one syncfs() of the store's file system per path instead
         * of an fsync() per file (a closure can hold tens of thousands of files; syncfs costs one
         * journal commit). A crash before the rename leaves a partial, swept on the next open. */
        if (r >= 0 && syncfs(s->partial_fd) < 0)
                r = skiff_error_set_errno(err, errno, "sync `store/.partial/%s`", p.partial);
        /* Moving a directory to another parent rewrites its "..": without root that needs write
         * permission on the (already read-only) top directory for the moment of the rename. */
        struct stat top;
        bool unpriv = geteuid() != 0 && r >= 0 &&
                      fstatat(s->partial_fd, p.partial, &top, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISDIR(top.st_mode);
        if (unpriv && fchmodat(s->partial_fd, p.partial, top.st_mode | S_IWUSR, 0) < 0)
                unpriv = false; /* the rename below then reports the problem */
        if (r >= 0 && renameat2(s->partial_fd, p.partial, s->store_fd, base, RENAME_NOREPLACE) < 0)
                r = skiff_error_set_errno(err, errno, "rename into `store/%s`", base);
        if (unpriv &&
            fchmodat(r >= 0 ? s->store_fd : s->partial_fd, r >= 0 ? base : p.partial,
                     top.st_mode & 07777, 0) < 0 &&
            r >= 0)
                r = skiff_error_set_errno(err, errno, "make `store/%s` read-only", base);
        if (r < 0) {
                (void)skiff_fs_rm_rf_at(s->partial_fd, p.partial, NULL); /* best effort */
                free(p.partial);
                return r;
        }
        free(p.partial);
        return save_narinfo(s, ni, err);
}

/* ---- the parallel closure walk -------------------------------------------------------- */

struct walk {
        struct skiff_store *s;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char **queue; /* basenames to do */
        size_t qhead, qlen, qcap;
        char **seen; /* every basename ever queued */
        size_t nseen, seencap;
        size_t inflight;
        size_t done;
        bool expand;
        struct skiff_fetch *fetch; /* shared by the workers: one multi handle for all transfers */
        const struct skiff_narinfo *const *known; /* borrowed descriptions (no narinfo fetch) */
        size_t nknown;
        bool failed;
        skiff_err_t error;
        skiff_store_progress_cb cb;
        void *userdata;
};

static bool seen_has(struct walk *w, const char *base)
{
        for (size_t i = 0; i < w->nseen; i++)
                if (strcmp(w->seen[i], base) == 0)
                        return true;
        return false;
}

/* Called with mu held. */
static void enqueue(struct walk *w, const char *base)
{
        if (seen_has(w, base))
                return;
        if (w->nseen == w->seencap) {
                w->seencap = w->seencap ? w->seencap * 2 : 64;
                w->seen = xreallocarray(w->seen, w->seencap, sizeof(char *));
        }
        w->seen[w->nseen++] = xstrdup(base);
        if (w->qlen == w->qcap) {
                w->qcap = w->qcap ? w->qcap * 2 : 64;
                w->queue = xreallocarray(w->queue, w->qcap, sizeof(char *));
        }
        w->queue[w->qlen++] = w->seen[w->nseen - 1];
}

static const struct skiff_narinfo *find_known(struct walk *w, const char *base)
{
        for (size_t i = 0; i < w->nknown; i++) {
                const char *b = skiff_path_basename(w->known[i]->store_path);
                if (strcmp(b, base) == 0)
                        return w->known[i];
        }
        return NULL;
}

/* A path described by the caller (e.g. by a signed generation document): the NAR is taken from
 * the first substituter that has its URL and checked against the description. */
static int realize_known(struct walk *w, struct skiff_fetch *f, const char *base,
                         const struct skiff_narinfo *kn, bool *ret_fetched, skiff_err_t *err)
{
        struct skiff_store *s = w->s;
        *ret_fetched = false;
        if (exists_at(s->store_fd, base)) {
                _cleanup_narinfo_ struct skiff_narinfo *local = NULL;
                if (local_narinfo(s, base, &local) >= 0) {
                        touch_narinfo(s, base);
                        return 0;
                }
        }
        _cleanup_close_ int lk = -EBADF;
        int r = lock_path(s, base, LOCK_EX, &lk, err);
        if (r < 0)
                return r;
        if (exists_at(s->store_fd, base))
                return save_narinfo(s, kn, err);
        /* The first substituter that serves the URL; one that does not answer is skipped, as
         * in skiff_substituter_find(). */
        struct skiff_substituter_skipped skipped = {0};
        r = -ENOENT;
        for (char **sub = s->cfg->substituters; sub && *sub; sub++) {
                _cleanup_free_ char *base_url = skiff_path_strip_trailing_slashes(*sub);
                r = fetch_path(s, f, base, kn, base_url, err);
                if (skiff_substituter_skip(&skipped, r, err))
                        r = -ENOENT;
                if (r != -ENOENT)
                        break;
                skiff_error_free(err);
        }
        int sr = skiff_substituter_skipped_finish(&skipped, "", r == -ENOENT ? err : NULL);
        if (r == -ENOENT)
                r = sr < 0 ? sr : skiff_error_set(err, ENOENT, "no substituter has `%s`", kn->url);
        *ret_fetched = r >= 0;
        return r;
}

static int realize_one(struct walk *w, struct skiff_fetch *f, const char *base,
                       struct skiff_narinfo **ret_ni, bool *ret_fetched, skiff_err_t *err)
{
        struct skiff_store *s = w->s;
        _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
        *ret_fetched = false;
        const struct skiff_narinfo *kn = find_known(w, base);
        if (kn) {
                int r = realize_known(w, f, base, kn, ret_fetched, err);
                if (r < 0)
                        return r;
                /* The caller's description stays the reference (a copy for the worker). */
                _cleanup_free_ char *doc = skiff_narinfo_format(kn);
                return skiff_narinfo_parse(doc, strlen(doc), s->cfg->store_dir, ret_ni, err);
        }
        if (exists_at(s->store_fd, base) && local_narinfo(s, base, &ni) >= 0) {
                touch_narinfo(s, base);
                *ret_ni = TAKE_PTR(ni);
                return 0;
        }
        struct skiff_substituter_hit hit = {0};
        int r = skiff_substituter_find(f, s->cfg->substituters, s->cfg->store_dir, base,
                                       s->cfg->require_signatures, s->cfg->keys, s->cfg->nkeys,
                                       &hit, err);
        if (r < 0)
                return r;
        ni = TAKE_PTR(hit.ni);
        _cleanup_free_ char *sub = TAKE_PTR(hit.cache);
        skiff_substituter_hit_done(&hit);
        _cleanup_close_ int lk = -EBADF;
        r = lock_path(s, base, LOCK_EX, &lk, err);
        if (r < 0)
                return r;
        if (exists_at(s->store_fd, base)) {
                r = save_narinfo(s, ni, err);
        } else {
                r = fetch_path(s, f, base, ni, sub, err);
                *ret_fetched = r >= 0;
        }
        if (r < 0)
                return r;
        *ret_ni = TAKE_PTR(ni);
        return 0;
}

static void *worker(void *arg)
{
        struct walk *w = arg;
        struct skiff_fetch *f = w->fetch;
        skiff_err_t err = NULL;
        int r = 0;
        pthread_mutex_lock(&w->mu);
        for (;;) {
                while (!w->failed && w->qhead == w->qlen && w->inflight > 0)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (w->failed || w->qhead == w->qlen)
                        break;
                const char *base = w->queue[w->qhead++];
                w->inflight++;
                pthread_mutex_unlock(&w->mu);

                struct skiff_narinfo *ni = NULL;
                bool fetched = false;
                r = realize_one(w, f, base, &ni, &fetched, &err);

                pthread_mutex_lock(&w->mu);
                w->inflight--;
                if (r < 0) {
                        if (!w->failed) {
                                skiff_error_wrap(&err, "`%s/%s`", w->s->cfg->store_dir, base);
                                w->failed = true;
                                w->error = TAKE_PTR(err);
                        }
                        skiff_error_free(&err);
                } else {
                        if (w->expand)
                                for (char **ref = ni->references; *ref; ref++)
                                        enqueue(w, *ref);
                        w->done++;
                        if (w->cb) {
                                struct skiff_store_event ev = {
                                    .kind = fetched ? SKIFF_STORE_EVENT_FETCHED
                                                    : SKIFF_STORE_EVENT_PRESENT,
                                    .path = ni->store_path,
                                    .nar_size = ni->nar_size,
                                    .file_size = fetched ? ni->file_size : 0,
                                    .done = w->done,
                                    .known = w->nseen,
                                };
                                w->cb(&ev, w->userdata);
                        }
                }
                skiff_narinfo_free(ni);
                pthread_cond_broadcast(&w->cv);
        }
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        skiff_error_free(&err);
        return NULL;
}

static int realize(struct skiff_store *s, char *const *paths, bool expand,
                   const struct skiff_narinfo *const *known, size_t nknown,
                   skiff_store_progress_cb cb, void *userdata, skiff_err_t *err);

int skiff_store_realize(struct skiff_store *s, char *const *paths, bool expand,
                        skiff_store_progress_cb cb, void *userdata, skiff_err_t *err)
{
        return realize(s, paths, expand, NULL, 0, cb, userdata, err);
}

int skiff_store_realize_described(struct skiff_store *s, const struct skiff_narinfo *const *known,
                                  size_t nknown, char *const *paths, skiff_store_progress_cb cb,
                                  void *userdata, skiff_err_t *err)
{
        for (size_t i = 0; i < nknown; i++) {
                const struct skiff_narinfo *ni = known[i];
                if (!ni->url || !ni->compression || !ni->store_path)
                        return skiff_error_set(err, EINVAL, "description %zu lacks a URL", i);
        }
        _cleanup_strv_ char **all = skiff_strv_copy(paths);
        for (size_t i = 0; i < nknown; i++)
                skiff_strv_push(&all, known[i]->store_path);
        return realize(s, all, false, known, nknown, cb, userdata, err);
}

static int realize(struct skiff_store *s, char *const *paths, bool expand,
                   const struct skiff_narinfo *const *known, size_t nknown,
                   skiff_store_progress_cb cb, void *userdata, skiff_err_t *err)
{
        struct walk w = {.s = s,
                         .expand = expand,
                         .known = known,
                         .nknown = nknown,
                         .cb = cb,
                         .userdata = userdata};
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        int r = 0;
        for (char *const *p = paths; p && *p; p++) {
                const char *base = NULL;
                r = skiff_storepath_parse(*p, s->cfg->store_dir, &base, err);
                if (r < 0)
                        goto out;
                enqueue(&w, base);
        }
        r = skiff_fetch_global_init(err);
        if (r < 0)
                goto out;
        r = skiff_fetch_new(s->cfg, &w.fetch, err);
        if (r < 0)
                goto out;
        size_t n = s->cfg->parallelism ? s->cfg->parallelism : 1;
        pthread_t *t = xcalloc(n, sizeof(pthread_t));
        size_t started = 0;
        for (; started < n; started++) {
                int e = pthread_create(&t[started], NULL, worker, &w);
                if (e != 0) {
                        if (started == 0)
                                r = skiff_error_set_errno(err, e, "start worker threads");
                        break;
                }
        }
        for (size_t i = 0; i < started; i++)
                pthread_join(t[i], NULL);
        free(t);
        if (r >= 0 && w.failed) {
                skiff_error_free(err);
                if (err)
                        *err = TAKE_PTR(w.error);
                r = err && *err ? -(*err)->errnum : -EIO;
        }
out:
        skiff_fetch_free(w.fetch);
        skiff_error_free(&w.error);
        for (size_t i = 0; i < w.nseen; i++)
                free(w.seen[i]);
        free(w.seen);
        free(w.queue);
        pthread_cond_destroy(&w.cv);
        pthread_mutex_destroy(&w.mu);
        return r;
}

/* ---- roots, listing, verification ------------------------------------------------------ */

int skiff_store_root_add(struct skiff_store *s, const char *name, char *const *paths,
                         skiff_err_t *err)
{
        if (!skiff_path_is_safe_relative(name))
                return skiff_error_set(err, EINVAL, "invalid root name `%s`", name);
        _cleanup_free_ char *file = xasprintf("%s/roots/%s", s->cfg->store_root, name);
        _cleanup_free_ char *dir = skiff_path_dirname(file);
        int r = skiff_fs_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (char *const *p = paths; p && *p; p++) {
                r = skiff_storepath_parse(*p, s->cfg->store_dir, NULL, err);
                if (r < 0)
                        return r;
                skiff_strbuf_printf(&sb, "%s\n", *p);
        }
        return skiff_fs_write_file_atomic(file, sb.buf ? sb.buf : "", sb.len, 0644, false, err);
}

int skiff_store_root_remove(struct skiff_store *s, const char *name, skiff_err_t *err)
{
        if (!skiff_path_is_safe_relative(name))
                return skiff_error_set(err, EINVAL, "invalid root name `%s`", name);
        _cleanup_free_ char *file = xasprintf("%s/roots/%s", s->cfg->store_root, name);
        if (unlink(file) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove root `%s`", name);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int skiff_store_list(struct skiff_store *s, char ***ret, skiff_err_t *err)
{
        int fd = fcntl(s->store_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `store`");
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return skiff_error_set_errno(err, errno, "open `store`");
        }
        _cleanup_closedir_ DIR *dir = d;
        rewinddir(dir);
        char **out = xcalloc(1, sizeof(char *));
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                skiff_strv_push_take(&out, xasprintf("%s/%s", s->cfg->store_dir, de->d_name));
        }
        qsort(out, skiff_strv_len(out), sizeof(char *), cmp_str);
        *ret = out;
        return 0;
}

int skiff_store_verify(struct skiff_store *s, bool repair, void (*report)(const char *line),
                       struct skiff_store_verify_result *ret, skiff_err_t *err)
{
        struct skiff_store_verify_result res = {0};
        _cleanup_strv_ char **paths = NULL;
        int r = skiff_store_list(s, &paths, err);
        if (r < 0)
                return r;
        _cleanup_strv_ char **bad = NULL;
        for (char **p = paths; *p; p++) {
                const char *base = skiff_path_basename(*p);
                res.checked++;
                _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
                _cleanup_free_ char *line = NULL;
                if (local_narinfo(s, base, &ni) < 0) {
                        line = xasprintf("`%s`: no narinfo", *p);
                } else {
                        struct skiff_nixhash h;
                        uint64_t size = 0;
                        skiff_err_t e = NULL;
                        _cleanup_free_ char *rel = xasprintf("store/%s", base);
                        if (skiff_nar_hash_path(s->root_fd, rel, &h, &size, &e) < 0) {
                                line = xasprintf("`%s`: %s", *p, e->msg);
                        } else if (size != ni->nar_size ||
                                   !skiff_nixhash_equal(&h, &ni->nar_hash)) {
                                char a[SKIFF_NIXHASH_STR_MAX];
                                skiff_nixhash_format(&h, a);
                                line = xasprintf("`%s`: NAR hash mismatch (now %s, %llu bytes)", *p,
                                                 a, (unsigned long long)size);
                        }
                        skiff_error_free(&e);
                }
                if (line) {
                        res.bad++;
                        if (report)
                                report(line);
                        skiff_strv_push(&bad, *p);
                }
        }
        int fd = fcntl(s->partial_fd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                res.partials++;
                closedir(d);
        } else if (fd >= 0) {
                close(fd);
        }
        if (repair && bad) {
                for (char **p = bad; *p; p++) {
                        const char *base = skiff_path_basename(*p);
                        _cleanup_close_ int lk = -EBADF;
                        r = lock_path(s, base, LOCK_EX, &lk, err);
                        if (r < 0)
                                return r;
                        r = skiff_fs_rm_rf_at(s->store_fd, base, err);
                        if (r < 0)
                                return r;
                }
                r = skiff_store_realize(s, bad, false, NULL, NULL, err);
                if (r < 0)
                        return skiff_error_wrap(err, "repair");
                res.repaired = skiff_strv_len(bad);
        }
        *ret = res;
        return 0;
}
