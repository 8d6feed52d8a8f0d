/* Generation documents: the deterministic writer and the `<N>.json.sig` signatures. */
#include "env/generation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "store/sig.h"

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_system(const void *a, const void *b)
{
        const struct skiff_generation_system *const *x = a, *const *y = b;
        return strcmp((*x)->system, (*y)->system);
}

static int cmp_path(const void *a, const void *b)
{
        const struct skiff_generation_path *const *x = a, *const *y = b;
        return strcmp((*x)->path, (*y)->path);
}

static int cmp_require(const void *a, const void *b)
{
        const struct skiff_generation_require *const *x = a, *const *y = b;
        return strcmp((*x)->name, (*y)->name);
}

/* Sorted (borrowed) copy of a strv. */
static char **sorted_strv(char *const *v, size_t step)
{
        size_t n = 0;
        while (v && v[n * step])
                n++;
        char **out = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                out[i] = v[i * step];
        qsort(out, n, sizeof(char *), cmp_str);
        return out;
}

static void gen_hash(struct skiff_json_gen *j, const char *key, const struct skiff_nixhash *h)
{
        char buf[SKIFF_NIXHASH_STR_MAX];
        skiff_nixhash_format(h, buf);
        skiff_json_gen_kv_string(j, key, buf);
}

static void gen_path(struct skiff_json_gen *j, const struct skiff_generation_path *p)
{
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "path", p->path);
        gen_hash(j, "narHash", &p->nar_hash);
        skiff_json_gen_kv_u64(j, "narSize", p->nar_size);
        skiff_json_gen_string(j, "references");
        skiff_json_gen_array_open(j);
        _cleanup_free_ char **refs = sorted_strv(p->references, 1);
        for (char **r = refs; *r; r++)
                skiff_json_gen_string(j, *r);
        skiff_json_gen_array_close(j);
        if (p->has_file) {
                skiff_json_gen_kv_string(j, "url", p->url);
                skiff_json_gen_kv_string(j, "compression", p->compression);
                gen_hash(j, "fileHash", &p->file_hash);
                skiff_json_gen_kv_u64(j, "fileSize", p->file_size);
        }
        skiff_json_gen_map_close(j);
}

static void gen_system(struct skiff_json_gen *j, const struct skiff_generation_system *s)
{
        skiff_json_gen_string(j, s->system);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "store_dir", s->store_dir);
        skiff_json_gen_string(j, "packages");
        skiff_json_gen_array_open(j);
        for (size_t i = 0; i < s->n_packages; i++) {
                skiff_json_gen_map_open(j);
                skiff_json_gen_kv_string(j, "name", s->packages[i].name);
                skiff_json_gen_kv_string(j, "path", s->packages[i].path);
                skiff_json_gen_kv_i64(j, "priority", s->packages[i].priority);
                skiff_json_gen_map_close(j);
        }
        skiff_json_gen_array_close(j);
        if (s->has_closure) {
                skiff_json_gen_string(j, "closure");
                skiff_json_gen_array_open(j);
                _cleanup_free_ const struct skiff_generation_path **ps =
                    xcalloc(s->n_closure + 1, sizeof(*ps));
                for (size_t i = 0; i < s->n_closure; i++)
                        ps[i] = &s->closure[i];
                qsort(ps, s->n_closure, sizeof(*ps), cmp_path);
                for (size_t i = 0; i < s->n_closure; i++)
                        gen_path(j, ps[i]);
                skiff_json_gen_array_close(j);
        }
        if (s->substituters && s->substituters[0]) {
                skiff_json_gen_string(j, "substituters");
                skiff_json_gen_array_open(j);
                for (char **u = s->substituters; *u; u++)
                        skiff_json_gen_string(j, *u);
                skiff_json_gen_array_close(j);
        }
        skiff_json_gen_map_close(j);
}

