#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/nvenv.h"
#include "oci/spec.h"

/* --- NVIDIA_VISIBLE_DEVICES grammar --------------------------------------------------------- */

struct dev_case {
        const char *value;
        enum skiff_nvenv_visible visible;
        const char *ids; /* "kind:str|kind:str" with kind as a digit, or an error substring */
        int r;
};

#define U1 "5f0ab2c1-0000-1111-2222-333344445555"
#define U2 "9A8B7C6D-AAAA-BBBB-CCCC-DDDDEEEEFFFF"

static const struct dev_case dev_cases[] = {
    {NULL, SKIFF_NVENV_UNSET, "", 0},
    {"", SKIFF_NVENV_VOID, "", 0},
    {"  ,  ", SKIFF_NVENV_VOID, "", 0},
    {"void", SKIFF_NVENV_VOID, "", 0},
    {"0,void,1", SKIFF_NVENV_VOID, "", 0},
    {"none", SKIFF_NVENV_NONE, "", 0},
    {"all", SKIFF_NVENV_ALL, "", 0},
    {" all ", SKIFF_NVENV_ALL, "", 0},
    {"0", SKIFF_NVENV_LIST, "0:0", 0},
    {"0, 1,,0", SKIFF_NVENV_LIST, "0:0|0:1", 0},
    {"GPU-" U1, SKIFF_NVENV_LIST, "1:GPU-" U1, 0},
    {"gpu-" U2 ",GPU-" U2, SKIFF_NVENV_LIST, "1:gpu-" U2, 0}, /* case-insensitive dedupe */
    {"0000:00:1E.0", SKIFF_NVENV_LIST, "2:00000000:00:1e.0", 0},
    {"1:0", SKIFF_NVENV_LIST, "3:1:0", 0},
    {"MIG-" U1, SKIFF_NVENV_LIST, "4:MIG-" U1, 0},
    {"MIG-GPU-" U1 "/1/0", SKIFF_NVENV_LIST, "5:GPU-" U1, 0},
    {"nvidia.com/gpu=0", SKIFF_NVENV_LIST, "6:nvidia.com/gpu=0", 0},
    {"all,0", 0, "`all` cannot be combined", -EINVAL},
    {"none,1", 0, "`none` cannot be combined", -EINVAL},
    {"-1", 0, "device `-1`: unknown device id", -EINVAL},
    {"01", 0, "device `01`: unknown device id", -EINVAL},
    {"4294967296", 0, "unknown device id", -EINVAL},
    {"GPU-1234", 0, "device `GPU-1234`: invalid GPU UUID", -EINVAL},
    {"MIG-xyz", 0, "invalid MIG UUID", -EINVAL},
    {"1:x", 0, "invalid MIG index", -EINVAL},
    {"0000:zz:00.0", 0, "invalid PCI bus id", -EINVAL},
    {"MIG-GPU-" U1 "/1", 0, "invalid legacy MIG id", -EINVAL},
    {"nvidia.com/=0", 0, "invalid class", -EINVAL},
    {"/dev/nvidia0", 0, "not a CDI device name", -EINVAL},
};

Test(nvenv, visible_devices_grammar_table)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(dev_cases); i++) {
                const struct dev_case *c = &dev_cases[i];
                struct skiff_nvenv_devices d = {0};
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_nvenv_parse_devices(c->value, &d, &err);
                cr_assert_eq(r, c->r, "`%s`: r=%d %s", c->value, r, skiff_error_msg(err));
                if (r < 0) {
                        cr_assert(strstr(skiff_error_msg(err), c->ids), "`%s`: %s", c->value,
                                  skiff_error_msg(err));
                        continue;
                }
                cr_assert_eq(d.visible, c->visible, "`%s`: visible %d", c->value, d.visible);
                _cleanup_strv_ char **want = skiff_strv_split(c->ids, "|", true);
                cr_assert_eq(d.n_ids, skiff_strv_len(want), "`%s`: %zu ids", c->value, d.n_ids);
                for (size_t k = 0; k < d.n_ids; k++) {
                        cr_assert_eq((int)d.ids[k].kind, want[k][0] - '0', "`%s` id %zu kind",
                                     c->value, k);
                        const char *ws = want[k] + 2;
                        if (d.ids[k].kind == SKIFF_NVENV_ID_INDEX) {
                                cr_assert_eq(d.ids[k].gpu, (uint32_t)atoi(ws));
                        } else if (d.ids[k].kind == SKIFF_NVENV_ID_MIG_INDEX) {
                                _cleanup_free_ char *got =
                                    xasprintf("%u:%u", d.ids[k].gpu, d.ids[k].mig);
                                cr_assert_str_eq(got, ws);
                        } else {
                                cr_assert_str_eq(d.ids[k].str, ws, "`%s`", c->value);
                        }
                        if (d.ids[k].kind == SKIFF_NVENV_ID_MIG_LEGACY)
                                cr_assert(d.ids[k].gpu == 1 && d.ids[k].mig == 0);
                }
                skiff_nvenv_devices_done(&d);
        }
}

