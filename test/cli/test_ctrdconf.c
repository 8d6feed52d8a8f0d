#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli/ctrdconf.h"

static struct skiff_ctrdconf *parse_ok(const char *s)
{
        skiff_err_t err = NULL;
        struct skiff_ctrdconf *c = NULL;
        int r = skiff_ctrdconf_parse(s, strlen(s), &c, &err);
        cr_assert_eq(r, 0, "parse failed: %s", skiff_error_msg(err));
        skiff_error_free(&err);
        return c;
}

static int parse_err(const char *s, char **msg)
{
        skiff_err_t err = NULL;
        struct skiff_ctrdconf *c = NULL;
        int r = skiff_ctrdconf_parse(s, strlen(s), &c, &err);
        cr_assert_null(c);
        *msg = strdup(skiff_error_msg(err));
        skiff_error_free(&err);
        return r;
}

static const char *const CRI[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, NULL};
static const char *const SKIFF[] = {
    "plugins", SKIFF_CTRDCONF_CRI_V2, "containerd", "runtimes", "skiff", NULL};

static const char debian[] = "version = 2\n"
                             "\n"
                             "[plugins]\n"
                             "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
                             "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
                             "      bin_dir = \"/usr/lib/cni\"\n"
                             "      conf_dir = \"/etc/cni/net.d\"\n"
                             "  [plugins.\"io.containerd.internal.v1.opt\"]\n"
                             "    path = \"/var/lib/containerd/opt\"\n";

Test(ctrdconf, statements_carry_full_paths)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(debian);
        cr_assert_eq(c->n_stmts, 8);
        cr_assert_eq(c->stmts[0].kind, SKIFF_CTRDCONF_KEYVAL);
        cr_assert_str_eq(c->stmts[0].path[0], "version");
        cr_assert_eq(c->stmts[3].kind, SKIFF_CTRDCONF_TABLE);
        cr_assert_str_eq(c->stmts[3].path[1], SKIFF_CTRDCONF_CRI_V2);
        cr_assert_str_eq(c->stmts[3].path[2], "cni");
        cr_assert_str_eq(c->stmts[4].path[3], "bin_dir");
        cr_assert_eq(c->stmts[4].line, 6);
        int64_t v = -1;
        cr_assert_eq(skiff_ctrdconf_version(c, &v, NULL), 0);
        cr_assert_eq(v, 2);
        cr_assert(skiff_ctrdconf_has_prefix(c, CRI));
        cr_assert_not(skiff_ctrdconf_has_prefix(c, SKIFF));
}

Test(ctrdconf, lexes_every_value_kind)
{
        const char *s = "version = 3 # trailing comment\r\n"
                        "a.'b c'.\"d\\u00e9\" = '''multi\n'line'\n'''\n"
                        "e = \"\"\"x\\\n  y\"\"\"\"\n"
                        "f = [ 1, [2, 3], # comment ] inside\n  {x = 1, y = [\"]\"]}, ]\n"
                        "g = 1979-05-27 07:32:00Z\n"
                        "h = {a.b = true, c = -inf}\n"
                        "[[arr . tbl]]\n"
                        "k = 0x1f\n";
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(s);
        cr_assert_eq(c->n_stmts, 8);
        cr_assert_str_eq(c->stmts[1].path[1], "b c");
        cr_assert_str_eq(c->stmts[1].path[2], "d\xc3\xa9");
        cr_assert_eq(c->stmts[6].kind, SKIFF_CTRDCONF_ARRAY_TABLE);
        cr_assert_str_eq(c->stmts[6].path[1], "tbl");
        cr_assert_str_eq(c->stmts[7].path[2], "k");
        int64_t v = 0;
        cr_assert_eq(skiff_ctrdconf_version(c, &v, NULL), 0);
        cr_assert_eq(v, 3);
}

Test(ctrdconf, rejects_malformed_documents_naming_the_line)
{
        static const struct {
                const char *doc, *msg;
        } cases[] = {
            {"a = \"open\n", "line 1: unterminated string"},
            {"x = 1\n[tbl\n", "line 2: unterminated table header"},
            {"x = 1\ny 2\n", "line 2: expected `=` after key"},
            {"a = [1, 2\n", "line 2: expected `,` or `]` in array"},
            {"a = '''never closed\n", "unterminated multi-line string"},
            {"a = 1 b = 2\n", "line 1: expected a newline after the statement"},
            {"a = \"\\q\"\n", "line 1: invalid escape in string"},
            {"a =\n", "line 1: expected a value"},
            {"= 1\n", "line 1: expected a key"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *msg = NULL;
                cr_assert_eq(parse_err(cases[i].doc, &msg), -EINVAL, "case %zu", i);
                cr_assert(strstr(msg, cases[i].msg), "case %zu: got `%s`", i, msg);
        }
}

Test(ctrdconf, version_absent_or_not_integer)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *a = parse_ok("[x]\nversion = 2\n");
        int64_t v = -1;
        cr_assert_eq(skiff_ctrdconf_version(a, &v, NULL), 0);
        cr_assert_eq(v, 0, "a version inside a table is not the top-level version");
        _cleanup_ctrdconf_ struct skiff_ctrdconf *b = parse_ok("version = \"2\"\n");
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ctrdconf_version(b, &v, &err), -EINVAL);
        skiff_error_free(&err);
}

