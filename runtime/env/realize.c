#include "env/realize.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/activation.h"
#include "env/assemble.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/profile.h"
#include "env/ref.h"
#include "store/config.h"
#include "store/narinfo.h"
#include "store/store.h"

#define SYMLINKS_MAX 40

char *skiff_realize_refs_string(const struct skiff_ref *refs, size_t n)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = skiff_ref_format(&refs[i]);
                skiff_strbuf_printf(&sb, "%s%s", i ? "," : "", s);
        }
        return sb.buf ? skiff_strbuf_take(&sb) : xstrdup("");
}

/* Rewrites err as "environment <what>: <message>", dropping the hub client's own
 * "environment `<ref>`: " prefix. Returns the error code. */
static int env_error(skiff_err_t *err, const char *what)
{
        if (!err || !*err)
                return -EIO;
        const char *m = (*err)->msg ? (*err)->msg : "";
        if (strncmp(m, "environment `", 13) == 0) {
                const char *end = strstr(m + 13, "`: ");
                if (end)
                        m = end + 3;
        }
        _cleanup_free_ char *msg = xstrdup(m);
        int e = (*err)->errnum;
        skiff_error_free(err);
        return skiff_error_set(err, e, "environment %s: %s", what, msg);
}

void skiff_realize_result_done(struct skiff_realize_result *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_refs; i++) {
                skiff_ref_done(&r->refs[i]);
                if (r->docs)
                        skiff_hub_document_done(&r->docs[i]);
        }
        free(r->refs);
        free(r->docs);
        free(r->store_dir);
        free(r->real_store);
        free(r->profile);
        skiff_strv_free(r->closure);
        *r = (struct skiff_realize_result){0};
}

/* ---- progress -------------------------------------------------------------------------- */

struct progress {
        const struct skiff_realize_opts *o;
        pthread_mutex_t mu;
        char **seen; /* every path reported (the closure) */
        size_t total;
        uint64_t bytes_done, bytes_total;
        size_t done;
};

static void on_store_event(const struct skiff_store_event *ev, void *userdata)
{
        struct progress *p = userdata;
        pthread_mutex_lock(&p->mu);
        if (!skiff_strv_contains(p->seen, ev->path)) {
                skiff_strv_push(&p->seen, ev->path);
                p->done++;
        }
        p->bytes_done += ev->file_size;
        size_t total = ev->known > p->total ? ev->known : p->total;
        if (p->o->cb) {
                struct skiff_realize_event e = {
                    .kind = SKIFF_REALIZE_EVENT_PATH,
                    .path = ev->path,
                    .fetched = ev->kind == SKIFF_STORE_EVENT_FETCHED,
                    .done = p->done,
                    .total = total,
                    .bytes_done = p->bytes_done,
                    .bytes_total = p->bytes_total,
                };
                p->o->cb(&e, p->o->userdata);
        }
        pthread_mutex_unlock(&p->mu);
}

static void emit(const struct skiff_realize_opts *o, struct skiff_realize_event e)
{
        if (o->cb)
                o->cb(&e, o->userdata);
}

/* ---- closure --------------------------------------------------------------------------- */

static struct skiff_narinfo *describe(const struct skiff_generation_path *gp)
{
        struct skiff_narinfo *ni = xcalloc(1, sizeof(*ni));
        ni->store_path = xstrdup(gp->path);
        ni->url = xstrdup(gp->url);
        ni->compression = xstrdup(gp->compression);
        ni->has_file_hash = true;
        ni->file_hash = gp->file_hash;
        ni->file_size = gp->file_size;
        ni->nar_hash = gp->nar_hash;
        ni->nar_size = gp->nar_size;
        ni->references = xcalloc(1, sizeof(char *));
        for (char **ref = gp->references; ref && *ref; ref++)
                skiff_strv_push(&ni->references, skiff_path_basename(*ref));
        ni->sigs = xcalloc(1, sizeof(char *));
        return ni;
}

struct closure_plan {
        struct skiff_narinfo **known; /* described by a document */
        size_t nknown;
        char **plain;  /* complete-closure entries without file info (narinfo per path) */
        char **expand; /* packages of layers without a closure list (narinfo walk) */
};

