#include "gpu/cdi.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"

static const char *const default_dirs[] = {"/etc/cdi", "/var/run/cdi", NULL};

static const char *const known_versions[] = {"0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0",
                                             "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"};

static const char *const hook_names[] = {"prestart",       "createRuntime", "createContainer",
                                         "startContainer", "poststart",     "poststop"};

/* --- names ----------------------------------------------------------------------------------- */

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
        return is_alpha(c) || (c >= '0' && c <= '9');
}

/* vendor and class: letter first, alphanumeric last, [A-Za-z0-9_.-] inside. */
static bool valid_kind_part(const char *s, size_t n)
{
        if (n == 0 || !is_alpha(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/* device name: alphanumeric first and last, [A-Za-z0-9_.:-] inside. */
static bool valid_device_name(const char *s, size_t n)
{
        if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != ':' && s[i] != '-')
                        return false;
        return true;
}

int skiff_cdi_parse_name(const char *q, char **vendor, char **class_, char **name, skiff_err_t *err)
{
        const char *eq = strchr(q, '=');
        const char *slash = strchr(q, '/');
        if (q[0] == '/' || !eq || !slash || slash > eq)
                return skiff_error_set(
                    err, EINVAL, "`%s` is not a CDI device name (expected vendor/class=name)", q);
        size_t vl = (size_t)(slash - q), cl = (size_t)(eq - slash - 1);
        if (!valid_kind_part(q, vl))
                return skiff_error_set(err, EINVAL, "CDI name `%s`: invalid vendor `%.*s`", q,
                                       (int)vl, q);
        if (!valid_kind_part(slash + 1, cl))
                return skiff_error_set(err, EINVAL, "CDI name `%s`: invalid class `%.*s`", q,
                                       (int)cl, slash + 1);
        if (!valid_device_name(eq + 1, strlen(eq + 1)))
                return skiff_error_set(err, EINVAL, "CDI name `%s`: invalid device name `%s`", q,
                                       eq + 1);
        if (vendor)
                *vendor = xstrndup(q, vl);
        if (class_)
                *class_ = xstrndup(slash + 1, cl);
        if (name)
                *name = xstrdup(eq + 1);
        return 0;
}

int skiff_cdi_validate_name(const char *q, skiff_err_t *err)
{
        return skiff_cdi_parse_name(q, NULL, NULL, NULL, err);
}

/* --- freeing --------------------------------------------------------------------------------- */

void skiff_cdi_edits_done(struct skiff_cdi_edits *e)
{
        if (!e)
                return;
        skiff_strv_free(e->env);
        for (size_t i = 0; i < e->n_nodes; i++) {
                free(e->nodes[i].path);
                free(e->nodes[i].host_path);
                free(e->nodes[i].permissions);
        }
        free(e->nodes);
        for (size_t i = 0; i < e->n_mounts; i++) {
                free(e->mounts[i].host_path);
                free(e->mounts[i].container_path);
                free(e->mounts[i].type);
                skiff_strv_free(e->mounts[i].options);
        }
        free(e->mounts);
        for (size_t i = 0; i < e->n_hooks; i++) {
                free(e->hooks[i].hook_name);
                free(e->hooks[i].path);
                skiff_strv_free(e->hooks[i].args);
                skiff_strv_free(e->hooks[i].env);
        }
        free(e->hooks);
        free(e->gids);
        memset(e, 0, sizeof(*e));
}

struct skiff_cdi_spec *skiff_cdi_spec_free(struct skiff_cdi_spec *s)
{
        if (!s)
                return NULL;
        free(s->path);
        free(s->version);
        free(s->vendor);
        free(s->class_);
        for (size_t i = 0; i < s->n_devices; i++) {
                free(s->devices[i].name);
                skiff_cdi_edits_done(&s->devices[i].edits);
        }
        free(s->devices);
        skiff_cdi_edits_done(&s->edits);
        free(s);
        return NULL;
}

SKIFF_DEFINE_CLEANUP(struct skiff_cdi_spec *, skiff_cdi_spec_free)

/* --- decoding -------------------------------------------------------------------------------- */

/* Decodes an array of objects into a growing C array (elem bytes each) with per-element fn. */
static int dec_array(skiff_jv *v, const char *path, void **arr, size_t *n, size_t elem,
                     skiff_json_decode_fn fn, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        size_t len = skiff_json_len(v);
        *arr = xcalloc(len ? len : 1, elem);
        for (size_t i = 0; i < len; i++) {
                _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                *n = i + 1; /* counted before decoding so a partial element is freed */
                int r = fn(skiff_json_at(v, i), ip, (char *)*arr + i * elem, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dec_type(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        if (s[0] && (strlen(s) != 1 || !strchr("bcup", s[0])))
                return skiff_error_set(err, EINVAL, "%s: invalid device type `%s`", path, s);
        *(char *)f = s[0];
        return 0;
}

static int dec_permissions(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        bool ok = strcmp(s, "none") == 0 || s[0] != '\0';
        for (const char *p = s; ok && strcmp(s, "none") != 0 && *p; p++)
                ok = strchr("rwm", *p) != NULL && strchr(p + 1, *p) == NULL;
        if (!ok)
                return skiff_error_set(err, EINVAL,
                                       "%s: invalid permissions `%s` (expected a subset of rwm, "
                                       "or none)",
                                       path, s);
        char **dst = f;
        free(*dst);
        *dst = xstrdup(strcmp(s, "none") == 0 ? "" : s);
        return 0;
}

static int dec_has_i64(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int r = skiff_json_dec_i64(v, path, f, err);
        if (r >= 0)
                ((bool *)((int64_t *)f + 1))[0] = true;
        return r;
}

struct node_raw {
        struct skiff_cdi_node n;
        struct {
                int64_t v;
                bool has;
        } major, minor, mode, uid, gid;
};

static int dec_node(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"path", skiff_json_dec_string, offsetof(struct node_raw, n.path), true},
            {"hostPath", skiff_json_dec_string, offsetof(struct node_raw, n.host_path), false},
            {"type", dec_type, offsetof(struct node_raw, n.type), false},
            {"major", dec_has_i64, offsetof(struct node_raw, major), false},
            {"minor", dec_has_i64, offsetof(struct node_raw, minor), false},
            {"fileMode", dec_has_i64, offsetof(struct node_raw, mode), false},
            {"permissions", dec_permissions, offsetof(struct node_raw, n.permissions), false},
            {"uid", dec_has_i64, offsetof(struct node_raw, uid), false},
            {"gid", dec_has_i64, offsetof(struct node_raw, gid), false},
            {NULL, NULL, 0, false},
        };
        struct node_raw raw = {0};
        int r = skiff_json_decode_object(v, path, fields, &raw, false, err);
        struct skiff_cdi_node *out = f;
        *out = raw.n; /* hand over the strings even on failure, for freeing */
        if (r < 0)
                return r;
        if (raw.n.path[0] != '/')
                return skiff_error_set(err, EINVAL, "%s.path: `%s` is not absolute", path,
                                       raw.n.path);
        if (raw.n.host_path && raw.n.host_path[0] != '/')
                return skiff_error_set(err, EINVAL, "%s.hostPath: `%s` is not absolute", path,
                                       raw.n.host_path);
        if ((raw.major.has && (raw.major.v < 0 || raw.major.v > 0xfff)) ||
            (raw.minor.has && (raw.minor.v < 0 || raw.minor.v > 0xfffff)))
                return skiff_error_set(err, EINVAL, "%s: device number out of range", path);
        if (raw.mode.has && (raw.mode.v < 0 || raw.mode.v > 07777))
                return skiff_error_set(err, EINVAL, "%s.fileMode: %lld is out of range", path,
                                       (long long)raw.mode.v);
        if ((raw.uid.has && (raw.uid.v < 0 || raw.uid.v > UINT32_MAX)) ||
            (raw.gid.has && (raw.gid.v < 0 || raw.gid.v > UINT32_MAX)))
                return skiff_error_set(err, EINVAL, "%s: uid/gid out of range", path);
        out->has_major = raw.major.has;
        out->major = raw.major.v;
        out->has_minor = raw.minor.has;
        out->minor = raw.minor.v;
        out->has_file_mode = raw.mode.has;
        out->file_mode = (uint32_t)raw.mode.v;
        out->has_uid = raw.uid.has;
        out->uid = (uint32_t)raw.uid.v;
        out->has_gid = raw.gid.has;
        out->gid = (uint32_t)raw.gid.v;
        return 0;
}

static int dec_mount(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"hostPath", skiff_json_dec_string, offsetof(struct skiff_cdi_mount, host_path), true},
            {"containerPath", skiff_json_dec_string,
             offsetof(struct skiff_cdi_mount, container_path), true},
            {"type", skiff_json_dec_string, offsetof(struct skiff_cdi_mount, type), false},
            {"options", skiff_json_dec_strv, offsetof(struct skiff_cdi_mount, options), false},
            {NULL, NULL, 0, false},
        };
        struct skiff_cdi_mount *m = f;
        int r = skiff_json_decode_object(v, path, fields, m, false, err);
        if (r < 0)
                return r;
        if (m->container_path[0] != '/')
                return skiff_error_set(err, EINVAL, "%s.containerPath: `%s` is not absolute", path,
                                       m->container_path);
        return 0;
}

static int dec_hook(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct hook_raw {
                struct skiff_cdi_hook h;
                struct {
                        int64_t v;
                        bool has;
                } timeout;
        };
        static const struct skiff_json_field fields[] = {
            {"hookName", skiff_json_dec_string, offsetof(struct hook_raw, h.hook_name), true},
            {"path", skiff_json_dec_string, offsetof(struct hook_raw, h.path), true},
            {"args", skiff_json_dec_strv, offsetof(struct hook_raw, h.args), false},
            {"env", skiff_json_dec_strv, offsetof(struct hook_raw, h.env), false},
            {"timeout", dec_has_i64, offsetof(struct hook_raw, timeout), false},
            {NULL, NULL, 0, false},
        };
        struct hook_raw raw = {0};
        int r = skiff_json_decode_object(v, path, fields, &raw, false, err);
        struct skiff_cdi_hook *h = f;
        *h = raw.h;
        if (r < 0)
                return r;
        size_t i = 0;
        while (i < SKIFF_ARRAY_SIZE(hook_names) && strcmp(hook_names[i], h->hook_name) != 0)
                i++;
        if (i == SKIFF_ARRAY_SIZE(hook_names))
                return skiff_error_set(err, EINVAL, "%s.hookName: unknown hook `%s`", path,
                                       h->hook_name);
        if (h->path[0] != '/')
                return skiff_error_set(err, EINVAL, "%s.path: `%s` is not absolute", path, h->path);
        if (raw.timeout.has && raw.timeout.v <= 0)
                return skiff_error_set(err, EINVAL, "%s.timeout: must be positive", path);
        h->has_timeout = raw.timeout.has;
        h->timeout = raw.timeout.v;
        return 0;
}

static int dec_nodes(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_cdi_edits *e = (void *)((char *)f - offsetof(struct skiff_cdi_edits, nodes));
        return dec_array(v, path, (void **)&e->nodes, &e->n_nodes, sizeof(*e->nodes), dec_node,
                         err);
}

static int dec_mounts(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_cdi_edits *e = (void *)((char *)f - offsetof(struct skiff_cdi_edits, mounts));
        return dec_array(v, path, (void **)&e->mounts, &e->n_mounts, sizeof(*e->mounts), dec_mount,
                         err);
}

static int dec_hooks(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_cdi_edits *e = (void *)((char *)f - offsetof(struct skiff_cdi_edits, hooks));
        return dec_array(v, path, (void **)&e->hooks, &e->n_hooks, sizeof(*e->hooks), dec_hook,
                         err);
}

static int dec_env(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int r = skiff_json_dec_strv(v, path, f, err);
        if (r < 0)
                return r;
        char **env = *(char ***)f;
        for (size_t i = 0; env && env[i]; i++)
                if (env[i][0] == '=' || !strchr(env[i], '=')) {
                        _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                        return skiff_error_set(err, EINVAL, "%s: `%s` is not KEY=VALUE", ip,
                                               env[i]);
                }
        return 0;
}

static int dec_gids(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_cdi_edits *e = (void *)((char *)f - offsetof(struct skiff_cdi_edits, gids));
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array of integers", err);
        size_t n = skiff_json_len(v);
        e->gids = xcalloc(n ? n : 1, sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
                uint32_t g = 0;
                _cleanup_free_ char *ip = skiff_json_path_index(path, i);
                int r = skiff_json_dec_u32(skiff_json_at(v, i), ip, &g, err);
                if (r < 0)
                        return r;
                if (g != 0)
                        e->gids[e->n_gids++] = g;
        }
        return 0;
}

static int dec_intel_rdt(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(v, path, "an object", err);
        *(const char **)f = "intelRdt";
        return 0;
}

static int dec_net_devices(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        if (skiff_json_len(v) > 0)
                *(const char **)f = "netDevices";
        return 0;
}

static int dec_edits(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"env", dec_env, offsetof(struct skiff_cdi_edits, env), false},
            {"deviceNodes", dec_nodes, offsetof(struct skiff_cdi_edits, nodes), false},
            {"mounts", dec_mounts, offsetof(struct skiff_cdi_edits, mounts), false},
            {"hooks", dec_hooks, offsetof(struct skiff_cdi_edits, hooks), false},
            {"additionalGids", dec_gids, offsetof(struct skiff_cdi_edits, gids), false},
            {"intelRdt", dec_intel_rdt, offsetof(struct skiff_cdi_edits, unsupported), false},
            {"netDevices", dec_net_devices, offsetof(struct skiff_cdi_edits, unsupported), false},
            {NULL, NULL, 0, false},
        };
        return skiff_json_decode_object(v, path, fields, f, false, err);
}

