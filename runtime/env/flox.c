#include "env/flox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "store/storepath.h"

struct raw_pkg {
        char *install_id;
        char *system;
        int64_t priority;
        char **outputs;   /* alternating output name, store path */
        char **oti;       /* outputs_to_install */
        char **oti_flake; /* outputs-to-install */
        char *store_path;
};

static void raw_pkg_done(struct raw_pkg *p)
{
        free(p->install_id);
        free(p->system);
        skiff_strv_free(p->outputs);
        skiff_strv_free(p->oti);
        skiff_strv_free(p->oti_flake);
        free(p->store_path);
}

static int dec_priority(skiff_jv *v, const char *path, void *field, skiff_err_t *err)
{
        uint64_t u = 0;
        if (skiff_json_u64(v, &u) < 0 || u > INT32_MAX)
                return skiff_error_set(err, EINVAL, "%s: expected an integer 0..%d", path,
                                       INT32_MAX);
        *(int64_t *)field = (int64_t)u;
        return 0;
}

static const struct skiff_json_field pkg_fields[] = {
    {"install_id", skiff_json_dec_string, offsetof(struct raw_pkg, install_id), true},
    {"system", skiff_json_dec_string, offsetof(struct raw_pkg, system), true},
    {"priority", dec_priority, offsetof(struct raw_pkg, priority), false},
    {"outputs", skiff_json_dec_strmap, offsetof(struct raw_pkg, outputs), false},
    {"outputs_to_install", skiff_json_dec_strv, offsetof(struct raw_pkg, oti), false},
    {"outputs-to-install", skiff_json_dec_strv, offsetof(struct raw_pkg, oti_flake), false},
    {"store_path", skiff_json_dec_string, offsetof(struct raw_pkg, store_path), false},
    {NULL},
};

struct skiff_flox_lock *skiff_flox_free(struct skiff_flox_lock *l)
{
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_packages; i++) {
                free(l->packages[i].install_id);
                free(l->packages[i].path);
        }
        free(l->packages);
        skiff_strv_free(l->vars);
        free(l->on_activate);
        free(l);
        return NULL;
}

static const char *output_path(char *const *outputs, const char *name)
{
        for (size_t i = 0; outputs && outputs[i]; i += 2)
                if (strcmp(outputs[i], name) == 0)
                        return outputs[i + 1];
        return NULL;
}

static int add_package(struct skiff_flox_lock *l, const char *jpath, const char *install_id,
                       const char *path, int32_t priority, const char *store_dir, skiff_err_t *err)
{
        int r = skiff_storepath_parse(path, store_dir, NULL, err);
        if (r < 0)
                return skiff_error_wrap(err, "%s (install id `%s`)", jpath, install_id);
        for (size_t i = 0; i < l->n_packages; i++)
                if (strcmp(l->packages[i].path, path) == 0) {
                        if (priority < l->packages[i].priority)
                                l->packages[i].priority = priority;
                        return 0;
                }
        l->packages = xrealloc(l->packages, (l->n_packages + 1) * sizeof(*l->packages));
        l->packages[l->n_packages++] = (struct skiff_flox_package){
            .install_id = xstrdup(install_id),
            .path = xstrdup(path),
            .priority = priority,
        };
        return 0;
}

