#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/spec.h"

#define FIXTURES SKIFF_SOURCE_DIR "/test/fixtures/oci/"

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)
#define _cleanup_spec_ _cleanup_(skiff_spec_freep)

/* A bundle directory whose config.json is a symlink to a fixture. Returns the bundle path. */
static char *make_bundle(const char *fixture)
{
        char *dir = xstrdup("/tmp/skiff-test-spec-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        _cleanup_free_ char *link = xasprintf("%s/config.json", dir);
        cr_assert_eq(symlink(fixture, link), 0);
        return dir;
}

static void remove_bundle(const char *dir)
{
        _cleanup_free_ char *link = xasprintf("%s/config.json", dir);
        (void)unlink(link);
        (void)rmdir(dir);
}

/* Loads fixture name through skiff_spec_load; on failure *msg gets the full error message with
 * the bundle path replaced by "<bundle>". */
static int load_fixture(const char *name, struct skiff_spec **out, char **msg)
{
        _cleanup_free_ char *bundle = make_bundle(name);
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_spec_load(bundle, out, &err);
        remove_bundle(bundle);
        if (r < 0) {
                cr_assert_not_null(err);
                const char *m = skiff_error_msg(err);
                const char *at = strstr(m, bundle);
                cr_assert_not_null(at, "error does not name the bundle: %s", m);
                *msg = xasprintf("%.*s<bundle>%s", (int)(at - m), m, at + strlen(bundle));
        }
        return r;
}

static int parse_str(const char *json, struct skiff_spec **out, char **msg)
{
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_spec_parse(json, strlen(json), out, &err);
        if (r < 0) {
                cr_assert_not_null(err);
                *msg = xstrdup(skiff_error_msg(err));
        } else {
                cr_assert_null(err);
        }
        return r;
}

/* Parses a spec that is expected to fail and asserts the exact message. */
static void expect_error(const char *json, const char *want)
{
        _cleanup_spec_ struct skiff_spec *spec = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = parse_str(json, &spec, &msg);
        cr_assert_lt(r, 0, "parse of %s unexpectedly succeeded", json);
        cr_assert_null(spec);
        cr_assert_str_eq(msg, want);
}

/* A minimal valid spec with `extra` spliced into the top-level object. */
static char *spec_with(const char *extra)
{
        return xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
                         "\"root\":{\"path\":\"rootfs\"}%s%s}",
                         extra[0] ? "," : "", extra);
}

static void expect_error_with(const char *extra, const char *want)
{
        _cleanup_free_ char *json = spec_with(extra);
        expect_error(json, want);
}

static size_t count_mounts_with_option(const struct skiff_spec *s, const char *opt)
{
        size_t n = 0;
        for (size_t i = 0; i < s->n_mounts; i++)
                n += skiff_strv_contains(s->mounts[i].options, opt);
        return n;
}

Test(spec, ctr_default_without_args_names_the_field)
{
        _cleanup_spec_ struct skiff_spec *spec = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "ctr-default.json", &spec, &msg), -EINVAL);
        cr_assert_str_eq(msg,
                         "parse `<bundle>/config.json`: process.args: required key is missing");
}