static int dec_ignore_strmap(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        _cleanup_strv_ char **kv = NULL;
        return skiff_json_dec_strmap(v, path, &kv, err);
}

static int dec_device(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"name", skiff_json_dec_string, offsetof(struct skiff_cdi_device, name), true},
            {"annotations", dec_ignore_strmap, 0, false},
            {"containerEdits", dec_edits, offsetof(struct skiff_cdi_device, edits), true},
            {NULL, NULL, 0, false},
        };
        struct skiff_cdi_device *d = f;
        int r = skiff_json_decode_object(v, path, fields, d, false, err);
        if (r < 0)
                return r;
        if (!valid_device_name(d->name, strlen(d->name)))
                return skiff_error_set(err, EINVAL, "%s.name: invalid device name `%s`", path,
                                       d->name);
        return 0;
}

static int dec_devices(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_cdi_spec *s = (void *)((char *)f - offsetof(struct skiff_cdi_spec, devices));
        return dec_array(v, path, (void **)&s->devices, &s->n_devices, sizeof(*s->devices),
                         dec_device, err);
}

static int spec_decode(skiff_jv *root, struct skiff_cdi_spec *s, char **kind, skiff_err_t *err)
{
        static const struct skiff_json_field fields[] = {
            {"cdiVersion", skiff_json_dec_string, offsetof(struct skiff_cdi_spec, version), true},
            {"kind", skiff_json_dec_string, offsetof(struct skiff_cdi_spec, vendor), true},
            {"annotations", dec_ignore_strmap, 0, false},
            {"devices", dec_devices, offsetof(struct skiff_cdi_spec, devices), true},
            {"containerEdits", dec_edits, offsetof(struct skiff_cdi_spec, edits), false},
            {NULL, NULL, 0, false},
        };
        int r = skiff_json_decode_object(root, "", fields, s, false, err);
        *kind = TAKE_PTR(s->vendor); /* "kind" was decoded into the vendor slot */
        return r;
}

