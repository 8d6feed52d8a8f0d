#include "store/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strv.h"
#include "base/xalloc.h"

static const char default_key[] = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";

struct skiff_config *skiff_config_new_default(void)
{
        struct skiff_config *c = xcalloc(1, sizeof(*c));
        c->store_root = xstrdup("/var/lib/skiff");
        c->store_dir = xstrdup("/nix/store");
        skiff_strv_push(&c->substituters, "https://cache.nixos.org");
        skiff_strv_push(&c->trusted_public_keys, default_key);
        c->require_signatures = true;
        c->parallelism = 8;
        c->connect_timeout = 10;
        c->low_speed_timeout = 30;
        c->retries = 3;
        c->realize_timeout = 90;
        c->keep_generations = 3;
        c->hubs = xcalloc(1, sizeof(char *));
        skiff_strv_push(&c->gpu.cdi_dirs, "/etc/cdi");
        skiff_strv_push(&c->gpu.cdi_dirs, "/var/run/cdi");
        return c;
}

struct skiff_config *skiff_config_free(struct skiff_config *c)
{
        if (!c)
                return NULL;
        free(c->store_root);
        free(c->store_dir);
        skiff_strv_free(c->substituters);
        skiff_strv_free(c->trusted_public_keys);
        free(c->keys);
        free(c->hub);
        skiff_strv_free(c->hubs);
        for (size_t i = 0; i < c->ncreds; i++) {
                free(c->creds[i].host);
                free(c->creds[i].bearer_token);
                free(c->creds[i].username);
                if (c->creds[i].password) {
                        explicit_bzero(c->creds[i].password, strlen(c->creds[i].password));
                        free(c->creds[i].password);
                }
        }
        free(c->creds);
        free(c->gpu.driver_root);
        skiff_strv_free(c->gpu.cdi_dirs);
        free(c);
        return NULL;
}

int skiff_config_parse_size(const char *s, uint64_t *ret)
{
        if (!s || !*s)
                return -EINVAL;
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || v < 0 || !isfinite(v) || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        static const struct {
                const char *suffix;
                double mult;
        } units[] = {
            {"", 1},
            {"B", 1},
            {"K", 1024.0},
            {"KiB", 1024.0},
            {"KB", 1024.0},
            {"M", 1048576.0},
            {"MiB", 1048576.0},
            {"MB", 1048576.0},
            {"G", 1073741824.0},
            {"GiB", 1073741824.0},
            {"GB", 1073741824.0},
            {"T", 1099511627776.0},
            {"TiB", 1099511627776.0},
            {"TB", 1099511627776.0},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(units); i++) {
                if (strcmp(end, units[i].suffix) != 0)
                        continue;
                double b = v * units[i].mult;
                if (b >= 18446744073709551615.0)
                        return -ERANGE;
                *ret = (uint64_t)b;
                return 0;
        }
        return -EINVAL;
}

static int dec_size(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        if (skiff_json_type(v) == SKIFF_JSON_NUMBER)
                return skiff_json_dec_u64(v, path, field, err);
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a size (string or integer)", err);
        if (skiff_config_parse_size(s, field) < 0)
                return skiff_error_set(err, EINVAL, "%s: invalid size `%s`", path, s);
        return 0;
}

static int dec_positive(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_u32(v, path, field, err);
        if (r < 0)
                return r;
        if (*(uint32_t *)field == 0)
                return skiff_error_set(err, EINVAL, "%s: must be at least 1", path);
        return 0;
}

static int dec_parallelism(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = dec_positive(v, path, field, err);
        if (r >= 0 && *(uint32_t *)field > 64)
                return skiff_error_set(err, EINVAL, "%s: must be at most 64", path);
        return r;
}

