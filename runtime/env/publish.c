#include "env/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/profile.h"
#include "env/ref.h"
#include "store/config.h"
#include "store/fetch.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store/store.h"
#include "store/storepath.h"

/* ---- composition ----------------------------------------------------------------------- */

struct include {
        struct skiff_ref ref; /* pinned */
        struct skiff_hub_document doc;
        const struct skiff_generation_system *sys; /* borrowed from doc */
};

struct plan {
        const struct skiff_publish_options *o;
        const char *system;
        const char *store_dir;
        struct skiff_sig_pubkey *trusted; /* o->trusted + the key's public half */
        size_t ntrusted;
        struct include *inc;
        size_t n_inc;
        struct skiff_generation_package *pkgs;
        size_t n_pkgs;
        struct skiff_generation_path *closure;
        size_t n_closure;
        char **substituters;
        char **vars;
        char *hook;
        char **requires; /* alternating name, constraint */
};

static void plan_done(struct plan *p)
{
        free(p->trusted);
        for (size_t i = 0; i < p->n_inc; i++) {
                skiff_ref_done(&p->inc[i].ref);
                skiff_hub_document_done(&p->inc[i].doc);
        }
        free(p->inc);
        for (size_t i = 0; i < p->n_pkgs; i++) {
                free(p->pkgs[i].name);
                free(p->pkgs[i].path);
        }
        free(p->pkgs);
        skiff_publish_closure_free(p->closure, p->n_closure);
        skiff_strv_free(p->substituters);
        skiff_strv_free(p->vars);
        free(p->hook);
        skiff_strv_free(p->requires);
}

static void add_pkg(struct plan *p, const char *name, const char *path, int32_t priority)
{
        for (size_t i = 0; i < p->n_pkgs;) {
                if (strcmp(p->pkgs[i].name, name) == 0 || strcmp(p->pkgs[i].path, path) == 0) {
                        free(p->pkgs[i].name);
                        free(p->pkgs[i].path);
                        memmove(&p->pkgs[i], &p->pkgs[i + 1],
                                (p->n_pkgs - i - 1) * sizeof(*p->pkgs));
                        p->n_pkgs--;
                        continue;
                }
                i++;
        }
        p->pkgs = xrealloc(p->pkgs, (p->n_pkgs + 1) * sizeof(*p->pkgs));
        p->pkgs[p->n_pkgs++] = (struct skiff_generation_package){
            .name = xstrdup(name), .path = xstrdup(path), .priority = priority};
}

static void set_var(char ***vars, const char *name, const char *value)
{
        for (size_t i = 0; *vars && (*vars)[i]; i += 2)
                if (strcmp((*vars)[i], name) == 0) {
                        free((*vars)[i + 1]);
                        (*vars)[i + 1] = xstrdup(value);
                        return;
                }
        skiff_strv_push(vars, name);
        skiff_strv_push(vars, value);
}

static void add_require(char ***req, const char *name, const char *constraint)
{
        for (size_t i = 0; *req && (*req)[i]; i += 2)
                if (strcmp((*req)[i], name) == 0) {
                        if (strcmp((*req)[i + 1], constraint) == 0)
                                return;
                        char *joined = xasprintf("%s,%s", (*req)[i + 1], constraint);
                        free((*req)[i + 1]);
                        (*req)[i + 1] = joined;
                        return;
                }
        skiff_strv_push(req, name);
        skiff_strv_push(req, constraint);
}

static void add_hook(char **hook, const char *script)
{
        if (!script || !*script)
                return;
        if (!*hook) {
                *hook = xstrdup(script);
                return;
        }
        size_t n = strlen(*hook);
        char *j = xasprintf("%s%s%s", *hook, (*hook)[n - 1] == '\n' ? "" : "\n", script);
        free(*hook);
        *hook = j;
}

static char *file_url(const char *dir)
{
        return xasprintf("file://%s", dir);
}

