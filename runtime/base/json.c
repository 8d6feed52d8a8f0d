#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "fs.h"
#include "strv.h"
#include "xalloc.h"

struct skiff_json {
        yajl_val root;
};

/* skiff_jv is an opaque alias of struct yajl_val_s. */
#define V(v)  ((yajl_val)(v))
#define JV(y) ((skiff_jv *)(y))

int skiff_json_parse(const char *buf, size_t len, struct skiff_json **out, skiff_err_t *err)
{
        if (memchr(buf, '\0', len))
                return skiff_error_set(err, EBADMSG, "invalid JSON: NUL byte in input");
        _cleanup_free_ char *copy = xstrndup(buf, len);
        char errbuf[256] = "";
        yajl_val root = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
        if (!root) {
                char *nl;
                while ((nl = strchr(errbuf, '\n')))
                        *nl = ' ';
                return skiff_error_set(err, EBADMSG, "invalid JSON: %s",
                                       errbuf[0] ? errbuf : "parse error");
        }
        struct skiff_json *doc = xmalloc(sizeof(*doc));
        doc->root = root;
        *out = doc;
        return 0;
}

void skiff_json_free(struct skiff_json *doc)
{
        if (!doc)
                return;
        yajl_tree_free(doc->root);
        free(doc);
}

skiff_jv *skiff_json_root(const struct skiff_json *doc)
{
        return JV(doc->root);
}

enum skiff_json_type skiff_json_type(skiff_jv *v)
{
        yajl_val y = V(v);
        if (!y)
                return SKIFF_JSON_NULL;
        switch (y->type) {
        case yajl_t_string:
                return SKIFF_JSON_STRING;
        case yajl_t_number:
                return SKIFF_JSON_NUMBER;
        case yajl_t_object:
                return SKIFF_JSON_OBJECT;
        case yajl_t_array:
                return SKIFF_JSON_ARRAY;
        case yajl_t_true:
        case yajl_t_false:
                return SKIFF_JSON_BOOL;
        default:
                return SKIFF_JSON_NULL;
        }
}

const char *skiff_json_type_name(enum skiff_json_type t)
{
        static const char *const names[] = {
            [SKIFF_JSON_NULL] = "null",       [SKIFF_JSON_BOOL] = "a boolean",
            [SKIFF_JSON_NUMBER] = "a number", [SKIFF_JSON_STRING] = "a string",
            [SKIFF_JSON_ARRAY] = "an array",  [SKIFF_JSON_OBJECT] = "an object",
        };
        return names[t];
}

skiff_jv *skiff_json_get(skiff_jv *v, const char *key)
{
        yajl_val y = V(v);
        if (!y || y->type != yajl_t_object)
                return NULL;
        for (size_t i = 0; i < y->u.object.len; i++)
                if (strcmp(y->u.object.keys[i], key) == 0)
                        return JV(y->u.object.values[i]);
        return NULL;
}

size_t skiff_json_len(skiff_jv *v)
{
        yajl_val y = V(v);
        if (!y)
                return 0;
        if (y->type == yajl_t_object)
                return y->u.object.len;
        if (y->type == yajl_t_array)
                return y->u.array.len;
        return 0;
}

const char *skiff_json_key_at(skiff_jv *v, size_t i)
{
        yajl_val y = V(v);
        if (!y || y->type != yajl_t_object || i >= y->u.object.len)
                return NULL;
        return y->u.object.keys[i];
}

skiff_jv *skiff_json_at(skiff_jv *v, size_t i)
{
        yajl_val y = V(v);
        if (!y)
                return NULL;
        if (y->type == yajl_t_object)
                return i < y->u.object.len ? JV(y->u.object.values[i]) : NULL;
        if (y->type == yajl_t_array)
                return i < y->u.array.len ? JV(y->u.array.values[i]) : NULL;
        return NULL;
}

const char *skiff_json_str(skiff_jv *v)
{
        yajl_val y = V(v);
        return y && y->type == yajl_t_string ? y->u.string : NULL;
}

int skiff_json_bool(skiff_jv *v, bool *out)
{
        yajl_val y = V(v);
        if (!y || (y->type != yajl_t_true && y->type != yajl_t_false))
                return -EINVAL;
        *out = y->type == yajl_t_true;
        return 0;
}

int skiff_json_i64(skiff_jv *v, int64_t *out)
{
        yajl_val y = V(v);
        if (!y || y->type != yajl_t_number || !y->u.number.r)
                return -EINVAL;
        int r = skiff_parse_i64(y->u.number.r, out);
        return r == -ERANGE ? -ERANGE : r < 0 ? -EINVAL : 0;
}

int skiff_json_u64(skiff_jv *v, uint64_t *out)
{
        yajl_val y = V(v);
        if (!y || y->type != yajl_t_number || !y->u.number.r)
                return -EINVAL;
        const char *s = y->u.number.r;
        int r = skiff_parse_u64(s, out);
        return r == -ERANGE ? -ERANGE : r < 0 ? -EINVAL : 0;
}