static char *add(const char *doc, const char *entry, int want)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(doc);
        char *out = NULL;
        skiff_err_t err = NULL;
        int r = skiff_ctrdconf_add_import(c, entry, &out, &err);
        cr_assert_eq(r, want, "add_import: %d %s", r, skiff_error_msg(err));
        skiff_error_free(&err);
        return out;
}

static char *rm(const char *doc, const char *entry, int want)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(doc);
        char *out = NULL;
        skiff_err_t err = NULL;
        int r = skiff_ctrdconf_remove_import(c, entry, &out, &err);
        cr_assert_eq(r, want, "remove_import: %d %s", r, skiff_error_msg(err));
        skiff_error_free(&err);
        return out;
}

Test(ctrdconf, add_import_after_version_and_round_trip)
{
        _cleanup_free_ char *a = add(debian, "conf.d/skiff.toml", 1);
        cr_assert(strncmp(a, "version = 2\nimports = [\"conf.d/skiff.toml\"]\n\n[plugins]\n", 55) ==
                      0,
                  "%s", a);
        const char *tail = "    path = \"/var/lib/containerd/opt\"\n";
        cr_assert_str_eq(a + strlen(a) - strlen(tail), tail);
        _cleanup_free_ char *again = add(a, "conf.d/skiff.toml", 0);
        cr_assert_str_eq(again, a);
        _cleanup_free_ char *back = rm(a, "conf.d/skiff.toml", 1);
        cr_assert_str_eq(back, debian);
}

Test(ctrdconf, add_import_extends_existing_array)
{
        const char *doc = "version = 2\nimports = [\n  \"/etc/containerd/conf.d/99-nvidia.toml\", "
                          "# gpu\n]\n[plugins]\n";
        _cleanup_free_ char *a = add(doc, "/x/skiff.toml", 1);
        cr_assert_str_eq(a,
                         "version = 2\nimports = [\n  \"/etc/containerd/conf.d/99-nvidia.toml\", "
                         "\"/x/skiff.toml\", # gpu\n]\n[plugins]\n");
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(a);
        _cleanup_strv_ char **imp = NULL;
        cr_assert_eq(skiff_ctrdconf_imports(c, &imp, NULL), 0);
        cr_assert_str_eq(imp[0], "/etc/containerd/conf.d/99-nvidia.toml");
        cr_assert_str_eq(imp[1], "/x/skiff.toml");
        cr_assert_null(imp[2]);
        _cleanup_free_ char *back = rm(a, "/x/skiff.toml", 1);
        cr_assert_str_eq(back, doc);

        _cleanup_free_ char *e = add("version = 3\nimports = []\n", "a.toml", 1);
        cr_assert_str_eq(e, "version = 3\nimports = [\"a.toml\"]\n");
        _cleanup_free_ char *first = rm("imports = ['a', 'b']\n", "a", 1);
        cr_assert_str_eq(first, "imports = ['b']\n");
        _cleanup_free_ char *none = rm("imports = ['a'] # keep\n", "a", 1);
        cr_assert_str_eq(none, "imports = [] # keep\n");
        _cleanup_free_ char *absent = rm(debian, "a", 0);
        cr_assert_str_eq(absent, debian);
}

Test(ctrdconf, add_import_without_version_goes_first)
{
        _cleanup_free_ char *a = add("# c\n[grpc]\n", "d.toml", 1);
        cr_assert_str_eq(a, "imports = [\"d.toml\"]\n# c\n[grpc]\n");
        _cleanup_free_ char *b = add("version = 2", "d.toml", 1);
        cr_assert_str_eq(b, "version = 2\nimports = [\"d.toml\"]\n");
}

Test(ctrdconf, imports_must_be_strings)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok("imports = [1]\n");
        char **v = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ctrdconf_imports(c, &v, &err), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "`imports`"));
        skiff_error_free(&err);
        char *out = NULL;
        cr_assert_eq(skiff_ctrdconf_add_import(c, "a\"b", &out, &err), -EINVAL);
        skiff_error_free(&err);
}