Test(spec, ctr_default_decodes_once_args_are_set)
{
        /* containerd fills process.args from the image config; splice them in. */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_fs_read_file(FIXTURES "ctr-default.json", 1 << 20, &text, &len, NULL),
                     0);
        char *p = strstr(text, "\"process\": {");
        cr_assert_not_null(p);
        p += strlen("\"process\": {");
        _cleanup_free_ char *json =
            xasprintf("%.*s\"args\":[\"/bin/sh\"],%s", (int)(p - text), text, p);
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(parse_str(json, &s, &msg), 0, "%s", msg);

        cr_assert_str_eq(s->oci_version, "1.0.2-dev");
        cr_assert_str_eq(s->root_path, "rootfs");
        cr_assert_not(s->root_readonly);
        cr_assert(s->has_process);
        cr_assert_str_eq(s->process.args[0], "/bin/sh");
        cr_assert_str_eq(s->process.cwd, "/");
        cr_assert_eq(s->process.user.uid, 0);
        cr_assert(s->process.has_caps);
        cr_assert_eq(skiff_strv_len(s->process.caps.bounding), 14);
        cr_assert(skiff_strv_contains(s->process.caps.permitted, "CAP_AUDIT_WRITE"));
        cr_assert_null(s->process.caps.ambient);
        cr_assert_eq(s->process.n_rlimits, 1);
        cr_assert_eq(s->process.rlimits[0].resource, RLIMIT_NOFILE);
        cr_assert_eq(s->process.rlimits[0].hard, 1024);
        cr_assert(s->process.no_new_privileges);
        cr_assert_eq(s->n_mounts, 7);
        cr_assert_str_eq(s->mounts[2].destination, "/dev/pts");
        cr_assert_str_eq(s->mounts[2].type, "devpts");
        cr_assert(skiff_strv_contains(s->mounts[2].options, "gid=5"));
        cr_assert_eq(count_mounts_with_option(s, "nosuid"), 7);
        cr_assert(s->linux_.has_resources);
        cr_assert_eq(s->linux_.resources.n_devices, 1);
        cr_assert_not(s->linux_.resources.devices[0].allow);
        cr_assert_eq(s->linux_.resources.devices[0].major, -1);
        cr_assert_str_eq(s->linux_.resources.devices[0].access, "rwm");
        cr_assert_not(s->linux_.resources.has_mem_limit);
        cr_assert_str_eq(s->linux_.cgroups_path, "/default");
        cr_assert_eq(s->linux_.n_namespaces, 5);
        const char *path = "x";
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_NETWORK, &path));
        cr_assert_null(path);
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_PID, NULL));
        cr_assert_not(skiff_spec_has_namespace(s, SKIFF_NS_USER, NULL));
        cr_assert_not(skiff_spec_has_namespace(s, SKIFF_NS_CGROUP, NULL));
        cr_assert_eq(skiff_strv_len(s->linux_.masked_paths), 10);
        cr_assert_eq(skiff_strv_len(s->linux_.readonly_paths), 5);
        cr_assert_not(s->linux_.has_seccomp);
        cr_assert_null(skiff_spec_annotation(s, "anything"));
}