int skiff_json_double(skiff_jv *v, double *out)
{
        yajl_val y = V(v);
        if (!y || y->type != yajl_t_number || !(y->u.number.flags & YAJL_NUMBER_DOUBLE_VALID))
                return -EINVAL;
        *out = y->u.number.d;
        return 0;
}

char *skiff_json_path_key(const char *path, const char *key)
{
        if (!path || !path[0])
                return xstrdup(key);
        return xasprintf("%s.%s", path, key);
}

char *skiff_json_path_index(const char *path, size_t i)
{
        return xasprintf("%s[%zu]", path ? path : "", i);
}

int skiff_json_type_error(skiff_jv *v, const char *path, const char *what, skiff_err_t *err)
{
        return skiff_error_set(err, EINVAL, "%s: expected %s, got %s",
                               path && path[0] ? path : "(document)", what,
                               skiff_json_type_name(skiff_json_type(v)));
}

int skiff_json_decode_object(skiff_jv *v, const char *path, const struct skiff_json_field *fields,
                             void *dst, bool allow_unknown, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object", err);
        size_t nfields = 0;
        while (fields[nfields].key)
                nfields++;
        _cleanup_free_ bool *seen = xcalloc(nfields + 1, sizeof(bool));
        size_t n = skiff_json_len(v);
        for (size_t i = 0; i < n; i++) {
                const char *key = skiff_json_key_at(v, i);
                skiff_jv *mv = skiff_json_at(v, i);
                size_t f = 0;
                while (f < nfields && strcmp(fields[f].key, key) != 0)
                        f++;
                _cleanup_free_ char *mpath = skiff_json_path_key(path, key);
                if (f == nfields) {
                        if (allow_unknown)
                                continue;
                        return skiff_error_set(err, EINVAL, "%s: unknown key", mpath);
                }
                if (seen[f])
                        return skiff_error_set(err, EINVAL, "%s: duplicate key", mpath);
                seen[f] = true;
                if (skiff_json_type(mv) == SKIFF_JSON_NULL) {
                        seen[f] = !fields[f].required ? true : false;
                        continue;
                }
                int r = fields[f].decode(mv, mpath, (char *)dst + fields[f].offset, err);
                if (r < 0)
                        return r;
        }
        for (size_t f = 0; f < nfields; f++) {
                if (fields[f].required && !seen[f]) {
                        _cleanup_free_ char *mpath = skiff_json_path_key(path, fields[f].key);
                        return skiff_error_set(err, EINVAL, "%s: required key is missing", mpath);
                }
        }
        return 0;
}

int skiff_json_dec_string(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        char **dst = field;
        free(*dst);
        *dst = xstrdup(s);
        return 0;
}

int skiff_json_dec_bool(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        if (skiff_json_bool(v, field) < 0)
                return skiff_json_type_error(v, path, "a boolean", err);
        return 0;
}

int skiff_json_dec_i64(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_i64(v, field);
        if (r == -ERANGE)
                return skiff_error_set(err, ERANGE, "%s: integer out of range", path);
        if (r < 0)
                return skiff_json_type_error(v, path, "an integer", err);
        return 0;
}

int skiff_json_dec_u64(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_u64(v, field);
        if (r == -ERANGE)
                return skiff_error_set(err, ERANGE, "%s: integer out of range", path);
        if (r < 0)
                return skiff_json_type_error(v, path, "a non-negative integer", err);
        return 0;
}

int skiff_json_dec_u32(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        uint64_t u;
        int r = skiff_json_dec_u64(v, path, &u, err);
        if (r < 0)
                return r;
        if (u > UINT32_MAX)
                return skiff_error_set(err, ERANGE, "%s: integer out of range", path);
        *(uint32_t *)field = (uint32_t)u;
        return 0;
}

int skiff_json_dec_i32(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int64_t i;
        int r = skiff_json_dec_i64(v, path, &i, err);
        if (r < 0)
                return r;
        if (i < INT32_MIN || i > INT32_MAX)
                return skiff_error_set(err, ERANGE, "%s: integer out of range", path);
        *(int32_t *)field = (int32_t)i;
        return 0;
}

int skiff_json_dec_strv(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array of strings", err);
        size_t n = skiff_json_len(v);
        _cleanup_strv_ char **out = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = skiff_json_str(skiff_json_at(v, i));
                if (!s) {
                        _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                        return skiff_json_type_error(skiff_json_at(v, i), ip, "a string", err);
                }
                out[i] = xstrdup(s);
        }
        char ***dst = field;
        skiff_strv_free(*dst);
        *dst = TAKE_PTR(out);
        return 0;
}

