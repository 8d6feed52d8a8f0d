#include "env/generation.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "store/decompress.h"
#include "store/storepath.h"

#define DESCRIPTION_MAX (64 * 1024)
#define HOOK_MAX        (256 * 1024)

/* --- decoding ----------------------------------------------------------------------------------
 */

struct opt_u64 {
        uint64_t v;
        bool set;
};

static int dec_opt_u64(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct opt_u64 *o = field;
        int r = skiff_json_dec_u64(v, path, &o->v, err);
        if (r < 0)
                return r;
        o->set = true;
        return 0;
}

static int dec_generation(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        uint64_t n = 0;
        if (skiff_json_u64(v, &n) < 0 || n == 0 || n > SKIFF_REF_GENERATION_MAX)
                return skiff_error_set(err, EINVAL, "`%s`: expected an integer 1..%u", path,
                                       SKIFF_REF_GENERATION_MAX);
        *(uint32_t *)field = (uint32_t)n;
        return 0;
}

static int dec_hash(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a hash string", err);
        int r = skiff_nixhash_parse(s, field, err);
        if (r < 0)
                return skiff_error_wrap(err, "`%s`", path);
        return 0;
}

struct raw_path {
        char *path;
        struct skiff_nixhash nar_hash;
        struct opt_u64 nar_size;
        char **references;
        char *url;
        char *compression;
        struct skiff_nixhash file_hash;
        bool has_file_hash;
        struct opt_u64 file_size;
};

static int dec_file_hash(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct raw_path *rp =
            (struct raw_path *)((char *)field - offsetof(struct raw_path, file_hash));
        int r = dec_hash(v, path, field, err);
        if (r < 0)
                return r;
        rp->has_file_hash = true;
        return 0;
}

static const struct skiff_json_field path_fields[] = {
    {"path", skiff_json_dec_string, offsetof(struct raw_path, path), true},
    {"narHash", dec_hash, offsetof(struct raw_path, nar_hash), true},
    {"narSize", dec_opt_u64, offsetof(struct raw_path, nar_size), true},
    {"references", skiff_json_dec_strv, offsetof(struct raw_path, references), true},
    {"url", skiff_json_dec_string, offsetof(struct raw_path, url), false},
    {"compression", skiff_json_dec_string, offsetof(struct raw_path, compression), false},
    {"fileHash", dec_file_hash, offsetof(struct raw_path, file_hash), false},
    {"fileSize", dec_opt_u64, offsetof(struct raw_path, file_size), false},
    {NULL},
};

static void path_done(struct skiff_generation_path *p)
{
        free(p->path);
        skiff_strv_free(p->references);
        free(p->url);
        free(p->compression);
}

static int dec_closure_entry(skiff_jv *v, const char *path, struct skiff_generation_path *out,
                             skiff_err_t *err)
{
        struct raw_path rp = {0};
        int r = skiff_json_decode_object(v, path, path_fields, &rp, false, err);
        struct skiff_generation_path p = {
            .path = rp.path,
            .nar_hash = rp.nar_hash,
            .nar_size = rp.nar_size.v,
            .references = rp.references ? rp.references : xcalloc(1, sizeof(char *)),
            .url = rp.url,
            .compression = rp.compression,
            .file_hash = rp.file_hash,
            .file_size = rp.file_size.v,
        };
        if (r < 0) {
                path_done(&p);
                return r;
        }
        unsigned present = !!rp.url + !!rp.compression + rp.has_file_hash + rp.file_size.set;
        if (present != 0 && present != 4) {
                r = skiff_error_set(err, EINVAL,
                                    "`%s` (`%s`): url, compression, fileHash and fileSize must be "
                                    "given together or not at all",
                                    path, p.path);
                path_done(&p);
                return r;
        }
        p.has_file = present == 4;
        *out = p;
        return 0;
}

static int dec_closure(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_generation_system *s = field;
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        size_t n = skiff_json_len(v);
        s->closure = xcalloc(n ? n : 1, sizeof(*s->closure));
        s->has_closure = true;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                int r = dec_closure_entry(skiff_json_at(v, i), ip, &s->closure[i], err);
                if (r < 0)
                        return r;
                s->n_closure++;
        }
        return 0;
}

static const struct skiff_json_field package_fields[] = {
    {"name", skiff_json_dec_string, offsetof(struct skiff_generation_package, name), true},
    {"path", skiff_json_dec_string, offsetof(struct skiff_generation_package, path), true},
    {"priority", skiff_json_dec_i32, offsetof(struct skiff_generation_package, priority), false},
    {NULL},
};