Test(nvenv, too_many_devices_is_an_error)
{
        _cleanup_free_ char *big = NULL;
        size_t cap = 300 * 5;
        big = xcalloc(cap, 1);
        for (int i = 0; i < 300; i++)
                snprintf(big + strlen(big), cap - strlen(big), "%s%d", i ? "," : "", i);
        struct skiff_nvenv_devices d = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_nvenv_parse_devices(big, &d, &err), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "more than 256 devices"));
}

struct caps_case {
        const char *value;
        unsigned caps;
        int r;
};

Test(nvenv, driver_capabilities_table)
{
        static const struct caps_case cases[] = {
            {NULL, SKIFF_NVENV_CAP_UTILITY | SKIFF_NVENV_CAP_COMPUTE, 0},
            {"", SKIFF_NVENV_CAP_UTILITY | SKIFF_NVENV_CAP_COMPUTE, 0},
            {"utility", SKIFF_NVENV_CAP_UTILITY, 0},
            {"compute, utility", SKIFF_NVENV_CAP_UTILITY | SKIFF_NVENV_CAP_COMPUTE, 0},
            {"video", SKIFF_NVENV_CAP_VIDEO | SKIFF_NVENV_CAP_COMPUTE, 0},
            {"display", SKIFF_NVENV_CAP_DISPLAY | SKIFF_NVENV_CAP_GRAPHICS, 0},
            {"graphics,compat32", SKIFF_NVENV_CAP_GRAPHICS | SKIFF_NVENV_CAP_COMPAT32, 0},
            {"all", SKIFF_NVENV_CAPS_ALL, 0},
            {"compute,bogus", 0, -EINVAL},
            {"Compute", 0, -EINVAL},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                unsigned caps = 0;
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_nvenv_parse_caps(cases[i].value, &caps, &err);
                cr_assert_eq(r, cases[i].r, "`%s`", cases[i].value);
                if (r == 0)
                        cr_assert_eq(caps, cases[i].caps, "`%s`: %#x", cases[i].value, caps);
                else
                        cr_assert(strstr(skiff_error_msg(err), "unknown driver capability"));
        }
        _cleanup_free_ char *s = skiff_nvenv_caps_string(SKIFF_NVENV_CAPS_DEFAULT);
        cr_assert_str_eq(s, "compute,utility");
}

Test(nvenv, parse_bool_follows_go)
{
        const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
        const char *no[] = {"0", "false", "yes", "", "tRUE"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(yes); i++)
                cr_assert(skiff_nvenv_parse_bool(yes[i]));
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(no); i++)
                cr_assert_not(skiff_nvenv_parse_bool(no[i]));
        cr_assert_not(skiff_nvenv_parse_bool(NULL));
}

/* --- request channels and trust policy ------------------------------------------------------ */

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)

/* A config.json with the given env (JSON array body), mounts, annotations, devices and extra
 * bounding capabilities. */
static struct skiff_spec *spec_with(const char *env, const char *mounts, const char *annotations,
                                    const char *devices, const char *caps)
{
        _cleanup_free_ char *json =
            xasprintf("{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"rootfs\"},"
                      "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[%s],"
                      "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"%s]}},"
                      "\"mounts\":[%s],\"annotations\":{%s},\"linux\":{\"devices\":[%s]}}",
                      env, caps, mounts, annotations, devices);
        struct skiff_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_parse(json, strlen(json), &s, &err), 0, "%s: %s",
                     skiff_error_msg(err), json);
        return s;
}