int skiff_cdi_spec_parse(const char *buf, size_t len, const char *path, int priority,
                         struct skiff_cdi_spec **ret, skiff_err_t *err)
{
        const char *where = path ? path : "<memory>";
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return skiff_error_wrap(err, "CDI spec `%s`", where);
        _cleanup_(skiff_cdi_spec_freep) struct skiff_cdi_spec *s = xcalloc(1, sizeof(*s));
        s->path = xstrdup(where);
        s->priority = priority;
        _cleanup_free_ char *kind = NULL;
        r = spec_decode(skiff_json_root(doc), s, &kind, err);
        if (r < 0)
                return skiff_error_wrap(err, "CDI spec `%s`", where);
        const char *ver = s->version[0] == 'v' ? s->version + 1 : s->version;
        size_t i = 0;
        while (i < SKIFF_ARRAY_SIZE(known_versions) && strcmp(known_versions[i], ver) != 0)
                i++;
        if (i == SKIFF_ARRAY_SIZE(known_versions))
                return skiff_error_set(err, EINVAL,
                                       "CDI spec `%s`: cdiVersion: unknown version `%s`", where,
                                       s->version);
        const char *slash = strchr(kind, '/');
        if (!slash || !valid_kind_part(kind, (size_t)(slash - kind)) ||
            !valid_kind_part(slash + 1, strlen(slash + 1)))
                return skiff_error_set(err, EINVAL,
                                       "CDI spec `%s`: kind: invalid kind `%s` (expected "
                                       "vendor/class)",
                                       where, kind);
        s->vendor = xstrndup(kind, (size_t)(slash - kind));
        s->class_ = xstrdup(slash + 1);
        if (s->n_devices == 0)
                return skiff_error_set(err, EINVAL, "CDI spec `%s`: devices: no devices", where);
        for (size_t a = 0; a < s->n_devices; a++)
                for (size_t b = a + 1; b < s->n_devices; b++)
                        if (strcmp(s->devices[a].name, s->devices[b].name) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "CDI spec `%s`: devices[%zu].name: "
                                                       "duplicate device `%s`",
                                                       where, b, s->devices[b].name);
        *ret = TAKE_PTR(s);
        return 0;
}

