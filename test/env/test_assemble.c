#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/assemble.h"
#include "env/realize.h"
#include "oci/container.h"
#include "oci/spec.h"

#define P1 "/nix/store/0rbxxaaah8rnckwk42s2vfzb7616qlrp-shell"
#define P2 "/nix/store/1cm84mcvzzc9vwp2ir820pp5w0a7gb1v-hello"

static const char plan_json[] =
    "{\"refs\":\"acme/app@7\",\"store_dir\":\"/nix/store\",\"real_store\":\"/var/lib/skiff/store\","
    "\"profile\":\"/var/lib/skiff/profiles/abc\",\"closure\":[\"" P1 "\",\"" P2 "\"],"
    "\"env\":[\"SKIFF_ENV=/run/skiff/env\",\"MODE=doc\",\"KEEP=doc\","
    "\"PATH=/run/skiff/env/bin:/doc/bin\"],"
    "\"hook_argv\":[\"/run/skiff/env/bin/sh\",\"-c\",\"echo hook; exec \\\"$@\\\"\",\"--\"],"
    "\"sh\":\"/var/lib/skiff/store/0rbxxaaah8rnckwk42s2vfzb7616qlrp-shell/bin/busybox\","
    "\"requires_cuda\":\">=12.4,<14\","
    "\"loader\":\"/nix/store/0rbxxaaah8rnckwk42s2vfzb7616qlrp-glibc/lib/ld-linux-x86-64.so.2\"}";

static const char spec_json[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"hello\",\"world\"],\"cwd\":\"/"
    "\",\"user\":{\"uid\":1000,\"gid\":1000},"
    "\"env\":[\"PATH=/usr/bin:/bin\",\"MODE=pod\"]},"
    "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/x/"
    "hosts\",\"options\":[\"rbind\"]},"
    "{\"destination\":\"/nix/store/extra\",\"type\":\"bind\",\"source\":\"/x/"
    "extra\",\"options\":[\"rbind\"]}],"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

static void load_plan(struct skiff_assemble_plan *p)
{
        skiff_err_t err = NULL;
        int r = skiff_assemble_plan_decode(plan_json, strlen(plan_json), p, &err);
        cr_assert_eq(r, 0, "%s", err ? err->msg : "");
}

static struct skiff_spec *load_spec(void)
{
        struct skiff_spec *s = NULL;
        skiff_err_t err = NULL;
        int r = skiff_spec_parse(spec_json, strlen(spec_json), &s, &err);
        cr_assert_eq(r, 0, "%s", err ? err->msg : "");
        return s;
}

static ssize_t mount_index(const struct skiff_spec *s, const char *dest)
{
        for (size_t i = 0; i < s->n_mounts; i++)
                if (strcmp(s->mounts[i].destination, dest) == 0)
                        return (ssize_t)i;
        return -1;
}

Test(assemble, plan_round_trips_through_json)
{
        struct skiff_assemble_plan p = {0}, q = {0};
        load_plan(&p);
        _cleanup_free_ char *doc = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_assemble_plan_encode(&p, &doc, &len, NULL), 0);
        cr_assert_eq(skiff_assemble_plan_decode(doc, len, &q, NULL), 0);
        cr_assert_str_eq(q.refs, "acme/app@7");
        cr_assert_eq(skiff_strv_len(q.closure), 2);
        cr_assert_eq(skiff_strv_len(q.hook_argv), 4);
        cr_assert_null(q.env_bin);
        cr_assert_str_eq(q.sh, p.sh);
        cr_assert_str_eq(q.requires_cuda, ">=12.4,<14");
        cr_assert_str_eq(q.loader, p.loader);
        skiff_assemble_plan_done(&p);
        skiff_assemble_plan_done(&q);
}

Test(assemble, decode_rejects_paths_outside_the_store)
{
        const char *bad[] = {
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"/s\","
            "\"profile\":\"/p\",\"closure\":[\"/etc/passwd\"],\"env\":[]}",
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"/s\","
            "\"profile\":\"/p\",\"closure\":[\"/nix/store/../etc\"],\"env\":[]}",
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"rel\","
            "\"profile\":\"/p\",\"closure\":[],\"env\":[]}",
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"/s\","
            "\"profile\":\"/p\",\"closure\":[],\"env\":[\"NOEQUALS\"]}",
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"/s\","
            "\"profile\":\"/p\",\"closure\":[],\"env\":[],\"unknown\":1}",
            "{\"refs\":\"a/b@1\",\"store_dir\":\"/nix/store\",\"real_store\":\"/s\","
            "\"profile\":\"/p\",\"closure\":[],\"env\":[],\"loader\":\"/lib64/ld.so\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct skiff_assemble_plan p = {0};
                skiff_err_t err = NULL;
                cr_expect_eq(skiff_assemble_plan_decode(bad[i], strlen(bad[i]), &p, &err), -EINVAL,
                             "case %zu", i);
                cr_expect(err && strstr(err->msg, "plan"), "case %zu", i);
                skiff_error_free(&err);
        }
}

