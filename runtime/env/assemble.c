#include "env/assemble.h"

#include <errno.h>
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
#include "env/activation.h"
#include "oci/container.h"
#include "oci/spec.h"

#define BIN SKIFF_ACTIVATION_MOUNT "/bin"

void skiff_assemble_plan_done(struct skiff_assemble_plan *p)
{
        if (!p)
                return;
        free(p->refs);
        free(p->store_dir);
        free(p->real_store);
        free(p->profile);
        skiff_strv_free(p->closure);
        skiff_strv_free(p->env);
        skiff_strv_free(p->hook_argv);
        free(p->sh);
        free(p->env_bin);
        free(p->requires_cuda);
        free(p->loader);
        *p = (struct skiff_assemble_plan){0};
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void gen_strv(struct skiff_json_gen *g, const char *key, char *const *v)
{
        skiff_json_gen_string(g, key);
        skiff_json_gen_array_open(g);
        for (size_t i = 0; v && v[i]; i++)
                skiff_json_gen_string(g, v[i]);
        skiff_json_gen_array_close(g);
}

int skiff_assemble_plan_encode(const struct skiff_assemble_plan *p, char **ret, size_t *ret_len,
                               skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, "refs", p->refs);
        skiff_json_gen_kv_string(g, "store_dir", p->store_dir);
        skiff_json_gen_kv_string(g, "real_store", p->real_store);
        skiff_json_gen_kv_string(g, "profile", p->profile);
        gen_strv(g, "closure", p->closure);
        gen_strv(g, "env", p->env);
        if (p->hook_argv)
                gen_strv(g, "hook_argv", p->hook_argv);
        if (p->sh)
                skiff_json_gen_kv_string(g, "sh", p->sh);
        if (p->env_bin)
                skiff_json_gen_kv_string(g, "env_bin", p->env_bin);
        if (p->requires_cuda)
                skiff_json_gen_kv_string(g, "requires_cuda", p->requires_cuda);
        if (p->loader)
                skiff_json_gen_kv_string(g, "loader", p->loader);
        skiff_json_gen_map_close(g);
        return skiff_json_gen_finish(g, ret, ret_len, err);
}

static bool under(const char *p, const char *root)
{
        size_t n = strlen(root);
        if (strcmp(root, "/") == 0)
                return p[0] == '/';
        return strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

static bool strictly_under(const char *p, const char *root)
{
        return under(p, root) && strcmp(p, root) != 0;
}

static int check_abs(const char *key, const char *v, skiff_err_t *err)
{
        if (v && (v[0] != '/' || strstr(v, "/../") || strstr(v, "/./")))
                return skiff_error_set(err, EINVAL, "plan `%s`: `%s` is not an absolute path", key,
                                       v);
        return 0;
}

int skiff_assemble_plan_decode(const char *buf, size_t len, struct skiff_assemble_plan *ret,
                               skiff_err_t *err)
{
        if (len > SKIFF_ASSEMBLE_PLAN_MAX)
                return skiff_error_set(err, EFBIG, "plan: larger than %d bytes",
                                       SKIFF_ASSEMBLE_PLAN_MAX);
        static const struct skiff_json_field fields[] = {
            {"refs", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, refs), true},
            {"store_dir", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, store_dir),
             true},
            {"real_store", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, real_store),
             true},
            {"profile", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, profile), true},
            {"closure", skiff_json_dec_strv, offsetof(struct skiff_assemble_plan, closure), true},
            {"env", skiff_json_dec_strv, offsetof(struct skiff_assemble_plan, env), true},
            {"hook_argv", skiff_json_dec_strv, offsetof(struct skiff_assemble_plan, hook_argv),
             false},
            {"sh", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, sh), false},
            {"env_bin", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, env_bin),
             false},
            {"requires_cuda", skiff_json_dec_string,
             offsetof(struct skiff_assemble_plan, requires_cuda), false},
            {"loader", skiff_json_dec_string, offsetof(struct skiff_assemble_plan, loader), false},
            {NULL},
        };
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return skiff_error_wrap(err, "plan");
        struct skiff_assemble_plan p = {0};
        r = skiff_json_decode_object(skiff_json_root(doc), "", fields, &p, false, err);
        if (r < 0) {
                skiff_assemble_plan_done(&p);
                return skiff_error_wrap(err, "plan");
        }
        if (!p.closure)
                p.closure = xcalloc(1, sizeof(char *));
        if (!p.env)
                p.env = xcalloc(1, sizeof(char *));
        if ((r = check_abs("store_dir", p.store_dir, err)) < 0 ||
            (r = check_abs("real_store", p.real_store, err)) < 0 ||
            (r = check_abs("profile", p.profile, err)) < 0 ||
            (r = check_abs("sh", p.sh, err)) < 0 || (r = check_abs("env_bin", p.env_bin, err)) < 0)
                goto fail;
        for (size_t i = 0; p.closure[i]; i++) {
                const char *base = p.closure[i] + strlen(p.store_dir) + 1;
                if (!strictly_under(p.closure[i], p.store_dir) || !skiff_path_is_component(base)) {
                        r = skiff_error_set(err, EINVAL,
                                            "plan `closure[%zu]`: `%s` is not a path in `%s`", i,
                                            p.closure[i], p.store_dir);
                        goto fail;
                }
        }
        for (size_t i = 0; p.env[i]; i++) {
                if (!strchr(p.env[i], '=') || p.env[i][0] == '=') {
                        r = skiff_error_set(err, EINVAL, "plan `env[%zu]`: `%s` is not NAME=VALUE",
                                            i, p.env[i]);
                        goto fail;
                }
        }
        if (p.loader &&
            (check_abs("loader", p.loader, NULL) < 0 || !strictly_under(p.loader, p.store_dir))) {
                r = skiff_error_set(err, EINVAL, "plan `loader`: `%s` is not a path in `%s`",
                                    p.loader, p.store_dir);
                goto fail;
        }
        if (p.hook_argv && !p.hook_argv[0]) {
                r = skiff_error_set(err, EINVAL, "plan `hook_argv`: empty");
                goto fail;
        }
        *ret = p;
        return 0;