/* --- registry -------------------------------------------------------------------------------- */

struct skiff_cdi_registry *skiff_cdi_registry_new(void)
{
        return xcalloc(1, sizeof(struct skiff_cdi_registry));
}

struct skiff_cdi_registry *skiff_cdi_registry_free(struct skiff_cdi_registry *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_specs; i++)
                skiff_cdi_spec_free(r->specs[i]);
        free(r->specs);
        skiff_strv_free(r->errors);
        free(r);
        return NULL;
}

SKIFF_DEFINE_CLEANUP(struct skiff_cdi_registry *, skiff_cdi_registry_free)

void skiff_cdi_registry_add(struct skiff_cdi_registry *reg, struct skiff_cdi_spec *spec)
{
        reg->specs = xreallocarray(reg->specs, reg->n_specs + 1, sizeof(*reg->specs));
        reg->specs[reg->n_specs++] = spec;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_file(struct skiff_cdi_registry *reg, int dirfd, const char *dir, const char *name,
                      int priority)
{
        _cleanup_free_ char *path = skiff_path_join(dir, name);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t e = NULL;
        int r = skiff_fs_read_file_at(dirfd, name, SKIFF_CDI_MAX_FILE, &buf, &len, &e);
        if (r < 0) {
                skiff_strv_push_take(&reg->errors,
                                     xasprintf("CDI spec `%s`: %s", path, skiff_error_msg(e)));
                return;
        }
        if (!has_suffix(name, ".json")) {
                const char *p = buf;
                while (*p && isspace((unsigned char)*p))
                        p++;
                if (*p != '{') {
                        skiff_strv_push_take(&reg->errors,
                                             xasprintf("CDI spec `%s`: YAML is not supported "
                                                       "(write the spec as JSON)",
                                                       path));
                        return;
                }
        }
        struct skiff_cdi_spec *s = NULL;
        r = skiff_cdi_spec_parse(buf, len, path, priority, &s, &e);
        if (r < 0) {
                skiff_strv_push(&reg->errors, skiff_error_msg(e));
                return;
        }
        skiff_cdi_registry_add(reg, s);
}

int skiff_cdi_registry_load(const char *const *dirs, struct skiff_cdi_registry **ret,
                            skiff_err_t *err)
{
        _cleanup_(skiff_cdi_registry_freep) struct skiff_cdi_registry *reg =
            skiff_cdi_registry_new();
        if (!dirs)
                dirs = default_dirs;
        for (int prio = 0; dirs[prio]; prio++) {
                const char *dir = dirs[prio];
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return skiff_error_set_errno(err, errno, "open CDI directory `%s`", dir);
                }
                int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
                if (dup_fd < 0)
                        return skiff_error_set_errno(err, errno, "dup");
                _cleanup_closedir_ DIR *d = fdopendir(dup_fd);
                if (!d) {
                        close(dup_fd);
                        return skiff_error_set_errno(err, errno, "read CDI directory `%s`", dir);
                }
                _cleanup_strv_ char **names = NULL;
                size_t count = 0;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        if (!has_suffix(de->d_name, ".json") && !has_suffix(de->d_name, ".yaml") &&
                            !has_suffix(de->d_name, ".yml"))
                                continue;
                        if (++count > SKIFF_CDI_MAX_FILES)
                                return skiff_error_set(err, E2BIG,
                                                       "CDI directory `%s` has more than %u specs",
                                                       dir, SKIFF_CDI_MAX_FILES);
                        skiff_strv_push(&names, de->d_name);
                }
                if (!names)
                        continue;
                qsort(names, skiff_strv_len(names), sizeof(char *), cmp_str);
                for (char **n = names; *n; n++) {
                        struct stat st;
                        if (fstatat(dfd, *n, &st, 0) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        load_file(reg, dfd, dir, *n, prio);
                }
        }
        *ret = TAKE_PTR(reg);
        return 0;
}