static int dec_packages(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_generation_system *s = field;
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        size_t n = skiff_json_len(v);
        s->packages = xcalloc(n ? n : 1, sizeof(*s->packages));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                struct skiff_generation_package *p = &s->packages[i];
                p->priority = SKIFF_GENERATION_PRIORITY_DEFAULT;
                s->n_packages++;
                int r = skiff_json_decode_object(skiff_json_at(v, i), ip, package_fields, p, false,
                                                 err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* packages and closure decode into the whole system struct (offset 0) so they can set counts. */
static const struct skiff_json_field system_fields[] = {
    {"store_dir", skiff_json_dec_string, offsetof(struct skiff_generation_system, store_dir),
     false},
    {"packages", dec_packages, 0, true},
    {"closure", dec_closure, 0, false},
    {"substituters", skiff_json_dec_strv, offsetof(struct skiff_generation_system, substituters),
     false},
    {NULL},
};

static int dec_systems(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_generation *g = field;
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object of systems", err);
        size_t n = skiff_json_len(v);
        g->systems = xcalloc(n ? n : 1, sizeof(*g->systems));
        for (size_t i = 0; i < n; i++) {
                const char *key = skiff_json_key_at(v, i);
                _cleanup_free_ char *kp = skiff_json_path_key(path, key);
                struct skiff_generation_system *s = &g->systems[i];
                g->n_systems++;
                s->system = xstrdup(key);
                int r =
                    skiff_json_decode_object(skiff_json_at(v, i), kp, system_fields, s, false, err);
                if (r < 0)
                        return r;
                if (!s->store_dir)
                        s->store_dir = xstrdup(SKIFF_STORE_DIR_DEFAULT);
                if (!s->substituters)
                        s->substituters = xcalloc(1, sizeof(char *));
        }
        return 0;
}

static int dec_includes(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_generation *g = field;
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array of references", err);
        size_t n = skiff_json_len(v);
        g->includes = xcalloc(n ? n : 1, sizeof(*g->includes));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                const char *s = skiff_json_str(skiff_json_at(v, i));
                if (!s)
                        return skiff_json_type_error(skiff_json_at(v, i), ip, "a string", err);
                int r = skiff_ref_parse(s, false, &g->includes[i], err);
                if (r < 0)
                        return skiff_error_wrap(err, "`%s`", ip);
                g->n_includes++;
        }
        return 0;
}

static const struct skiff_json_field hook_fields[] = {
    {"on_activate", skiff_json_dec_string, offsetof(struct skiff_generation, on_activate), false},
    {NULL},
};

static int dec_hook(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, hook_fields, field, false, err);
}

static int dec_requires(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_generation *g = field;
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object of version constraints", err);
        size_t n = skiff_json_len(v);
        g->requires = xcalloc(n ? n : 1, sizeof(*g->requires));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *kp = skiff_json_path_key(path, skiff_json_key_at(v, i));
                const char *s = skiff_json_str(skiff_json_at(v, i));
                if (!s)
                        return skiff_json_type_error(skiff_json_at(v, i), kp, "a string", err);
                g->requires[i].name = xstrdup(skiff_json_key_at(v, i));
                g->requires[i].constraint = xstrdup(s);
                g->n_requires++;
        }
        return 0;
}

struct top {
        char *schema;
        struct skiff_generation g;
};

static const struct skiff_json_field top_fields[] = {
    {"schema", skiff_json_dec_string, offsetof(struct top, schema), true},
    {"environment", skiff_json_dec_string, offsetof(struct top, g.environment), true},
    {"generation", dec_generation, offsetof(struct top, g.generation), true},
    {"created", skiff_json_dec_string, offsetof(struct top, g.created), true},
    {"description", skiff_json_dec_string, offsetof(struct top, g.description), false},
    {"includes", dec_includes, offsetof(struct top, g), false},
    {"systems", dec_systems, offsetof(struct top, g), true},
    {"vars", skiff_json_dec_strmap, offsetof(struct top, g.vars), false},
    {"hook", dec_hook, offsetof(struct top, g), false},
    {"requires", dec_requires, offsetof(struct top, g), false},
    {NULL},
};

/* --- validation --------------------------------------------------------------------------------
 */