int skiff_generation_write(const struct skiff_generation *g, char **ret, size_t *ret_len,
                           skiff_err_t *err)
{
        int r = skiff_generation_validate(g, err);
        if (r < 0)
                return skiff_error_wrap(err, "write generation document");
        _cleanup_json_gen_ struct skiff_json_gen *j = skiff_json_gen_new(true);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "schema", SKIFF_GENERATION_SCHEMA);
        skiff_json_gen_kv_string(j, "environment", g->environment);
        skiff_json_gen_kv_u64(j, "generation", g->generation);
        skiff_json_gen_kv_string(j, "created", g->created);
        if (g->description)
                skiff_json_gen_kv_string(j, "description", g->description);
        if (g->n_includes) {
                skiff_json_gen_string(j, "includes");
                skiff_json_gen_array_open(j);
                for (size_t i = 0; i < g->n_includes; i++) {
                        _cleanup_free_ char *s = skiff_ref_format(&g->includes[i]);
                        skiff_json_gen_string(j, s);
                }
                skiff_json_gen_array_close(j);
        }
        skiff_json_gen_string(j, "systems");
        skiff_json_gen_map_open(j);
        _cleanup_free_ const struct skiff_generation_system **ss =
            xcalloc(g->n_systems + 1, sizeof(*ss));
        for (size_t i = 0; i < g->n_systems; i++)
                ss[i] = &g->systems[i];
        qsort(ss, g->n_systems, sizeof(*ss), cmp_system);
        for (size_t i = 0; i < g->n_systems; i++)
                gen_system(j, ss[i]);
        skiff_json_gen_map_close(j);
        if (g->vars && g->vars[0]) {
                skiff_json_gen_string(j, "vars");
                skiff_json_gen_map_open(j);
                _cleanup_free_ char **names = sorted_strv(g->vars, 2);
                for (char **n = names; *n; n++) {
                        const char *v = NULL;
                        for (size_t i = 0; g->vars[i]; i += 2)
                                if (g->vars[i] == *n)
                                        v = g->vars[i + 1];
                        skiff_json_gen_kv_string(j, *n, v);
                }
                skiff_json_gen_map_close(j);
        }
        if (g->on_activate) {
                skiff_json_gen_string(j, "hook");
                skiff_json_gen_map_open(j);
                skiff_json_gen_kv_string(j, "on_activate", g->on_activate);
                skiff_json_gen_map_close(j);
        }
        if (g->n_requires) {
                skiff_json_gen_string(j, "requires");
                skiff_json_gen_map_open(j);
                _cleanup_free_ const struct skiff_generation_require **rq =
                    xcalloc(g->n_requires + 1, sizeof(*rq));
                for (size_t i = 0; i < g->n_requires; i++)
                rq[i] = &g->requires[i];
                qsort(rq, g->n_requires, sizeof(*rq), cmp_require);
                for (size_t i = 0; i < g->n_requires; i++)
                        skiff_json_gen_kv_string(j, rq[i]->name, rq[i]->constraint);
                skiff_json_gen_map_close(j);
        }
        skiff_json_gen_map_close(j);
        r = skiff_json_gen_finish_line(j, ret, ret_len, err);
        if (r < 0)
                return skiff_error_wrap(err, "write generation document");
        return 0;
}

int skiff_generation_verify(const char *doc, size_t doc_len, const char *sig, size_t sig_len,
                            const struct skiff_sig_pubkey *trusted, size_t ntrusted,
                            size_t *ret_key, skiff_err_t *err)
{
        if (sig_len > SKIFF_GENERATION_SIG_MAX)
                return skiff_error_set(err, EFBIG, "signature file is larger than %d bytes",
                                       SKIFF_GENERATION_SIG_MAX);
        if (memchr(sig, '\0', sig_len))
                return skiff_error_set(err, EINVAL, "signature file contains a NUL byte");
        _cleanup_free_ char *copy = xstrndup(sig, sig_len);
        _cleanup_strv_ char **lines = skiff_strv_split(copy, "\n", true);
        _cleanup_strv_ char **sigs = NULL;
        for (char **l = lines; *l; l++) {
                char *s = *l;
                size_t n = strlen(s);
                while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                        s[--n] = '\0';
                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s)
                        continue;
                if (!strchr(s, ':'))
                        return skiff_error_set(err, EINVAL,
                                               "signature file: line `%.64s` is not "
                                               "<key-name>:<base64 signature>",
                                               s);
                skiff_strv_push(&sigs, s);
        }
        if (!sigs)
                return skiff_error_set(err, EINVAL, "signature file is empty");
        return skiff_sig_verify_any(doc, doc_len, sigs, trusted, ntrusted, ret_key, err);
}

int skiff_generation_sign(const char *doc, size_t doc_len, const struct skiff_sig_seckey *sk,
                          char **ret, skiff_err_t *err)
{
        _cleanup_free_ char *s = NULL;
        int r = skiff_sig_sign(sk, doc, doc_len, &s, err);
        if (r < 0)
                return r;
        *ret = xasprintf("%s\n", s);
        return 0;
}