/* --- resolution ------------------------------------------------------------------------------ */

struct match {
        const struct skiff_cdi_spec *spec;
        const struct skiff_cdi_device *dev;
        bool conflict;
};

static struct match find_device(const struct skiff_cdi_registry *reg, const char *vendor,
                                const char *class_, const char *name)
{
        struct match m = {0};
        for (size_t i = 0; i < reg->n_specs; i++) {
                const struct skiff_cdi_spec *s = reg->specs[i];
                if (strcmp(s->vendor, vendor) != 0 || strcmp(s->class_, class_) != 0)
                        continue;
                for (size_t j = 0; j < s->n_devices; j++) {
                        if (strcmp(s->devices[j].name, name) != 0)
                                continue;
                        if (!m.spec || s->priority > m.spec->priority) {
                                m = (struct match){s, &s->devices[j], false};
                        } else if (s->priority == m.spec->priority) {
                                m.conflict = true;
                        }
                }
        }
        return m;
}

static void merge(struct skiff_cdi_edits *dst, const struct skiff_cdi_edits *src)
{
        for (char **e = src->env; e && *e; e++)
                skiff_strv_push(&dst->env, *e);
        for (size_t i = 0; i < src->n_nodes; i++) {
                struct skiff_cdi_node n = src->nodes[i];
                n.path = xstrdup(n.path);
                n.host_path = xstrdup(n.host_path);
                n.permissions = xstrdup(n.permissions);
                dst->nodes = xreallocarray(dst->nodes, dst->n_nodes + 1, sizeof(n));
                dst->nodes[dst->n_nodes++] = n;
        }
        for (size_t i = 0; i < src->n_mounts; i++) {
                struct skiff_cdi_mount m = src->mounts[i];
                m.host_path = xstrdup(m.host_path);
                m.container_path = xstrdup(m.container_path);
                m.type = xstrdup(m.type);
                m.options = skiff_strv_copy(m.options);
                dst->mounts = xreallocarray(dst->mounts, dst->n_mounts + 1, sizeof(m));
                dst->mounts[dst->n_mounts++] = m;
        }
        for (size_t i = 0; i < src->n_hooks; i++) {
                struct skiff_cdi_hook h = src->hooks[i];
                h.hook_name = xstrdup(h.hook_name);
                h.path = xstrdup(h.path);
                h.args = skiff_strv_copy(h.args);
                h.env = skiff_strv_copy(h.env);
                dst->hooks = xreallocarray(dst->hooks, dst->n_hooks + 1, sizeof(h));
                dst->hooks[dst->n_hooks++] = h;
        }
        for (size_t i = 0; i < src->n_gids; i++) {
                bool seen = false;
                for (size_t j = 0; j < dst->n_gids && !seen; j++)
                        seen = dst->gids[j] == src->gids[i];
                if (seen)
                        continue;
                dst->gids = xreallocarray(dst->gids, dst->n_gids + 1, sizeof(uint32_t));
                dst->gids[dst->n_gids++] = src->gids[i];
        }
}