static bool is_leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int digits(const char *s, size_t n, int *ret)
{
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int skiff_generation_parse_time(const char *s, int64_t *ret, skiff_err_t *err)
{
        /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
        int Y, M, D, h, m, sec, oh = 0, om = 0;
        size_t n = strlen(s);
        if (n < 20 || digits(s, 4, &Y) < 0 || s[4] != '-' || digits(s + 5, 2, &M) < 0 ||
            s[7] != '-' || digits(s + 8, 2, &D) < 0 || (s[10] != 'T' && s[10] != 't') ||
            digits(s + 11, 2, &h) < 0 || s[13] != ':' || digits(s + 14, 2, &m) < 0 ||
            s[16] != ':' || digits(s + 17, 2, &sec) < 0)
                goto bad;
        size_t i = 19;
        if (s[i] == '.') {
                size_t f = ++i;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (i == f || i - f > 9)
                        goto bad;
        }
        int sign = 0;
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
                sign = 0;
        else if ((s[i] == '+' || s[i] == '-') && i + 6 == n && digits(s + i + 1, 2, &oh) == 0 &&
                 s[i + 3] == ':' && digits(s + i + 4, 2, &om) == 0)
                sign = s[i] == '+' ? 1 : -1;
        else
                goto bad;
        static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && is_leap(Y)) || h > 23 ||
            m > 59 || sec > 60 || oh > 23 || om > 59)
                goto bad;
        /* Days from the civil date (proleptic Gregorian). */
        int64_t y = Y - (M <= 2);
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        int64_t days = era * 146097 + doe - 719468;
        int64_t t = days * 86400 + h * 3600 + m * 60 + (sec == 60 ? 59 : sec);
        t -= sign * (oh * 3600 + om * 60);
        *ret = t;
        return 0;
bad:
        return skiff_error_set(err, EINVAL,
                               "`%s` is not an RFC 3339 timestamp (e.g. 2024-05-01T12:00:00Z)", s);
}