static int load_includes(struct plan *p, const char *hub_abs, skiff_err_t *err)
{
        const struct skiff_publish_options *o = p->o;
        size_t n = skiff_strv_len(o->includes);
        if (n == 0)
                return 0;
        _cleanup_free_ char *url = file_url(hub_abs);
        struct skiff_hub_options ho = {
            .default_url = url,
            .aliases = o->cfg ? o->cfg->hubs : NULL,
            .keys = p->trusted,
            .nkeys = p->ntrusted,
            .require_signatures = true,
            .cfg = o->cfg,
        };
        _cleanup_hub_ struct skiff_hub *hub = NULL;
        int r = skiff_hub_new(&ho, &hub, err);
        if (r < 0)
                return r;
        p->inc = xcalloc(n, sizeof(*p->inc));
        for (size_t i = 0; i < n; i++) {
                struct include *in = &p->inc[p->n_inc];
                r = skiff_ref_parse(o->includes[i], true, &in->ref, err);
                if (r < 0)
                        return skiff_error_wrap(err, "include `%s`", o->includes[i]);
                p->n_inc++;
                r = skiff_hub_resolve(hub, &in->ref, err);
                if (r >= 0)
                        r = skiff_hub_get(hub, &in->ref, &in->doc, err);
                if (r < 0)
                        return skiff_error_wrap(err, "include `%s`", o->includes[i]);
                _cleanup_free_ char *s = skiff_ref_format(&in->ref);
                in->sys = skiff_generation_system(in->doc.generation, p->system);
                if (!in->sys)
                        return skiff_error_set(err, ENOENT, "include `%s` has no system `%s`", s,
                                               p->system);
                if (strcmp(in->sys->store_dir, p->store_dir) != 0)
                        return skiff_error_set(err, EINVAL,
                                               "include `%s` uses store dir `%s`, not `%s`", s,
                                               in->sys->store_dir, p->store_dir);
                for (size_t j = 0; i > 0 && j < p->n_inc - 1; j++)
                        if (strcmp(p->inc[j].ref.owner, in->ref.owner) == 0 &&
                            strcmp(p->inc[j].ref.name, in->ref.name) == 0 &&
                            !p->inc[j].ref.hub == !in->ref.hub &&
                            (!in->ref.hub || strcmp(p->inc[j].ref.hub, in->ref.hub) == 0))
                                return skiff_error_set(err, EINVAL, "include `%s` is given twice",
                                                       s);
        }
        return 0;
}

static int package_name(const char *path, const char *store_dir, const char **ret, skiff_err_t *err)
{
        const char *base = NULL;
        int r = skiff_storepath_parse(path, store_dir, &base, err);
        if (r < 0)
                return r;
        *ret = base + SKIFF_STOREPATH_HASH_LEN + 1;
        return 0;
}

/* Packages from a closure listing: the listed paths no other listed path references. */
static int packages_from_closure(struct plan *p, skiff_err_t *err)
{
        char *const *list = p->o->closure_list;
        for (char *const *c = list; *c; c++) {
                bool referenced = false;
                for (size_t i = 0; i < p->n_closure && !referenced; i++) {
                        const struct skiff_generation_path *e = &p->closure[i];
                        if (strcmp(e->path, *c) == 0 || !skiff_strv_contains(list, e->path))
                                continue;
                        referenced = skiff_strv_contains(e->references, *c);
                }
                if (referenced)
                        continue;
                const char *name = NULL;
                int r = package_name(*c, p->store_dir, &name, err);
                if (r < 0)
                        return r;
                add_pkg(p, name, *c, p->o->closure_priority);
        }
        return 0;
}

static int compose(struct plan *p, skiff_err_t *err)
{
        const struct skiff_publish_options *o = p->o;
        for (size_t i = 0; i < p->n_inc; i++) {
                const struct skiff_generation *g = p->inc[i].doc.generation;
                const struct skiff_generation_system *s = p->inc[i].sys;
                for (size_t j = 0; j < s->n_packages; j++)
                        add_pkg(p, s->packages[j].name, s->packages[j].path,
                                s->packages[j].priority);
                for (char **u = s->substituters; u && *u; u++)
                        if (!skiff_strv_contains(p->substituters, *u))
                                skiff_strv_push(&p->substituters, *u);
                for (size_t j = 0; g->vars && g->vars[j]; j += 2)
                        set_var(&p->vars, g->vars[j], g->vars[j + 1]);
                add_hook(&p->hook, g->on_activate);
                for (size_t j = 0; j < g->n_requires; j++)
                        add_require(&p->requires, g->requires[j].name, g->requires[j].constraint);
        }
        for (size_t i = 0; i < o->n_packages; i++) {
                const char *name = NULL;
                int r = package_name(o->packages[i].path, p->store_dir, &name, err);
                if (r < 0)
                        return skiff_error_wrap(err, "package");
                add_pkg(p, name, o->packages[i].path, o->packages[i].priority);
        }
        for (size_t j = 0; o->vars && o->vars[j]; j += 2)
                set_var(&p->vars, o->vars[j], o->vars[j + 1]);
        add_hook(&p->hook, o->on_activate);
        for (size_t j = 0; o->requires && o->requires[j]; j += 2)
                add_require(&p->requires, o->requires[j], o -> requires[j + 1]);
        for (char *const *c = o->caches; c && *c; c++) {
                _cleanup_free_ char *u = skiff_path_strip_trailing_slashes(*c);
                if (!skiff_strv_contains(p->substituters, u))
                        skiff_strv_push(&p->substituters, u);
        }
        return 0;
}