int skiff_json_dec_strmap(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object of strings", err);
        size_t n = skiff_json_len(v);
        _cleanup_strv_ char **out = xcalloc(2 * n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = skiff_json_str(skiff_json_at(v, i));
                if (!s) {
                        _cleanup_free_ char *kp =
                            skiff_json_path_key(path, skiff_json_key_at(v, i));
                        return skiff_json_type_error(skiff_json_at(v, i), kp, "a string", err);
                }
                out[2 * i] = xstrdup(skiff_json_key_at(v, i));
                out[2 * i + 1] = xstrdup(s);
        }
        char ***dst = field;
        skiff_strv_free(*dst);
        *dst = TAKE_PTR(out);
        return 0;
}

struct skiff_json_gen {
        yajl_gen g;
        bool failed;
};

struct skiff_json_gen *skiff_json_gen_new(bool pretty)
{
        struct skiff_json_gen *g = xcalloc(1, sizeof(*g));
        g->g = yajl_gen_alloc(NULL);
        if (!g->g)
                abort();
        if (pretty) {
                yajl_gen_config(g->g, yajl_gen_beautify, 1);
                yajl_gen_config(g->g, yajl_gen_indent_string, "  ");
        }
        yajl_gen_config(g->g, yajl_gen_validate_utf8, 1);
        return g;
}

void skiff_json_gen_free(struct skiff_json_gen *g)
{
        if (!g)
                return;
        yajl_gen_free(g->g);
        free(g);
}

static void check(struct skiff_json_gen *g, yajl_gen_status st)
{
        if (st != yajl_gen_status_ok)
                g->failed = true;
}

void skiff_json_gen_map_open(struct skiff_json_gen *g)
{
        check(g, yajl_gen_map_open(g->g));
}
void skiff_json_gen_map_close(struct skiff_json_gen *g)
{
        check(g, yajl_gen_map_close(g->g));
}
void skiff_json_gen_array_open(struct skiff_json_gen *g)
{
        check(g, yajl_gen_array_open(g->g));
}
void skiff_json_gen_array_close(struct skiff_json_gen *g)
{
        check(g, yajl_gen_array_close(g->g));
}
void skiff_json_gen_stringn(struct skiff_json_gen *g, const char *s, size_t n)
{
        check(g, yajl_gen_string(g->g, (const unsigned char *)s, n));
}
void skiff_json_gen_string(struct skiff_json_gen *g, const char *s)
{
        if (!s)
                skiff_json_gen_null(g);
        else
                skiff_json_gen_stringn(g, s, strlen(s));
}
void skiff_json_gen_i64(struct skiff_json_gen *g, int64_t v)
{
        check(g, yajl_gen_integer(g->g, (long long)v));
}
void skiff_json_gen_u64(struct skiff_json_gen *g, uint64_t v)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
        check(g, yajl_gen_number(g->g, buf, (size_t)n));
}
void skiff_json_gen_double(struct skiff_json_gen *g, double v)
{
        if (!isfinite(v)) {
                g->failed = true;
                return;
        }
        check(g, yajl_gen_double(g->g, v));
}
void skiff_json_gen_bool(struct skiff_json_gen *g, bool v)
{
        check(g, yajl_gen_bool(g->g, v));
}
void skiff_json_gen_null(struct skiff_json_gen *g)
{
        check(g, yajl_gen_null(g->g));
}
void skiff_json_gen_kv_string(struct skiff_json_gen *g, const char *k, const char *v)
{
        skiff_json_gen_string(g, k);
        skiff_json_gen_string(g, v);
}
void skiff_json_gen_kv_i64(struct skiff_json_gen *g, const char *k, int64_t v)
{
        skiff_json_gen_string(g, k);
        skiff_json_gen_i64(g, v);
}
void skiff_json_gen_kv_u64(struct skiff_json_gen *g, const char *k, uint64_t v)
{
        skiff_json_gen_string(g, k);
        skiff_json_gen_u64(g, v);
}
void skiff_json_gen_kv_bool(struct skiff_json_gen *g, const char *k, bool v)
{
        skiff_json_gen_string(g, k);
        skiff_json_gen_bool(g, v);
}

int skiff_json_gen_finish(struct skiff_json_gen *g, char **out, size_t *len, skiff_err_t *err)
{
        const unsigned char *buf = NULL;
        size_t n = 0;
        if (g->failed || yajl_gen_get_buf(g->g, &buf, &n) != yajl_gen_status_ok)
                return skiff_error_set(err, EINVAL,
                                       "JSON generation failed (invalid UTF-8 or "
                                       "unbalanced document)");
        *out = xstrndup((const char *)buf, n);
        if (len)
                *len = n;
        return 0;
}

int skiff_json_gen_finish_line(struct skiff_json_gen *g, char **out, size_t *len, skiff_err_t *err)
{
        char *doc = NULL;
        size_t n = 0;
        int r = skiff_json_gen_finish(g, &doc, &n, err);
        if (r < 0)
                return r;
        if (n == 0 || doc[n - 1] != '\n') {
                doc = xrealloc(doc, n + 2);
                doc[n++] = '\n';
                doc[n] = '\0';
        }
        *out = doc;
        if (len)
                *len = n;
        return 0;
}