static bool valid_system(const char *s)
{
        const char *dash = strchr(s, '-');
        if (!dash || dash == s || !dash[1] || strlen(s) > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-'))
                        return false;
        return true;
}

static bool valid_var_name(const char *s)
{
        if (!*s || (*s >= '0' && *s <= '9'))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

static bool valid_require_name(const char *s)
{
        if (!*s || strlen(s) > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-'))
                        return false;
        return true;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_url(const char *sys, const struct skiff_generation_path *p, skiff_err_t *err)
{
        bool ok = skiff_path_is_safe_relative(p->url) && !strstr(p->url, "://");
        for (const char *c = p->url; ok && *c; c++)
                ok = (unsigned char)*c > ' ' && *c != '?' && *c != '#' && *c != '\\' &&
                     (unsigned char)*c < 0x7f;
        if (!ok)
                return skiff_error_set(err, EINVAL,
                                       "`systems.%s.closure` (`%s`): url `%s` is not a relative "
                                       "path inside the cache",
                                       sys, p->path, p->url);
        enum skiff_compression c;
        _cleanup_error_ skiff_err_t ce = NULL;
        if (skiff_compression_from_name(p->compression, &c, &ce) < 0)
                return skiff_error_set(err, EINVAL, "`systems.%s.closure` (`%s`): %s", sys, p->path,
                                       ce->msg);
        if (p->file_size == 0)
                return skiff_error_set(err, EINVAL,
                                       "`systems.%s.closure` (`%s`): fileSize must be positive",
                                       sys, p->path);
        return 0;
}

static int check_system(const struct skiff_generation_system *s, skiff_err_t *err)
{
        const char *sys = s->system;
        if (!valid_system(sys))
                return skiff_error_set(err, EINVAL,
                                       "`systems`: invalid system `%s` (expected <arch>-<os>, "
                                       "e.g. x86_64-linux)",
                                       sys);
        _cleanup_free_ char *clean = skiff_path_clean(s->store_dir);
        if (s->store_dir[0] != '/' || strcmp(clean, s->store_dir) != 0 || !strcmp(clean, "/"))
                return skiff_error_set(err, EINVAL,
                                       "`systems.%s.store_dir`: `%s` is not a clean absolute "
                                       "directory",
                                       sys, s->store_dir);
        int r;
        /* Closure: valid, unique paths; closed under references. */
        _cleanup_free_ char **sorted = xcalloc(s->n_closure + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_closure; i++) {
                const struct skiff_generation_path *p = &s->closure[i];
                r = skiff_storepath_parse(p->path, s->store_dir, NULL, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`systems.%s.closure[%zu].path`", sys, i);
                if (p->nar_size == 0)
                        return skiff_error_set(err, EINVAL,
                                               "`systems.%s.closure` (`%s`): narSize must be "
                                               "positive",
                                               sys, p->path);
                if (p->has_file && (r = check_url(sys, p, err)) < 0)
                        return r;
                sorted[i] = p->path;
        }
        qsort(sorted, s->n_closure, sizeof(char *), cmp_str);
        for (size_t i = 1; i < s->n_closure; i++)
                if (strcmp(sorted[i - 1], sorted[i]) == 0)
                        return skiff_error_set(err, EINVAL,
                                               "`systems.%s.closure`: `%s` is listed twice", sys,
                                               sorted[i]);
        for (size_t i = 0; i < s->n_closure; i++) {
                const struct skiff_generation_path *p = &s->closure[i];
                for (char **ref = p->references; ref && *ref; ref++) {
                        r = skiff_storepath_parse(*ref, s->store_dir, NULL, err);
                        if (r < 0)
                                return skiff_error_wrap(
                                    err, "`systems.%s.closure` (`%s`) references", sys, p->path);
                        if (!bsearch(ref, sorted, s->n_closure, sizeof(char *), cmp_str))
                                return skiff_error_set(err, EINVAL,
                                                       "`systems.%s.closure` is not closed: `%s` "
                                                       "references `%s`, which is not in the "
                                                       "closure",
                                                       sys, p->path, *ref);
                }
        }
        /* Packages: valid, unique by name and path, inside the closure. */
        for (size_t i = 0; i < s->n_packages; i++) {
                const struct skiff_generation_package *p = &s->packages[i];
                r = skiff_storepath_check_name(p->name, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`systems.%s.packages[%zu].name`", sys, i);
                r = skiff_storepath_parse(p->path, s->store_dir, NULL, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`systems.%s.packages[%zu].path`", sys, i);
                for (size_t j = 0; j < i; j++) {
                        if (strcmp(s->packages[j].name, p->name) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "`systems.%s.packages`: package name `%s` "
                                                       "is listed twice",
                                                       sys, p->name);
                        if (strcmp(s->packages[j].path, p->path) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "`systems.%s.packages`: `%s` is listed "
                                                       "twice",
                                                       sys, p->path);
                }
                if (s->has_closure &&
                    !bsearch(&p->path, sorted, s->n_closure, sizeof(char *), cmp_str))
                        return skiff_error_set(err, EINVAL,
                                               "`systems.%s.packages`: package `%s` (`%s`) is not "
                                               "in the closure",
                                               sys, p->name, p->path);
        }
        for (size_t i = 0; s->substituters && s->substituters[i]; i++) {
                const char *u = s->substituters[i];
                if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0 &&
                    strncmp(u, "file://", 7) != 0)
                        return skiff_error_set(err, EINVAL,
                                               "`systems.%s.substituters[%zu]`: `%s` is not an "
                                               "http://, https:// or file:// URL",
                                               sys, i, u);
        }
        return 0;
}

int skiff_generation_validate(const struct skiff_generation *g, skiff_err_t *err)
{
        const char *slash = g->environment ? strchr(g->environment, '/') : NULL;
        _cleanup_free_ char *owner =
            slash ? xstrndup(g->environment, (size_t)(slash - g->environment)) : NULL;
        if (!slash || !skiff_ref_valid_segment(owner) || !skiff_ref_valid_segment(slash + 1))
                return skiff_error_set(err, EINVAL,
                                       "`environment`: `%s` is not owner/name (lower-case "
                                       "[a-z0-9][a-z0-9._-]*)",
                                       g->environment ? g->environment : "");
        if (g->generation == 0 || g->generation > SKIFF_REF_GENERATION_MAX)
                return skiff_error_set(err, EINVAL, "`generation`: %u is out of range 1..%u",
                                       g->generation, SKIFF_REF_GENERATION_MAX);
        int64_t t;
        int r = skiff_generation_parse_time(g->created ? g->created : "", &t, err);
        if (r < 0)
                return skiff_error_wrap(err, "`created`");
        if (g->description && strlen(g->description) > DESCRIPTION_MAX)
                return skiff_error_set(err, EINVAL, "`description`: longer than %d bytes",
                                       DESCRIPTION_MAX);
        for (size_t i = 0; i < g->n_includes; i++)
                if (!skiff_ref_is_pinned(&g->includes[i]))
                        return skiff_error_set(err, EINVAL, "`includes[%zu]`: not pinned", i);
        if (g->n_systems == 0)
                return skiff_error_set(err, EINVAL, "`systems`: at least one system is required");
        for (size_t i = 0; i < g->n_systems; i++) {
                for (size_t j = 0; j < i; j++)
                        if (strcmp(g->systems[i].system, g->systems[j].system) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "`systems`: `%s` is listed twice",
                                                       g->systems[i].system);
                r = check_system(&g->systems[i], err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; g->vars && g->vars[i]; i += 2) {
                const char *name = g->vars[i];
                if (!valid_var_name(name) || strncmp(name, "SKIFF_", 6) == 0)
                        return skiff_error_set(err, EINVAL,
                                               "`vars`: invalid variable name `%s` (expected "
                                               "[A-Za-z_][A-Za-z0-9_]*, not SKIFF_*)",
                                               name);
                for (size_t j = 0; j < i; j += 2)
                        if (strcmp(g->vars[j], name) == 0)
                                return skiff_error_set(err, EINVAL, "`vars`: `%s` is listed twice",
                                                       name);
        }
        if (g->on_activate && strlen(g->on_activate) > HOOK_MAX)
                return skiff_error_set(err, EINVAL, "`hook.on_activate`: longer than %d bytes",
                                       HOOK_MAX);
        for (size_t i = 0; i < g->n_requires; i++) {
                const struct skiff_generation_require *q = &g->requires[i];
                if (!valid_require_name(q->name))
                        return skiff_error_set(err, EINVAL,
                                               "`requires`: invalid name `%s` (expected "
                                               "[a-z0-9_-]+)",
                                               q->name);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(g->requires[j].name, q->name) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "`requires`: `%s` is listed twice", q->name);
                struct skiff_constraint c;
                r = skiff_constraint_parse(q->constraint, &c, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`requires.%s`", q->name);
        }
        return 0;
}

int skiff_generation_parse(const char *buf, size_t len, struct skiff_generation **ret,
                           skiff_err_t *err)
{
        if (len > SKIFF_GENERATION_MAX)
                return skiff_error_set(err, EFBIG, "generation document is larger than %d bytes",
                                       SKIFF_GENERATION_MAX);
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return r;
        struct top t = {0};
        r = skiff_json_decode_object(skiff_json_root(doc), "", top_fields, &t, false, err);
        _cleanup_free_ char *schema = t.schema;
        _cleanup_generation_ struct skiff_generation *g = xmemdup(&t.g, sizeof(t.g));
        if (r < 0)
                return r;
        if (strcmp(schema, SKIFF_GENERATION_SCHEMA) != 0)
                return skiff_error_set(err, EINVAL,
                                       "`schema`: unsupported schema `%s` (expected %s)", schema,
                                       SKIFF_GENERATION_SCHEMA);
        if (!g->vars)
                g->vars = xcalloc(1, sizeof(char *));
        r = skiff_generation_validate(g, err);
        if (r < 0)
                return r;
        (void)skiff_generation_parse_time(g->created, &g->created_unix, NULL); /* validated */
        for (size_t i = 0; i < g->n_requires; i++)
                (void)skiff_constraint_parse(g->requires[i].constraint, &g->requires[i].parsed,
                                             NULL); /* validated */
        *ret = TAKE_PTR(g);
        return 0;
}

struct skiff_generation *skiff_generation_free(struct skiff_generation *g)
{
        if (!g)
                return NULL;
        free(g->environment);
        free(g->created);
        free(g->description);
        for (size_t i = 0; i < g->n_includes; i++)
                skiff_ref_done(&g->includes[i]);
        free(g->includes);
        for (size_t i = 0; i < g->n_systems; i++) {
                struct skiff_generation_system *s = &g->systems[i];
                free(s->system);
                free(s->store_dir);
                for (size_t j = 0; j < s->n_packages; j++) {
                        free(s->packages[j].name);
                        free(s->packages[j].path);
                }
                free(s->packages);
                for (size_t j = 0; j < s->n_closure; j++)
                        path_done(&s->closure[j]);
                free(s->closure);
                skiff_strv_free(s->substituters);
        }
        free(g->systems);
        skiff_strv_free(g->vars);
        free(g->on_activate);
        for (size_t i = 0; i < g->n_requires; i++) {
                free(g->requires[i].name);
                free(g->requires[i].constraint);
        }
        free(g->requires);
        free(g);
        return NULL;
}

const struct skiff_generation_system *skiff_generation_system(const struct skiff_generation *g,
                                                              const char *system)
{
        for (size_t i = 0; i < g->n_systems; i++)
                if (strcmp(g->systems[i].system, system) == 0)
                        return &g->systems[i];
        return NULL;
}

const char *skiff_generation_host_system(void)
{
#if defined(__x86_64__)
        return "x86_64-linux";
#elif defined(__aarch64__)
        return "aarch64-linux";
#elif defined(__i386__)
        return "i686-linux";
#else
        return "unknown-linux";
#endif
}

const struct skiff_generation_path *
skiff_generation_closure_find(const struct skiff_generation_system *s, const char *path)
{
        for (size_t i = 0; i < s->n_closure; i++)
                if (strcmp(s->closure[i].path, path) == 0)
                        return &s->closure[i];
        return NULL;
}