static int resolve(struct plan *p, struct skiff_fetch *f, skiff_err_t *err)
{
        size_t nknown = 0;
        for (size_t i = 0; i < p->n_inc; i++)
                nknown += p->inc[i].sys->n_closure;
        _cleanup_free_ struct skiff_generation_path *known = xcalloc(nknown + 1, sizeof(*known));
        size_t k = 0;
        for (size_t i = 0; i < p->n_inc; i++)
                for (size_t j = 0; j < p->inc[i].sys->n_closure; j++)
                        known[k++] = p->inc[i].sys->closure[j]; /* shallow, borrowed */
        _cleanup_strv_ char **roots = NULL;
        if (p->o->closure_list)
                roots = skiff_strv_copy(p->o->closure_list);
        for (size_t i = 0; i < p->n_pkgs; i++)
                skiff_strv_push(&roots, p->pkgs[i].path);
        if (!roots)
                roots = xcalloc(1, sizeof(char *));
        bool check = p->o->check_sigs;
        int r = skiff_publish_resolve_closure(f, p->o->caches, p->store_dir, p->trusted,
                                              check ? p->ntrusted : 0, roots, known, nknown,
                                              &p->closure, &p->n_closure, err);
        if (r < 0)
                return skiff_error_wrap(err, "resolve the closure");
        if (p->o->closure_list)
                return packages_from_closure(p, err);
        return 0;
}

/* ---- conflict check -------------------------------------------------------------------- */

static bool all_local(const struct plan *p)
{
        struct stat st;
        for (size_t i = 0; i < p->n_closure; i++)
                if (lstat(p->closure[i].path, &st) < 0)
                        return false;
        return true;
}

static int realize_closure(struct plan *p, const char *root, skiff_err_t *err)
{
        _cleanup_config_ struct skiff_config *cfg = skiff_config_new_default();
        const struct skiff_config *oc = p->o->cfg;
        free(cfg->store_root);
        cfg->store_root = xstrdup(root);
        free(cfg->store_dir);
        cfg->store_dir = xstrdup(p->store_dir);
        skiff_strv_free(cfg->substituters);
        cfg->substituters = skiff_strv_copy(p->substituters);
        if (!cfg->substituters)
                cfg->substituters = xcalloc(1, sizeof(char *));
        free(cfg->keys);
        cfg->keys = xmemdup(p->trusted, p->ntrusted * sizeof(*p->trusted));
        cfg->nkeys = p->ntrusted;
        cfg->require_signatures = false; /* every NAR is checked against the resolved closure */
        if (oc) {
                cfg->parallelism = oc->parallelism;
                cfg->connect_timeout = oc->connect_timeout;
                cfg->low_speed_timeout = oc->low_speed_timeout;
                cfg->retries = oc->retries;
        }
        _cleanup_free_ struct skiff_narinfo *nis = xcalloc(p->n_closure + 1, sizeof(*nis));
        _cleanup_free_ const struct skiff_narinfo **known =
            xcalloc(p->n_closure + 1, sizeof(*known));
        _cleanup_free_ char **plain = xcalloc(p->n_closure + 1, sizeof(char *));
        char *no_sigs[] = {NULL};
        size_t nk = 0, np = 0;
        for (size_t i = 0; i < p->n_closure; i++) {
                const struct skiff_generation_path *e = &p->closure[i];
                if (!e->has_file) {
                        plain[np++] = e->path;
                        continue;
                }
                /* Borrowed strings; only the reference array is allocated here. */
                size_t nrefs = skiff_strv_len(e->references);
                char **refs = xcalloc(nrefs + 1, sizeof(char *));
                for (size_t j = 0; j < nrefs; j++)
                        refs[j] = (char *)skiff_path_basename(e->references[j]);
                nis[nk] = (struct skiff_narinfo){
                    .store_path = e->path,
                    .url = e->url,
                    .compression = e->compression,
                    .has_file_hash = true,
                    .file_hash = e->file_hash,
                    .file_size = e->file_size,
                    .nar_hash = e->nar_hash,
                    .nar_size = e->nar_size,
                    .references = refs,
                    .sigs = no_sigs,
                };
                known[nk] = &nis[nk];
                nk++;
        }
        _cleanup_store_ struct skiff_store *s = NULL;
        int r = skiff_store_open(cfg, &s, err);
        if (r >= 0)
                r = skiff_store_realize_described(s, known, nk, plain, NULL, NULL, err);
        for (size_t i = 0; i < nk; i++)
                free(nis[i].references);
        if (r < 0)
                return skiff_error_wrap(err,
                                        "realize the closure into `%s` for the conflict "
                                        "check",
                                        root);
        return 0;
}

