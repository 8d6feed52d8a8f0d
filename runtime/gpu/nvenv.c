#include "gpu/nvenv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/cdi.h"
#include "oci/spec.h"

#define NVIDIA_GPU_MAJOR 195
#define NVIDIA_CTL_MINOR 255

static char *trim(const char *s, size_t n)
{
        while (n > 0 && isspace((unsigned char)*s)) {
                s++;
                n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                n--;
        return xstrndup(s, n);
}

static bool is_hex(char c)
{
        return isxdigit((unsigned char)c) != 0;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s)
{
        static const size_t dash[] = {8, 13, 18, 23};
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0, d = 0; i < 36; i++) {
                if (d < 4 && i == dash[d]) {
                        if (s[i] != '-')
                                return false;
                        d++;
                } else if (!is_hex(s[i])) {
                        return false;
                }
        }
        return true;
}

/* A decimal u32 without sign or leading zeros (a lone "0" is fine). */
static bool parse_dec(const char *s, size_t n, uint32_t *ret)
{
        if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
                return false;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > UINT32_MAX)
                return false;
        *ret = (uint32_t)v;
        return true;
}

static bool parse_hex_field(const char *s, size_t n, size_t max_digits, uint32_t *ret)
{
        if (n == 0 || n > max_digits)
                return false;
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_hex(s[i]))
                        return false;
                v = v * 16 + (uint32_t)(isdigit((unsigned char)s[i])
                                            ? s[i] - '0'
                                            : (tolower((unsigned char)s[i]) - 'a' + 10));
        }
        *ret = v;
        return true;
}

