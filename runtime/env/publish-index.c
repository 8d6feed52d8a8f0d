/* index.json of an environment on a hub: parser, writer, and the rebuild from <N>.json files. */
#include "env/publish.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/ref.h"

struct skiff_publish_index *skiff_publish_index_free(struct skiff_publish_index *ix)
{
        if (!ix)
                return NULL;
        for (size_t i = 0; i < ix->n_entries; i++) {
                free(ix->entries[i].created);
                free(ix->entries[i].sha256);
                free(ix->entries[i].description);
        }
        free(ix->entries);
        free(ix->environment);
        free(ix);
        return NULL;
}

static int dec_generation(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        uint64_t u = 0;
        if (skiff_json_u64(v, &u) < 0 || u == 0 || u > SKIFF_REF_GENERATION_MAX)
                return skiff_error_set(err, EINVAL, "%s: expected a generation 1..%u", path,
                                       SKIFF_REF_GENERATION_MAX);
        *(uint32_t *)field = (uint32_t)u;
        return 0;
}

static int dec_sha256(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_string(v, path, field, err);
        if (r < 0)
                return r;
        uint8_t d[SKIFF_SHA256_LEN];
        const char *s = *(char **)field;
        if (strlen(s) != 2 * SKIFF_SHA256_LEN || skiff_hex_decode(s, d, sizeof(d)) < 0)
                return skiff_error_set(err, EINVAL, "%s: expected 64 hex digits", path);
        return 0;
}

static const struct skiff_json_field entry_fields[] = {
    {"generation", dec_generation, offsetof(struct skiff_publish_index_entry, generation), true},
    {"created", skiff_json_dec_string, offsetof(struct skiff_publish_index_entry, created), true},
    {"sha256", dec_sha256, offsetof(struct skiff_publish_index_entry, sha256), true},
    {"description", skiff_json_dec_string, offsetof(struct skiff_publish_index_entry, description),
     false},
    {NULL},
};

static int dec_entries(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_publish_index *ix =
            (struct skiff_publish_index *)((char *)field -
                                           offsetof(struct skiff_publish_index, entries));
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        size_t n = skiff_json_len(v);
        ix->entries = xcalloc(n + 1, sizeof(*ix->entries));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = skiff_json_path_index(path, i);
                struct skiff_publish_index_entry *e = &ix->entries[ix->n_entries++];
                int r =
                    skiff_json_decode_object(skiff_json_at(v, i), p, entry_fields, e, false, err);
                if (r < 0)
                        return r;
                int64_t t = 0;
                r = skiff_generation_parse_time(e->created, &t, err);
                if (r < 0)
                        return skiff_error_wrap(err, "%s.created", p);
                for (size_t j = 0; j + 1 < ix->n_entries; j++)
                        if (ix->entries[j].generation == e->generation)
                                return skiff_error_set(err, EINVAL,
                                                       "%s.generation: %u is listed twice", p,
                                                       e->generation);
        }
        return 0;
}

struct raw_index {
        char *schema;
        struct skiff_publish_index ix;
};

static const struct skiff_json_field index_fields[] = {
    {"schema", skiff_json_dec_string, offsetof(struct raw_index, schema), true},
    {"environment", skiff_json_dec_string, offsetof(struct raw_index, ix.environment), true},
    {"generations", dec_entries, offsetof(struct raw_index, ix.entries), true},
    {NULL},
};

static int cmp_entry(const void *a, const void *b)
{
        const struct skiff_publish_index_entry *x = a, *y = b;
        return x->generation < y->generation ? -1 : x->generation > y->generation;
}

int skiff_publish_index_parse(const char *buf, size_t len, struct skiff_publish_index **ret,
                              skiff_err_t *err)
{
        if (len > SKIFF_HUB_INDEX_MAX)
                return skiff_error_set(err, EFBIG, "index is larger than %d bytes",
                                       SKIFF_HUB_INDEX_MAX);
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return r;
        struct raw_index raw = {0};
        r = skiff_json_decode_object(skiff_json_root(doc), "", index_fields, &raw, false, err);
        _cleanup_free_ char *schema = raw.schema;
        _cleanup_publish_index_ struct skiff_publish_index *ix = xmemdup(&raw.ix, sizeof(raw.ix));
        if (r < 0)
                return r;
        if (strcmp(schema, SKIFF_PUBLISH_INDEX_SCHEMA) != 0)
                return skiff_error_set(err, EINVAL, "schema: unsupported schema `%s` (expected %s)",
                                       schema, SKIFF_PUBLISH_INDEX_SCHEMA);
        qsort(ix->entries, ix->n_entries, sizeof(*ix->entries), cmp_entry);
        *ret = TAKE_PTR(ix);
        return 0;
}

