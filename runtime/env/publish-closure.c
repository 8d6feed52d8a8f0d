/* Closure resolution for publishing (publish.h, skiff_publish_resolve_closure): breadth-first
 * over References, each path taken from the entries already known or from the first binary cache
 * serving its narinfo, signatures checked when keys are given. */
#include "env/publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "store/decompress.h"
#include "store/fetch.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store/storepath.h"
#include "store/substituter.h"

static void path_done(struct skiff_generation_path *p)
{
        free(p->path);
        skiff_strv_free(p->references);
        free(p->url);
        free(p->compression);
}

void skiff_publish_closure_free(struct skiff_generation_path *c, size_t n)
{
        for (size_t i = 0; c && i < n; i++)
                path_done(&c[i]);
        free(c);
}

static void path_copy(const struct skiff_generation_path *src, struct skiff_generation_path *dst)
{
        *dst = *src;
        dst->path = xstrdup(src->path);
        dst->references = skiff_strv_copy(src->references);
        if (!dst->references)
                dst->references = xcalloc(1, sizeof(char *));
        dst->url = src->url ? xstrdup(src->url) : NULL;
        dst->compression = src->compression ? xstrdup(src->compression) : NULL;
}

/* Turns a narinfo into a closure entry; url made relative to the cache base. */
static int entry_from_narinfo(const struct skiff_narinfo *ni, const char *base,
                              const char *store_dir, const char *ni_url,
                              struct skiff_generation_path *ret, skiff_err_t *err)
{
        const char *url = ni->url;
        if (strstr(url, "://")) {
                size_t bl = strlen(base);
                if (strncmp(url, base, bl) != 0 || url[bl] != '/')
                        return skiff_error_set(err, EINVAL,
                                               "`%s`: URL `%s` lies outside the cache `%s`", ni_url,
                                               url, base);
                url += bl + 1;
        }
        if (url[0] == '/' || !skiff_path_is_safe_relative(url))
                return skiff_error_set(err, EINVAL, "`%s`: URL `%s` is not a relative path", ni_url,
                                       ni->url);
        *ret = (struct skiff_generation_path){0};
        ret->path = xstrdup(ni->store_path);
        ret->nar_hash = ni->nar_hash;
        ret->nar_size = ni->nar_size;
        for (char **r = ni->references; *r; r++)
                skiff_strv_push_take(&ret->references, xasprintf("%s/%s", store_dir, *r));
        if (!ret->references)
                ret->references = xcalloc(1, sizeof(char *));
        if (ni->has_file_hash && ni->file_size > 0) {
                const char *c = ni->compression;
                enum skiff_compression comp;
                if (skiff_compression_from_name(c, &comp, err) < 0) {
                        path_done(ret);
                        return skiff_error_wrap(err, "`%s`", ni_url);
                }
                ret->has_file = true;
                ret->url = xstrdup(url);
                ret->compression = xstrdup(c);
                ret->file_hash = ni->file_hash;
                ret->file_size = ni->file_size;
        }
        return 0;
}

/* The narinfo of path from the first cache that has it. */
static int lookup(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                  const struct skiff_sig_pubkey *keys, size_t nkeys, const char *path,
                  struct skiff_generation_path *ret, skiff_err_t *err)
{
        const char *base = NULL;
        int r = skiff_storepath_parse(path, store_dir, &base, err);
        if (r < 0)
                return r;
        struct skiff_substituter_hit hit = {0};
        r = skiff_substituter_find(f, caches, store_dir, base, nkeys > 0, keys, nkeys, &hit, err);
        if (r == -ENOENT)
                return skiff_error_wrap(err, "`%s`", path);
        if (r < 0)
                return r;
        r = entry_from_narinfo(hit.ni, hit.cache, store_dir, hit.url, ret, err);
        skiff_substituter_hit_done(&hit);
        return r;
}

static int cmp_entry_path(const void *a, const void *b)
{
        const struct skiff_generation_path *x = a, *y = b;
        return strcmp(x->path, y->path);
}

int skiff_publish_resolve_closure(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                                  const struct skiff_sig_pubkey *keys, size_t nkeys,
                                  char *const *roots, const struct skiff_generation_path *known,
                                  size_t nknown, struct skiff_generation_path **ret, size_t *ret_n,
                                  skiff_err_t *err)
{
        _cleanup_strv_ char **queue = skiff_strv_copy(roots);
        struct skiff_generation_path *out = NULL;
        size_t n = 0;
        int r = 0;
        for (size_t qi = 0; queue && queue[qi]; qi++) {
                const char *p = queue[qi];
                bool dup = false;
                for (size_t i = 0; i < qi && !dup; i++)
                        dup = strcmp(queue[i], p) == 0;
                if (dup)
                        continue;
                const struct skiff_generation_path *kn = NULL;
                for (size_t i = 0; i < nknown && !kn; i++)
                        if (strcmp(known[i].path, p) == 0)
                                kn = &known[i];
                struct skiff_generation_path e;
                if (kn && kn->has_file) {
                        path_copy(kn, &e);
                } else {
                        r = lookup(f, caches, store_dir, keys, nkeys, p, &e, err);
                        if (r == -ENOENT && kn) {
                                skiff_error_free(err);
                                path_copy(kn, &e);
                                r = 0;
                        }
                        if (r < 0)
                                break;
                }
                out = xrealloc(out, (n + 1) * sizeof(*out));
                out[n++] = e;
                for (char **ref = e.references; *ref; ref++)
                        if (!skiff_strv_contains(queue, *ref))
                                skiff_strv_push(&queue, *ref);
        }
        if (r < 0) {
                skiff_publish_closure_free(out, n);
                return r;
        }
        qsort(out, n, sizeof(*out), cmp_entry_path);
        *ret = out;
        *ret_n = n;
        return 0;
}