char *skiff_nvenv_normalize_pci(const char *s)
{
        const char *c1 = strchr(s, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        const char *dot = c2 ? strchr(c2 + 1, '.') : NULL;
        uint32_t dom, bus, dev, fn;
        if (!dot || !parse_hex_field(s, (size_t)(c1 - s), 8, &dom) ||
            !parse_hex_field(c1 + 1, (size_t)(c2 - c1 - 1), 2, &bus) ||
            !parse_hex_field(c2 + 1, (size_t)(dot - c2 - 1), 2, &dev) ||
            !parse_hex_field(dot + 1, strlen(dot + 1), 1, &fn) || dev > 0x1f || fn > 7)
                return NULL;
        return xasprintf("%08x:%02x:%02x.%x", dom, bus, dev, fn);
}

int skiff_nvenv_parse_id(const char *tok, struct skiff_nvenv_id *ret, skiff_err_t *err)
{
        struct skiff_nvenv_id id = {0};
        size_t n = strlen(tok);
        const char *colon = strchr(tok, ':');
        if (strchr(tok, '=') || strchr(tok, '/')) {
                if (strncasecmp(tok, "MIG-GPU-", 8) == 0) {
                        /* MIG-GPU-<uuid>/<gi>/<ci> */
                        const char *s1 = strchr(tok, '/');
                        const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
                        _cleanup_free_ char *uuid =
                            s1 ? xstrndup(tok + 4, (size_t)(s1 - tok - 4)) : NULL;
                        if (!s2 || !is_uuid(uuid + 4) ||
                            !parse_dec(s1 + 1, (size_t)(s2 - s1 - 1), &id.gpu) ||
                            !parse_dec(s2 + 1, strlen(s2 + 1), &id.mig))
                                return skiff_error_set(err, EINVAL,
                                                       "device `%s`: invalid legacy MIG id "
                                                       "(expected MIG-GPU-<uuid>/<gi>/<ci>)",
                                                       tok);
                        id.kind = SKIFF_NVENV_ID_MIG_LEGACY;
                        id.str = TAKE_PTR(uuid);
                        *ret = id;
                        return 0;
                }
                int r = skiff_cdi_validate_name(tok, err);
                if (r < 0)
                        return skiff_error_wrap(err, "device `%s`", tok);
                id.kind = SKIFF_NVENV_ID_CDI;
        } else if (strncasecmp(tok, "GPU-", 4) == 0) {
                if (!is_uuid(tok + 4))
                        return skiff_error_set(err, EINVAL, "device `%s`: invalid GPU UUID", tok);
                id.kind = SKIFF_NVENV_ID_GPU_UUID;
        } else if (strncasecmp(tok, "MIG-", 4) == 0) {
                if (!is_uuid(tok + 4))
                        return skiff_error_set(err, EINVAL, "device `%s`: invalid MIG UUID", tok);
                id.kind = SKIFF_NVENV_ID_MIG_UUID;
        } else if (colon && strchr(colon + 1, ':')) {
                _cleanup_free_ char *pci = skiff_nvenv_normalize_pci(tok);
                if (!pci)
                        return skiff_error_set(err, EINVAL, "device `%s`: invalid PCI bus id", tok);
                id.kind = SKIFF_NVENV_ID_PCI;
                id.str = TAKE_PTR(pci);
                *ret = id;
                return 0;
        } else if (colon) {
                if (!parse_dec(tok, (size_t)(colon - tok), &id.gpu) ||
                    !parse_dec(colon + 1, n - (size_t)(colon - tok) - 1, &id.mig))
                        return skiff_error_set(err, EINVAL,
                                               "device `%s`: invalid MIG index (expected "
                                               "<gpu>:<mig>)",
                                               tok);
                id.kind = SKIFF_NVENV_ID_MIG_INDEX;
        } else {
                if (!parse_dec(tok, n, &id.gpu))
                        return skiff_error_set(err, EINVAL,
                                               "device `%s`: unknown device id (expected an "
                                               "index, GPU-/MIG- UUID, PCI bus id, <gpu>:<mig> "
                                               "or a CDI name)",
                                               tok);
                id.kind = SKIFF_NVENV_ID_INDEX;
        }
        id.str = xstrdup(tok);
        *ret = id;
        return 0;
}

static bool same_id(const struct skiff_nvenv_id *a, const struct skiff_nvenv_id *b)
{
        if (a->kind != b->kind)
                return false;
        switch (a->kind) {
        case SKIFF_NVENV_ID_INDEX:
                return a->gpu == b->gpu;
        case SKIFF_NVENV_ID_MIG_INDEX:
                return a->gpu == b->gpu && a->mig == b->mig;
        case SKIFF_NVENV_ID_MIG_LEGACY:
                return a->gpu == b->gpu && a->mig == b->mig && strcasecmp(a->str, b->str) == 0;
        case SKIFF_NVENV_ID_CDI:
                return strcmp(a->str, b->str) == 0;
        default:
                return strcasecmp(a->str, b->str) == 0;
        }
}

void skiff_nvenv_devices_done(struct skiff_nvenv_devices *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n_ids; i++)
                free(d->ids[i].str);
        free(d->ids);
        memset(d, 0, sizeof(*d));
}

/* Adds one id unless an equal one is there; takes id->str. */
static void devices_add(struct skiff_nvenv_devices *d, struct skiff_nvenv_id *id)
{
        for (size_t i = 0; i < d->n_ids; i++)
                if (same_id(&d->ids[i], id)) {
                        free(id->str);
                        return;
                }
        d->ids = xreallocarray(d->ids, d->n_ids + 1, sizeof(*d->ids));
        d->ids[d->n_ids++] = *id;
}