fail:
        skiff_assemble_plan_done(&p);
        return r;
}

/* ---- environment ----------------------------------------------------------------------- */

int skiff_assemble_env(const struct skiff_assemble_plan *p, char *const *spec_env, char ***ret,
                       skiff_err_t *err)
{
        for (size_t i = 0; spec_env && spec_env[i]; i++)
                if (!strchr(spec_env[i], '=') || spec_env[i][0] == '=')
                        return skiff_error_set(err, EINVAL,
                                               "`process.env[%zu]`: `%s` is not NAME=VALUE", i,
                                               spec_env[i]);
        _cleanup_strv_ char **env = skiff_strv_copy(p->env);
        if (!env)
                env = xcalloc(1, sizeof(char *));
        for (size_t i = 0; spec_env && spec_env[i]; i++) {
                const char *eq = strchr(spec_env[i], '=');
                _cleanup_free_ char *k = xstrndup(spec_env[i], (size_t)(eq - spec_env[i]));
                skiff_strv_env_set(&env, k, eq + 1);
        }
        const char *path = skiff_strv_env_get(env, "PATH");
        if (!path)
                path = SKIFF_ACTIVATION_DEFAULT_PATH;
        size_t bl = strlen(BIN);
        if (!(strncmp(path, BIN, bl) == 0 && (path[bl] == ':' || path[bl] == '\0'))) {
                _cleanup_free_ char *np = *path ? xasprintf("%s:%s", BIN, path) : xstrdup(BIN);
                skiff_strv_env_set(&env, "PATH", np);
        }
        *ret = TAKE_PTR(env);
        return 0;
}

int skiff_assemble_apply_process(const struct skiff_assemble_plan *p,
                                 struct skiff_spec_process *proc, skiff_err_t *err)
{
        char **env = NULL;
        int r = skiff_assemble_env(p, proc->env, &env, err);
        if (r < 0)
                return r;
        skiff_strv_free(proc->env);
        proc->env = env;
        return 0;
}

/* ---- the image ------------------------------------------------------------------------- */