static void closure_plan_done(struct closure_plan *c)
{
        for (size_t i = 0; i < c->nknown; i++)
                skiff_narinfo_free(c->known[i]);
        free(c->known);
        skiff_strv_free(c->plain);
        skiff_strv_free(c->expand);
}

static bool known_has(const struct closure_plan *c, const char *path)
{
        for (size_t i = 0; i < c->nknown; i++)
                if (strcmp(c->known[i]->store_path, path) == 0)
                        return true;
        return false;
}

static void closure_plan_add(struct closure_plan *c, const struct skiff_generation_system *s,
                             uint64_t *bytes_total)
{
        if (!s->has_closure) {
                for (size_t i = 0; i < s->n_packages; i++)
                        if (!skiff_strv_contains(c->expand, s->packages[i].path))
                                skiff_strv_push(&c->expand, s->packages[i].path);
                return;
        }
        for (size_t i = 0; i < s->n_closure; i++) {
                const struct skiff_generation_path *gp = &s->closure[i];
                if (known_has(c, gp->path) || skiff_strv_contains(c->plain, gp->path))
                        continue;
                if (gp->has_file) {
                        c->known = xreallocarray(c->known, c->nknown + 1, sizeof(*c->known));
                        c->known[c->nknown++] = describe(gp);
                        *bytes_total += gp->file_size;
                } else {
                        skiff_strv_push(&c->plain, gp->path);
                }
        }
}

/* ---- GC roots of generations ----------------------------------------------------------- */

struct gen_entry {
        char *name;
        struct timespec mtime;
};

static int cmp_newest(const void *a, const void *b)
{
        const struct gen_entry *x = a, *y = b;
        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
        return strcmp(y->name, x->name);
}

/* Keeps the newest keep roots in dir (by mtime: realizing a generation rewrites its root). */
static int prune_generations(const char *dir, uint32_t keep, skiff_err_t *err)
{
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : skiff_error_set_errno(err, errno, "open `%s`", dir);
        _cleanup_closedir_ DIR *dd = d;
        struct gen_entry *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(dd))) {
                if (de->d_name[0] == '.')
                        continue;
                struct stat st;
                if (fstatat(dirfd(dd), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n++] = (struct gen_entry){.name = xstrdup(de->d_name), .mtime = st.st_mtim};
        }
        qsort(v, n, sizeof(*v), cmp_newest);
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (i >= keep && r >= 0 && unlinkat(dirfd(dd), v[i].name, 0) < 0 && errno != ENOENT)
                        r = skiff_error_set_errno(err, errno, "remove root `%s/%s`", dir,
                                                  v[i].name);
                free(v[i].name);
        }
        free(v);
        return r;
}