Test(ctrdconf, extract_copies_cri_sections_verbatim_without_skiff)
{
        const char *doc =
            "version = 2\n"
            "[plugins]\n"
            "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
            "    sandbox_image = \"pause:9\" # pinned\n"
            "  [plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.skiff]\n"
            "    runtime_type = \"old\"\n"
            "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.skiff.options]\n"
            "    X = 1\n"
            "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\n"
            "    runtime_type = \"io.containerd.runc.v2\"\n"
            "  [plugins.\"io.containerd.internal.v1.opt\"]\n"
            "    path = \"/opt\"";
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(doc);
        _cleanup_free_ char *out = NULL;
        cr_assert_eq(skiff_ctrdconf_extract(c, CRI, SKIFF, &out, NULL), 0);
        cr_assert_str_eq(out,
                         "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
                         "    sandbox_image = \"pause:9\" # pinned\n"
                         "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\n"
                         "    runtime_type = \"io.containerd.runc.v2\"\n");
        _cleanup_ctrdconf_ struct skiff_ctrdconf *none = parse_ok("version = 2\n");
        _cleanup_free_ char *empty = NULL;
        cr_assert_eq(skiff_ctrdconf_extract(none, CRI, SKIFF, &empty, NULL), 0);
        cr_assert_str_eq(empty, "");
}

Test(ctrdconf, extract_refuses_dotted_keys_into_the_section)
{
        static const char *docs[] = {
            "[plugins]\n\"io.containerd.grpc.v1.cri\".sandbox_image = \"x\"\n",
            "plugins.\"io.containerd.grpc.v1.cri\".x = 1\n",
            "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes.skiff.runtime_type = "
            "\"x\"\n",
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(docs); i++) {
                _cleanup_ctrdconf_ struct skiff_ctrdconf *c = parse_ok(docs[i]);
                char *out = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_ctrdconf_extract(c, CRI, SKIFF, &out, &err), -ENOTSUP, "doc %zu",
                             i);
                cr_assert(strstr(skiff_error_msg(err), "line "), "doc %zu", i);
                skiff_error_free(&err);
        }
}

Test(ctrdconf, runtime_tables)
{
        _cleanup_free_ char *v2 = NULL, *v3 = NULL;
        cr_assert_eq(skiff_ctrdconf_runtime_table(
                         2, "skiff", "/usr/local/bin/containerd-shim-skiff-v2", &v2, NULL),
                     0);
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c2 = parse_ok(v2);
        cr_assert(skiff_ctrdconf_has_prefix(c2, SKIFF));
        cr_assert(strstr(v2, "runtime_type = \"/usr/local/bin/containerd-shim-skiff-v2\"\n"));
        cr_assert_eq(
            skiff_ctrdconf_runtime_table(3, "skiff", "/opt/b/containerd-shim-skiff-v2", &v3, NULL),
            0);
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c3 = parse_ok(v3);
        static const char *const v3p[] = {
            "plugins", SKIFF_CTRDCONF_CRI_V3, "containerd", "runtimes",
            "skiff",   "runtime_path",        NULL};
        cr_assert(skiff_ctrdconf_has_prefix(c3, v3p));
        char *bad = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ctrdconf_runtime_table(2, "sk iff", "/x", &bad, &err), -EINVAL);
        skiff_error_free(&err);
        cr_assert_eq(skiff_ctrdconf_runtime_table(2, "skiff", "rel/path", &bad, &err), -EINVAL);
        skiff_error_free(&err);
        cr_assert_eq(skiff_ctrdconf_runtime_table(1, "skiff", "/x", &bad, &err), -ENOTSUP);
        skiff_error_free(&err);
}

Test(ctrdconf, get_string)
{
        _cleanup_ctrdconf_ struct skiff_ctrdconf *c =
            parse_ok("[plugins.'io.containerd.grpc.v1.cri'.containerd]\n"
                     "default_runtime_name = \"nvidia\"\nsnapshotter = 1\n");
        static const char *const p[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, "containerd",
                                        "default_runtime_name", NULL};
        static const char *const q[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, "containerd",
                                        "snapshotter", NULL};
        static const char *const absent[] = {"plugins", SKIFF_CTRDCONF_CRI_V2, NULL};
        _cleanup_free_ char *v = NULL;
        cr_assert_eq(skiff_ctrdconf_get_string(c, p, &v, NULL), 0);
        cr_assert_str_eq(v, "nvidia");
        char *w = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ctrdconf_get_string(c, q, &w, &err), -EINVAL);
        skiff_error_free(&err);
        cr_assert_eq(skiff_ctrdconf_get_string(c, absent, &w, NULL), -ENOENT);
}