/* Adds the installed outputs of one decoded package. */
static int add_outputs(struct skiff_flox_lock *l, const char *jpath, const struct raw_pkg *p,
                       const char *store_dir, skiff_err_t *err)
{
        int32_t prio = (int32_t)p->priority;
        if (p->store_path) {
                if (p->outputs)
                        return skiff_error_set(
                            err, EINVAL, "%s: both `store_path` and `outputs` are set", jpath);
                _cleanup_free_ char *jp = skiff_json_path_key(jpath, "store_path");
                return add_package(l, jp, p->install_id, p->store_path, prio, store_dir, err);
        }
        if (!p->outputs || !p->outputs[0])
                return skiff_error_set(err, EINVAL,
                                       "%s: install id `%s` has neither `outputs` nor `store_path`",
                                       jpath, p->install_id);
        char **want = p->oti ? p->oti : p->oti_flake;
        const char *key = p->oti ? "outputs_to_install" : "outputs-to-install";
        if (want) {
                for (size_t i = 0; want[i]; i++) {
                        const char *sp = output_path(p->outputs, want[i]);
                        if (!sp)
                                return skiff_error_set(err, EINVAL,
                                                       "%s.%s[%zu]: install id `%s` has no "
                                                       "output `%s`",
                                                       jpath, key, i, p->install_id, want[i]);
                        _cleanup_free_ char *jp = skiff_json_path_key(jpath, "outputs");
                        _cleanup_free_ char *jo = skiff_json_path_key(jp, want[i]);
                        int r = add_package(l, jo, p->install_id, sp, prio, store_dir, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        const char *out = output_path(p->outputs, "out");
        for (size_t i = 0; p->outputs[i]; i += 2) {
                if (out && strcmp(p->outputs[i], "out") != 0)
                        continue;
                _cleanup_free_ char *jp = skiff_json_path_key(jpath, "outputs");
                _cleanup_free_ char *jo = skiff_json_path_key(jp, p->outputs[i]);
                int r = add_package(l, jo, p->install_id, p->outputs[i + 1], prio, store_dir, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_manifest(struct skiff_flox_lock *l, skiff_jv *m, skiff_err_t *err)
{
        if (!m || skiff_json_type(m) == SKIFF_JSON_NULL)
                return 0;
        if (skiff_json_type(m) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(m, "manifest", "an object", err);
        skiff_jv *vars = skiff_json_get(m, "vars");
        if (vars && skiff_json_type(vars) != SKIFF_JSON_NULL) {
                skiff_strv_free(l->vars);
                l->vars = NULL;
                int r = skiff_json_dec_strmap(vars, "manifest.vars", &l->vars, err);
                if (r < 0)
                        return r;
        }
        skiff_jv *hook = skiff_json_get(m, "hook");
        if (hook && skiff_json_type(hook) != SKIFF_JSON_NULL) {
                if (skiff_json_type(hook) != SKIFF_JSON_OBJECT)
                        return skiff_json_type_error(hook, "manifest.hook", "an object", err);
                skiff_jv *oa = skiff_json_get(hook, "on-activate");
                if (oa && skiff_json_type(oa) != SKIFF_JSON_NULL) {
                        int r = skiff_json_dec_string(oa, "manifest.hook.on-activate",
                                                      &l->on_activate, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int skiff_flox_parse(const char *buf, size_t len, const char *system, const char *store_dir,
                     struct skiff_flox_lock **ret, skiff_err_t *err)
{
        if (len > SKIFF_FLOX_LOCK_MAX)
                return skiff_error_set(err, EFBIG, "lockfile is larger than %d bytes",
                                       SKIFF_FLOX_LOCK_MAX);
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return r;
        skiff_jv *root = skiff_json_root(doc);
        if (skiff_json_type(root) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(root, "", "an object", err);
        skiff_jv *ver = skiff_json_get(root, "lockfile-version");
        int64_t v = -1;
        if (!ver)
                return skiff_error_set(err, EINVAL,
                                       "lockfile-version: missing (not a Flox "
                                       "manifest.lock?)");
        if (skiff_json_i64(ver, &v) < 0)
                return skiff_json_type_error(ver, "lockfile-version", "an integer", err);
        if (v != 1)
                return skiff_error_set(err, ENOTSUP,
                                       "lockfile-version: %lld is not supported (expected 1; "
                                       "relock with a current Flox)",
                                       (long long)v);
        _cleanup_(skiff_flox_freep) struct skiff_flox_lock *l = xcalloc(1, sizeof(*l));
        l->vars = xcalloc(1, sizeof(char *));
        r = parse_manifest(l, skiff_json_get(root, "manifest"), err);
        if (r < 0)
                return r;
        skiff_jv *pkgs = skiff_json_get(root, "packages");
        if (!pkgs || skiff_json_type(pkgs) != SKIFF_JSON_ARRAY)
                return pkgs ? skiff_json_type_error(pkgs, "packages", "an array", err)
                            : skiff_error_set(err, EINVAL, "packages: missing");
        size_t n = skiff_json_len(pkgs);
        _cleanup_strv_ char **systems = NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *jp = skiff_json_path_index("packages", i);
                struct raw_pkg p = {.priority = SKIFF_GENERATION_PRIORITY_DEFAULT};
                r = skiff_json_decode_object(skiff_json_at(pkgs, i), jp, pkg_fields, &p, true, err);
                if (r >= 0 && !skiff_strv_contains(systems, p.system))
                        skiff_strv_push(&systems, p.system);
                if (r >= 0 && strcmp(p.system, system) == 0)
                        r = add_outputs(l, jp, &p, store_dir, err);
                raw_pkg_done(&p);
                if (r < 0)
                        return r;
        }
        if (n > 0 && l->n_packages == 0) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                for (char **s = systems; s && *s; s++)
                        skiff_strbuf_printf(&sb, "%s`%s`", s == systems ? "" : ", ", *s);
                return skiff_error_set(err, ENOENT,
                                       "packages: none for system `%s` (the lockfile "
                                       "has %s)",
                                       system, sb.buf ? sb.buf : "none");
        }
        *ret = TAKE_PTR(l);
        return 0;
}