static int check_conflicts(struct plan *p, enum skiff_publish_check *ret, skiff_err_t *err)
{
        *ret = SKIFF_PUBLISH_CHECK_SKIPPED;
        if (p->n_pkgs < 2)
                return 0;
        _cleanup_free_ char *tmp = NULL, *real = NULL;
        if (all_local(p)) {
                *ret = SKIFF_PUBLISH_CHECK_LOCAL;
        } else {
                const char *root = p->o->work_store;
                if (!root) {
                        tmp = xstrdup("/tmp/skiff-publish-XXXXXX");
                        if (!mkdtemp(tmp))
                                return skiff_error_set_errno(err, errno, "create `%s`", tmp);
                        root = tmp;
                }
                int r = realize_closure(p, root, err);
                if (r >= 0)
                        real = xasprintf("%s/store", root);
                if (r < 0) {
                        if (tmp)
                                (void)skiff_fs_rm_rf(tmp, NULL); /* best effort */
                        return r;
                }
                *ret = SKIFF_PUBLISH_CHECK_REALIZED;
        }
        struct skiff_profile_input in = {
            .store_dir = xstrdup(p->store_dir),
            .real_store = real ? xstrdup(real) : NULL,
            .packages = xcalloc(p->n_pkgs, sizeof(struct skiff_profile_package)),
            .n_packages = p->n_pkgs,
        };
        for (size_t i = 0; i < p->n_pkgs; i++)
                in.packages[i] = (struct skiff_profile_package){
                    .name = xstrdup(p->pkgs[i].name),
                    .path = xstrdup(p->pkgs[i].path),
                    .priority = p->pkgs[i].priority,
                };
        int r = skiff_profile_check(&in, err);
        skiff_profile_input_done(&in);
        if (tmp)
                (void)skiff_fs_rm_rf(tmp, NULL); /* best effort: a temporary copy */
        if (r < 0)
                return skiff_error_wrap(err, "profile");
        return 0;
}

/* ---- writing --------------------------------------------------------------------------- */