Test(spec, cri_container_decodes_every_section)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "cri-container.json", &s, &msg), 0, "%s", msg);

        const struct skiff_spec_process *p = &s->process;
        cr_assert_eq(p->user.uid, 65534);
        cr_assert(p->user.has_umask);
        cr_assert_eq(p->user.umask, 18);
        cr_assert_eq(p->user.n_additional_gids, 2);
        cr_assert_eq(p->user.additional_gids[1], 1000);
        cr_assert_eq(skiff_strv_len(p->env), 3);
        cr_assert_str_eq(skiff_strv_env_get(p->env, "HOSTNAME"), "web-0");
        cr_assert(p->has_console_size);
        cr_assert_eq(p->console_width, 80);
        cr_assert_eq(skiff_strv_len(p->caps.ambient), 1);
        cr_assert_null(p->caps.inheritable);
        cr_assert_eq(p->n_rlimits, 2);
        cr_assert_eq(p->rlimits[0].soft, 1024);
        cr_assert_eq(p->rlimits[0].hard, 1048576);
        cr_assert_eq(p->rlimits[1].resource, RLIMIT_CORE);
        cr_assert(p->has_oom_score_adj);
        cr_assert_eq(p->oom_score_adj, -998);
        cr_assert_str_eq(p->apparmor_profile, "cri-containerd.apparmor.d");
        cr_assert(s->root_readonly);
        cr_assert_str_eq(s->hostname, "web-0");
        cr_assert_eq(s->n_mounts, 4);
        cr_assert_str_eq(s->mounts[1].type, "bind");
        cr_assert_str_eq(skiff_spec_annotation(s, "io.kubernetes.cri.container-type"), "container");
        cr_assert_str_eq(skiff_spec_annotation(s, "io.kubernetes.cri.container-name"), "web");

        const struct skiff_spec_linux *l = &s->linux_;
        cr_assert_eq(l->n_uid_mappings, 1);
        cr_assert_eq(l->uid_mappings[0].host_id, 100000);
        cr_assert_eq(l->gid_mappings[0].size, 65536);
        cr_assert_str_eq(l->sysctl[0], "net.ipv4.ip_unprivileged_port_start");
        cr_assert_str_eq(l->sysctl[3], "0 2147483647");
        const char *ns = NULL;
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_NETWORK, &ns));
        cr_assert_str_eq(ns, "/var/run/netns/cni-1d2b3c4d");
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_IPC, &ns));
        cr_assert_str_eq(ns, "/proc/4242/ns/ipc");
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_PID, &ns));
        cr_assert_null(ns);
        cr_assert(skiff_spec_has_namespace(s, SKIFF_NS_CGROUP, NULL));
        cr_assert_str_eq(l->cgroups_path, "/kubepods/burstable/pod0d7a1b9e/c0ffee01");
        cr_assert_eq(l->n_devices, 2);
        cr_assert_eq(l->devices[0].type, 'c');
        cr_assert_eq(l->devices[0].major, 10);
        cr_assert_eq(l->devices[0].minor, 229);
        cr_assert(l->devices[0].has_file_mode);
        cr_assert_eq(l->devices[0].file_mode, 0666);
        cr_assert_eq(l->devices[1].type, 'p');
        cr_assert_not(l->devices[1].has_uid);

        const struct skiff_spec_resources *r = &l->resources;
        cr_assert_eq(r->n_devices, 3);
        cr_assert_eq(r->devices[1].type, 'c');
        cr_assert_eq(r->devices[1].minor, 3);
        cr_assert_eq(r->devices[2].minor, -1);
        cr_assert(r->has_mem_limit && r->mem_limit == 268435456);
        cr_assert(r->has_mem_reservation && r->mem_reservation == 134217728);
        cr_assert(r->has_mem_swappiness && r->mem_swappiness == 0);
        cr_assert(r->has_disable_oom_killer && !r->disable_oom_killer);
        cr_assert(r->has_cpu_shares && r->cpu_shares == 512);
        cr_assert(r->has_cpu_quota && r->cpu_quota == 50000);
        cr_assert(r->has_cpu_period && r->cpu_period == 100000);
        cr_assert_not(r->has_cpu_burst);
        cr_assert_str_eq(r->cpuset_cpus, "0-1");
        cr_assert(r->has_pids_limit && r->pids_limit == 4096);
        cr_assert(r->has_blkio_weight && r->blkio_weight == 500);
        cr_assert_eq(r->n_hugepages, 2);
        cr_assert_str_eq(r->hugepages[1].page_size, "1GB");
        cr_assert_eq(r->hugepages[1].limit, 1073741824);
        cr_assert_str_eq(r->unified[2], "memory.oom.group");

        cr_assert(l->has_seccomp);
        const struct skiff_spec_seccomp *sc = &l->seccomp;
        cr_assert_eq(sc->default_action, SKIFF_SECCOMP_ERRNO);
        cr_assert(sc->has_default_errno_ret && sc->default_errno_ret == 38);
        cr_assert_eq(skiff_strv_len(sc->architectures), 3);
        cr_assert_str_eq(sc->flags[0], "SECCOMP_FILTER_FLAG_SPEC_ALLOW");
        cr_assert_eq(sc->n_syscalls, 6);
        cr_assert_eq(skiff_strv_len(sc->syscalls[0].names), 4);
        cr_assert_eq(sc->syscalls[3].n_args, 1);
        cr_assert_eq(sc->syscalls[3].args[0].op, SKIFF_SECCOMP_OP_MASKED_EQ);
        cr_assert_eq(sc->syscalls[3].args[0].value, 2114060288);
        cr_assert_eq(sc->syscalls[4].action, SKIFF_SECCOMP_ERRNO);
        cr_assert(sc->syscalls[4].has_errno_ret && sc->syscalls[4].errno_ret == 1);
        cr_assert_not(sc->syscalls[0].has_errno_ret);
        cr_assert_eq(sc->syscalls[5].action, SKIFF_SECCOMP_KILL_PROCESS);
        cr_assert_eq(skiff_strv_len(l->masked_paths), 4);
        cr_assert_str_eq(l->readonly_paths[2], "/proc/sys");
        cr_assert_str_eq(l->rootfs_propagation, "rslave");
        cr_assert_str_eq(l->mount_label, "system_u:object_r:container_file_t:s0:c1,c2");
}

