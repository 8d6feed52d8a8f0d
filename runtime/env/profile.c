#include "env/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"

#define DEPTH_MAX   64
#define SYMLINK_MAX 40

struct node {
        char *name;
        char *target;   /* symlink target (container path); NULL for a merged directory */
        char *src;      /* host path of the content (resolved), for expanding a directory link */
        char *provider; /* container path of the (first) provider, for messages */
        bool is_dir;
        int32_t priority;
        size_t layer;
        struct node **kids;
        size_t n_kids;
};

static void node_free(struct node *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < n->n_kids; i++)
                node_free(n->kids[i]);
        free(n->kids);
        free(n->name);
        free(n->target);
        free(n->src);
        free(n->provider);
        free(n);
}
SKIFF_DEFINE_CLEANUP(struct node *, node_free)

struct ctx {
        const struct skiff_profile_input *in;
        const char *real; /* real_store or store_dir */
};

/* Maps a container path under store_dir to the host path under real_store; NULL when outside. */
static char *map_store(const struct ctx *c, const char *p)
{
        size_t dl = strlen(c->in->store_dir);
        if (strncmp(p, c->in->store_dir, dl) != 0 || (p[dl] != '/' && p[dl] != '\0'))
                return NULL;
        return xasprintf("%s%s", c->real, p + dl);
}

/* Follows symlinks of host path p inside real_store. Returns the resolved host path when it is
 * a directory (heap), NULL otherwise (files, dangling links, links leaving the store). */
static char *resolve_dir(const struct ctx *c, const char *p)
{
        _cleanup_free_ char *cur = xstrdup(p);
        size_t rl = strlen(c->real);
        for (int i = 0; i < SYMLINK_MAX; i++) {
                struct stat st;
                if (lstat(cur, &st) < 0)
                        return NULL;
                if (S_ISDIR(st.st_mode))
                        return TAKE_PTR(cur);
                if (!S_ISLNK(st.st_mode))
                        return NULL;
                char buf[PATH_MAX];
                ssize_t n = readlink(cur, buf, sizeof(buf) - 1);
                if (n <= 0)
                        return NULL;
                buf[n] = '\0';
                _cleanup_free_ char *next = NULL;
                if (buf[0] == '/') {
                        next = map_store(c, buf);
                        if (!next)
                                return NULL;
                } else {
                        _cleanup_free_ char *dir = skiff_path_dirname(cur);
                        next = skiff_path_join(dir, buf);
                }
                _cleanup_free_ char *clean = skiff_path_clean(next);
                if (strncmp(clean, c->real, rl) != 0 || clean[rl] != '/')
                        return NULL;
                free(cur);
                cur = TAKE_PTR(clean);
        }
        return NULL;
}

static bool ignored(const char *name)
{
        return strcmp(name, "nix-support") == 0 || strcmp(name, "propagated-build-inputs") == 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *host, char ***ret, skiff_err_t *err)
{
        _cleanup_closedir_ DIR *d = opendir(host);
        if (!d)
                return skiff_error_set_errno(err, errno, "read directory `%s`", host);
        _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                skiff_strv_push(&names, de->d_name);
        }
        if (errno)
                return skiff_error_set_errno(err, errno, "read directory `%s`", host);
        qsort(names, skiff_strv_len(names), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(names);
        return 0;
}

static struct node *new_link(const char *name, const char *target, const char *src, bool is_dir,
                             const struct skiff_profile_package *p)
{
        struct node *n = xcalloc(1, sizeof(*n));
        n->name = xstrdup(name);
        n->target = xstrdup(target);
        n->src = xstrdup(src);
        n->provider = xstrdup(target);
        n->is_dir = is_dir;
        n->priority = p->priority;
        n->layer = p->layer;
        return n;
}

static int add_dir(const struct ctx *c, struct node *dir, const char *host, const char *ctr,
                   const struct skiff_profile_package *p, const char *rel, unsigned depth,
                   skiff_err_t *err);

