#include "oci/spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/spec-internal.h"

/* ---- shared helpers -------------------------------------------------------------------------- */

int skiff_spec_dec_array(skiff_jv *v, const char *path, void *arrp, size_t *n, size_t elem_size,
                         skiff_json_decode_fn elem, skiff_err_t *err)
{
        if (skiff_json_type(v) != SKIFF_JSON_ARRAY)
                return skiff_json_type_error(v, path, "an array", err);
        void **arr = arrp;
        size_t len = skiff_json_len(v);
        *arr = len ? xcalloc(len, elem_size) : NULL;
        *n = 0;
        for (size_t i = 0; i < len; i++) {
                _cleanup_free_ char *ipath = skiff_json_path_index(path, i);
                *n = i + 1;
                int r = elem(skiff_json_at(v, i), ipath, (char *)*arr + i * elem_size, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int skiff_spec_lookup(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int)i;
        return -1;
}

int skiff_spec_check_absolute(const char *s, const char *path, skiff_err_t *err)
{
        if (!s || s[0] != '/')
                return skiff_error_set(err, EINVAL, "%s: must be an absolute path, got `%s`", path,
                                       s ? s : "");
        return 0;
}

/* ---- process --------------------------------------------------------------------------------- */

static const struct {
        const char *name;
        int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int dec_rlimit_type(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(rlimit_table); i++) {
                if (strcmp(rlimit_table[i].name, s) == 0) {
                        *(int *)f = rlimit_table[i].resource;
                        return 0;
                }
        }
        return skiff_error_set(err, EINVAL, "%s: unknown rlimit `%s`", path, s);
}

static const struct skiff_json_field rlimit_fields[] = {
    {"type", dec_rlimit_type, offsetof(struct skiff_spec_rlimit, resource), true},
    {"hard", skiff_json_dec_u64, offsetof(struct skiff_spec_rlimit, hard), true},
    {"soft", skiff_json_dec_u64, offsetof(struct skiff_spec_rlimit, soft), true},
    {NULL},
};

static int dec_rlimit(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, rlimit_fields, f, false, err);
}

static int dec_rlimits(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_process *p = f;
        int r = skiff_spec_dec_array(v, path, &p->rlimits, &p->n_rlimits, sizeof(*p->rlimits),
                                     dec_rlimit, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_rlimits; i++)
                for (size_t j = 0; j < i; j++)
                        if (p->rlimits[i].resource == p->rlimits[j].resource)
                                return skiff_error_set(err, EINVAL,
                                                       "%s[%zu].type: duplicate rlimit (also "
                                                       "at index %zu)",
                                                       path, i, j);
        return 0;
}

static const struct skiff_json_field caps_fields[] = {
    {"bounding", skiff_json_dec_strv, offsetof(struct skiff_spec_caps, bounding)},
    {"effective", skiff_json_dec_strv, offsetof(struct skiff_spec_caps, effective)},
    {"inheritable", skiff_json_dec_strv, offsetof(struct skiff_spec_caps, inheritable)},
    {"permitted", skiff_json_dec_strv, offsetof(struct skiff_spec_caps, permitted)},
    {"ambient", skiff_json_dec_strv, offsetof(struct skiff_spec_caps, ambient)},
    {NULL},
};

static int dec_caps(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_process *p = f;
        p->has_caps = true;
        return skiff_json_decode_object(v, path, caps_fields, &p->caps, true, err);
}

static const struct skiff_json_field console_fields[] = {
    {"height", skiff_json_dec_u32, offsetof(struct skiff_spec_process, console_height), true},
    {"width", skiff_json_dec_u32, offsetof(struct skiff_spec_process, console_width), true},
    {NULL},
};

static int dec_console_size(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_process *p = f;
        int r = skiff_json_decode_object(v, path, console_fields, p, false, err);
        if (r < 0)
                return r;
        p->has_console_size = true;
        return 0;
}

static int dec_u32_elem(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_dec_u32(v, path, f, err);
}

static int dec_additional_gids(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_user *u = f;
        return skiff_spec_dec_array(v, path, &u->additional_gids, &u->n_additional_gids,
                                    sizeof(uint32_t), dec_u32_elem, err);
}

SKIFF_SPEC_OPT_DECODER(dec_umask, struct skiff_spec_user, umask, has_umask, skiff_json_dec_u32)

static const struct skiff_json_field user_fields[] = {
    {"uid", skiff_json_dec_u32, offsetof(struct skiff_spec_user, uid)},
    {"gid", skiff_json_dec_u32, offsetof(struct skiff_spec_user, gid)},
    {"umask", dec_umask, 0},
    {"additionalGids", dec_additional_gids, 0},
    {NULL},
};

static int dec_user(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, user_fields, f, true, err);
}