Test(spec, bad_json_fixture)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "bad-json.json", &s, &msg), -EBADMSG);
        const char *prefix = "parse `<bundle>/config.json`: invalid JSON: ";
        cr_assert_eq(strncmp(msg, prefix, strlen(prefix)), 0, "%s", msg);
        cr_assert_null(s);
}

Test(spec, wrong_type_fixture)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "wrong-type.json", &s, &msg), -EINVAL);
        cr_assert_str_eq(msg, "parse `<bundle>/config.json`: process.user.uid: expected a "
                              "non-negative integer, got a string");
}

Test(spec, unknown_seccomp_action_fixture)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "unknown-seccomp-action.json", &s, &msg), -EINVAL);
        cr_assert_str_eq(msg, "parse `<bundle>/config.json`: linux.seccomp.syscalls[2].action: "
                              "unknown action `SCMP_ACT_FOO`");
}

Test(spec, relative_mount_fixture)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "relative-mount.json", &s, &msg), -EINVAL);
        cr_assert_str_eq(msg, "parse `<bundle>/config.json`: mounts[1].destination: must be an "
                              "absolute path, got `dev/shm`");
}

Test(spec, empty_args_fixture)
{
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(load_fixture(FIXTURES "empty-args.json", &s, &msg), -EINVAL);
        cr_assert_str_eq(msg, "parse `<bundle>/config.json`: process.args: must not be empty");
}

Test(spec, missing_bundle_names_the_file)
{
        struct skiff_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_load("/nonexistent-skiff-bundle", &s, &err), -ENOENT);
        cr_assert_not_null(strstr(skiff_error_msg(err), "`/nonexistent-skiff-bundle/config.json`"),
                           "%s", skiff_error_msg(err));
}

Test(spec, minimal_spec_and_unknown_top_level_keys)
{
        _cleanup_free_ char *json = spec_with("\"vm\":{\"x\":1},\"hooks\":{},\"linux\":null");
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(parse_str(json, &s, &msg), 0, "%s", msg);
        cr_assert_eq(s->n_mounts, 0);
        cr_assert_not(s->linux_.has_resources);
        cr_assert_not(s->process.has_caps);
        cr_assert_not(s->process.has_oom_score_adj);
}