static void format_time(int64_t t, char out[32])
{
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Builds the document (borrowing the plan's strings) and renders it. */
static int render(struct plan *p, const char *environment, uint32_t n, const char *created,
                  char **ret, size_t *ret_len, skiff_err_t *err)
{
        const struct skiff_publish_options *o = p->o;
        struct skiff_generation_system sys = {
            .system = (char *)p->system,
            .store_dir = (char *)p->store_dir,
            .packages = p->pkgs,
            .n_packages = p->n_pkgs,
            .has_closure = true,
            .closure = p->closure,
            .n_closure = p->n_closure,
            .substituters = p->substituters,
        };
        _cleanup_free_ struct skiff_ref *incs = xcalloc(p->n_inc + 1, sizeof(*incs));
        for (size_t i = 0; i < p->n_inc; i++)
                incs[i] = p->inc[i].ref;
        size_t nreq = skiff_strv_len(p->requires) / 2;
        _cleanup_free_ struct skiff_generation_require *req = xcalloc(nreq + 1, sizeof(*req));
        for (size_t i = 0; i < nreq; i++)
                req[i] = (struct skiff_generation_require){.name = p->requires[2 * i],
                                                           .constraint = p->requires[2 * i + 1]};
        char *empty[] = {NULL};
        struct skiff_generation g = {
            .environment = (char *)environment,
            .generation = n,
            .created = (char *)created,
            .description = (char *)o->description,
            .includes = incs,
            .n_includes = p->n_inc,
            .systems = &sys,
            .n_systems = 1,
            .vars = p->vars ? p->vars : empty,
            .on_activate = p->hook,
            .requires = req,
            .n_requires = nreq,
        };
        return skiff_generation_write(&g, ret, ret_len, err);
}

/* Creates dir/name with data; -EEXIST (without replacing) when it exists. */
static int create_noreplace(int dfd, const char *dir, const char *name, const char *data,
                            size_t len, skiff_err_t *err)
{
        _cleanup_free_ char *tmp = xasprintf(".%s.tmp-%d", name, (int)getpid());
        _cleanup_close_ int fd =
            openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "create `%s/%s`", dir, tmp);
        int r = skiff_fs_write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0); /* best effort */
                return skiff_error_set_errno(err, -r, "write `%s/%s`", dir, tmp);
        }
        /* link(2) fails with EEXIST instead of replacing, on every file system. */
        r = linkat(dfd, tmp, dfd, name, 0) < 0 ? -errno : 0;
        (void)unlinkat(dfd, tmp, 0); /* the name under tmp is no longer needed */
        if (r == -EEXIST)
                return skiff_error_set(err, EEXIST, "`%s/%s` already exists", dir, name);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "create `%s/%s`", dir, name);
        return 0;
}