int skiff_cdi_resolve(const struct skiff_cdi_registry *reg, char *const *names,
                      struct skiff_cdi_edits *ret, skiff_err_t *err)
{
        size_t n = skiff_strv_len(names);
        _cleanup_free_ struct match *matches = xcalloc(n ? n : 1, sizeof(*matches));
        _cleanup_strbuf_ struct skiff_strbuf missing = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *vendor = NULL, *class_ = NULL, *name = NULL;
                int r = skiff_cdi_parse_name(names[i], &vendor, &class_, &name, err);
                if (r < 0)
                        return r;
                matches[i] = find_device(reg, vendor, class_, name);
                if (!matches[i].spec || matches[i].conflict) {
                        skiff_strbuf_printf(&missing, "%s%s%s", missing.len ? ", " : "", names[i],
                                            matches[i].conflict ? " (conflicting)" : "");
                        continue;
                }
                const char *u = matches[i].dev->edits.unsupported
                                    ? matches[i].dev->edits.unsupported
                                    : matches[i].spec->edits.unsupported;
                if (u)
                        return skiff_error_set(err, ENOTSUP,
                                               "CDI device `%s` (`%s`): `%s` is not supported",
                                               names[i], matches[i].spec->path, u);
        }
        if (missing.len) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                skiff_strbuf_printf(&sb, "unresolvable CDI devices %s", missing.buf);
                for (char **e = reg->errors; e && *e; e++)
                        skiff_strbuf_printf(&sb, "; %s", *e);
                return skiff_error_set(err, ENOENT, "%s", sb.buf);
        }
        struct skiff_cdi_edits out = {0};
        for (size_t i = 0; i < n; i++) {
                bool first = true;
                for (size_t j = 0; j < i && first; j++)
                        first = matches[j].spec != matches[i].spec;
                if (first)
                        merge(&out, &matches[i].spec->edits);
        }
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < i && !dup; j++)
                        dup = matches[j].dev == matches[i].dev;
                if (!dup)
                        merge(&out, &matches[i].dev->edits);
        }
        *ret = out;
        return 0;
}