Test(assemble, env_pod_spec_wins_and_path_is_prefixed_once)
{
        struct skiff_assemble_plan p = {0};
        load_plan(&p);
        char *spec_env[] = {"MODE=pod", "PATH=/usr/bin:/bin", "EXTRA=1", NULL};
        _cleanup_strv_ char **env = NULL;
        cr_assert_eq(skiff_assemble_env(&p, spec_env, &env, NULL), 0);
        cr_expect_str_eq(skiff_strv_env_get(env, "MODE"), "pod");
        cr_expect_str_eq(skiff_strv_env_get(env, "KEEP"), "doc");
        cr_expect_str_eq(skiff_strv_env_get(env, "EXTRA"), "1");
        cr_expect_str_eq(skiff_strv_env_get(env, "PATH"), "/run/skiff/env/bin:/usr/bin:/bin");
        _cleanup_strv_ char **again = NULL;
        cr_assert_eq(skiff_assemble_env(&p, env, &again, NULL), 0);
        cr_expect_str_eq(skiff_strv_env_get(again, "PATH"), "/run/skiff/env/bin:/usr/bin:/bin");
        _cleanup_strv_ char **plain = NULL;
        cr_assert_eq(skiff_assemble_env(&p, NULL, &plain, NULL), 0);
        cr_expect_str_eq(skiff_strv_env_get(plain, "PATH"), "/run/skiff/env/bin:/doc/bin");
        char *broken[] = {"=x", NULL};
        _cleanup_strv_ char **none = NULL;
        cr_expect_eq(skiff_assemble_env(&p, broken, &none, NULL), -EINVAL);
        skiff_assemble_plan_done(&p);
}

Test(assemble, closure_view_mounts_skeleton_env_and_hook)
{
        char tmpl[] = "/tmp/skiff-assemble-XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        _cleanup_free_ char *skel = xasprintf("%s/skel", tmpl);
        struct skiff_assemble_plan p = {0};
        load_plan(&p);
        struct skiff_spec *s = load_spec();
        skiff_err_t err = NULL;
        int r = skiff_assemble_apply(&p, SKIFF_ANNOTATIONS_VIEW_CLOSURE, s, NULL, skel, &err);
        cr_assert_eq(r, 0, "%s", err ? err->msg : "");

        ssize_t tmpfs = mount_index(s, "/nix/store");
        cr_assert_geq(tmpfs, 0);
        cr_expect_str_eq(s->mounts[tmpfs].type, "tmpfs");
        ssize_t b1 = mount_index(s, P1), b2 = mount_index(s, P2),
                extra = mount_index(s, "/nix/store/extra");
        cr_assert(b1 > tmpfs && b2 > tmpfs);
        cr_expect(extra > tmpfs, "a volume under /nix/store still lands on top of the tmpfs");
        cr_expect_str_eq(s->mounts[b1].source,
                         "/var/lib/skiff/store/0rbxxaaah8rnckwk42s2vfzb7616qlrp-shell");
        cr_expect(skiff_strv_contains(s->mounts[b1].options, "ro"));
        cr_expect(skiff_strv_contains(s->mounts[b1].options, "nosuid"));
        cr_expect(skiff_strv_contains(s->mounts[b1].options, "nodev"));
        cr_expect(skiff_strv_contains(s->linux_.readonly_paths, "/nix/store"));
        ssize_t envm = mount_index(s, "/run/skiff/env");
        cr_assert_geq(envm, 0);
        cr_expect_str_eq(s->mounts[envm].source, "/var/lib/skiff/profiles/abc");
        cr_expect(skiff_strv_contains(s->mounts[envm].options, "ro"));
        cr_expect_geq(mount_index(s, "/bin/sh"), 0);
        cr_expect_lt(mount_index(s, "/usr/bin/env"), 0, "no env in the profile");
        cr_expect_geq(mount_index(s, "/etc/passwd"), 0);
        cr_expect_geq(mount_index(s, "/etc/group"), 0);
        cr_expect_geq(mount_index(s, "/etc/nsswitch.conf"), 0);
        cr_expect_geq(mount_index(s, "/tmp"), 0);
        _cleanup_free_ char *passwd = NULL;
        _cleanup_free_ char *pf = xasprintf("%s/passwd", skel);
        cr_assert_eq(skiff_fs_read_file(pf, 4096, &passwd, NULL, NULL), 0);
        cr_expect(strstr(passwd, "root:x:0:0:") == passwd);
        cr_expect_not_null(strstr(passwd, ":1000:1000:"), "the process user has an entry");

        cr_expect_str_eq(skiff_strv_env_get(s->process.env, "MODE"), "pod");
        cr_expect_str_eq(s->process.args[0], "/run/skiff/env/bin/sh");
        cr_expect_str_eq(s->process.args[3], "--");
        cr_expect_str_eq(s->process.args[4], "hello");
        cr_expect_str_eq(s->process.args[5], "world");
        cr_expect_null(s->process.args[6]);
        skiff_spec_free(s);
        skiff_assemble_plan_done(&p);
        (void)skiff_fs_rm_rf(tmpl, NULL);
}