static int write_generation(struct plan *p, const char *env_dir, const char *environment,
                            struct skiff_publish_result *res, skiff_err_t *err)
{
        const struct skiff_publish_options *o = p->o;
        _cleanup_close_ int dfd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", env_dir);
        while (flock(dfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return skiff_error_set_errno(err, errno, "lock `%s`", env_dir);
        char created[32];
        format_time(o->now ? o->now : (int64_t)time(NULL), created);
        uint32_t n = 0;
        int r = skiff_publish_index_highest(env_dir, &n, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *doc = NULL, *name = NULL;
        size_t len = 0;
        for (int attempt = 0;; attempt++) {
                if (n >= SKIFF_REF_GENERATION_MAX)
                        return skiff_error_set(err, ERANGE, "`%s`: no generation number left",
                                               env_dir);
                n++;
                free(doc);
                free(name);
                doc = NULL;
                r = render(p, environment, n, created, &doc, &len, err);
                if (r < 0)
                        return r;
                name = xasprintf("%u.json", n);
                r = create_noreplace(dfd, env_dir, name, doc, len, err);
                if (r != -EEXIST || attempt >= 16)
                        break;
                skiff_error_free(err); /* a writer that ignores the lock took n: take the next */
        }
        if (r < 0)
                return r;
        _cleanup_free_ char *sig = NULL;
        _cleanup_free_ char *sig_path = xasprintf("%s/%u.json.sig", env_dir, n);
        r = skiff_generation_sign(doc, len, o->key, &sig, err);
        if (r >= 0)
                r = skiff_fs_write_file_atomic(sig_path, sig, strlen(sig), 0644, true, err);
        if (r < 0)
                return skiff_error_wrap(err, "sign generation %u", n);
        _cleanup_publish_index_ struct skiff_publish_index *ix = NULL;
        _cleanup_free_ char *ixdoc = NULL;
        size_t ixlen = 0;
        _cleanup_free_ char *ix_path = xasprintf("%s/index.json", env_dir);
        r = skiff_publish_index_scan(env_dir, environment, &ix, err);
        if (r >= 0)
                r = skiff_publish_index_write(ix, &ixdoc, &ixlen, err);
        if (r >= 0)
                r = skiff_fs_write_file_atomic(ix_path, ixdoc, ixlen, 0644, true, err);
        if (r < 0)
                return skiff_error_wrap(err, "update `%s`", ix_path);
        if (o->live) {
                _cleanup_free_ char *live = xasprintf("%u\n", n);
                _cleanup_free_ char *live_path = xasprintf("%s/live", env_dir);
                r = skiff_fs_write_file_atomic(live_path, live, strlen(live), 0644, true, err);
                if (r < 0)
                        return r;
        }
        uint8_t h[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(doc, len, h);
        char hex[2 * SKIFF_SHA256_LEN + 1];
        skiff_hex_encode(h, sizeof(h), hex);
        res->generation = n;
        res->doc_path = xasprintf("%s/%s", env_dir, name);
        res->doc_sha256 = xstrdup(hex);
        return 0;
}

void skiff_publish_result_done(struct skiff_publish_result *r)
{
        if (!r)
                return;
        free(r->doc_path);
        free(r->doc_sha256);
        *r = (struct skiff_publish_result){0};
}

int skiff_publish_run(const struct skiff_publish_options *o, struct skiff_publish_result *ret,
                      skiff_err_t *err)
{
        _cleanup_(skiff_ref_done) struct skiff_ref env = {0};
        int r = skiff_ref_parse(o->environment ? o->environment : "", true, &env, err);
        if (r < 0)
                return r;
        if (env.hub || env.generation)
                return skiff_error_set(err, EINVAL,
                                       "environment `%s`: expected owner/name (the hub is a "
                                       "directory and the generation is chosen by publish)",
                                       o->environment);
        if (!o->hub_dir || !o->key)
                return skiff_error_set(err, EINVAL,
                                       "a hub directory and a signing key are "
                                       "required");
        struct plan p = {
            .o = o,
            .system = o->system ? o->system : skiff_generation_host_system(),
            .store_dir = o->store_dir ? o->store_dir : SKIFF_STORE_DIR_DEFAULT,
        };
        p.trusted = xcalloc(o->ntrusted + 1, sizeof(*p.trusted));
        if (o->ntrusted)
                memcpy(p.trusted, o->trusted, o->ntrusted * sizeof(*p.trusted));
        p.ntrusted = o->ntrusted + 1;
        snprintf(p.trusted[o->ntrusted].name, sizeof(p.trusted[o->ntrusted].name), "%s",
                 o->key->name);
        memcpy(p.trusted[o->ntrusted].key, o->key->pub, sizeof(o->key->pub));

        _cleanup_free_ char *envname = skiff_ref_env_name(&env);
        _cleanup_free_ char *env_dir = NULL, *hub_abs = NULL;
        r = skiff_fs_mkdir_p(o->hub_dir, 0755, err);
        if (r >= 0 && !(hub_abs = realpath(o->hub_dir, NULL)))
                r = skiff_error_set_errno(err, errno, "resolve `%s`", o->hub_dir);
        if (r >= 0) {
                env_dir = xasprintf("%s/skiff/v1/%s/%s", hub_abs, env.owner, env.name);
                r = skiff_fetch_global_init(err);
        }
        _cleanup_fetch_ struct skiff_fetch *f = NULL;
        _cleanup_config_ struct skiff_config *own_cfg = o->cfg ? NULL : skiff_config_new_default();
        if (r >= 0)
                r = skiff_fetch_new(o->cfg ? o->cfg : own_cfg, &f, err);
        if (r >= 0)
                r = load_includes(&p, hub_abs, err);
        if (r >= 0)
                r = compose(&p, err);
        if (r >= 0)
                r = resolve(&p, f, err);
        enum skiff_publish_check check = SKIFF_PUBLISH_CHECK_SKIPPED;
        if (r >= 0)
                r = check_conflicts(&p, &check, err);
        struct skiff_publish_result res = {.check = check};
        if (r >= 0)
                r = skiff_fs_mkdir_p(env_dir, 0755, err);
        if (r >= 0)
                r = write_generation(&p, env_dir, envname, &res, err);
        if (r >= 0) {
                res.n_packages = p.n_pkgs;
                res.n_closure = p.n_closure;
                for (size_t i = 0; i < p.n_closure; i++)
                        res.nar_size += p.closure[i].nar_size;
        }
        plan_done(&p);
        if (r < 0) {
                skiff_publish_result_done(&res);
                return skiff_error_wrap(err, "publish `%s`", envname);
        }
        *ret = res;
        return 0;
}