int skiff_nvenv_parse_devices(const char *value, struct skiff_nvenv_devices *ret, skiff_err_t *err)
{
        struct skiff_nvenv_devices d = {.visible = SKIFF_NVENV_UNSET};
        if (!value) {
                *ret = d;
                return 0;
        }
        d.visible = SKIFF_NVENV_VOID;
        _cleanup_strv_ char **raw = skiff_strv_split(value, ",", false);
        size_t n_tokens = 0;
        bool all = false, none = false;
        int r = 0;
        for (char **t = raw; *t; t++) {
                _cleanup_free_ char *tok = trim(*t, strlen(*t));
                if (!tok[0])
                        continue;
                if (++n_tokens > SKIFF_NVENV_MAX_DEVICES) {
                        r = skiff_error_set(err, EINVAL, "more than %d devices",
                                            SKIFF_NVENV_MAX_DEVICES);
                        break;
                }
                if (strcmp(tok, "void") == 0) {
                        skiff_nvenv_devices_done(&d);
                        d.visible = SKIFF_NVENV_VOID;
                        *ret = d;
                        return 0;
                }
                if (strcmp(tok, "all") == 0) {
                        all = true;
                        continue;
                }
                if (strcmp(tok, "none") == 0) {
                        none = true;
                        continue;
                }
                struct skiff_nvenv_id id;
                r = skiff_nvenv_parse_id(tok, &id, err);
                if (r < 0)
                        break;
                devices_add(&d, &id);
        }
        if (r >= 0 && (all || none) && n_tokens > 1)
                r = skiff_error_set(err, EINVAL, "`%s` cannot be combined with other devices",
                                    all ? "all" : "none");
        if (r < 0) {
                skiff_nvenv_devices_done(&d);
                return r;
        }
        if (all)
                d.visible = SKIFF_NVENV_ALL;
        else if (none)
                d.visible = SKIFF_NVENV_NONE;
        else if (d.n_ids > 0)
                d.visible = SKIFF_NVENV_LIST;
        *ret = d;
        return 0;
}

static const struct {
        const char *name;
        unsigned bits;
} cap_table[] = {
    {"compute", SKIFF_NVENV_CAP_COMPUTE},
    {"utility", SKIFF_NVENV_CAP_UTILITY},
    {"graphics", SKIFF_NVENV_CAP_GRAPHICS},
    {"video", SKIFF_NVENV_CAP_VIDEO | SKIFF_NVENV_CAP_COMPUTE},
    {"display", SKIFF_NVENV_CAP_DISPLAY | SKIFF_NVENV_CAP_GRAPHICS},
    {"compat32", SKIFF_NVENV_CAP_COMPAT32},
    {"ngx", SKIFF_NVENV_CAP_NGX},
    {"all", SKIFF_NVENV_CAPS_ALL},
};

int skiff_nvenv_parse_caps(const char *value, unsigned *ret, skiff_err_t *err)
{
        unsigned caps = 0;
        _cleanup_strv_ char **raw = skiff_strv_split(value ? value : "", ",", false);
        for (char **t = raw; *t; t++) {
                _cleanup_free_ char *w = trim(*t, strlen(*t));
                if (!w[0])
                        continue;
                size_t i = 0;
                while (i < SKIFF_ARRAY_SIZE(cap_table) && strcmp(cap_table[i].name, w) != 0)
                        i++;
                if (i == SKIFF_ARRAY_SIZE(cap_table))
                        return skiff_error_set(err, EINVAL,
                                               "unknown driver capability `%s` (expected compute, "
                                               "utility, graphics, video, display, compat32, ngx "
                                               "or all)",
                                               w);
                caps |= cap_table[i].bits;
        }
        *ret = caps ? caps : SKIFF_NVENV_CAPS_DEFAULT;
        return 0;
}

char *skiff_nvenv_caps_string(unsigned caps)
{
        static const char *names[] = {"compute", "utility",  "graphics", "video",
                                      "display", "compat32", "ngx"};
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++)
                if (caps & (1u << i)) {
                        if (sb.len)
                                skiff_strbuf_putc(&sb, ',');
                        skiff_strbuf_puts(&sb, names[i]);
                }
        return skiff_strbuf_take(&sb);
}

bool skiff_nvenv_parse_bool(const char *s)
{
        static const char *truth[] = {"1", "t", "T", "TRUE", "true", "True"};
        for (size_t i = 0; s && i < SKIFF_ARRAY_SIZE(truth); i++)
                if (strcmp(s, truth[i]) == 0)
                        return true;
        return false;
}