static int request(struct skiff_spec *s, const struct skiff_gpu_policy *pol,
                   struct skiff_nvenv_request *req, char **msg)
{
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_nvenv_request_from_spec(s, pol, req, &err);
        if (msg)
                *msg = xstrdup(skiff_error_msg(err));
        return r;
}

Test(nvenv, pod_set_env_is_refused_by_default)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s =
            spec_with("\"NVIDIA_VISIBLE_DEVICES=all\"", "", "", "", "");
        struct skiff_nvenv_request req;
        cr_assert_eq(request(s, NULL, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_NONE);
        cr_assert(req.env_refused);
        skiff_nvenv_request_done(&req);
}

Test(nvenv, env_is_honoured_when_policy_allows_or_privileged)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s =
            spec_with("\"NVIDIA_VISIBLE_DEVICES=0,1\",\"NVIDIA_DRIVER_CAPABILITIES=utility\","
                      "\"NVIDIA_REQUIRE_CUDA=cuda>=12.4\",\"NVIDIA_REQUIRE_JETPACK=x\","
                      "\"NVIDIA_REQUIRE_ARCH=arch>=9.0\",\"NVIDIA_DISABLE_REQUIRE=true\"",
                      "", "", "", "");
        struct skiff_gpu_policy pol = SKIFF_GPU_POLICY_DEFAULT;
        pol.accept_env_unprivileged = true;
        struct skiff_nvenv_request req;
        cr_assert_eq(request(s, &pol, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_ENV);
        cr_assert_eq(req.devices.visible, SKIFF_NVENV_LIST);
        cr_assert_eq(req.devices.n_ids, 2);
        cr_assert_eq(req.caps, SKIFF_NVENV_CAP_UTILITY);
        cr_assert_eq(skiff_strv_len(req.requires), 4);
        cr_assert_str_eq(req.requires[0], "NVIDIA_REQUIRE_CUDA");
        cr_assert_str_eq(req.requires[1], "cuda>=12.4");
        cr_assert_str_eq(req.requires[2], "NVIDIA_REQUIRE_ARCH");
        cr_assert(req.disable_require);
        skiff_nvenv_request_done(&req);

        _cleanup_(skiff_spec_freep) struct skiff_spec *p =
            spec_with("\"NVIDIA_VISIBLE_DEVICES=none\"", "", "", "", ",\"CAP_SYS_ADMIN\"");
        cr_assert_eq(request(p, NULL, &req, NULL), 0);
        cr_assert(req.privileged);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_ENV);
        cr_assert_eq(req.devices.visible, SKIFF_NVENV_NONE);
        cr_assert_eq(req.caps, SKIFF_NVENV_CAPS_DEFAULT);
        skiff_nvenv_request_done(&req);
}

Test(nvenv, non_gpu_container_is_untouched_even_with_bad_caps)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s = spec_with(
            "\"NVIDIA_DRIVER_CAPABILITIES=bogus\",\"NVIDIA_VISIBLE_DEVICES=void\"", "", "", "", "");
        struct skiff_nvenv_request req;
        cr_assert_eq(request(s, NULL, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_NONE);
        cr_assert_not(req.env_refused);
}

#define DEVNULL(dst)                                                                               \
        "{\"destination\":\"" dst "\",\"type\":\"bind\",\"source\":\"/dev/null\","                 \
        "\"options\":[\"bind\",\"ro\"]}"

/* clang-format off */
static const char plugin_mounts[] =
        DEVNULL("/var/run/nvidia-container-devices/GPU-" U1) ","
        DEVNULL("/var/run/nvidia-container-devices/imex/3") ","
        DEVNULL("/var/run/nvidia-container-devices/cdi/nvidia.com/gpu/1") ","
        DEVNULL("/var/run/nvidia-container-devices//1") ","
        DEVNULL("/var/run/other/0");
/* clang-format on */