static int dec_abs_path(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_string(v, path, field, err);
        if (r < 0)
                return r;
        const char *s = *(char **)field;
        if (s[0] != '/' || (strlen(s) > 1 && s[strlen(s) - 1] == '/'))
                return skiff_error_set(err, EINVAL,
                                       "%s: expected an absolute path without a "
                                       "trailing `/`",
                                       path);
        return 0;
}

static int dec_urls(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_strv(v, path, field, err);
        if (r < 0)
                return r;
        char **urls = *(char ***)field;
        for (size_t i = 0; urls && urls[i]; i++) {
                if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0 &&
                    strncmp(urls[i], "file://", 7) != 0) {
                        _cleanup_free_ char *p = skiff_json_path_index(path, i);
                        return skiff_error_set(err, EINVAL,
                                               "%s: unsupported URL `%s` (http, https or file)", p,
                                               urls[i]);
                }
        }
        return 0;
}

static int dec_hub_url(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_string(v, path, field, err);
        if (r < 0)
                return r;
        const char *u = *(char **)field;
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0 &&
            strncmp(u, "file://", 7) != 0)
                return skiff_error_set(err, EINVAL,
                                       "%s: unsupported URL `%s` (http, https or file)", path, u);
        return 0;
}

static int dec_hubs(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_strmap(v, path, field, err);
        if (r < 0)
                return r;
        char **kv = *(char ***)field;
        for (size_t i = 0; kv[i]; i += 2) {
                _cleanup_free_ char *p = skiff_json_path_key(path, kv[i]);
                _cleanup_free_ char *u = NULL;
                r = dec_hub_url(skiff_json_get(v, kv[i]), p, &u, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dec_creds(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        struct skiff_config *c =
            (struct skiff_config *)((char *)field - offsetof(struct skiff_config, creds));
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object", err);
        static const struct skiff_json_field fields[] = {
            {"bearer_token", skiff_json_dec_string,
             offsetof(struct skiff_config_cred, bearer_token), false},
            {"username", skiff_json_dec_string, offsetof(struct skiff_config_cred, username),
             false},
            {"password", skiff_json_dec_string, offsetof(struct skiff_config_cred, password),
             false},
            {NULL},
        };
        size_t n = skiff_json_len(v);
        c->creds = xcalloc(n + 1, sizeof(*c->creds));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = skiff_json_path_key(path, skiff_json_key_at(v, i));
                struct skiff_config_cred *cr = &c->creds[c->ncreds++];
                cr->host = xstrdup(skiff_json_key_at(v, i));
                int r = skiff_json_decode_object(skiff_json_at(v, i), p, fields, cr, false, err);
                if (r < 0)
                        return r;
                if (!cr->bearer_token == !cr->username || !cr->username != !cr->password)
                        return skiff_error_set(err, EINVAL,
                                               "%s: expected either `bearer_token` or `username` "
                                               "and `password`",
                                               p);
        }
        return 0;
}

static int dec_abs_paths(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        int r = skiff_json_dec_strv(v, path, field, err);
        if (r < 0)
                return r;
        char **dirs = *(char ***)field;
        for (size_t i = 0; dirs[i]; i++) {
                if (dirs[i][0] != '/') {
                        _cleanup_free_ char *p = skiff_json_path_index(path, i);
                        return skiff_error_set(err, EINVAL, "%s: expected an absolute path", p);
                }
        }
        return 0;
}

static int dec_gpu(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"driver_root", dec_abs_path, offsetof(struct skiff_config_gpu, driver_root), false},
            {"accept_env_unprivileged", skiff_json_dec_bool,
             offsetof(struct skiff_config_gpu, accept_env_unprivileged), false},
            {"cdi_dirs", dec_abs_paths, offsetof(struct skiff_config_gpu, cdi_dirs), false},
            {"probe_cuda", skiff_json_dec_bool, offsetof(struct skiff_config_gpu, probe_cuda),
             false},
            {NULL},
        };
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object", err);
        return skiff_json_decode_object(v, path, fields, field, false, err);
}