void skiff_nvenv_request_done(struct skiff_nvenv_request *r)
{
        if (!r)
                return;
        skiff_nvenv_devices_done(&r->devices);
        skiff_strv_free(r->cdi_devices);
        free(r->spec_minors);
        skiff_strv_free(r->imex_channels);
        skiff_strv_free(r->requires);
        memset(r, 0, sizeof(*r));
}

const char *skiff_nvenv_source_name(enum skiff_nvenv_source s)
{
        static const char *names[] = {"none", "spec", "cdi", "mounts", "env"};
        return s < _SKIFF_NVENV_SOURCE_MAX ? names[s] : "?";
}

/* --- channels ------------------------------------------------------------------------------- */

static bool spec_privileged(const struct skiff_spec *spec)
{
        return spec->has_process && spec->process.has_caps &&
               skiff_strv_contains(spec->process.caps.bounding, "CAP_SYS_ADMIN");
}

static void channel_spec(const struct skiff_spec *spec, struct skiff_nvenv_request *req)
{
        bool any = false;
        for (size_t i = 0; i < spec->linux_.n_devices; i++) {
                const struct skiff_spec_device *d = &spec->linux_.devices[i];
                if (d->type != 'c' || d->major != NVIDIA_GPU_MAJOR)
                        continue;
                any = true;
                if (d->minor < 0 || d->minor >= NVIDIA_CTL_MINOR - 1) /* ctl 255, modeset 254 */
                        continue;
                req->spec_minors =
                    xreallocarray(req->spec_minors, req->n_spec_minors + 1, sizeof(uint32_t));
                req->spec_minors[req->n_spec_minors++] = (uint32_t)d->minor;
        }
        if (any)
                req->source = SKIFF_NVENV_SOURCE_SPEC;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int channel_cdi(const struct skiff_spec *spec, const char *prefix,
                       struct skiff_nvenv_request *req, skiff_err_t *err)
{
        _cleanup_strv_ char **keys = NULL;
        for (char **kv = spec->annotations; kv && kv[0] && kv[1]; kv += 2)
                if (strncmp(kv[0], prefix, strlen(prefix)) == 0)
                        skiff_strv_push(&keys, kv[0]);
        if (!keys)
                return 0;
        qsort(keys, skiff_strv_len(keys), sizeof(char *), cmp_str);
        for (char **k = keys; *k; k++) {
                const char *value = skiff_spec_annotation(spec, *k);
                _cleanup_strv_ char **names = skiff_strv_split(value ? value : "", ",", false);
                for (char **n = names; *n; n++) {
                        _cleanup_free_ char *name = trim(*n, strlen(*n));
                        if (!name[0])
                                continue;
                        int r = skiff_cdi_validate_name(name, err);
                        if (r < 0)
                                return skiff_error_wrap(err, "annotation `%s`", *k);
                        if (!skiff_strv_contains(req->cdi_devices, name))
                                skiff_strv_push(&req->cdi_devices, name);
                }
        }
        if (req->cdi_devices)
                req->source = SKIFF_NVENV_SOURCE_CDI;
        return 0;
}

/* One `/var/run/nvidia-container-devices/<rest>` mount. */
static int mount_request(const char *dest, const char *rest, struct skiff_nvenv_request *req,
                         skiff_err_t *err)
{
        if (strncmp(rest, "imex/", 5) == 0) {
                uint32_t ch;
                if (!parse_dec(rest + 5, strlen(rest + 5), &ch))
                        return skiff_error_set(err, EINVAL, "mount `%s`: invalid IMEX channel",
                                               dest);
                if (!skiff_strv_contains(req->imex_channels, rest + 5))
                        skiff_strv_push(&req->imex_channels, rest + 5);
                return 0;
        }
        if (strncmp(rest, "cdi/", 4) == 0) {
                /* cdi/<vendor>/<class>=<name> or cdi/<vendor>/<class>/<name> */
                _cleanup_free_ char *name = xstrdup(rest + 4);
                char *s1 = strchr(name, '/');
                char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
                if (s2 && !strchr(name, '='))
                        *s2 = '=';
                int r = skiff_cdi_validate_name(name, err);
                if (r < 0)
                        return skiff_error_wrap(err, "mount `%s`", dest);
                if (!skiff_strv_contains(req->cdi_devices, name))
                        skiff_strv_push(&req->cdi_devices, name);
                return 0;
        }
        struct skiff_nvenv_id id;
        int r = skiff_nvenv_parse_id(rest, &id, err);
        if (r < 0)
                return skiff_error_wrap(err, "mount `%s`", dest);
        if (id.kind == SKIFF_NVENV_ID_CDI) {
                if (!skiff_strv_contains(req->cdi_devices, id.str))
                        skiff_strv_push(&req->cdi_devices, id.str);
                free(id.str);
                return 0;
        }
        if (req->devices.n_ids >= SKIFF_NVENV_MAX_DEVICES) {
                free(id.str);
                return skiff_error_set(err, EINVAL, "more than %d device mounts",
                                       SKIFF_NVENV_MAX_DEVICES);
        }
        devices_add(&req->devices, &id);
        return 0;
}

static int channel_mounts(const struct skiff_spec *spec, struct skiff_nvenv_request *req,
                          skiff_err_t *err)
{
        const size_t dl = strlen(SKIFF_NVENV_MOUNT_DIR);
        bool any = false;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct skiff_spec_mount *m = &spec->mounts[i];
                if (!m->source || strcmp(m->source, "/dev/null") != 0 || !m->destination)
                        continue;
                _cleanup_free_ char *dest = skiff_path_clean(m->destination);
                if (strncmp(dest, SKIFF_NVENV_MOUNT_DIR, dl) != 0 || dest[dl] != '/' ||
                    !dest[dl + 1])
                        continue;
                any = true;
                int r = mount_request(dest, dest + dl + 1, req, err);
                if (r < 0)
                        return r;
        }
        if (any) {
                req->source = SKIFF_NVENV_SOURCE_MOUNTS;
                req->devices.visible = req->devices.n_ids ? SKIFF_NVENV_LIST : SKIFF_NVENV_NONE;
        }
        return 0;
}