Test(spec, field_errors_name_the_json_path)
{
        expect_error("[]", "(document): expected an object, got an array");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"tmp\"}}",
                     "process.cwd: must be an absolute path, got `tmp`");
        expect_error("{\"process\":{\"args\":[\"sh\"]}}", "process.cwd: required key is missing");
        expect_error("{\"process\":{\"args\":[\"sh\",3],\"cwd\":\"/\"}}",
                     "process.args[1]: expected a string, got a number");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"A=1\",\"B\"]}}",
                     "process.env[1]: expected `NAME=value`, got `B`");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"=1\"]}}",
                     "process.env[0]: expected `NAME=value`, got `=1`");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":"
                     "\"RLIMIT_FOO\",\"hard\":1,\"soft\":1}]}}",
                     "process.rlimits[0].type: unknown rlimit `RLIMIT_FOO`");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":"
                     "\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1,\"extra\":1}]}}",
                     "process.rlimits[0].extra: unknown key");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":"
                     "\"RLIMIT_NOFILE\",\"hard\":1}]}}",
                     "process.rlimits[0].soft: required key is missing");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":["
                     "{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1},"
                     "{\"type\":\"RLIMIT_NOFILE\",\"hard\":2,\"soft\":2}]}}",
                     "process.rlimits[1].type: duplicate rlimit (also at index 0)");
        expect_error(
            "{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}}",
            "process.user.uid: integer out of range");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"oomScoreAdj\":1.5}}",
                     "process.oomScoreAdj: expected an integer, got a number");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":\"yes\"}}",
                     "process.terminal: expected a boolean, got a string");
        expect_error("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"capabilities\":"
                     "{\"bounding\":\"CAP_CHOWN\"}}}",
                     "process.capabilities.bounding: expected an array of strings, got a string");
        expect_error("{\"root\":{\"readonly\":true}}", "root.path: required key is missing");
        expect_error("{\"annotations\":{\"a\":1}}",
                     "annotations.a: expected a string, got a number");
        expect_error("{\"mounts\":{}}", "mounts: expected an array, got an object");
        expect_error("{\"mounts\":[{\"type\":\"tmpfs\"}]}",
                     "mounts[0].destination: required key is missing");
}

Test(spec, linux_errors_name_the_json_path)
{
        expect_error_with("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"net\"}]}",
                          "linux.namespaces[1].type: unknown namespace type `net`");
        expect_error_with("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}",
                          "linux.namespaces[1].type: duplicate namespace `pid`");
        expect_error_with("\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"ns\"}]}",
                          "linux.namespaces[0].path: must be an absolute path, got `ns`");
        expect_error_with("\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1}]}",
                          "linux.uidMappings[0].size: required key is missing");
        expect_error_with("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"z\"}]}",
                          "linux.devices[0].type: unknown device type `z`");
        expect_error_with("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\","
                          "\"major\":1}]}",
                          "linux.devices[0]: non-negative `major` and `minor` are required for "
                          "device type `c`");
        expect_error_with("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":"
                          "\"rwx\"}]}}",
                          "linux.resources.devices[0].access: invalid access `rwx` (expected a "
                          "subset of `rwm`)");
        expect_error_with("\"linux\":{\"resources\":{\"devices\":[{\"access\":\"r\"}]}}",
                          "linux.resources.devices[0].allow: required key is missing");
        expect_error_with("\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}",
                          "linux.resources.memory.limit: expected an integer, got a string");
        expect_error_with("\"linux\":{\"resources\":{\"memory\":{\"kernel\":true}}}",
                          "linux.resources.memory.kernel: expected an integer, got a boolean");
        expect_error_with("\"linux\":{\"resources\":{\"cpu\":{\"shares\":-1}}}",
                          "linux.resources.cpu.shares: expected a non-negative integer, got a "
                          "number");
        expect_error_with("\"linux\":{\"resources\":{\"hugepageLimits\":[{\"limit\":1}]}}",
                          "linux.resources.hugepageLimits[0].pageSize: required key is missing");
        expect_error_with("\"linux\":{\"rootfsPropagation\":\"sideways\"}",
                          "linux.rootfsPropagation: unknown propagation `sideways`");
        expect_error_with("\"linux\":{\"maskedPaths\":[\"/proc/kcore\",\"proc/keys\"]}",
                          "linux.maskedPaths[1]: must be an absolute path, got `proc/keys`");
        expect_error_with("\"linux\":{\"seccomp\":{\"syscalls\":[]}}",
                          "linux.seccomp.defaultAction: required key is missing");
        expect_error_with("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                          "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
                          "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_ALMOST\"}]}]}}",
                          "linux.seccomp.syscalls[0].args[0].op: unknown operator "
                          "`SCMP_CMP_ALMOST`");
        expect_error_with("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                          "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
                          "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}",
                          "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");
        expect_error_with("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                          "\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}}",
                          "linux.seccomp.syscalls[0].names: required key is missing");
        expect_error_with("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_KILL_ALL\"}}",
                          "linux.seccomp.defaultAction: unknown action `SCMP_ACT_KILL_ALL`");
}