SKIFF_SPEC_OPT_DECODER(dec_oom_score_adj, struct skiff_spec_process, oom_score_adj,
                       has_oom_score_adj, skiff_json_dec_i32)

static const struct skiff_json_field process_fields[] = {
    {"terminal", skiff_json_dec_bool, offsetof(struct skiff_spec_process, terminal)},
    {"consoleSize", dec_console_size, 0},
    {"user", dec_user, offsetof(struct skiff_spec_process, user)},
    {"args", skiff_json_dec_strv, offsetof(struct skiff_spec_process, args), true},
    {"env", skiff_json_dec_strv, offsetof(struct skiff_spec_process, env)},
    {"cwd", skiff_json_dec_string, offsetof(struct skiff_spec_process, cwd), true},
    {"capabilities", dec_caps, 0},
    {"rlimits", dec_rlimits, 0},
    {"noNewPrivileges", skiff_json_dec_bool,
     offsetof(struct skiff_spec_process, no_new_privileges)},
    {"apparmorProfile", skiff_json_dec_string,
     offsetof(struct skiff_spec_process, apparmor_profile)},
    {"oomScoreAdj", dec_oom_score_adj, 0},
    {"selinuxLabel", skiff_json_dec_string, offsetof(struct skiff_spec_process, selinux_label)},
    {NULL},
};

static int process_decode(skiff_jv *v, const char *path, struct skiff_spec_process *p,
                          skiff_err_t *err)
{
        int r = skiff_json_decode_object(v, path, process_fields, p, true, err);
        if (r < 0)
                return r;
        if (!p->args || !p->args[0]) {
                _cleanup_free_ char *apath = skiff_json_path_key(path, "args");
                return skiff_error_set(err, EINVAL, "%s: must not be empty", apath);
        }
        for (size_t i = 0; p->env && p->env[i]; i++) {
                const char *eq = strchr(p->env[i], '=');
                if (!eq || eq == p->env[i]) {
                        _cleanup_free_ char *epath = skiff_json_path_key(path, "env");
                        return skiff_error_set(err, EINVAL,
                                               "%s[%zu]: expected `NAME=value`, got `%s`", epath, i,
                                               p->env[i]);
                }
        }
        _cleanup_free_ char *cpath = skiff_json_path_key(path, "cwd");
        return skiff_spec_check_absolute(p->cwd, cpath, err);
}

static void process_clear(struct skiff_spec_process *p)
{
        free(p->user.additional_gids);
        skiff_strv_free(p->args);
        skiff_strv_free(p->env);
        free(p->cwd);
        skiff_strv_free(p->caps.bounding);
        skiff_strv_free(p->caps.effective);
        skiff_strv_free(p->caps.inheritable);
        skiff_strv_free(p->caps.permitted);
        skiff_strv_free(p->caps.ambient);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        memset(p, 0, sizeof(*p));
}

/* ---- mounts ---------------------------------------------------------------------------------- */

static const struct skiff_json_field mount_fields[] = {
    {"destination", skiff_json_dec_string, offsetof(struct skiff_spec_mount, destination), true},
    {"type", skiff_json_dec_string, offsetof(struct skiff_spec_mount, type)},
    {"source", skiff_json_dec_string, offsetof(struct skiff_spec_mount, source)},
    {"options", skiff_json_dec_strv, offsetof(struct skiff_spec_mount, options)},
    {NULL},
};

static int dec_mount(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_mount *m = f;
        int r = skiff_json_decode_object(v, path, mount_fields, m, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dpath = skiff_json_path_key(path, "destination");
        return skiff_spec_check_absolute(m->destination, dpath, err);
}

static int dec_mounts(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec *s = f;
        return skiff_spec_dec_array(v, path, &s->mounts, &s->n_mounts, sizeof(*s->mounts),
                                    dec_mount, err);
}

/* ---- top level ------------------------------------------------------------------------------- */

static const struct skiff_json_field root_fields[] = {
    {"path", skiff_json_dec_string, offsetof(struct skiff_spec, root_path), true},
    {"readonly", skiff_json_dec_bool, offsetof(struct skiff_spec, root_readonly)},
    {NULL},
};

static int dec_root(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, root_fields, f, true, err);
}

static int dec_process(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec *s = f;
        s->has_process = true;
        return process_decode(v, path, &s->process, err);
}

static int dec_linux(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_spec_linux_decode(v, path, f, err);
}