#define F(k, fn)                                                                                   \
        {                                                                                          \
#k, fn, offsetof(struct skiff_config, k), false                                    \
        }
static const struct skiff_json_field config_fields[] = {
    F(store_root, dec_abs_path),
    F(store_dir, dec_abs_path),
    F(substituters, dec_urls),
    F(trusted_public_keys, skiff_json_dec_strv),
    F(require_signatures, skiff_json_dec_bool),
    F(parallelism, dec_parallelism),
    F(connect_timeout, dec_positive),
    F(low_speed_timeout, dec_positive),
    F(retries, skiff_json_dec_u32),
    F(realize_timeout, dec_positive),
    F(keep_generations, skiff_json_dec_u32),
    F(allow_unpinned, skiff_json_dec_bool),
    F(gc_max_size, dec_size),
    F(hub, dec_hub_url),
    F(hubs, dec_hubs),
    F(creds, dec_creds),
    F(gpu, dec_gpu),
    {NULL},
};
#undef F

int skiff_config_parse(const char *buf, size_t len, struct skiff_config **ret, skiff_err_t *err)
{
        if (len > SKIFF_CONFIG_MAX)
                return skiff_error_set(err, EFBIG, "larger than %d bytes", SKIFF_CONFIG_MAX);
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return r;
        _cleanup_config_ struct skiff_config *c = skiff_config_new_default();
        /* The table needs the JSON key "credentials" for the creds member. */
        struct skiff_json_field fields[SKIFF_ARRAY_SIZE(config_fields)];
        memcpy(fields, config_fields, sizeof(fields));
        for (size_t i = 0; fields[i].key; i++)
                if (strcmp(fields[i].key, "creds") == 0)
                        fields[i].key = "credentials";
        /* Decoders of string vectors replace defaults; free them first only when present. */
        skiff_jv *root = skiff_json_root(doc);
        if (skiff_json_type(root) == SKIFF_JSON_OBJECT) {
                if (skiff_json_get(root, "substituters")) {
                        skiff_strv_free(c->substituters);
                        c->substituters = NULL;
                }
                if (skiff_json_get(root, "trusted_public_keys")) {
                        skiff_strv_free(c->trusted_public_keys);
                        c->trusted_public_keys = NULL;
                }
        }
        r = skiff_json_decode_object(root, "", fields, c, false, err);
        if (r < 0)
                return r;
        if (!c->substituters)
                c->substituters = xcalloc(1, sizeof(char *));
        if (!c->trusted_public_keys)
                c->trusted_public_keys = xcalloc(1, sizeof(char *));
        c->nkeys = skiff_strv_len(c->trusted_public_keys);
        c->keys = xcalloc(c->nkeys + 1, sizeof(*c->keys));
        for (size_t i = 0; i < c->nkeys; i++) {
                r = skiff_sig_parse_public(c->trusted_public_keys[i], &c->keys[i], err);
                if (r < 0)
                        return skiff_error_wrap(err, "trusted_public_keys[%zu]", i);
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int skiff_config_load(const char *path, struct skiff_config **ret, skiff_err_t *err)
{
        const char *p = path ? path : SKIFF_CONFIG_PATH_DEFAULT;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(p, SKIFF_CONFIG_MAX, &buf, &len, err);
        if (r == -ENOENT && !path) {
                skiff_error_free(err);
                *ret = skiff_config_new_default();
                return 0;
        }
        if (r < 0)
                return r;
        r = skiff_config_parse(buf, len, ret, err);
        if (r < 0)
                return skiff_error_wrap(err, "config `%s`", p);
        return 0;
}

const struct skiff_config_cred *skiff_config_cred_for(const struct skiff_config *c,
                                                      const char *host)
{
        for (size_t i = 0; i < c->ncreds; i++)
                if (strcasecmp(c->creds[i].host, host) == 0)
                        return &c->creds[i];
        return NULL;
}