Test(spec, null_members_are_absent)
{
        _cleanup_free_ char *json =
            spec_with("\"hostname\":null,\"linux\":{\"resources\":{\"memory\":{\"limit\":null,"
                      "\"swap\":5}},\"seccomp\":null}");
        _cleanup_spec_ struct skiff_spec *s = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(parse_str(json, &s, &msg), 0, "%s", msg);
        cr_assert_null(s->hostname);
        cr_assert_not(s->linux_.resources.has_mem_limit);
        cr_assert(s->linux_.resources.has_mem_swap);
        cr_assert_eq(s->linux_.resources.mem_swap, 5);
        cr_assert_not(s->linux_.has_seccomp);
}

Test(spec, size_cap)
{
        size_t len = SKIFF_SPEC_MAX_SIZE + 1;
        _cleanup_free_ char *big = xmalloc(len);
        memset(big, ' ', len);
        big[0] = '{';
        big[len - 1] = '}';
        struct skiff_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_parse(big, len, &s, &err), -EFBIG);
        cr_assert_null(s);
        /* One byte less is accepted. */
        big[len - 2] = '}';
        _cleanup_spec_ struct skiff_spec *ok = NULL;
        cr_assert_eq(skiff_spec_parse(big, len - 1, &ok, NULL), 0);
}

Test(spec, process_document)
{
        const char *json = "{\"args\":[\"ls\",\"-l\"],\"cwd\":\"/work\",\"terminal\":true,"
                           "\"env\":[\"A=b\"],\"user\":{\"uid\":1000,\"gid\":100}}";
        struct skiff_spec_process *p = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_process_parse(json, strlen(json), &p, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(skiff_strv_len(p->args), 2);
        cr_assert_str_eq(p->cwd, "/work");
        cr_assert(p->terminal);
        cr_assert_eq(p->user.gid, 100);
        skiff_spec_process_free(p);
        skiff_spec_process_free(NULL);

        const char *bad = "{\"args\":[\"ls\"],\"cwd\":\"/\",\"capabilities\":{\"ambient\":[1]}}";
        p = NULL;
        cr_assert_eq(skiff_spec_process_parse(bad, strlen(bad), &p, &err), -EINVAL);
        cr_assert_null(p);
        cr_assert_str_eq(skiff_error_msg(err),
                         "process.capabilities.ambient[0]: expected a string, got a number");
}

Test(spec, resources_document)
{
        const char *json = "{\"memory\":{\"limit\":1048576,\"swap\":-1},\"cpu\":{\"quota\":-1,"
                           "\"burst\":10,\"idle\":1},\"pids\":{\"limit\":-1},"
                           "\"unified\":{\"io.weight\":\"100\"}}";
        struct skiff_spec_resources *r = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_resources_parse(json, strlen(json), &r, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert(r->has_mem_limit && r->mem_limit == 1048576);
        cr_assert(r->has_mem_swap && r->mem_swap == -1);
        cr_assert(r->has_cpu_quota && r->cpu_quota == -1);
        cr_assert(r->has_cpu_burst && r->cpu_burst == 10);
        cr_assert(r->has_cpu_idle && r->cpu_idle == 1);
        cr_assert(r->has_pids_limit && r->pids_limit == -1);
        cr_assert_not(r->has_cpu_shares);
        cr_assert_str_eq(r->unified[1], "100");
        skiff_spec_resources_free(r);
        skiff_spec_resources_free(NULL);

        const char *bad = "{\"pids\":{\"limit\":\"max\"}}";
        r = NULL;
        cr_assert_eq(skiff_spec_resources_parse(bad, strlen(bad), &r, &err), -EINVAL);
        cr_assert_null(r);
        cr_assert_str_eq(skiff_error_msg(err),
                         "resources.pids.limit: expected an integer, got a string");
}