char **skiff_assemble_image_dirs(const struct skiff_rootfs_mount *m, size_t n, const char *bundle,
                                 const char *root_path)
{
        char **dirs = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                if (m[i].target && *m[i].target)
                        continue; /* a mount below the root: not the image's top level */
                bool bind = m[i].type &&
                            (strcmp(m[i].type, "bind") == 0 || strcmp(m[i].type, "rbind") == 0);
                for (char *const *o = m[i].options; o && *o; o++) {
                        if (strcmp(*o, "bind") == 0 || strcmp(*o, "rbind") == 0)
                                bind = true;
                        if (strncmp(*o, "upperdir=", 9) == 0) {
                                skiff_strv_push(&dirs, *o + 9);
                        } else if (strncmp(*o, "lowerdir=", 9) == 0) {
                                _cleanup_strv_ char **l = skiff_strv_split(*o + 9, ":", true);
                                for (char **d = l; d && *d; d++)
                                        skiff_strv_push(&dirs, *d);
                        }
                }
                if (bind && m[i].source)
                        skiff_strv_push(&dirs, m[i].source);
        }
        if (n == 0 && root_path && *root_path) {
                if (root_path[0] == '/')
                        skiff_strv_push(&dirs, root_path);
                else
                        skiff_strv_push_take(&dirs, skiff_path_join(bundle, root_path));
        }
        return dirs;
}

bool skiff_assemble_image_has(char *const *dirs, const char *rel)
{
        for (size_t i = 0; dirs && dirs[i]; i++) {
                _cleanup_free_ char *p = skiff_path_join(dirs[i], rel);
                struct stat st;
                if (lstat(p, &st) == 0)
                        return true;
        }
        return false;
}

/* ---- apply ----------------------------------------------------------------------------- */

struct mounts {
        struct skiff_spec_mount *v;
        size_t n;
};

static void add_mount(struct mounts *ms, const char *dest, const char *type, const char *src,
                      const char *opts)
{
        ms->v = xreallocarray(ms->v, ms->n + 1, sizeof(*ms->v));
        ms->v[ms->n++] = (struct skiff_spec_mount){
            .destination = xstrdup(dest),
            .type = xstrdup(type),
            .source = xstrdup(src),
            .options = skiff_strv_split(opts, ",", true),
        };
}

/* Inserts each new mount before the first spec mount strictly below its destination (so
 * volumes land on top of it), else at the end. Takes the entries of ms. */
static void insert_mounts(struct skiff_spec *spec, struct mounts *ms)
{
        spec->mounts =
            xreallocarray(spec->mounts, spec->n_mounts + ms->n + 1, sizeof(*spec->mounts));
        for (size_t k = 0; k < ms->n; k++) {
                size_t pos = spec->n_mounts;
                for (size_t i = 0; i < spec->n_mounts; i++) {
                        if (strictly_under(spec->mounts[i].destination, ms->v[k].destination)) {
                                pos = i;
                                break;
                        }
                }
                memmove(&spec->mounts[pos + 1], &spec->mounts[pos],
                        (spec->n_mounts - pos) * sizeof(*spec->mounts));
                spec->mounts[pos] = ms->v[k];
                spec->n_mounts++;
        }
        free(ms->v);
        *ms = (struct mounts){0};
}

static int write_skel(const char *dir, const char *name, const char *content, skiff_err_t *err)
{
        _cleanup_free_ char *p = skiff_path_join(dir, name);
        return skiff_fs_write_file_atomic(p, content, strlen(content), 0644, false, err);
}