/* Turns a directory link into a merged directory holding links to its entries. */
static int expand(const struct ctx *c, struct node *n, const char *rel, unsigned depth,
                  skiff_err_t *err)
{
        _cleanup_free_ char *target = TAKE_PTR(n->target);
        struct skiff_profile_package owner = {.priority = n->priority, .layer = n->layer};
        return add_dir(c, n, n->src, target, &owner, rel, depth, err);
}

static int add_dir(const struct ctx *c, struct node *dir, const char *host, const char *ctr,
                   const struct skiff_profile_package *p, const char *rel, unsigned depth,
                   skiff_err_t *err)
{
        if (depth > DEPTH_MAX)
                return skiff_error_set(err, ELOOP, "`%s`: directories nested deeper than %d", ctr,
                                       DEPTH_MAX);
        _cleanup_strv_ char **names = NULL;
        int r = list_dir(host, &names, err);
        if (r < 0)
                return r;
        for (char **e = names; *e; e++) {
                if (ignored(*e))
                        continue;
                _cleanup_free_ char *hpath = skiff_path_join(host, *e);
                _cleanup_free_ char *cpath = skiff_path_join(ctr, *e);
                _cleanup_free_ char *rpath = *rel ? skiff_path_join(rel, *e) : xstrdup(*e);
                _cleanup_free_ char *hdir = resolve_dir(c, hpath);
                struct node **slot = NULL;
                for (size_t i = 0; i < dir->n_kids && !slot; i++)
                        if (strcmp(dir->kids[i]->name, *e) == 0)
                                slot = &dir->kids[i];
                if (!slot) {
                        dir->kids = xreallocarray(dir->kids, dir->n_kids + 1, sizeof(*dir->kids));
                        dir->kids[dir->n_kids++] =
                            new_link(*e, cpath, hdir ? hdir : hpath, hdir != NULL, p);
                        continue;
                }
                struct node *old = *slot;
                if (old->target && strcmp(old->target, cpath) == 0)
                        continue;
                if (old->is_dir && hdir) {
                        if (old->target && (r = expand(c, old, rpath, depth + 1, err)) < 0)
                                return r;
                        if (p->priority < old->priority ||
                            (p->priority == old->priority && p->layer > old->layer)) {
                                old->priority = p->priority;
                                old->layer = p->layer;
                        }
                        r = add_dir(c, old, hdir, cpath, p, rpath, depth + 1, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (p->priority == old->priority && p->layer == old->layer)
                        return skiff_error_set(err, EEXIST,
                                               "conflict at `%s`: `%s` and `%s` have the same "
                                               "priority %d (give one package a lower priority "
                                               "number)",
                                               rpath, old->provider, cpath, (int)p->priority);
                if (p->priority < old->priority ||
                    (p->priority == old->priority && p->layer > old->layer)) {
                        node_free(old);
                        *slot = new_link(*e, cpath, hdir ? hdir : hpath, hdir != NULL, p);
                }
        }
        return 0;
}

static int merge(const struct skiff_profile_input *in, struct node **ret, skiff_err_t *err)
{
        struct ctx c = {.in = in, .real = in->real_store ? in->real_store : in->store_dir};
        _cleanup_(node_freep) struct node *root = xcalloc(1, sizeof(*root));
        root->name = xstrdup("");
        root->is_dir = true;
        root->priority = INT32_MAX;
        for (size_t i = 0; i < in->n_packages; i++) {
                const struct skiff_profile_package *p = &in->packages[i];
                _cleanup_free_ char *host = map_store(&c, p->path);
                _cleanup_free_ char *hdir = host ? resolve_dir(&c, host) : NULL;
                if (!hdir)
                        return skiff_error_set(err, host ? ENOTDIR : EINVAL,
                                               "package `%s` (`%s`) is not a directory in the "
                                               "store",
                                               p->name, p->path);
                int r = add_dir(&c, root, hdir, p->path, p, "", 0, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

int skiff_profile_check(const struct skiff_profile_input *in, skiff_err_t *err)
{
        _cleanup_(node_freep) struct node *root = NULL;
        return merge(in, &root, err);
}

static int write_tree(int dirfd, const char *path, const struct node *n, skiff_err_t *err)
{
        for (size_t i = 0; i < n->n_kids; i++) {
                const struct node *k = n->kids[i];
                _cleanup_free_ char *kp = skiff_path_join(path, k->name);
                if (k->target) {
                        if (symlinkat(k->target, dirfd, k->name) < 0)
                                return skiff_error_set_errno(err, errno, "create symlink `%s`", kp);
                        continue;
                }
                if (mkdirat(dirfd, k->name, 0755) < 0)
                        return skiff_error_set_errno(err, errno, "create directory `%s`", kp);
                _cleanup_close_ int fd =
                    openat(dirfd, k->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return skiff_error_set_errno(err, errno, "open directory `%s`", kp);
                int r = write_tree(fd, kp, k, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_pkg(const void *a, const void *b)
{
        const struct skiff_profile_package *const *x = a, *const *y = b;
        if ((*x)->layer != (*y)->layer)
                return (*x)->layer < (*y)->layer ? -1 : 1;
        return strcmp((*x)->path, (*y)->path);
}

void skiff_profile_digest(const struct skiff_profile_input *in,
                          char out[SKIFF_PROFILE_DIGEST_LEN + 1])
{
        _cleanup_free_ const struct skiff_profile_package **ps =
            xcalloc(in->n_packages + 1, sizeof(*ps));
        for (size_t i = 0; i < in->n_packages; i++)
                ps[i] = &in->packages[i];
        qsort(ps, in->n_packages, sizeof(*ps), cmp_pkg);
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_printf(&sb, "skiff-profile/v1\nstore_dir\t%s\n", in->store_dir);
        for (size_t i = 0; i < in->n_packages; i++)
                skiff_strbuf_printf(&sb, "layer %zu\t%s\t%d\n", ps[i]->layer, ps[i]->path,
                                    (int)ps[i]->priority);
        uint8_t d[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(sb.buf ? sb.buf : "", sb.len, d);
        skiff_hex_encode(d, sizeof(d), out);
}

int skiff_profile_build(const struct skiff_profile_input *in, const char *profiles_dir,
                        char **ret_path, skiff_err_t *err)
{
        char digest[SKIFF_PROFILE_DIGEST_LEN + 1];
        skiff_profile_digest(in, digest);
        _cleanup_free_ char *final = skiff_path_join(profiles_dir, digest);
        struct stat st;
        if (lstat(final, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (ret_path)
                        *ret_path = TAKE_PTR(final);
                return 0;
        }
        int r = skiff_fs_mkdir_p(profiles_dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_(node_freep) struct node *root = NULL;
        r = merge(in, &root, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = xasprintf("%s/.tmp-%s-%d", profiles_dir, digest, (int)getpid());
        r = skiff_fs_rm_rf(tmp, err);
        if (r < 0)
                return r;
        if (mkdir(tmp, 0755) < 0)
                return skiff_error_set_errno(err, errno, "create directory `%s`", tmp);
        _cleanup_close_ int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                r = skiff_error_set_errno(err, errno, "open directory `%s`", tmp);
        else
                r = write_tree(fd, tmp, root, err);
        if (r >= 0 && rename(tmp, final) < 0) {
                if (errno == EEXIST || errno == ENOTEMPTY) /* built concurrently: reuse it */
                        r = 0;
                else
                        r = skiff_error_set_errno(err, errno, "rename `%s` to `%s`", tmp, final);
        } else if (r >= 0) {
                tmp[0] = '\0'; /* renamed: nothing to clean up */
        }
        if (tmp[0])
                (void)skiff_fs_rm_rf(tmp, NULL); /* best effort; a stale temp is rebuilt later */
        if (r < 0)
                return r;
        if (ret_path)
                *ret_path = TAKE_PTR(final);
        return 0;
}

int skiff_profile_input_from_layers(const struct skiff_generation *const *layers, size_t n,
                                    const char *system, const char *real_store,
                                    struct skiff_profile_input *ret, skiff_err_t *err)
{
        struct skiff_profile_input in = {0};
        size_t total = 0;
        for (size_t l = 0; l < n; l++) {
                const struct skiff_generation_system *s =
                    skiff_generation_system(layers[l], system);
                if (!s)
                        return skiff_error_set(
                            err, ENOENT, "environment `%s@%u` has no `%s` system",
                            layers[l]->environment, layers[l]->generation, system);
                if (l > 0 && strcmp(s->store_dir, in.store_dir) != 0) {
                        int r = skiff_error_set(err, EINVAL,
                                                "environment `%s@%u` uses store `%s`, other "
                                                "layers use `%s`",
                                                layers[l]->environment, layers[l]->generation,
                                                s->store_dir, in.store_dir);
                        skiff_profile_input_done(&in);
                        return r;
                }
                if (l == 0)
                        in.store_dir = xstrdup(s->store_dir);
                total += s->n_packages;
        }
        if (!in.store_dir)
                in.store_dir = xstrdup("/nix/store");
        in.real_store = xstrdup(real_store);
        in.packages = xcalloc(total + 1, sizeof(*in.packages));
        for (size_t l = 0; l < n; l++) {
                const struct skiff_generation_system *s =
                    skiff_generation_system(layers[l], system);
                for (size_t i = 0; i < s->n_packages; i++) {
                        const struct skiff_generation_package *gp = &s->packages[i];
                        struct skiff_profile_package *dup = NULL;
                        for (size_t j = 0; j < in.n_packages && !dup; j++)
                                if (strcmp(in.packages[j].path, gp->path) == 0)
                                        dup = &in.packages[j];
                        if (dup) {
                                dup->layer = l;
                                dup->priority = gp->priority;
                                continue;
                        }
                        struct skiff_profile_package *p = &in.packages[in.n_packages++];
                        p->name = xstrdup(gp->name);
                        p->path = xstrdup(gp->path);
                        p->priority = gp->priority;
                        p->layer = l;
                }
        }
        *ret = in;
        return 0;
}

void skiff_profile_input_done(struct skiff_profile_input *in)
{
        if (!in)
                return;
        for (size_t i = 0; i < in->n_packages; i++) {
                free(in->packages[i].name);
                free(in->packages[i].path);
        }
        free(in->packages);
        free(in->store_dir);
        free(in->real_store);
        *in = (struct skiff_profile_input){0};
}

static bool under(const char *p, const char *root)
{
        size_t n = strlen(root);
        return strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

int skiff_profile_lookup(const char *profile_dir, const char *rel, const char *store_dir,
                         const char *real_store)
{
        struct skiff_profile_input in = {.store_dir = (char *)store_dir};
        struct ctx c = {.in = &in, .real = real_store ? real_store : store_dir};
        _cleanup_strv_ char **parts = skiff_strv_split(rel, "/", true);
        _cleanup_free_ char *cur = xstrdup(profile_dir);
        int links = 0;
        for (char **part = parts; *part; part++) {
                if (strcmp(*part, "..") == 0 || strcmp(*part, ".") == 0)
                        return 0;
                char *next = skiff_path_join(cur, *part);
                free(cur);
                cur = next;
                for (;;) {
                        struct stat st;
                        if (lstat(cur, &st) < 0)
                                return 0;
                        if (!S_ISLNK(st.st_mode)) {
                                if (part[1] && !S_ISDIR(st.st_mode))
                                        return 0;
                                if (!part[1])
                                        return S_ISDIR(st.st_mode) ? 1 : 2;
                                break;
                        }
                        if (++links > SYMLINK_MAX)
                                return 0;
                        char buf[PATH_MAX];
                        ssize_t n = readlink(cur, buf, sizeof(buf) - 1);
                        if (n <= 0)
                                return 0;
                        buf[n] = '\0';
                        _cleanup_free_ char *t = NULL;
                        if (buf[0] == '/') {
                                t = map_store(&c, buf);
                                if (!t)
                                        return 0;
                        } else {
                                _cleanup_free_ char *dir = skiff_path_dirname(cur);
                                t = skiff_path_join(dir, buf);
                        }
                        char *clean = skiff_path_clean(t);
                        if (!under(clean, c.real) && !under(clean, profile_dir)) {
                                free(clean);
                                return 0;
                        }
                        free(cur);
                        cur = clean;
                }
        }
        return 1;
}