static const struct skiff_json_field spec_fields[] = {
    {"ociVersion", skiff_json_dec_string, offsetof(struct skiff_spec, oci_version)},
    {"root", dec_root, 0},
    {"process", dec_process, 0},
    {"hostname", skiff_json_dec_string, offsetof(struct skiff_spec, hostname)},
    {"domainname", skiff_json_dec_string, offsetof(struct skiff_spec, domainname)},
    {"mounts", dec_mounts, 0},
    {"linux", dec_linux, offsetof(struct skiff_spec, linux_)},
    {"annotations", skiff_json_dec_strmap, offsetof(struct skiff_spec, annotations)},
    {NULL},
};

static int parse_doc(const char *buf, size_t len, struct skiff_json **doc, skiff_err_t *err)
{
        if (len > SKIFF_SPEC_MAX_SIZE)
                return skiff_error_set(err, EFBIG, "document exceeds %u bytes",
                                       SKIFF_SPEC_MAX_SIZE);
        return skiff_json_parse(buf, len, doc, err);
}

void skiff_spec_free(struct skiff_spec *spec)
{
        if (!spec)
                return;
        free(spec->oci_version);
        free(spec->root_path);
        process_clear(&spec->process);
        free(spec->hostname);
        free(spec->domainname);
        for (size_t i = 0; i < spec->n_mounts; i++) {
                free(spec->mounts[i].destination);
                free(spec->mounts[i].type);
                free(spec->mounts[i].source);
                skiff_strv_free(spec->mounts[i].options);
        }
        free(spec->mounts);
        skiff_spec_linux_clear(&spec->linux_);
        skiff_strv_free(spec->annotations);
        free(spec);
}

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)
SKIFF_DEFINE_CLEANUP(struct skiff_spec_process *, skiff_spec_process_free)
SKIFF_DEFINE_CLEANUP(struct skiff_spec_resources *, skiff_spec_resources_free)

int skiff_spec_parse(const char *buf, size_t len, struct skiff_spec **out, skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = parse_doc(buf, len, &doc, err);
        if (r < 0)
                return r;
        _cleanup_(skiff_spec_freep) struct skiff_spec *spec = xcalloc(1, sizeof(*spec));
        r = skiff_json_decode_object(skiff_json_root(doc), "", spec_fields, spec, true, err);
        if (r < 0)
                return r;
        *out = TAKE_PTR(spec);
        return 0;
}

int skiff_spec_load(const char *bundle, struct skiff_spec **out, skiff_err_t *err)
{
        _cleanup_free_ char *file = skiff_path_join(bundle, "config.json");
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(file, SKIFF_SPEC_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;
        r = skiff_spec_parse(buf, len, out, err);
        if (r < 0)
                return skiff_error_wrap(err, "parse `%s`", file);
        return 0;
}

void skiff_spec_process_free(struct skiff_spec_process *p)
{
        if (!p)
                return;
        process_clear(p);
        free(p);
}

int skiff_spec_process_parse(const char *buf, size_t len, struct skiff_spec_process **out,
                             skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = parse_doc(buf, len, &doc, err);
        if (r < 0)
                return r;
        _cleanup_(skiff_spec_process_freep) struct skiff_spec_process *p = xcalloc(1, sizeof(*p));
        r = process_decode(skiff_json_root(doc), "process", p, err);
        if (r < 0)
                return r;
        *out = TAKE_PTR(p);
        return 0;
}

void skiff_spec_resources_free(struct skiff_spec_resources *r)
{
        if (!r)
                return;
        skiff_spec_resources_clear(r);
        free(r);
}

int skiff_spec_resources_parse(const char *buf, size_t len, struct skiff_spec_resources **out,
                               skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = parse_doc(buf, len, &doc, err);
        if (r < 0)
                return r;
        _cleanup_(skiff_spec_resources_freep) struct skiff_spec_resources *res =
            xcalloc(1, sizeof(*res));
        r = skiff_spec_resources_decode(skiff_json_root(doc), "resources", res, err);
        if (r < 0)
                return r;
        *out = TAKE_PTR(res);
        return 0;
}

const char *skiff_spec_annotation(const struct skiff_spec *spec, const char *key)
{
        for (size_t i = 0; spec->annotations && spec->annotations[i]; i += 2)
                if (strcmp(spec->annotations[i], key) == 0)
                        return spec->annotations[i + 1];
        return NULL;
}

bool skiff_spec_has_namespace(const struct skiff_spec *spec, enum skiff_ns_type t,
                              const char **path)
{
        for (size_t i = 0; i < spec->linux_.n_namespaces; i++) {
                if (spec->linux_.namespaces[i].type == t) {
                        if (path)
                                *path = spec->linux_.namespaces[i].path;
                        return true;
                }
        }
        if (path)
                *path = NULL;
        return false;
}