static int skeleton(struct mounts *ms, const struct skiff_assemble_plan *p,
                    const struct skiff_spec *spec, char *const *image_dirs, const char *skel_dir,
                    skiff_err_t *err)
{
        bool all = image_dirs == NULL;
        if (p->sh && (all || !skiff_assemble_image_has(image_dirs, "bin/sh")))
                add_mount(ms, "/bin/sh", "bind", p->sh, "rbind,ro,nosuid,nodev");
        if (p->env_bin && (all || !skiff_assemble_image_has(image_dirs, "usr/bin/env")))
                add_mount(ms, "/usr/bin/env", "bind", p->env_bin, "rbind,ro,nosuid,nodev");
        bool need_passwd = all || !skiff_assemble_image_has(image_dirs, "etc/passwd");
        bool need_group = all || !skiff_assemble_image_has(image_dirs, "etc/group");
        bool need_nss = all || !skiff_assemble_image_has(image_dirs, "etc/nsswitch.conf");
        if (need_passwd || need_group || need_nss) {
                int r = skiff_fs_mkdir_p(skel_dir, 0755, err);
                if (r < 0)
                        return r;
        }
        uint32_t uid = 0, gid = 0;
        if (spec->has_process) {
                uid = spec->process.user.uid;
                gid = spec->process.user.gid;
        }
        const char *shell = p->sh ? "/bin/sh" : "/run/skiff/env/bin/sh";
        if (need_passwd) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                skiff_strbuf_printf(&sb, "root:x:0:0:root:/root:%s\n", shell);
                if (uid != 0 && uid != 65534)
                        skiff_strbuf_printf(&sb, "user:x:%u:%u:user:/tmp:%s\n", uid, gid, shell);
                skiff_strbuf_puts(&sb, "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
                _cleanup_free_ char *f = skiff_path_join(skel_dir, "passwd");
                int r = write_skel(skel_dir, "passwd", sb.buf, err);
                if (r < 0)
                        return r;
                add_mount(ms, "/etc/passwd", "bind", f, "rbind,ro,nosuid,nodev");
        }
        if (need_group) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                skiff_strbuf_puts(&sb, "root:x:0:\n");
                if (gid != 0 && gid != 65534)
                        skiff_strbuf_printf(&sb, "user:x:%u:\n", gid);
                skiff_strbuf_puts(&sb, "nogroup:x:65534:\n");
                _cleanup_free_ char *f = skiff_path_join(skel_dir, "group");
                int r = write_skel(skel_dir, "group", sb.buf, err);
                if (r < 0)
                        return r;
                add_mount(ms, "/etc/group", "bind", f, "rbind,ro,nosuid,nodev");
        }
        if (need_nss) {
                _cleanup_free_ char *f = skiff_path_join(skel_dir, "nsswitch.conf");
                int r = write_skel(skel_dir, "nsswitch.conf",
                                   "passwd: files\ngroup: files\nshadow: files\n"
                                   "hosts: files dns\nnetworks: files\n",
                                   err);
                if (r < 0)
                        return r;
                add_mount(ms, "/etc/nsswitch.conf", "bind", f, "rbind,ro,nosuid,nodev");
        }
        bool has_tmp_mount = false;
        for (size_t i = 0; i < spec->n_mounts; i++)
                if (strcmp(spec->mounts[i].destination, "/tmp") == 0)
                        has_tmp_mount = true;
        if (!has_tmp_mount && (all || !skiff_assemble_image_has(image_dirs, "tmp")))
                add_mount(ms, "/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777");
        return 0;
}

int skiff_assemble_apply(const struct skiff_assemble_plan *p, enum skiff_annotations_view view,
                         struct skiff_spec *spec, char *const *image_dirs, const char *skel_dir,
                         skiff_err_t *err)
{
        if (!spec->has_process || !spec->process.args || !spec->process.args[0])
                return skiff_error_set(err, EINVAL, "`process.args`: no command to run");
        struct mounts ms = {0};
        int r = 0;
        if (view == SKIFF_ANNOTATIONS_VIEW_STORE) {
                add_mount(&ms, p->store_dir, "bind", p->real_store, "rbind,ro,nosuid,nodev");
        } else {
                add_mount(&ms, p->store_dir, "tmpfs", "tmpfs", "nosuid,nodev,mode=0755,size=1m");
                for (size_t i = 0; p->closure[i]; i++) {
                        const char *base = skiff_path_basename(p->closure[i]);
                        _cleanup_free_ char *src = skiff_path_join(p->real_store, base);
                        add_mount(&ms, p->closure[i], "bind", src, "rbind,ro,nosuid,nodev");
                }
        }
        add_mount(&ms, SKIFF_ACTIVATION_MOUNT, "bind", p->profile, "rbind,ro,nosuid,nodev");
        r = skeleton(&ms, p, spec, image_dirs, skel_dir, err);
        if (r < 0)
                goto fail;

        char **env = NULL;
        r = skiff_assemble_env(p, spec->process.env, &env, err);
        if (r < 0)
                goto fail;
        skiff_strv_free(spec->process.env);
        spec->process.env = env;
        if (p->hook_argv) {
                char **args = skiff_strv_copy(p->hook_argv);
                for (size_t i = 0; spec->process.args[i]; i++)
                        skiff_strv_push(&args, spec->process.args[i]);
                skiff_strv_free(spec->process.args);
                spec->process.args = args;
        }
        if (view == SKIFF_ANNOTATIONS_VIEW_CLOSURE &&
            !skiff_strv_contains(spec->linux_.readonly_paths, p->store_dir))
                skiff_strv_push(&spec->linux_.readonly_paths, p->store_dir);
        insert_mounts(spec, &ms);
        return 0;
fail:
        for (size_t i = 0; i < ms.n; i++) {
                free(ms.v[i].destination);
                free(ms.v[i].type);
                free(ms.v[i].source);
                skiff_strv_free(ms.v[i].options);
        }
        free(ms.v);
        return r;
}