static int channel_env(const struct skiff_spec *spec, const struct skiff_gpu_policy *pol,
                       struct skiff_nvenv_request *req, skiff_err_t *err)
{
        char *const *env = spec->has_process ? spec->process.env : NULL;
        const char *value = skiff_strv_env_get(env, "NVIDIA_VISIBLE_DEVICES");
        if (!value)
                return 0;
        _cleanup_free_ char *v = trim(value, strlen(value));
        _cleanup_free_ char *clean = v[0] == '/' ? skiff_path_clean(v) : NULL;
        if (clean && strcmp(clean, SKIFF_NVENV_MOUNT_DIR) == 0)
                return 0; /* "look at the mounts": there were none */
        struct skiff_nvenv_devices d;
        int r = skiff_nvenv_parse_devices(value, &d, err);
        if (r < 0)
                return skiff_error_wrap(err, "env `NVIDIA_VISIBLE_DEVICES`");
        if (d.visible == SKIFF_NVENV_UNSET || d.visible == SKIFF_NVENV_VOID) {
                skiff_nvenv_devices_done(&d);
                return 0;
        }
        if (!req->privileged && !pol->accept_env_unprivileged) {
                skiff_nvenv_devices_done(&d);
                req->env_refused = true;
                return 0;
        }
        req->source = SKIFF_NVENV_SOURCE_ENV;
        req->devices = d;
        for (size_t i = 0; i < d.n_ids; i++)
                if (d.ids[i].kind == SKIFF_NVENV_ID_CDI)
                        skiff_strv_push(&req->cdi_devices, d.ids[i].str);
        const char *imex = skiff_strv_env_get(env, "NVIDIA_IMEX_CHANNELS");
        _cleanup_strv_ char **chans = skiff_strv_split(imex ? imex : "", ",", true);
        for (char **c = chans; *c; c++) {
                _cleanup_free_ char *t = trim(*c, strlen(*c));
                uint32_t ch;
                if (!t[0] || strcmp(t, "all") == 0) /* "all" is ignored in env form */
                        continue;
                if (!parse_dec(t, strlen(t), &ch))
                        return skiff_error_set(
                            err, EINVAL, "env `NVIDIA_IMEX_CHANNELS`: invalid channel `%s`", t);
                if (!skiff_strv_contains(req->imex_channels, t))
                        skiff_strv_push(&req->imex_channels, t);
        }
        return 0;
}