int skiff_publish_index_write(const struct skiff_publish_index *ix, char **ret, size_t *ret_len,
                              skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *j = skiff_json_gen_new(true);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "schema", SKIFF_PUBLISH_INDEX_SCHEMA);
        skiff_json_gen_kv_string(j, "environment", ix->environment);
        skiff_json_gen_string(j, "generations");
        skiff_json_gen_array_open(j);
        for (size_t i = 0; i < ix->n_entries; i++) {
                const struct skiff_publish_index_entry *e = &ix->entries[i];
                skiff_json_gen_map_open(j);
                skiff_json_gen_kv_u64(j, "generation", e->generation);
                skiff_json_gen_kv_string(j, "created", e->created);
                skiff_json_gen_kv_string(j, "sha256", e->sha256);
                if (e->description)
                        skiff_json_gen_kv_string(j, "description", e->description);
                skiff_json_gen_map_close(j);
        }
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        int r = skiff_json_gen_finish(j, &out, &len, err);
        if (r < 0)
                return r;
        out = xrealloc(out, len + 2);
        out[len++] = '\n';
        out[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(out);
        return 0;
}

/* N when name is "<N>.json" (suffix ".json") or "<N>.json.sig" (suffix ".json.sig"), else 0. */
static uint32_t generation_of(const char *name, const char *suffix)
{
        size_t n = strlen(name), sl = strlen(suffix);
        if (n <= sl || strcmp(name + n - sl, suffix) != 0)
                return 0;
        _cleanup_free_ char *num = xstrndup(name, n - sl);
        uint32_t g = 0;
        if (skiff_ref_parse_generation(num, &g, NULL) < 0)
                return 0;
        return g;
}

int skiff_publish_index_highest(const char *env_dir, uint32_t *ret, skiff_err_t *err)
{
        _cleanup_closedir_ DIR *d = opendir(env_dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = 0;
                        return 0;
                }
                return skiff_error_set_errno(err, errno, "open `%s`", env_dir);
        }
        uint32_t hi = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                uint32_t g = generation_of(de->d_name, ".json");
                if (!g)
                        g = generation_of(de->d_name, ".json.sig");
                if (g > hi)
                        hi = g;
        }
        *ret = hi;
        return 0;
}

int skiff_publish_index_scan(const char *env_dir, const char *environment,
                             struct skiff_publish_index **ret, skiff_err_t *err)
{
        _cleanup_publish_index_ struct skiff_publish_index *ix = xcalloc(1, sizeof(*ix));
        ix->environment = xstrdup(environment);
        _cleanup_closedir_ DIR *d = opendir(env_dir);
        if (!d)
                return skiff_error_set_errno(err, errno, "open `%s`", env_dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                uint32_t g = generation_of(de->d_name, ".json");
                if (!g)
                        continue;
                _cleanup_free_ char *p = skiff_path_join(env_dir, de->d_name);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int r = skiff_fs_read_file(p, SKIFF_GENERATION_MAX, &buf, &len, err);
                if (r < 0)
                        return r;
                _cleanup_generation_ struct skiff_generation *doc = NULL;
                r = skiff_generation_parse(buf, len, &doc, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`%s`", p);
                if (doc->generation != g || strcmp(doc->environment, environment) != 0)
                        return skiff_error_set(err, EINVAL, "`%s` describes `%s@%u`", p,
                                               doc->environment, doc->generation);
                uint8_t h[SKIFF_SHA256_LEN];
                skiff_sha256_oneshot(buf, len, h);
                char hex[2 * SKIFF_SHA256_LEN + 1];
                skiff_hex_encode(h, sizeof(h), hex);
                ix->entries = xrealloc(ix->entries, (ix->n_entries + 1) * sizeof(*ix->entries));
                ix->entries[ix->n_entries++] = (struct skiff_publish_index_entry){
                    .generation = g,
                    .created = TAKE_PTR(doc->created),
                    .sha256 = xstrdup(hex),
                    .description = TAKE_PTR(doc->description),
                };
        }
        qsort(ix->entries, ix->n_entries, sizeof(*ix->entries), cmp_entry);
        *ret = TAKE_PTR(ix);
        return 0;
}