Test(nvenv, device_plugin_mounts_are_trusted)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s =
            spec_with("\"NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices\","
                      "\"NVIDIA_DRIVER_CAPABILITIES=compute,utility,video\"",
                      plugin_mounts, "", "", "");
        struct skiff_nvenv_request req;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(request(s, NULL, &req, &msg), 0, "%s", msg);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_MOUNTS);
        cr_assert_eq(req.devices.visible, SKIFF_NVENV_LIST);
        cr_assert_eq(req.devices.n_ids, 2);
        cr_assert_str_eq(req.devices.ids[0].str, "GPU-" U1);
        cr_assert_eq(req.devices.ids[1].kind, SKIFF_NVENV_ID_INDEX);
        cr_assert_str_eq(req.imex_channels[0], "3");
        cr_assert_str_eq(req.cdi_devices[0], "nvidia.com/gpu=1");
        cr_assert_eq(req.caps,
                     SKIFF_NVENV_CAP_UTILITY | SKIFF_NVENV_CAP_COMPUTE | SKIFF_NVENV_CAP_VIDEO);
        skiff_nvenv_request_done(&req);

        struct skiff_gpu_policy pol = SKIFF_GPU_POLICY_DEFAULT;
        pol.accept_mounts = false;
        cr_assert_eq(request(s, &pol, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_NONE);
}

Test(nvenv, bad_mount_id_names_the_mount)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s =
            spec_with("", DEVNULL("/var/run/nvidia-container-devices/GPU-nope"), "", "", "");
        struct skiff_nvenv_request req;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(request(s, NULL, &req, &msg), -EINVAL);
        cr_assert(strstr(msg, "mount `/var/run/nvidia-container-devices/GPU-nope`: device "
                              "`GPU-nope`: invalid GPU UUID"),
                  "%s", msg);
}

Test(nvenv, cdi_annotations_sorted_by_key_and_validated)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s = spec_with(
            "\"NVIDIA_VISIBLE_DEVICES=all\"", "",
            "\"cdi.k8s.io/b\":\"nvidia.com/gpu=1\","
            "\"cdi.k8s.io/a\":\"k8s.device-plugin.nvidia.com/gpu=GPU-" U1 ", nvidia.com/gpu=1\","
            "\"other/x\":\"junk\"",
            "", "");
        struct skiff_nvenv_request req;
        cr_assert_eq(request(s, NULL, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_CDI);
        cr_assert_eq(skiff_strv_len(req.cdi_devices), 2);
        cr_assert_str_eq(req.cdi_devices[0], "k8s.device-plugin.nvidia.com/gpu=GPU-" U1);
        cr_assert_str_eq(req.cdi_devices[1], "nvidia.com/gpu=1");
        skiff_nvenv_request_done(&req);

        _cleanup_(skiff_spec_freep) struct skiff_spec *bad =
            spec_with("", "", "\"cdi.k8s.io/x\":\"gpu0\"", "", "");
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(request(bad, NULL, &req, &msg), -EINVAL);
        cr_assert(strstr(msg, "annotation `cdi.k8s.io/x`: `gpu0` is not a CDI device name"), "%s",
                  msg);
}

Test(nvenv, device_nodes_in_spec_win_over_everything)
{
        _cleanup_(skiff_spec_freep) struct skiff_spec *s = spec_with(
            "\"NVIDIA_VISIBLE_DEVICES=void\"", DEVNULL("/var/run/nvidia-container-devices/0"),
            "\"cdi.k8s.io/a\":\"nvidia.com/gpu=0\"",
            "{\"path\":\"/dev/nvidiactl\",\"type\":\"c\",\"major\":195,\"minor\":255},"
            "{\"path\":\"/dev/nvidia1\",\"type\":\"c\",\"major\":195,\"minor\":1},"
            "{\"path\":\"/dev/nvidia-uvm\",\"type\":\"c\",\"major\":238,\"minor\":0}",
            "");
        struct skiff_nvenv_request req;
        cr_assert_eq(request(s, NULL, &req, NULL), 0);
        cr_assert_eq(req.source, SKIFF_NVENV_SOURCE_SPEC);
        cr_assert_eq(req.n_spec_minors, 1);
        cr_assert_eq(req.spec_minors[0], 1);
        cr_assert_str_eq(skiff_nvenv_source_name(req.source), "spec");
        skiff_nvenv_request_done(&req);
}
