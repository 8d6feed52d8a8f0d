#include "env/sbom.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/xalloc.h"
#include "env/generation.h"

void skiff_sbom_split_name(const char *name, char **ret_name, char **ret_version)
{
        for (const char *p = name; *p; p++)
                if (*p == '-' && isdigit((unsigned char)p[1])) {
                        *ret_name = xstrndup(name, (size_t)(p - name));
                        *ret_version = xstrdup(p + 1);
                        return;
                }
        *ret_name = xstrdup(name);
        *ret_version = NULL;
}

/* "urn:uuid:..." from the first 16 bytes of the document hash, with the version nibble set to 5
 * and the RFC 4122 variant, as CycloneDX's schema requires. */
static int serial_number(const char *doc_sha256, char **ret, skiff_err_t *err)
{
        uint8_t d[SKIFF_SHA256_LEN];
        if (!doc_sha256 || skiff_hex_decode(doc_sha256, d, sizeof(d)) < 0)
                return skiff_error_set(err, EINVAL, "document sha256 `%s` is not 64 hex digits",
                                       doc_sha256 ? doc_sha256 : "");
        d[6] = (uint8_t)((d[6] & 0x0f) | 0x50);
        d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
        char h[33];
        skiff_hex_encode(d, 16, h);
        *ret = xasprintf("urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
        return 0;
}

static void kv_property(struct skiff_json_gen *j, const char *name, const char *value)
{
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "name", name);
        skiff_json_gen_kv_string(j, "value", value);
        skiff_json_gen_map_close(j);
}

static bool is_package(const struct skiff_generation_system *s, const char *path)
{
        for (size_t i = 0; i < s->n_packages; i++)
                if (strcmp(s->packages[i].path, path) == 0)
                        return true;
        return false;
}

static int cmp_path(const void *a, const void *b)
{
        const struct skiff_generation_path *const *x = a, *const *y = b;
        return strcmp((*x)->path, (*y)->path);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void gen_component(struct skiff_json_gen *j, const struct skiff_generation_system *s,
                          const struct skiff_generation_path *p)
{
        const char *base = p->path + strlen(s->store_dir) + 1;
        const char *dash = strchr(base, '-');
        _cleanup_free_ char *name = NULL, *version = NULL;
        skiff_sbom_split_name(dash ? dash + 1 : base, &name, &version);
        char hex[2 * SKIFF_NIXHASH_LEN + 1];
        skiff_hex_encode(p->nar_hash.d, SKIFF_NIXHASH_LEN, hex);

        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "type", "library");
        skiff_json_gen_kv_string(j, "bom-ref", p->path);
        skiff_json_gen_kv_string(j, "name", name);
        if (version)
                skiff_json_gen_kv_string(j, "version", version);
        skiff_json_gen_string(j, "hashes");
        skiff_json_gen_array_open(j);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "alg", "SHA-256");
        skiff_json_gen_kv_string(j, "content", hex);
        skiff_json_gen_map_close(j);
        skiff_json_gen_array_close(j);
        skiff_json_gen_string(j, "properties");
        skiff_json_gen_array_open(j);
        kv_property(j, "nix:store_path", p->path);
        _cleanup_free_ char *size = xasprintf("%llu", (unsigned long long)p->nar_size);
        kv_property(j, "nix:nar_size", size);
        if (is_package(s, p->path))
                kv_property(j, "skiff:package", "true");
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);
}

static void gen_dependency(struct skiff_json_gen *j, const char *ref, char *const *deps,
                           const char *self)
{
        size_t n = 0;
        while (deps && deps[n])
                n++;
        _cleanup_free_ char **sorted = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                sorted[i] = deps[i];
        qsort(sorted, n, sizeof(char *), cmp_str);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "ref", ref);
        skiff_json_gen_string(j, "dependsOn");
        skiff_json_gen_array_open(j);
        for (size_t i = 0; i < n; i++)
                if (!self || strcmp(sorted[i], self) != 0)
                        skiff_json_gen_string(j, sorted[i]);
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);
}

int skiff_sbom_render(const struct skiff_generation *g, const char *system, const char *doc_sha256,
                      char **ret, size_t *ret_len, skiff_err_t *err)
{
        const struct skiff_generation_system *s = skiff_generation_system(g, system);
        if (!s)
                return skiff_error_set(err, ENOENT, "`%s@%u` has no system `%s`", g->environment,
                                       g->generation, system);
        if (!s->has_closure)
                return skiff_error_set(err, ENODATA, "`%s@%u` (%s) records no closure",
                                       g->environment, g->generation, system);
        _cleanup_free_ char *env_ref = xasprintf("%s@%u", g->environment, g->generation);
        _cleanup_free_ char *gen = xasprintf("%u", g->generation);
        _cleanup_free_ char *serial = NULL;
        int r = serial_number(doc_sha256, &serial, err);
        if (r < 0)
                return r;

        _cleanup_json_gen_ struct skiff_json_gen *j = skiff_json_gen_new(true);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "bomFormat", "CycloneDX");
        skiff_json_gen_kv_string(j, "specVersion", "1.5");
        skiff_json_gen_kv_string(j, "serialNumber", serial);
        skiff_json_gen_kv_i64(j, "version", 1);

        skiff_json_gen_string(j, "metadata");
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "timestamp", g->created);
        skiff_json_gen_string(j, "tools");
        skiff_json_gen_map_open(j);
        skiff_json_gen_string(j, "components");
        skiff_json_gen_array_open(j);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "type", "application");
        skiff_json_gen_kv_string(j, "name", "skiff");
        skiff_json_gen_map_close(j);
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);
        skiff_json_gen_string(j, "component");
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "type", "application");
        skiff_json_gen_kv_string(j, "bom-ref", env_ref);
        skiff_json_gen_kv_string(j, "name", g->environment);
        skiff_json_gen_kv_string(j, "version", gen);
        if (g->description)
                skiff_json_gen_kv_string(j, "description", g->description);
        skiff_json_gen_map_close(j);
        skiff_json_gen_string(j, "properties");
        skiff_json_gen_array_open(j);
        kv_property(j, "skiff:system", s->system);
        kv_property(j, "skiff:store_dir", s->store_dir);
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);

        _cleanup_free_ const struct skiff_generation_path **ps =
            xcalloc(s->n_closure + 1, sizeof(*ps));
        for (size_t i = 0; i < s->n_closure; i++)
                ps[i] = &s->closure[i];
        qsort(ps, s->n_closure, sizeof(*ps), cmp_path);
        skiff_json_gen_string(j, "components");
        skiff_json_gen_array_open(j);
        for (size_t i = 0; i < s->n_closure; i++)
                gen_component(j, s, ps[i]);
        skiff_json_gen_array_close(j);

        skiff_json_gen_string(j, "dependencies");
        skiff_json_gen_array_open(j);
        _cleanup_free_ char **pkgs = xcalloc(s->n_packages + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_packages; i++)
                pkgs[i] = s->packages[i].path;
        gen_dependency(j, env_ref, pkgs, NULL);
        for (size_t i = 0; i < s->n_closure; i++)
                gen_dependency(j, ps[i]->path, ps[i]->references, ps[i]->path);
        skiff_json_gen_array_close(j);
        skiff_json_gen_map_close(j);

        r = skiff_json_gen_finish_line(j, ret, ret_len, err);
        if (r < 0)
                return skiff_error_wrap(err, "render the SBOM");
        return 0;
}