static void collect_requires(char *const *env, struct skiff_nvenv_request *req)
{
        static const char pfx[] = "NVIDIA_REQUIRE_";
        for (char *const *e = env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq || strncmp(*e, pfx, sizeof(pfx) - 1) != 0)
                        continue;
                _cleanup_free_ char *name = xstrndup(*e, (size_t)(eq - *e));
                if (strcmp(name, "NVIDIA_REQUIRE_JETPACK") == 0 || !name[sizeof(pfx) - 1])
                        continue;
                /* A later duplicate of the same variable wins, as in execve's view. */
                bool replaced = false;
                for (char **r = req->requires; r && r[0]; r += 2)
                        if (strcmp(r[0], name) == 0) {
                                free(r[1]);
                                r[1] = xstrdup(eq + 1);
                                replaced = true;
                        }
                if (!replaced) {
                        skiff_strv_push(&req->requires, name);
                        skiff_strv_push(&req->requires, eq + 1);
                }
        }
}

int skiff_nvenv_request_from_spec(const struct skiff_spec *spec,
                                  const struct skiff_gpu_policy *policy,
                                  struct skiff_nvenv_request *ret, skiff_err_t *err)
{
        static const struct skiff_gpu_policy defaults = SKIFF_GPU_POLICY_DEFAULT;
        const struct skiff_gpu_policy *pol = policy ? policy : &defaults;
        struct skiff_nvenv_request req = {.source = SKIFF_NVENV_SOURCE_NONE};
        req.privileged = spec_privileged(spec);
        int r = 0;

        channel_spec(spec, &req);
        if (req.source == SKIFF_NVENV_SOURCE_NONE && pol->accept_cdi_annotations)
                r = channel_cdi(spec, pol->cdi_prefix ? pol->cdi_prefix : SKIFF_NVENV_CDI_PREFIX,
                                &req, err);
        if (r >= 0 && req.source == SKIFF_NVENV_SOURCE_NONE && pol->accept_mounts)
                r = channel_mounts(spec, &req, err);
        if (r >= 0 && req.source == SKIFF_NVENV_SOURCE_NONE)
                r = channel_env(spec, pol, &req, err);
        if (r < 0 || req.source == SKIFF_NVENV_SOURCE_NONE) {
                bool refused = req.env_refused;
                skiff_nvenv_request_done(&req);
                if (r < 0)
                        return r;
                req.env_refused = refused;
                *ret = req;
                return 0;
        }

        char *const *env = spec->has_process ? spec->process.env : NULL;
        r = skiff_nvenv_parse_caps(skiff_strv_env_get(env, "NVIDIA_DRIVER_CAPABILITIES"), &req.caps,
                                   err);
        if (r < 0) {
                skiff_nvenv_request_done(&req);
                return skiff_error_wrap(err, "env `NVIDIA_DRIVER_CAPABILITIES`");
        }
        collect_requires(env, &req);
        req.disable_require =
            skiff_nvenv_parse_bool(skiff_strv_env_get(env, "NVIDIA_DISABLE_REQUIRE"));
        *ret = req;
        return 0;
}
