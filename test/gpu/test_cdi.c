#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/cdi.h"

#define CDI SKIFF_SOURCE_DIR "/test/fixtures/gpu/cdi/"

SKIFF_DEFINE_CLEANUP(struct skiff_cdi_registry *, skiff_cdi_registry_free)
#define _cleanup_registry_ _cleanup_(skiff_cdi_registry_freep)
SKIFF_DEFINE_CLEANUP(struct skiff_cdi_spec *, skiff_cdi_spec_free)

static struct skiff_cdi_registry *load_fixtures(void)
{
        const char *dirs[] = {CDI "etc", CDI "run", CDI "missing", NULL};
        struct skiff_cdi_registry *reg = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_cdi_registry_load(dirs, &reg, &err), 0, "%s", skiff_error_msg(err));
        return reg;
}

Test(cdi, name_grammar_table)
{
        static const struct {
                const char *name;
                const char *error; /* NULL = valid */
        } cases[] = {
            {"nvidia.com/gpu=0", NULL},
            {"nvidia.com/gpu=all", NULL},
            {"nvidia.com/gpu=0:1", NULL},
            {"k8s.device-plugin.nvidia.com/gpu=GPU-5f0ab2c1", NULL},
            {"vendor.com/class.sub=x_y-z.1", NULL},
            {"nvidia.com/gpu", "not a CDI device name"},
            {"/dev/nvidia0", "not a CDI device name"},
            {"gpu=0", "not a CDI device name"},
            {"1vendor/gpu=0", "invalid vendor `1vendor`"},
            {"vendor-/gpu=0", "invalid vendor"},
            {"vendor/gpu-=0", "invalid class `gpu-`"},
            {"vendor/gpu=", "invalid device name ``"},
            {"vendor/gpu=-x", "invalid device name `-x`"},
            {"vendor/gpu=a b", "invalid device name"},
            {"vendor/gpu=a/b", "invalid device name"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_cdi_validate_name(cases[i].name, &err);
                if (!cases[i].error) {
                        cr_assert_eq(r, 0, "`%s`: %s", cases[i].name, skiff_error_msg(err));
                        continue;
                }
                cr_assert_eq(r, -EINVAL, "`%s` accepted", cases[i].name);
                cr_assert(strstr(skiff_error_msg(err), cases[i].error), "`%s`: %s", cases[i].name,
                          skiff_error_msg(err));
        }
        _cleanup_free_ char *v = NULL, *c = NULL, *n = NULL;
        cr_assert_eq(skiff_cdi_parse_name("nvidia.com/gpu=0:1", &v, &c, &n, NULL), 0);
        cr_assert_str_eq(v, "nvidia.com");
        cr_assert_str_eq(c, "gpu");
        cr_assert_str_eq(n, "0:1");
}

static int parse(const char *json, char **msg)
{
        _cleanup_(skiff_cdi_spec_freep) struct skiff_cdi_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_cdi_spec_parse(json, strlen(json), "/etc/cdi/t.json", 0, &s, &err);
        *msg = xstrdup(skiff_error_msg(err));
        return r;
}

Test(cdi, spec_errors_name_the_file_and_json_path)
{
        static const struct {
                const char *json;
                const char *error;
        } cases[] = {
            {"{", "CDI spec `/etc/cdi/t.json`"},
            {"{\"kind\":\"a.com/b\",\"devices\":[]}", "cdiVersion: required key is missing"},
            {"{\"cdiVersion\":\"9.9.9\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{}}]}",
             "cdiVersion: unknown version `9.9.9`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"ab\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{}}]}",
             "kind: invalid kind `ab`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[]}",
             "devices: no devices"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{}},{\"name\":\"x\",\"containerEdits\":{}}]}",
             "devices[1].name: duplicate device `x`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/a\"},{\"path\":\"dev/b\"}]}}]}",
             "devices[0].containerEdits.deviceNodes[1].path: `dev/b` is not absolute"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/a\",\"type\":\"x\"}]}}]}",
             "deviceNodes[0].type: invalid device type `x`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/"
             "a\",\"permissions\":\"rwx\"}]}}]}",
             "permissions: invalid permissions `rwx`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"hooks\":[{\"hookName\":\"later\",\"path\":\"/bin/x\"}]}}]}",
             "hooks[0].hookName: unknown hook `later`"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"env\":[\"NOEQUALS\"]}}]}",
             "devices[0].containerEdits.env[0]: `NOEQUALS` is not KEY=VALUE"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"mounts\":[{\"hostPath\":\"/a\"}]}}]}",
             "mounts[0].containerPath: required key is missing"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"extra\":1,\"devices\":[]}",
             "extra: unknown key"},
            {"{\"cdiVersion\":\"0.5.0\",\"kind\":\"a.com/b\",\"devices\":[{\"name\":\"x\","
             "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/a\",\"major\":-1}]}}]}",
             "device number out of range"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *msg = NULL;
                int r = parse(cases[i].json, &msg);
                cr_assert_lt(r, 0, "case %zu accepted", i);
                cr_assert(strstr(msg, "CDI spec `/etc/cdi/t.json`"), "case %zu: %s", i, msg);
                cr_assert(strstr(msg, cases[i].error), "case %zu: %s", i, msg);
        }
}