static int add_roots(const struct skiff_realize_opts *o, struct skiff_store *store,
                     struct skiff_hub *hub, const struct skiff_realize_result *res,
                     skiff_err_t *err)
{
        const struct skiff_config *cfg = o->cfg;
        int r;
        if (o->root_name) {
                r = skiff_store_root_add(store, o->root_name, res->closure, err);
                if (r < 0)
                        return skiff_error_wrap(err, "add GC root `%s`", o->root_name);
        }
        if (cfg->keep_generations == 0)
                return 0;
        for (size_t l = 0; l < res->n_refs; l++) {
                const struct skiff_ref *ref = &res->refs[l];
                _cleanup_free_ char *url = NULL, *hub_name = NULL;
                r = skiff_hub_locate(hub, ref, &url, &hub_name, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *dir_rel =
                    xasprintf("generations/%s/%s/%s", hub_name, ref->owner, ref->name);
                _cleanup_free_ char *rel = xasprintf("%s/%u", dir_rel, ref->generation);
                r = skiff_store_root_add(store, rel, res->closure, err);
                if (r < 0)
                        return skiff_error_wrap(err, "add GC root `%s`", rel);
                _cleanup_free_ char *dir = xasprintf("%s/roots/%s", cfg->store_root, dir_rel);
                r = prune_generations(dir, cfg->keep_generations, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- run ------------------------------------------------------------------------------- */

static int open_hub(const struct skiff_config *cfg, struct skiff_hub **ret, skiff_err_t *err)
{
        struct skiff_hub_options ho = {
            .default_url = cfg->hub,
            .aliases = cfg->hubs,
            .store_root = cfg->store_root,
            .keys = cfg->keys,
            .nkeys = cfg->nkeys,
            .require_signatures = cfg->require_signatures,
            .cfg = cfg,
        };
        return skiff_hub_new(&ho, ret, err);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int skiff_realize_run(const struct skiff_realize_opts *o, const struct skiff_ref *refs, size_t n,
                      struct skiff_realize_result *ret, skiff_err_t *err)
{
        const struct skiff_config *cfg = o->cfg;
        const char *system = o->system ? o->system : skiff_generation_host_system();
        struct skiff_realize_result res = {0};
        _cleanup_free_ char *all = skiff_realize_refs_string(refs, n);
        int r = 0;
        if (n == 0)
                return skiff_error_set(err, EINVAL, "no environment to realize");

        _cleanup_hub_ struct skiff_hub *hub = NULL;
        _cleanup_store_ struct skiff_store *store = NULL;
        r = open_hub(cfg, &hub, err);
        if (r < 0)
                return env_error(err, all);

        res.refs = xcalloc(n, sizeof(*res.refs));
        res.docs = xcalloc(n, sizeof(*res.docs));
        for (size_t i = 0; i < n; i++) {
                skiff_ref_copy(&refs[i], &res.refs[res.n_refs++]);
                struct skiff_ref *ref = &res.refs[i];
                _cleanup_free_ char *before = skiff_ref_format(ref);
                if (!skiff_ref_is_pinned(ref)) {
                        if (!cfg->allow_unpinned) {
                                r = skiff_error_set(err, EPERM,
                                                    "the reference is unpinned and the node "
                                                    "config does not set `allow_unpinned`");
                                r = env_error(err, before);
                                goto fail;
                        }
                        r = skiff_hub_resolve(hub, ref, err);
                        if (r < 0) {
                                r = env_error(err, before);
                                goto fail;
                        }
                }
                _cleanup_free_ char *s = skiff_ref_format(ref);
                emit(o,
                     (struct skiff_realize_event){.kind = SKIFF_REALIZE_EVENT_RESOLVED, .ref = s});
                r = skiff_hub_get(hub, ref, &res.docs[i], err);
                if (r < 0) {
                        r = env_error(err, s);
                        goto fail;
                }
                const struct skiff_generation_system *sys =
                    skiff_generation_system(res.docs[i].generation, system);
                if (!sys) {
                        r = skiff_error_set(err, ENOENT,
                                            "environment %s: the document has no `%s` system", s,
                                            system);
                        goto fail;
                }
                if (strcmp(sys->store_dir, cfg->store_dir) != 0) {
                        r = skiff_error_set(err, EINVAL,
                                            "environment %s: store dir `%s` differs from the "
                                            "node's `%s`",
                                            s, sys->store_dir, cfg->store_dir);
                        goto fail;
                }
                emit(o, (struct skiff_realize_event){.kind = SKIFF_REALIZE_EVENT_DOCUMENT,
                                                     .ref = s,
                                                     .from_cache = res.docs[i].from_cache});
        }
        free(all);
        all = skiff_realize_refs_string(res.refs, res.n_refs);
        res.store_dir = xstrdup(cfg->store_dir);
        res.real_store = xasprintf("%s/store", cfg->store_root);

        /* The closure. */
        struct closure_plan cp = {0};
        struct progress p = {.o = o};
        pthread_mutex_init(&p.mu, NULL);
        for (size_t i = 0; i < n; i++)
                closure_plan_add(&cp, skiff_generation_system(res.docs[i].generation, system),
                                 &p.bytes_total);
        p.total = cp.nknown + skiff_strv_len(cp.plain) + skiff_strv_len(cp.expand);
        emit(o, (struct skiff_realize_event){.kind = SKIFF_REALIZE_EVENT_CLOSURE,
                                             .total = p.total,
                                             .bytes_total = p.bytes_total});
        r = skiff_store_open(cfg, &store, err);
        if (r >= 0 && (cp.nknown || cp.plain))
                r = skiff_store_realize_described(store,
                                                  (const struct skiff_narinfo *const *)cp.known,
                                                  cp.nknown, cp.plain, on_store_event, &p, err);
        if (r >= 0 && cp.expand)
                r = skiff_store_realize(store, cp.expand, true, on_store_event, &p, err);
        closure_plan_done(&cp);
        res.closure = p.seen ? TAKE_PTR(p.seen) : xcalloc(1, sizeof(char *));
        res.bytes_fetched = p.bytes_done;
        pthread_mutex_destroy(&p.mu);
        skiff_strv_free(p.seen);
        if (r < 0) {
                r = env_error(err, all);
                goto fail;
        }
        qsort(res.closure, skiff_strv_len(res.closure), sizeof(char *), cmp_str);

        /* The profile. */
        const struct skiff_generation **layers = xcalloc(n, sizeof(*layers));
        for (size_t i = 0; i < n; i++)
                layers[i] = res.docs[i].generation;
        struct skiff_profile_input in = {0};
        r = skiff_profile_input_from_layers(layers, n, system, res.real_store, &in, err);
        free(layers);
        if (r >= 0) {
                _cleanup_free_ char *profiles = xasprintf("%s/profiles", cfg->store_root);
                r = skiff_profile_build(&in, profiles, &res.profile, err);
        }
        skiff_profile_input_done(&in);
        if (r < 0) {
                skiff_error_wrap(err, "build the profile");
                r = env_error(err, all);
                goto fail;
        }
        emit(o, (struct skiff_realize_event){.kind = SKIFF_REALIZE_EVENT_PROFILE,
                                             .path = res.profile});

        r = add_roots(o, store, hub, &res, err);
        if (r < 0) {
                r = env_error(err, all);
                goto fail;
        }
        *ret = res;
        return 0;
fail:
        skiff_realize_result_done(&res);
        return r;
}

/* ---- plan ------------------------------------------------------------------------------ */

static bool under(const char *p, const char *root)
{
        size_t n = strlen(root);
        return strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

char *skiff_realize_resolve(const char *profile, const char *rel, const char *store_dir,
                            const char *real_store)
{
        /* Components still to walk, as a stack of remaining relative paths. */
        _cleanup_free_ char *cur = xstrdup(profile);
        _cleanup_free_ char *todo = xstrdup(rel);
        int links = 0;
        for (;;) {
                char *p = todo;
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *slash = strchr(p, '/');
                _cleanup_free_ char *part = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
                _cleanup_free_ char *rest = xstrdup(slash ? slash : "");
                free(todo);
                todo = TAKE_PTR(rest);
                if (strcmp(part, ".") == 0)
                        continue;
                if (strcmp(part, "..") == 0) {
                        char *d = skiff_path_dirname(cur);
                        free(cur);
                        cur = d;
                        continue;
                }
                char *next = skiff_path_join(cur, part);
                struct stat st;
                if (lstat(next, &st) < 0) {
                        free(next);
                        return NULL;
                }
                if (!S_ISLNK(st.st_mode)) {
                        free(cur);
                        cur = next;
                        continue;
                }
                if (++links > SYMLINKS_MAX) {
                        free(next);
                        return NULL;
                }
                char buf[PATH_MAX];
                ssize_t len = readlink(next, buf, sizeof(buf) - 1);
                free(next);
                if (len <= 0)
                        return NULL;
                buf[len] = '\0';
                if (buf[0] == '/') {
                        if (!under(buf, store_dir))
                                return NULL;
                        free(cur);
                        cur = xstrdup(real_store);
                        char *t = xasprintf("%s/%s", buf + strlen(store_dir), todo);
                        free(todo);
                        todo = t;
                } else {
                        char *t = xasprintf("%s/%s", buf, todo);
                        free(todo);
                        todo = t;
                }
        }
        if (!under(cur, profile) && !under(cur, real_store))
                return NULL;
        return TAKE_PTR(cur);
}

/* The layers' `requires.cuda` joined with ',' (all must hold), or NULL. */
static char *requires_cuda(const struct skiff_realize_result *r)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < r->n_refs; i++) {
                const struct skiff_generation *g = r->docs[i].generation;
                for (size_t j = 0; g && j < g->n_requires; j++)
                        if (strcmp(g->requires[j].name, "cuda") == 0)
                                skiff_strbuf_printf(&sb, "%s%s", sb.len ? "," : "",
                                                    g->requires[j].constraint);
        }
        return sb.len ? skiff_strbuf_take(&sb) : NULL;
}

/* The container path of the first glibc loader (lib/ld-linux-x86-64.so.2) among the closure's
 * paths, or NULL: what the GPU layer links at /lib64 so the host's nvidia-smi can run. */
static char *closure_loader(const struct skiff_realize_result *r)
{
        for (char **p = r->closure; p && *p; p++) {
                const char *base = strrchr(*p, '/');
                if (!base)
                        continue;
                _cleanup_free_ char *host =
                    xasprintf("%s%s/lib/ld-linux-x86-64.so.2", r->real_store, base);
                struct stat st;
                if (stat(host, &st) == 0 && S_ISREG(st.st_mode))
                        return xasprintf("%s/lib/ld-linux-x86-64.so.2", *p);
        }
        return NULL;
}

int skiff_realize_plan(const struct skiff_realize_result *r, struct skiff_assemble_plan *ret,
                       skiff_err_t *err)
{
        _cleanup_free_ char *refs = skiff_realize_refs_string(r->refs, r->n_refs);
        _cleanup_strv_ char **ref_strs = xcalloc(r->n_refs + 1, sizeof(char *));
        const struct skiff_generation **layers = xcalloc(r->n_refs + 1, sizeof(*layers));
        for (size_t i = 0; i < r->n_refs; i++) {
                ref_strs[i] = skiff_ref_format(&r->refs[i]);
                layers[i] = r->docs[i].generation;
        }
        struct skiff_activation_input in = {
            .profile_dir = r->profile,
            .store_dir = r->store_dir,
            .real_store = r->real_store,
            .refs = ref_strs,
            .layers = layers,
            .n_layers = r->n_refs,
        };
        struct skiff_assemble_plan p = {0};
        int rc = skiff_activation_env(&in, NULL, &p.env, err);
        if (rc >= 0) {
                char *probe[] = {"WORKLOAD", NULL};
                _cleanup_strv_ char **argv = NULL;
                rc = skiff_activation_argv(&in, probe, &argv, err);
                size_t len = skiff_strv_len(argv);
                if (rc >= 0 && len > 1) {
                        free(argv[len - 1]);
                        argv[len - 1] = NULL;
                        p.hook_argv = TAKE_PTR(argv);
                }
        }
        free(layers);
        if (rc < 0) {
                skiff_assemble_plan_done(&p);
                return skiff_error_wrap(err, "environment %s", refs);
        }
        p.refs = TAKE_PTR(refs);
        p.store_dir = xstrdup(r->store_dir);
        p.real_store = xstrdup(r->real_store);
        p.profile = xstrdup(r->profile);
        p.closure = skiff_strv_copy(r->closure);
        if (!p.closure)
                p.closure = xcalloc(1, sizeof(char *));
        p.sh = skiff_realize_resolve(r->profile, "bin/sh", r->store_dir, r->real_store);
        p.env_bin = skiff_realize_resolve(r->profile, "bin/env", r->store_dir, r->real_store);
        p.requires_cuda = requires_cuda(r);
        p.loader = closure_loader(r);
        struct stat st;
        if (p.sh && (stat(p.sh, &st) < 0 || !S_ISREG(st.st_mode)))
                p.sh = (free(p.sh), NULL);
        if (p.env_bin && (stat(p.env_bin, &st) < 0 || !S_ISREG(st.st_mode)))
                p.env_bin = (free(p.env_bin), NULL);
        *ret = p;
        return 0;
}