Test(assemble, store_view_and_a_real_image_keep_the_image_files)
{
        char tmpl[] = "/tmp/skiff-assemble-XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        _cleanup_free_ char *img = xasprintf("%s/lower", tmpl);
        _cleanup_free_ char *etc = xasprintf("%s/etc", img);
        _cleanup_free_ char *bin = xasprintf("%s/bin", img);
        cr_assert_eq(skiff_fs_mkdir_p(etc, 0755, NULL), 0);
        cr_assert_eq(skiff_fs_mkdir_p(bin, 0755, NULL), 0);
        _cleanup_free_ char *pw = xasprintf("%s/passwd", etc);
        _cleanup_free_ char *shp = xasprintf("%s/sh", bin);
        cr_assert_eq(skiff_fs_write_file_atomic(pw, "root\n", 5, 0644, false, NULL), 0);
        cr_assert_eq(symlink("busybox", shp), 0);
        _cleanup_free_ char *lower = xasprintf("lowerdir=%s", img);
        char *opts[] = {lower, "upperdir=/nonexistent/upper", NULL};
        struct skiff_rootfs_mount m = {.type = "overlay", .source = "overlay", .options = opts};
        _cleanup_strv_ char **dirs = skiff_assemble_image_dirs(&m, 1, "/bundle", "rootfs");
        cr_assert_eq(skiff_strv_len(dirs), 2);
        cr_expect(skiff_assemble_image_has(dirs, "bin/sh"), "a dangling symlink counts");
        cr_expect_not(skiff_assemble_image_has(dirs, "etc/group"));

        struct skiff_assemble_plan p = {0};
        load_plan(&p);
        struct skiff_spec *s = load_spec();
        _cleanup_free_ char *skel = xasprintf("%s/skel", tmpl);
        cr_assert_eq(skiff_assemble_apply(&p, SKIFF_ANNOTATIONS_VIEW_STORE, s, dirs, skel, NULL),
                     0);
        ssize_t st = mount_index(s, "/nix/store");
        cr_assert_geq(st, 0);
        cr_expect_str_eq(s->mounts[st].source, "/var/lib/skiff/store");
        cr_expect_lt(mount_index(s, P1), 0, "the store view binds the whole store");
        cr_expect_not(skiff_strv_contains(s->linux_.readonly_paths, "/nix/store"));
        cr_expect_lt(mount_index(s, "/bin/sh"), 0, "the image has /bin/sh");
        cr_expect_lt(mount_index(s, "/etc/passwd"), 0, "the image has /etc/passwd");
        cr_expect_geq(mount_index(s, "/etc/group"), 0);
        skiff_spec_free(s);
        skiff_assemble_plan_done(&p);
        (void)skiff_fs_rm_rf(tmpl, NULL);
}

Test(assemble, resolve_follows_profile_links_through_the_real_store)
{
        char tmpl[] = "/tmp/skiff-assemble-XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        _cleanup_free_ char *store = xasprintf("%s/store", tmpl);
        _cleanup_free_ char *pkgbin =
            xasprintf("%s/0rbxxaaah8rnckwk42s2vfzb7616qlrp-shell/bin", store);
        _cleanup_free_ char *prof = xasprintf("%s/profile", tmpl);
        cr_assert_eq(skiff_fs_mkdir_p(pkgbin, 0755, NULL), 0);
        cr_assert_eq(skiff_fs_mkdir_p(prof, 0755, NULL), 0);
        _cleanup_free_ char *bb = xasprintf("%s/busybox", pkgbin);
        _cleanup_free_ char *shl = xasprintf("%s/sh", pkgbin);
        cr_assert_eq(skiff_fs_write_file_atomic(bb, "elf", 3, 0755, false, NULL), 0);
        cr_assert_eq(symlink("busybox", shl), 0);
        _cleanup_free_ char *plink = xasprintf("%s/bin", prof);
        cr_assert_eq(symlink(P1 "/bin", plink), 0);
        _cleanup_free_ char *got = skiff_realize_resolve(prof, "bin/sh", "/nix/store", store);
        cr_assert_not_null(got);
        cr_expect_str_eq(got, bb);
        cr_expect_null(skiff_realize_resolve(prof, "bin/env", "/nix/store", store));
        _cleanup_free_ char *esc = xasprintf("%s/bin2", prof);
        cr_assert_eq(symlink("/etc", esc), 0);
        cr_expect_null(skiff_realize_resolve(prof, "bin2/passwd", "/nix/store", store),
                       "links out of the store are not followed");
        (void)skiff_fs_rm_rf(tmpl, NULL);
}