Test(cdi, registry_loads_json_and_records_bad_files)
{
        _cleanup_registry_ struct skiff_cdi_registry *reg = load_fixtures();
        /* nvidia.json x2, k8s-device-plugin.json, jsoncontent.yaml, conflict-a/b, rdt */
        cr_assert_eq(reg->n_specs, 7);
        cr_assert_eq(skiff_strv_len(reg->errors), 2);
        cr_assert(strstr(reg->errors[0], "broken.json`: devices[0].containerEdits.deviceNodes[0]"
                                         ".bogus: unknown key"),
                  "%s", reg->errors[0]);
        cr_assert(strstr(reg->errors[1], "yaml.yaml`: YAML is not supported"), "%s",
                  reg->errors[1]);
}

Test(cdi, resolve_merges_spec_edits_once_then_devices)
{
        _cleanup_registry_ struct skiff_cdi_registry *reg = load_fixtures();
        char *names[] = {
            "nvidia.com/gpu=0", "nvidia.com/gpu=all", "nvidia.com/gpu=0",
            "k8s.device-plugin.nvidia.com/gpu=GPU-5f0ab2c1-0000-1111-2222-333344445555", NULL};
        struct skiff_cdi_edits e = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_cdi_resolve(reg, names, &e, &err), 0, "%s", skiff_error_msg(err));
        /* env: nvidia spec (2) + plugin spec (1) */
        cr_assert_eq(skiff_strv_len(e.env), 3);
        cr_assert_str_eq(e.env[0], "NVIDIA_VISIBLE_DEVICES=void");
        /* nodes: spec ctl+uvm, plugin spec none, then devices 0 (2), all (2), plugin dev (1) */
        cr_assert_eq(e.n_nodes, 7);
        cr_assert_str_eq(e.nodes[0].path, "/dev/nvidiactl");
        cr_assert_str_eq(e.nodes[0].permissions, "rw");
        cr_assert_str_eq(e.nodes[1].permissions, "");
        cr_assert(e.nodes[1].has_major && e.nodes[1].major == 238);
        cr_assert_str_eq(e.nodes[2].path, "/dev/nvidia0");
        cr_assert_str_eq(e.nodes[3].path, "/dev/fake-null");
        cr_assert_not(e.nodes[3].has_major);
        cr_assert_str_eq(e.nodes[3].host_path, "/dev/null");
        cr_assert_eq(e.n_mounts, 1);
        cr_assert_eq(skiff_strv_len(e.mounts[0].options), 5);
        cr_assert_eq(e.n_hooks, 1);
        cr_assert_str_eq(e.hooks[0].hook_name, "createContainer");
        cr_assert(e.hooks[0].has_timeout && e.hooks[0].timeout == 10);
        cr_assert_eq(e.n_gids, 1); /* 0 dropped, 44 once */
        cr_assert_eq(e.gids[0], 44);
        skiff_cdi_edits_done(&e);
}

Test(cdi, higher_priority_directory_wins)
{
        _cleanup_registry_ struct skiff_cdi_registry *reg = load_fixtures();
        char *names[] = {"nvidia.com/gpu=1", NULL};
        struct skiff_cdi_edits e = {0};
        cr_assert_eq(skiff_cdi_resolve(reg, names, &e, NULL), 0);
        /* run/nvidia.json's device 1 (minor 7); its spec has no spec-level edits */
        cr_assert_eq(e.n_nodes, 1);
        cr_assert_eq(e.nodes[0].minor, 7);
        skiff_cdi_edits_done(&e);
}

Test(cdi, unresolvable_and_conflicting_devices_fail_with_file_errors)
{
        _cleanup_registry_ struct skiff_cdi_registry *reg = load_fixtures();
        char *names[] = {"nvidia.com/gpu=9", "vendor.com/c=dup", "example.com/x=d", NULL};
        struct skiff_cdi_edits e = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_cdi_resolve(reg, names, &e, &err), -ENOENT);
        const char *m = skiff_error_msg(err);
        cr_assert(strstr(m, "unresolvable CDI devices nvidia.com/gpu=9, vendor.com/c=dup "
                            "(conflicting); "),
                  "%s", m);
        cr_assert(strstr(m, "broken.json"), "%s", m);

        char *rdt[] = {"rdt.com/c=r", NULL};
        cr_assert_eq(skiff_cdi_resolve(reg, rdt, &e, &err), -ENOTSUP);
        cr_assert(strstr(skiff_error_msg(err), "`intelRdt` is not supported"));

        char *yaml_json[] = {"example.com/x=d", NULL};
        cr_assert_eq(skiff_cdi_resolve(reg, yaml_json, &e, &err), 0);
        cr_assert_str_eq(e.env[0], "X=1");
        skiff_cdi_edits_done(&e);
}

Test(cdi, default_directories_missing_is_empty)
{
        const char *dirs[] = {"/nonexistent/cdi-a", "/nonexistent/cdi-b", NULL};
        _cleanup_registry_ struct skiff_cdi_registry *reg = NULL;
        cr_assert_eq(skiff_cdi_registry_load(dirs, &reg, NULL), 0);
        cr_assert_eq(reg->n_specs, 0);
}
