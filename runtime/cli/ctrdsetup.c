/* containerd registration of the skiff runtime: drop-in + imports, or the k3s template. */
#include "cli/ctrdsetup.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/ctrdconf.h"

#define BEGIN_MARK "# BEGIN skiff (written by `skiff node install`; removed by uninstall)\n"
#define END_MARK   "# END skiff\n"
#define K3S_BASE   "{{ template \"base\" . }}\n"

static const char *const CRI_V2[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, NULL};

struct ctx {
        const struct skiff_ctrdsetup_opts *o;
        struct skiff_ctrdsetup_result *res;
};

static void report(const struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(const struct ctx *x, const char *fmt, ...)
{
        if (!x->o->report)
                return;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *line = xvasprintf(fmt, ap);
        va_end(ap);
        x->o->report(line, x->o->userdata);
}

static char *host(const struct ctx *x, const char *p)
{
        const char *r = x->o->host_root;
        if (!r || !*r || strcmp(r, "/") == 0)
                return xstrdup(p);
        return skiff_path_join(r, p);
}

static bool host_exists(const struct ctx *x, const char *p)
{
        _cleanup_free_ char *h = host(x, p);
        struct stat st;
        return lstat(h, &st) == 0;
}

/* Reads a host file; a missing file is success with *ret NULL. */
static int read_host(const struct ctx *x, const char *p, char **ret, size_t *ret_len,
                     skiff_err_t *err)
{
        _cleanup_free_ char *h = host(x, p);
        *ret = NULL;
        *ret_len = 0;
        int r = skiff_fs_read_file(h, SKIFF_CTRDCONF_MAX, ret, ret_len, err);
        if (r == -ENOENT) {
                skiff_error_free(err);
                return 0;
        }
        return r;
}

static mode_t host_mode(const struct ctx *x, const char *p, mode_t def)
{
        _cleanup_free_ char *h = host(x, p);
        struct stat st;
        return stat(h, &st) == 0 ? st.st_mode & 07777 : def;
}

/* Writes data to a host path unless it already holds exactly that. */
static int write_host(const struct ctx *x, const char *p, const char *data, mode_t mode,
                      skiff_err_t *err)
{
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        int r = read_host(x, p, &old, &old_len, err);
        if (r < 0)
                return r;
        size_t len = strlen(data);
        if (old && old_len == len && memcmp(old, data, len) == 0) {
                report(x, "unchanged `%s`", p);
                return 0;
        }
        x->res->changed = true;
        report(x, "%s `%s`", x->o->dry_run ? "would write" : "wrote", p);
        if (x->o->dry_run)
                return 0;
        _cleanup_free_ char *h = host(x, p), *dir = skiff_path_dirname(h);
        r = skiff_fs_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        return skiff_fs_write_file_atomic(h, data, len, mode, true, err);
}

static int unlink_host(const struct ctx *x, const char *p, skiff_err_t *err)
{
        if (!host_exists(x, p))
                return 0;
        x->res->changed = true;
        report(x, "%s `%s`", x->o->dry_run ? "would remove" : "removed", p);
        if (x->o->dry_run)
                return 0;
        _cleanup_free_ char *h = host(x, p);
        if (unlink(h) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove `%s`", p);
        return 0;
}

static int rename_host(const struct ctx *x, const char *from, const char *to, skiff_err_t *err)
{
        x->res->changed = true;
        report(x, "%s `%s` from `%s`", x->o->dry_run ? "would restore" : "restored", to, from);
        if (x->o->dry_run)
                return 0;
        _cleanup_free_ char *hf = host(x, from), *ht = host(x, to);
        if (rename(hf, ht) < 0)
                return skiff_error_set_errno(err, errno, "rename `%s` to `%s`", from, to);
        return 0;
}

static int parse_text(const char *what, const char *text, struct skiff_ctrdconf **ret,
                      skiff_err_t *err)
{
        int r = skiff_ctrdconf_parse(text, strlen(text), ret, err);
        return r < 0 ? skiff_error_wrap(err, "parse `%s`", what) : r;
}

int skiff_ctrdsetup_parse_flavor(const char *s, enum skiff_ctrdsetup_flavor *ret)
{
        static const struct {
                const char *name;
                enum skiff_ctrdsetup_flavor f;
        } names[] = {{"auto", SKIFF_CTRDSETUP_AUTO},
                     {"containerd", SKIFF_CTRDSETUP_CONTAINERD},
                     {"k3s", SKIFF_CTRDSETUP_K3S},
                     {"rke2", SKIFF_CTRDSETUP_K3S}};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++)
                if (strcmp(s, names[i].name) == 0) {
                        *ret = names[i].f;
                        return 0;
                }
        return -EINVAL;
}

static void detect(struct ctx *x)
{
        const struct skiff_ctrdsetup_opts *o = x->o;
        enum skiff_ctrdsetup_flavor f = o->flavor;
        const char *cfg = o->config_path;
        if (!cfg) {
                if (f != SKIFF_CTRDSETUP_CONTAINERD &&
                    host_exists(x, "/var/lib/rancher/rke2/agent/etc/containerd")) {
                        cfg = SKIFF_CTRDSETUP_RKE2_CONFIG;
                        f = SKIFF_CTRDSETUP_K3S;
                } else if (f != SKIFF_CTRDSETUP_CONTAINERD &&
                           host_exists(x, "/var/lib/rancher/k3s/agent/etc/containerd")) {
                        cfg = SKIFF_CTRDSETUP_K3S_CONFIG;
                        f = SKIFF_CTRDSETUP_K3S;
                } else {
                        cfg = f == SKIFF_CTRDSETUP_K3S ? SKIFF_CTRDSETUP_K3S_CONFIG
                                                       : SKIFF_CTRDSETUP_CONFIG_DEFAULT;
                }
        }
        if (f == SKIFF_CTRDSETUP_AUTO) {
                _cleanup_free_ char *tmpl = xasprintf("%s.tmpl", cfg);
                f = host_exists(x, tmpl) || strstr(cfg, "/rancher/") ? SKIFF_CTRDSETUP_K3S
                                                                     : SKIFF_CTRDSETUP_CONTAINERD;
        }
        x->res->flavor = f;
        snprintf(x->res->config_path, sizeof(x->res->config_path), "%s", cfg);
}

/* ---- containerd: drop-in + imports ------------------------------------------------------ */

struct paths {
        char *main;    /* host path of the main config */
        char *dropin;  /* host path of our drop-in */
        char *entry;   /* the imports entry naming the drop-in */
        char *backup;  /* <main>.skiff-backup */
        char *created; /* <main>.skiff-created */
};

static void paths_done(struct paths *p)
{
        free(p->main);
        free(p->dropin);
        free(p->entry);
        free(p->backup);
        free(p->created);
}

static void paths_init(const struct ctx *x, struct paths *p)
{
        p->main = xstrdup(x->res->config_path);
        _cleanup_free_ char *dir = skiff_path_dirname(p->main);
        p->dropin = x->o->dropin ? skiff_path_clean(x->o->dropin)
                                 : skiff_path_join(dir, "conf.d/skiff.toml");
        size_t dl = strlen(dir);
        /* Relative entries are resolved against the main config's directory by containerd, so
         * the same file works whatever root the host filesystem is seen at. */
        if (strncmp(p->dropin, dir, dl) == 0 && p->dropin[dl] == '/')
                p->entry = xstrdup(p->dropin + dl + 1);
        else
                p->entry = xstrdup(p->dropin);
        p->backup = xasprintf("%s" SKIFF_CTRDSETUP_BACKUP_SUFFIX, p->main);
        p->created = xasprintf("%s" SKIFF_CTRDSETUP_CREATED_SUFFIX, p->main);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* containerd's resolveImports for one entry of parent's imports: absolute entries are globs
 * (only existing files match; the drop-in counts as existing), relative ones are joined to the
 * parent's directory. Appends host paths to *out. */
static void resolve_import(const struct ctx *x, const struct paths *p, const char *parent,
                           const char *imp, char ***out)
{
        if (imp[0] != '/') {
                _cleanup_free_ char *dir = skiff_path_dirname(parent);
                _cleanup_free_ char *j = skiff_path_join(dir, imp);
                skiff_strv_push_take(out, skiff_path_clean(j));
                return;
        }
        _cleanup_free_ char *pattern = host(x, imp);
        _cleanup_free_ char *root = host(x, "/");
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        _cleanup_strv_ char **found = NULL;
        glob_t g = {0};
        if (glob(pattern, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        skiff_strv_push(&found, g.gl_pathv[i] + rl);
        globfree(&g);
        if (fnmatch(imp, p->dropin, FNM_PATHNAME) == 0 && !skiff_strv_contains(found, p->dropin))
                skiff_strv_push(&found, p->dropin);
        size_t n = skiff_strv_len(found);
        if (n > 1)
                qsort(found, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++)
                skiff_strv_push(out, found[i]);
}

/* containerd (1.6 at least) forgets its built-in `runc` runtime as soon as a config names any
 * runtime, and then refuses the CRI plugin because default_runtime_name ("runc") names nothing.
 * True when c defines the default runtime, or names a default other than runc (then it is the
 * user's business, as before). */
static bool defines_default_runtime(const struct skiff_ctrdconf *c, int version)
{
        const char *plugin = version == 2 ? SKIFF_CTRDCONF_CRI_V2 : SKIFF_CTRDCONF_CRI_V3;
        const char *const name_path[] = {"plugins", plugin, "containerd", "default_runtime_name",
                                         NULL};
        _cleanup_free_ char *name = NULL;
        _cleanup_error_ skiff_err_t e2 = NULL;
        if (skiff_ctrdconf_get_string(c, name_path, &name, &e2) < 0)
                name = xstrdup("runc");
        if (strcmp(name, "runc") != 0)
                return true;
        const char *const rt[] = {"plugins", plugin, "containerd", "runtimes", "runc", NULL};
        return skiff_ctrdconf_has_prefix(c, rt);
}

static const char *runc_table(int version)
{
        return version == 2 ? "[plugins.\"" SKIFF_CTRDCONF_CRI_V2 "\".containerd.runtimes.runc]\n"
                              "  runtime_type = \"io.containerd.runc.v2\"\n"
                            : "[plugins.'" SKIFF_CTRDCONF_CRI_V3 "'.containerd.runtimes.runc]\n"
                              "  runtime_type = 'io.containerd.runc.v2'\n";
}

/* The CRI section the version-2 drop-in must carry: simulates containerd's import order
 * (breadth first, each file once) with new_main as the main config. */
static int v2_cri_source(const struct ctx *x, const struct paths *p, const char *new_main,
                         char **ret_section, char **ret_source, bool *ret_need_runc,
                         skiff_err_t *err)
{
        _cleanup_strv_ char **order = NULL, **queue = NULL;
        struct skiff_ctrdconf **confs = NULL;
        size_t n = 0, qi = 0;
        int r = 0;
        skiff_strv_push(&queue, p->main);
        while (queue[qi]) {
                const char *path = queue[qi++];
                if (skiff_strv_contains(order, path))
                        continue;
                skiff_strv_push(&order, path);
                confs = xreallocarray(confs, n + 1, sizeof(*confs));
                confs[n] = NULL;
                n++;
                if (strcmp(path, p->dropin) == 0)
                        continue;
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (strcmp(path, p->main) == 0) {
                        text = xstrdup(new_main);
                } else {
                        r = read_host(x, path, &text, &len, err);
                        if (r < 0)
                                break;
                        if (!text) {
                                r = skiff_error_set(err, ENOENT,
                                                    "import `%s` does not exist (containerd "
                                                    "would refuse to start)",
                                                    path);
                                break;
                        }
                }
                r = parse_text(path, text, &confs[n - 1], err);
                if (r < 0)
                        break;
                _cleanup_strv_ char **imports = NULL;
                r = skiff_ctrdconf_imports(confs[n - 1], &imports, err);
                if (r < 0) {
                        r = skiff_error_wrap(err, "`%s`", path);
                        break;
                }
                for (size_t i = 0; imports[i]; i++)
                        resolve_import(x, p, path, imports[i], &queue);
        }
        size_t mine = n, src = n;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (strcmp(order[i], p->dropin) == 0) {
                        mine = i;
                        continue;
                }
                if (!confs[i] || !skiff_ctrdconf_has_prefix(confs[i], CRI_V2))
                        continue;
                if (mine < n)
                        r = skiff_error_set(err, ENOTSUP,
                                            "`%s` is imported after `%s` and sets the CRI plugin: "
                                            "containerd before 2.0 would let it replace skiff's "
                                            "runtime; move its settings into the main config or "
                                            "import it earlier",
                                            order[i], p->dropin);
                else
                        src = i;
        }
        if (r >= 0 && mine == n)
                r = skiff_error_set(err, EIO, "`%s` does not import `%s`", p->main, p->dropin);
        if (r >= 0) {
                static const char *const skiff_rt_base[] = {"plugins", SKIFF_CTRDCONF_CRI_V2,
                                                            "containerd", "runtimes", NULL};
                _cleanup_strv_ char **excl = skiff_strv_copy((char *const *)skiff_rt_base);
                skiff_strv_push(&excl, x->o->handler);
                *ret_section = NULL;
                *ret_source = NULL;
                *ret_need_runc = src == n || !defines_default_runtime(confs[src], 2);
                if (src < n) {
                        r = skiff_ctrdconf_extract(confs[src], CRI_V2, (const char *const *)excl,
                                                   ret_section, err);
                        if (r < 0)
                                r = skiff_error_wrap(err, "copy the CRI section of `%s`",
                                                     order[src]);
                        else
                                *ret_source = xstrdup(order[src]);
                }
        }
        for (size_t i = 0; i < n; i++)
                skiff_ctrdconf_free(confs[i]);
        free(confs);
        return r;
}

static int dropin_text(const struct ctx *x, const struct paths *p, const char *new_main,
                       int version, char **ret, skiff_err_t *err)
{
        _cleanup_free_ char *table = NULL, *section = NULL, *source = NULL;
        int r = skiff_ctrdconf_runtime_table(version, x->o->handler, x->o->shim_path, &table, err);
        if (r < 0)
                return r;
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_printf(&sb,
                            "# Written by `skiff node install`: registers the `%s` runtime handler."
                            "\n# Do not edit; `skiff node uninstall` removes it.\n",
                            x->o->handler);
        bool need_runc = false;
        if (version == 2) {
                r = v2_cri_source(x, p, new_main, &section, &source, &need_runc, err);
                if (r < 0) {
                        skiff_strbuf_free(&sb);
                        return r;
                }
                if (source)
                        skiff_strbuf_printf(
                            &sb,
                            "# containerd 1.6/1.7 let an imported file replace a plugin's whole\n"
                            "# section, so this file repeats the CRI section of `%s`;\n"
                            "# rerun `skiff node install` after changing it there.\n",
                            source);
        }
        if (version == 3) {
                _cleanup_ctrdconf_ struct skiff_ctrdconf *m = NULL;
                r = parse_text(p->main, new_main, &m, err);
                if (r < 0) {
                        skiff_strbuf_free(&sb);
                        return r;
                }
                need_runc = !defines_default_runtime(m, 3);
        }
        if (need_runc)
                skiff_strbuf_puts(&sb, "# containerd drops its built-in runc runtime once a config "
                                       "names any runtime;\n# runc stays the default, so it is "
                                       "declared here.\n");
        skiff_strbuf_printf(&sb, "version = %d\n\n", version);
        if (section && *section) {
                skiff_strbuf_puts(&sb, section);
                skiff_strbuf_putc(&sb, '\n');
        }
        if (need_runc) {
                skiff_strbuf_puts(&sb, runc_table(version));
                skiff_strbuf_putc(&sb, '\n');
        }
        skiff_strbuf_puts(&sb, table);
        *ret = skiff_strbuf_take(&sb);
        return 0;
}

static bool imports_cover(const struct paths *p, char *const *imports)
{
        _cleanup_free_ char *dir = skiff_path_dirname(p->main);
        for (size_t i = 0; imports[i]; i++) {
                if (imports[i][0] == '/') {
                        if (fnmatch(imports[i], p->dropin, FNM_PATHNAME) == 0)
                                return true;
                        continue;
                }
                _cleanup_free_ char *j = skiff_path_join(dir, imports[i]);
                _cleanup_free_ char *c = skiff_path_clean(j);
                if (strcmp(c, p->dropin) == 0)
                        return true;
        }
        return false;
}

/* The main config install would produce from text (ret: heap). */
static int main_after_install(const struct ctx *x, const struct paths *p, const char *text,
                              bool created, int *ret_version, char **ret, skiff_err_t *err)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = NULL;
        int r = parse_text(p->main, text, &c, err);
        if (r < 0)
                return r;
        int64_t v = 0;
        r = skiff_ctrdconf_version(c, &v, err);
        if (r < 0)
                return skiff_error_wrap(err, "`%s`", p->main);
        if (v == 0 && !created)
                return skiff_error_set(err, ENOTSUP,
                                       "`%s` has no `version` key, so containerd reads it as a "
                                       "version 1 config, which skiff does not edit; add "
                                       "`version = 2` (containerd 1.6/1.7) or `version = 3` (2.x)",
                                       p->main);
        if (v != 2 && v != 3)
                return skiff_error_set(err, ENOTSUP, "`%s`: config version %lld is not supported",
                                       p->main, (long long)v);
        _cleanup_strv_ char **imports = NULL;
        r = skiff_ctrdconf_imports(c, &imports, err);
        if (r < 0)
                return skiff_error_wrap(err, "`%s`", p->main);
        *ret_version = (int)v;
        if (v == 3 && imports_cover(p, imports)) {
                *ret = xstrdup(text);
                return 0;
        }
        r = skiff_ctrdconf_add_import(c, p->entry, ret, err);
        return r < 0 ? r : 0;
}

static const char CREATED_MAIN[] = "version = 2\n";

static int containerd_install(struct ctx *x, skiff_err_t *err)
{
        struct paths p = {0};
        paths_init(x, &p);
        _cleanup_free_ char *orig = NULL, *new_main = NULL, *drop = NULL;
        size_t len = 0;
        int r = read_host(x, p.main, &orig, &len, err);
        bool created = false;
        if (r >= 0 && !orig) {
                created = true;
                orig = xstrdup(CREATED_MAIN);
                report(x, "`%s` does not exist: creating a minimal version 2 config", p.main);
        }
        if (r >= 0)
                r = main_after_install(x, &p, orig, created, &x->res->version, &new_main, err);
        if (r >= 0)
                r = dropin_text(x, &p, new_main, x->res->version, &drop, err);
        if (r >= 0)
                r = write_host(x, p.dropin, drop, 0644, err);
        if (r >= 0 && !created && strcmp(new_main, orig) != 0 && !host_exists(x, p.backup)) {
                r = write_host(x, p.backup, orig, host_mode(x, p.main, 0644), err);
        }
        if (r >= 0 && created)
                r = write_host(x, p.created, "", 0644, err);
        if (r >= 0)
                r = write_host(x, p.main, new_main, host_mode(x, p.main, 0644), err);
        paths_done(&p);
        return r;
}

static int remove_entry(struct ctx *x, const struct paths *p, const char *text, skiff_err_t *err)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = NULL;
        _cleanup_free_ char *out = NULL;
        int r = parse_text(p->main, text, &c, err);
        if (r >= 0)
                r = skiff_ctrdconf_remove_import(c, p->entry, &out, err);
        if (r > 0)
                r = write_host(x, p->main, out, host_mode(x, p->main, 0644), err);
        return r < 0 ? r : 0;
}

static int containerd_uninstall(struct ctx *x, skiff_err_t *err)
{
        struct paths p = {0};
        paths_init(x, &p);
        _cleanup_free_ char *cur = NULL, *saved = NULL, *expected = NULL;
        size_t len = 0, slen = 0;
        int r = unlink_host(x, p.dropin, err);
        if (r >= 0)
                r = read_host(x, p.main, &cur, &len, err);
        bool created = host_exists(x, p.created), backed_up = host_exists(x, p.backup);
        if (r >= 0 && backed_up)
                r = read_host(x, p.backup, &saved, &slen, err);
        if (r < 0 || !cur)
                goto out;
        if (created || saved) {
                _cleanup_error_ skiff_err_t e2 = NULL;
                int v = 0;
                if (main_after_install(x, &p, created ? CREATED_MAIN : saved, created, &v,
                                       &expected, &e2) < 0)
                        expected = NULL;
        }
        if (expected && strcmp(expected, cur) == 0) {
                if (created) {
                        r = unlink_host(x, p.main, err);
                        if (r >= 0)
                                r = unlink_host(x, p.created, err);
                } else {
                        r = rename_host(x, p.backup, p.main, err);
                }
                goto out;
        }
        if (created || saved)
                report(x, "`%s` was edited after install: removing only the `imports` entry",
                       p.main);
        r = remove_entry(x, &p, cur, err);
        if (r >= 0)
                r = unlink_host(x, p.backup, err);
        if (r >= 0)
                r = unlink_host(x, p.created, err);
out:
        paths_done(&p);
        return r;
}

/* ---- k3s / RKE2: config.toml.tmpl ------------------------------------------------------- */

static int k3s_block(struct ctx *x, char **ret, skiff_err_t *err)
{
        _cleanup_free_ char *gen = NULL, *table = NULL;
        size_t len = 0;
        int r = read_host(x, x->res->config_path, &gen, &len, err);
        if (r < 0)
                return r;
        int64_t v = 2;
        if (gen) {
                _cleanup_ctrdconf_ struct skiff_ctrdconf *c = NULL;
                r = parse_text(x->res->config_path, gen, &c, err);
                if (r >= 0)
                        r = skiff_ctrdconf_version(c, &v, err);
                if (r < 0)
                        return r;
                if (v == 0)
                        v = 2;
        }
        x->res->version = (int)v;
        r = skiff_ctrdconf_runtime_table((int)v, x->o->handler, x->o->shim_path, &table, err);
        if (r < 0)
                return r;
        *ret = xasprintf(BEGIN_MARK "%s" END_MARK, table);
        return 0;
}

/* Offsets of an existing block in text: [*from, *to). */
static bool find_block(const char *text, size_t *from, size_t *to)
{
        const char *b = strstr(text, BEGIN_MARK);
        if (!b || (b != text && b[-1] != '\n'))
                return false;
        const char *e = strstr(b, END_MARK);
        if (!e)
                return false;
        *from = (size_t)(b - text);
        *to = (size_t)(e - text) + strlen(END_MARK);
        return true;
}

static char *k3s_template_after_install(const char *tmpl, const char *block)
{
        if (!tmpl)
                return xasprintf(K3S_BASE "\n%s", block);
        size_t from, to;
        if (find_block(tmpl, &from, &to))
                return xasprintf("%.*s%s%s", (int)from, tmpl, block, tmpl + to);
        size_t n = strlen(tmpl);
        return xasprintf("%s%s\n%s", tmpl, n && tmpl[n - 1] != '\n' ? "\n" : "", block);
}

static int k3s_install(struct ctx *x, skiff_err_t *err)
{
        _cleanup_free_ char *tmpl_path = xasprintf("%s.tmpl", x->res->config_path);
        _cleanup_free_ char *backup = xasprintf("%s" SKIFF_CTRDSETUP_BACKUP_SUFFIX, tmpl_path);
        _cleanup_free_ char *created = xasprintf("%s" SKIFF_CTRDSETUP_CREATED_SUFFIX, tmpl_path);
        _cleanup_free_ char *block = NULL, *tmpl = NULL, *next = NULL;
        size_t len = 0;
        int r = k3s_block(x, &block, err);
        if (r >= 0)
                r = read_host(x, tmpl_path, &tmpl, &len, err);
        if (r < 0)
                return r;
        next = k3s_template_after_install(tmpl, block);
        if (!tmpl) {
                report(x, "`%s` does not exist: creating it from k3s's base template", tmpl_path);
                r = write_host(x, created, "", 0644, err);
        } else if (strcmp(tmpl, next) != 0 && !host_exists(x, backup) && !host_exists(x, created)) {
                r = write_host(x, backup, tmpl, host_mode(x, tmpl_path, 0644), err);
        }
        if (r >= 0)
                r = write_host(x, tmpl_path, next, host_mode(x, tmpl_path, 0644), err);
        return r;
}

static int k3s_uninstall(struct ctx *x, skiff_err_t *err)
{
        _cleanup_free_ char *tmpl_path = xasprintf("%s.tmpl", x->res->config_path);
        _cleanup_free_ char *backup = xasprintf("%s" SKIFF_CTRDSETUP_BACKUP_SUFFIX, tmpl_path);
        _cleanup_free_ char *created = xasprintf("%s" SKIFF_CTRDSETUP_CREATED_SUFFIX, tmpl_path);
        _cleanup_free_ char *block = NULL, *tmpl = NULL, *saved = NULL, *expected = NULL;
        size_t len = 0;
        bool was_created = host_exists(x, created);
        int r = k3s_block(x, &block, err);
        if (r >= 0)
                r = read_host(x, tmpl_path, &tmpl, &len, err);
        if (r >= 0 && !was_created)
                r = read_host(x, backup, &saved, &len, err);
        if (r < 0)
                return r;
        if (!tmpl)
                return unlink_host(x, created, err);
        if (was_created || saved)
                expected = k3s_template_after_install(was_created ? NULL : saved, block);
        if (expected && strcmp(expected, tmpl) == 0) {
                if (was_created) {
                        r = unlink_host(x, tmpl_path, err);
                        return r < 0 ? r : unlink_host(x, created, err);
                }
                return rename_host(x, backup, tmpl_path, err);
        }
        size_t from, to;
        if (find_block(tmpl, &from, &to)) {
                _cleanup_free_ char *out = xasprintf("%.*s%s", (int)from, tmpl, tmpl + to);
                r = write_host(x, tmpl_path, out, host_mode(x, tmpl_path, 0644), err);
        }
        if (r >= 0)
                r = unlink_host(x, backup, err);
        return r < 0 ? r : unlink_host(x, created, err);
}

static int run(const struct skiff_ctrdsetup_opts *o, struct skiff_ctrdsetup_result *ret,
               bool install, skiff_err_t *err)
{
        struct skiff_ctrdsetup_result res = {0};
        struct ctx x = {o, &res};
        if (!o->handler || !o->shim_path)
                return skiff_error_set(err, EINVAL, "no handler or shim path given");
        detect(&x);
        int r;
        if (res.flavor == SKIFF_CTRDSETUP_K3S)
                r = install ? k3s_install(&x, err) : k3s_uninstall(&x, err);
        else
                r = install ? containerd_install(&x, err) : containerd_uninstall(&x, err);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

int skiff_ctrdsetup_install(const struct skiff_ctrdsetup_opts *o,
                            struct skiff_ctrdsetup_result *ret, skiff_err_t *err)
{
        return run(o, ret, true, err);
}

int skiff_ctrdsetup_uninstall(const struct skiff_ctrdsetup_opts *o,
                              struct skiff_ctrdsetup_result *ret, skiff_err_t *err)
{
        return run(o, ret, false, err);
}
