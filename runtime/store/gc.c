#include "store/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "store/config.h"
#include "store/narinfo.h"
#include "store/storepath.h"

struct entry {
        char *base;
        char **refs; /* NULL when the narinfo is missing */
        uint64_t size;
        struct timespec mtime; /* of its narinfo: when it was realized */
        bool live;
};

struct gc {
        const struct skiff_config *cfg;
        struct entry *e; /* sorted by base once loaded */
        size_t n;
        struct entry **stack; /* n slots: mark()'s work list */
};

static int cmp_base(const void *a, const void *b)
{
        return strcmp(((const struct entry *)a)->base, ((const struct entry *)b)->base);
}

/* g->e is sorted by base once loaded. */
static struct entry *find(struct gc *g, const char *base)
{
        struct entry key = {.base = (char *)base};
        return g->n ? bsearch(&key, g->e, g->n, sizeof(*g->e), cmp_base) : NULL;
}

/* Marks base and everything it references, with an explicit stack: reference chains can be
 * longer than the C stack is deep. */
static void mark(struct gc *g, const char *base)
{
        struct entry *e = find(g, base);
        if (!e || e->live)
                return;
        e->live = true;
        size_t top = 0;
        g->stack[top++] = e; /* each entry is pushed once (when it turns live): top <= g->n */
        while (top) {
                struct entry *cur = g->stack[--top];
                for (char **r = cur->refs; r && *r; r++) {
                        struct entry *d = find(g, *r);
                        if (d && !d->live) {
                                d->live = true;
                                g->stack[top++] = d;
                        }
                }
        }
}

static void mark_path(struct gc *g, const char *path)
{
        const char *base = NULL;
        if (skiff_storepath_parse(path, g->cfg->store_dir, &base, NULL) >= 0)
                mark(g, base);
        else if (skiff_storepath_check_basename(path, NULL) >= 0)
                mark(g, path);
}

static int load_entries(struct gc *g, skiff_err_t *err)
{
        _cleanup_free_ char *store = xasprintf("%s/store", g->cfg->store_root);
        DIR *d = opendir(store);
        if (!d)
                return errno == ENOENT ? 0 : skiff_error_set_errno(err, errno, "open `%s`", store);
        _cleanup_closedir_ DIR *dir = d;
        struct dirent *de;
        size_t cap = 0;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                if (g->n == cap) {
                        cap = cap ? cap * 2 : 64;
                        g->e = xreallocarray(g->e, cap, sizeof(*g->e));
                }
                struct entry *e = &g->e[g->n++];
                memset(e, 0, sizeof(*e));
                e->base = xstrdup(de->d_name);
                _cleanup_free_ char *nip =
                    xasprintf("%s/narinfo/%.32s.narinfo", g->cfg->store_root, e->base);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                struct stat st;
                if (skiff_fs_read_file(nip, SKIFF_NARINFO_MAX, &buf, &len, NULL) >= 0 &&
                    stat(nip, &st) == 0) {
                        _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
                        if (skiff_narinfo_parse(buf, len, g->cfg->store_dir, &ni, NULL) >= 0) {
                                e->refs = TAKE_PTR(ni->references);
                                e->size = ni->nar_size;
                                e->mtime = st.st_mtim;
                        }
                }
        }
        if (g->n)
                qsort(g->e, g->n, sizeof(*g->e), cmp_base);
        g->stack = xcalloc(g->n + 1, sizeof(*g->stack));
        return 0;
}

/* Marks from every line of every file under roots/. */
static int mark_roots_dir(struct gc *g, const char *dirpath, unsigned depth, skiff_err_t *err)
{
        if (depth > 16)
                return 0;
        DIR *d = opendir(dirpath);
        if (!d)
                return errno == ENOENT ? 0
                                       : skiff_error_set_errno(err, errno, "open `%s`", dirpath);
        _cleanup_closedir_ DIR *dir = d;
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *p = skiff_path_join(dirpath, de->d_name);
                struct stat st;
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int r = mark_roots_dir(g, p, depth + 1, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                _cleanup_free_ char *buf = NULL;
                int r = skiff_fs_read_file(p, 16 << 20, &buf, NULL, err);
                if (r < 0)
                        return r;
                _cleanup_strv_ char **lines = skiff_strv_split(buf, "\n", true);
                for (char **l = lines; *l; l++)
                        mark_path(g, *l);
        }
        return 0;
}

static int cmp_age(const void *a, const void *b)
{
        const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
        return strcmp(x->base, y->base); /* ties: a stable order, so runs are repeatable */
}

int skiff_gc_run(const struct skiff_config *cfg, const struct skiff_gc_opts *opts,
                 struct skiff_gc_result *ret, skiff_err_t *err)
{
        _cleanup_free_ char *locks = xasprintf("%s/locks", cfg->store_root);
        int r = skiff_fs_mkdir_p(locks, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *lockp = xasprintf("%s/store.lock", locks);
        _cleanup_close_ int lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lk < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", lockp);
        while (flock(lk, LOCK_EX) < 0)
                if (errno != EINTR)
                        return skiff_error_set_errno(err, errno, "lock `%s`", lockp);
        struct gc g = {.cfg = cfg};
        struct skiff_gc_result res = {0};
        r = load_entries(&g, err);
        if (r >= 0) {
                _cleanup_free_ char *roots = xasprintf("%s/roots", cfg->store_root);
                r = mark_roots_dir(&g, roots, 0, err);
        }
        for (char *const *k = opts->keep; r >= 0 && k && *k; k++)
                mark_path(&g, *k);
        /* A path without a readable narinfo has unknown references: keep it (it references
         * nothing we know of, so nothing else is kept on its account). */
        for (size_t i = 0; r >= 0 && i < g.n; i++)
                if (!g.e[i].refs)
                        g.e[i].live = true;
        uint64_t total = 0;
        _cleanup_free_ struct entry **dead = xcalloc(g.n + 1, sizeof(*dead));
        size_t ndead = 0;
        for (size_t i = 0; i < g.n; i++) {
                total += g.e[i].size;
                if (g.e[i].live)
                        res.live++;
                else
                        dead[ndead++] = &g.e[i];
        }
        res.total = g.n;
        qsort(dead, ndead, sizeof(*dead), cmp_age);
        uint64_t size = total;
        for (size_t i = 0; r >= 0 && i < ndead; i++) {
                if (opts->max_size && size <= opts->max_size)
                        break;
                struct entry *e = dead[i];
                if (!opts->dry_run) {
                        _cleanup_free_ char *sp =
                            xasprintf("%s/store/%s", cfg->store_root, e->base);
                        r = skiff_fs_rm_rf(sp, err);
                        if (r < 0)
                                break;
                        _cleanup_free_ char *nip =
                            xasprintf("%s/narinfo/%.32s.narinfo", cfg->store_root, e->base);
                        (void)unlink(nip); /* the path is gone; a leftover narinfo is harmless */
                        _cleanup_free_ char *lp = xasprintf("%s/%s.lock", locks, e->base);
                        (void)unlink(lp); /* idem */
                }
                res.deleted++;
                res.freed += e->size;
                size -= e->size;
                if (opts->report) {
                        _cleanup_free_ char *full = xasprintf("%s/%s", cfg->store_dir, e->base);
                        opts->report(full, e->size, opts->userdata);
                }
        }
        res.size_after = size;
        for (size_t i = 0; i < g.n; i++) {
                free(g.e[i].base);
                skiff_strv_free(g.e[i].refs);
        }
        free(g.e);
        free(g.stack);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}
