#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/ldcache.h"
#include "gpu/plan.h"
#include "oci/spec.h"

#define FIX    SKIFF_SOURCE_DIR "/test/fixtures/gpu/"
#define DRIVER FIX "driver"
#define V      "580.159.04"
#define U0     "GPU-5f0ab2c1-0000-1111-2222-333344445555"
#define U1     "GPU-9a8b7c6d-aaaa-bbbb-cccc-ddddeeeeffff"

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)
SKIFF_DEFINE_CLEANUP(struct skiff_gpu_plan *, skiff_gpu_plan_free)
SKIFF_DEFINE_CLEANUP(struct skiff_ldcache *, skiff_ldcache_free)
#define _cleanup_plan_ _cleanup_(skiff_gpu_plan_freep)
#define _cleanup_spec_ _cleanup_(skiff_spec_freep)

static const char *const cdi_dirs[] = {FIX "cdi/etc", FIX "cdi/run", NULL};

static struct skiff_gpu_config config(void)
{
        struct skiff_gpu_config c = {.policy = SKIFF_GPU_POLICY_DEFAULT};
        c.policy.accept_env_unprivileged = true;
        c.discover = (struct skiff_discover_config){
            .driver_root = DRIVER,
            .proc_root = DRIVER "/proc",
            .dev_root = DRIVER "/dev",
            .run_root = DRIVER "/run",
            .mps_dir = DRIVER "/no-mps",
        };
        c.cdi_dirs = cdi_dirs;
        return c;
}

static struct skiff_spec *spec_env(const char *env, const char *annotations)
{
        _cleanup_free_ char *json = xasprintf(
            "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"rootfs\"},"
            "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[%s]},\"annotations\":{%s}}",
            env, annotations);
        struct skiff_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_parse(json, strlen(json), &s, &err), 0, "%s", skiff_error_msg(err));
        return s;
}

static int plan_for(const char *env, const struct skiff_gpu_config *cfg, struct skiff_gpu_plan **p,
                    char **msg)
{
        _cleanup_spec_ struct skiff_spec *s = spec_env(env, "");
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_gpu_plan_for_spec(s, cfg, p, &err);
        if (msg) {
                free(*msg);
                *msg = xstrdup(skiff_error_msg(err));
        }
        return r;
}

static const struct skiff_gpu_node *node(const struct skiff_gpu_plan *p, const char *path)
{
        for (size_t i = 0; i < p->n_nodes; i++)
                if (strcmp(p->nodes[i].path, path) == 0)
                        return &p->nodes[i];
        return NULL;
}

static bool mounted(const struct skiff_gpu_plan *p, const char *target)
{
        for (size_t i = 0; i < p->n_mounts; i++)
                if (strcmp(p->mounts[i].target, target) == 0)
                        return true;
        return false;
}

static const char *link_target(const struct skiff_gpu_plan *p, const char *path)
{
        for (size_t i = 0; i < p->n_links; i++)
                if (strcmp(p->links[i].path, path) == 0)
                        return p->links[i].target;
        return NULL;
}

static const struct skiff_gpu_file *file(const struct skiff_gpu_plan *p, const char *path)
{
        for (size_t i = 0; i < p->n_files; i++)
                if (strcmp(p->files[i].path, path) == 0)
                        return &p->files[i];
        return NULL;
}

Test(plan, non_gpu_container_is_inactive_without_discovery)
{
        struct skiff_gpu_config cfg = config();
        cfg.discover.proc_root = "/nonexistent"; /* discovery would fail */
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(plan_for("\"PATH=/bin\"", &cfg, &p, &msg), 0, "%s", msg);
        cr_assert_not(p->active);
        cr_assert_eq(p->n_nodes + p->n_mounts + p->n_files, 0);
}

Test(plan, gpu_request_without_driver_is_a_clear_error)
{
        struct skiff_gpu_config cfg = config();
        cfg.discover.proc_root = "/nonexistent";
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=0\"", &cfg, &p, &msg), -ENODEV);
        cr_assert(strstr(msg, "container requests GPUs (via env): no NVIDIA driver: "
                              "`/nonexistent/driver/nvidia/version` does not exist"),
                  "%s", msg);
}

Test(plan, all_gpus_default_capabilities)
{
        struct skiff_gpu_config cfg = config();
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(
            plan_for("\"NVIDIA_VISIBLE_DEVICES=all\",\"LD_LIBRARY_PATH=/x\"", &cfg, &p, &msg), 0,
            "%s", msg);
        cr_assert(p->active);
        cr_assert_str_eq(p->driver_version, V);
        cr_assert_str_eq(p->cuda_version, "13.0");
        cr_assert_eq(skiff_strv_len(p->gpus), 2);
        cr_assert_eq(p->n_nodes, 5);
        const struct skiff_gpu_node *n = node(p, "/dev/nvidiactl");
        cr_assert(n && n->major == 195 && n->minor == 255 && n->mode == 0666);
        cr_assert_str_eq(n->access, "rw");
        n = node(p, "/dev/nvidia-uvm-tools");
        cr_assert(n && n->major == 238 && n->minor == 1);
        cr_assert_not_null(node(p, "/dev/nvidia1"));
        cr_assert_null(node(p, "/dev/nvidia-modeset"));

        /* compute + utility libraries only */
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libcuda.so." V));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libnvidia-ml.so." V));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libnvidia-ptxjitcompiler.so." V));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libnvidia-tileiras.so." V));
        cr_assert_not(mounted(p, SKIFF_GPU_LIB_DIR "/libGLX_nvidia.so." V));
        cr_assert_not(mounted(p, SKIFF_GPU_LIB_DIR "/libnvcuvid.so." V));
        cr_assert_not(mounted(p, SKIFF_GPU_LIB_DIR "/vdpau/libvdpau_nvidia.so." V));
        cr_assert_str_eq(link_target(p, SKIFF_GPU_LIB_DIR "/libcuda.so.1"), "libcuda.so." V);
        cr_assert_str_eq(link_target(p, SKIFF_GPU_LIB_DIR "/libcuda.so"), "libcuda.so.1");
        cr_assert_str_eq(link_target(p, SKIFF_GPU_LIB_DIR "/libnvidia-nvvm.so.4"),
                         "libnvidia-nvvm.so." V);
        cr_assert_null(link_target(p, SKIFF_GPU_LIB_DIR "/libnvidia-gpucomp.so." V));
        cr_assert(mounted(p, SKIFF_GPU_BIN_DIR "/nvidia-smi"));
        cr_assert(mounted(p, SKIFF_GPU_BIN_DIR "/nvidia-cuda-mps-control"));
        cr_assert(mounted(p, "/run/nvidia-persistenced/socket"));

        const struct skiff_gpu_file *f = file(p, SKIFF_GPU_DRIVER_DIR "/etc/ld.so.cache");
        cr_assert_not_null(f);
        _cleanup_(skiff_ldcache_freep) struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_parse(f->data, f->len, &c, NULL), 0);
        const struct skiff_ldcache_entry *e =
            skiff_ldcache_lookup(c, "libnvidia-ptxjitcompiler.so.1", SKIFF_LDCACHE_ARCH_X86_64);
        cr_assert_not_null(e);
        cr_assert_str_eq(e->value, SKIFF_GPU_LIB_DIR "/libnvidia-ptxjitcompiler.so.1");
        cr_assert_not_null(skiff_ldcache_lookup(c, "libcuda.so", SKIFF_LDCACHE_ARCH_X86_64));
        cr_assert_not_null(
            skiff_ldcache_lookup(c, "libnvidia-gpucomp.so." V, SKIFF_LDCACHE_ARCH_X86_64));
        cr_assert(p->bind_ld_so_cache);
        cr_assert_not_null(file(p, SKIFF_GPU_DRIVER_DIR "/etc/OpenCL/vendors/nvidia.icd"));

        cr_assert(p->mask_proc);
        cr_assert(strstr(p->proc_params, "ModifyDeviceFiles: 0"));
        cr_assert_eq(p->n_proc_gpus, 2);
        cr_assert_str_eq(p->ld_library_path, SKIFF_GPU_LIB_DIR);
        cr_assert_str_eq(p->path_append, SKIFF_GPU_BIN_DIR);
        cr_assert_str_eq(skiff_strv_env_get(p->env_set, "CONDA_OVERRIDE_CUDA"), "13.0");

        _cleanup_free_ char *json = NULL;
        cr_assert_eq(skiff_gpu_plan_to_json(p, &json, NULL), 0);
        cr_assert(strstr(json, "\"driverVersion\": \"" V "\""), "%s", json);
}

Test(plan, selection_by_uuid_pci_and_index)
{
        struct skiff_gpu_config cfg = config();
        const char *envs[] = {"\"NVIDIA_VISIBLE_DEVICES=" U1 "\"",
                              "\"NVIDIA_VISIBLE_DEVICES=0000:00:1f.0\"",
                              "\"NVIDIA_VISIBLE_DEVICES=1\""};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(envs); i++) {
                _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
                _cleanup_free_ char *msg = NULL;
                cr_assert_eq(plan_for(envs[i], &cfg, &p, &msg), 0, "%s", msg);
                cr_assert_eq(skiff_strv_len(p->gpus), 1, "%s", envs[i]);
                cr_assert_str_eq(p->gpus[0], U1);
                cr_assert_not_null(node(p, "/dev/nvidia1"));
                cr_assert_null(node(p, "/dev/nvidia0"));
                cr_assert_eq(p->n_proc_gpus, 1);
                cr_assert_str_eq(p->proc_gpus[0].target, "/proc/driver/nvidia/gpus/0000:00:1f.0");
        }
}

Test(plan, none_gives_driver_but_no_gpu_nodes)
{
        struct skiff_gpu_config cfg = config();
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=none\"", &cfg, &p, NULL), 0);
        cr_assert(p->active);
        cr_assert_eq(skiff_strv_len(p->gpus), 0);
        cr_assert_not_null(node(p, "/dev/nvidiactl"));
        cr_assert_null(node(p, "/dev/nvidia0"));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libcuda.so." V));
}

Test(plan, selection_errors)
{
        struct skiff_gpu_config cfg = config();
        static const struct {
                const char *env;
                int r;
                const char *msg;
        } cases[] = {
            {"\"NVIDIA_VISIBLE_DEVICES=5\"", -EINVAL,
             "device `5`: unknown device (the node has 2 GPUs)"},
            {"\"NVIDIA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000\"", -EINVAL,
             "unknown device"},
            {"\"NVIDIA_VISIBLE_DEVICES=0:1\"", -ENOTSUP, "device `0:1`: MIG devices by index"},
            {"\"NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=9\"", -ENOENT,
             "unresolvable CDI devices nvidia.com/gpu=9"},
            {"\"NVIDIA_VISIBLE_DEVICES=0\",\"NVIDIA_DRIVER_CAPABILITIES=bogus\"", -EINVAL,
             "env `NVIDIA_DRIVER_CAPABILITIES`: unknown driver capability `bogus`"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
                _cleanup_free_ char *msg = NULL;
                cr_assert_eq(plan_for(cases[i].env, &cfg, &p, &msg), cases[i].r, "%s: %s",
                             cases[i].env, msg);
                cr_assert(strstr(msg, cases[i].msg), "%s: %s", cases[i].env, msg);
        }
}

Test(plan, legacy_mig_id_adds_capability_nodes)
{
        struct skiff_gpu_config cfg = config();
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=MIG-" U0 "/1/0\"", &cfg, &p, &msg), 0, "%s",
                     msg);
        cr_assert_not_null(node(p, "/dev/nvidia0"));
        const struct skiff_gpu_node *gi = node(p, "/dev/nvidia-caps/nvidia-cap12");
        const struct skiff_gpu_node *ci = node(p, "/dev/nvidia-caps/nvidia-cap13");
        cr_assert(gi && gi->major == 241 && gi->mode == 0444);
        cr_assert(ci && ci->minor == 13);
        _cleanup_plan_ struct skiff_gpu_plan *q = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=MIG-" U0 "/7/0\"", &cfg, &q, &msg),
                     -EINVAL);
}

Test(plan, requirements_name_requirement_and_versions)
{
        struct skiff_gpu_config cfg = config();
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_free_ char *msg = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=0\",\"NVIDIA_REQUIRE_CUDA=cuda>=99.0\"",
                              &cfg, &p, &msg),
                     -ERANGE);
        cr_assert(strstr(msg, "requirement `NVIDIA_REQUIRE_CUDA`: unsatisfied condition: "
                              "cuda>=99.0, please update your driver"),
                  "%s", msg);
        cr_assert(strstr(msg, "(driver " V ", CUDA 13.0)"), "%s", msg);
        free(TAKE_PTR(msg));
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=0\",\"NVIDIA_REQUIRE_CUDA=cuda>=99.0\","
                              "\"NVIDIA_DISABLE_REQUIRE=1\"",
                              &cfg, &p, &msg),
                     0, "%s", msg);
        skiff_gpu_plan_free(TAKE_PTR(p));
        free(TAKE_PTR(msg));
        cfg.requires_cuda = ">=99.0";
        cr_assert_eq(
            plan_for("\"NVIDIA_VISIBLE_DEVICES=0\",\"NVIDIA_DISABLE_REQUIRE=1\"", &cfg, &p, &msg),
            -ERANGE);
        cr_assert(strstr(msg, "environment requires CUDA >=99.0, but the driver " V
                              " supports CUDA 13.0"),
                  "%s", msg);
        free(TAKE_PTR(msg));
        cfg.requires_cuda = ">=12.4";
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=0\"", &cfg, &p, &msg), 0, "%s", msg);
}

Test(plan, user_conda_override_and_video_caps)
{
        struct skiff_gpu_config cfg = config();
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        cr_assert_eq(plan_for("\"NVIDIA_VISIBLE_DEVICES=0\",\"CONDA_OVERRIDE_CUDA=\","
                              "\"NVIDIA_DRIVER_CAPABILITIES=video,graphics\"",
                              &cfg, &p, NULL),
                     0);
        cr_assert_null(skiff_strv_env_get(p->env_set, "CONDA_OVERRIDE_CUDA"));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/vdpau/libvdpau_nvidia.so." V));
        cr_assert_str_eq(link_target(p, SKIFF_GPU_LIB_DIR "/vdpau/libvdpau_nvidia.so.1"),
                         "libvdpau_nvidia.so." V);
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libGLX_nvidia.so." V));
        cr_assert_str_eq(link_target(p, SKIFF_GPU_LIB_DIR "/libGLX_indirect.so.0"),
                         "libGLX_nvidia.so.0");
        cr_assert_not(mounted(p, SKIFF_GPU_LIB_DIR "/libnvidia-ml.so." V)); /* no utility */
        cr_assert_not(mounted(p, SKIFF_GPU_BIN_DIR "/nvidia-smi"));
}

Test(plan, cdi_annotations_drive_nodes_and_drop_driver_mounts)
{
        struct skiff_gpu_config cfg = config();
        cfg.policy.accept_env_unprivileged = false;
        _cleanup_spec_ struct skiff_spec *s = spec_env(
            "\"NVIDIA_VISIBLE_DEVICES=all\"", "\"cdi.k8s.io/plugin\":\"nvidia.com/gpu=0\"");
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_gpu_plan_for_spec(s, &cfg, &p, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(p->source, SKIFF_NVENV_SOURCE_CDI);
        cr_assert_eq(skiff_strv_len(p->gpus), 1);
        cr_assert_str_eq(p->gpus[0], U0);
        const struct skiff_gpu_node *n = node(p, "/dev/nvidia-uvm");
        cr_assert_str_eq(n->access, ""); /* CDI "none" */
        n = node(p, "/dev/nvidia0");
        cr_assert_str_eq(n->access, "rwm"); /* CDI default */
        n = node(p, "/dev/fake-null");      /* numbers and mode filled from the host node */
        cr_assert(n && n->major == 1 && n->minor == 3 && n->mode == 0666);
        /* The FHS libcuda mount of the CDI spec is dropped; ours is at the Nix path. */
        cr_assert_not(mounted(p, "/usr/lib/x86_64-linux-gnu/libcuda.so." V));
        cr_assert(mounted(p, SKIFF_GPU_LIB_DIR "/libcuda.so." V));
        cr_assert_str_eq(skiff_strv_env_get(p->env_set, "NVIDIA_VISIBLE_DEVICES"), "void");
        cr_assert_eq(p->n_gids, 1);
        cr_assert_eq(skiff_strv_len(p->hooks), 1);
        cr_assert(strstr(p->hooks[0], "createContainer /usr/bin/nvidia-cdi-hook"));
}

Test(plan, modes_come_from_host_device_nodes)
{
        if (geteuid() != 0)
                cr_skip_test("mknod needs root");
        char dev[] = "/tmp/skiff-test-dev-XXXXXX";
        cr_assert_not_null(mkdtemp(dev));
        _cleanup_free_ char *n0 = xasprintf("%s/nvidia0", dev);
        _cleanup_free_ char *ctl = xasprintf("%s/nvidiactl", dev);
        mode_t old = umask(0);
        int r0 = mknod(n0, S_IFCHR | 0660, makedev(195, 0));
        int r1 = mknod(ctl, S_IFCHR | 0600, makedev(195, 255));
        umask(old);
        if (r0 < 0 || r1 < 0) {
                unlink(n0);
                unlink(ctl);
                rmdir(dev);
                cr_skip_test("mknod not permitted here");
        }
        struct skiff_gpu_config cfg = config();
        cfg.discover.dev_root = dev;
        _cleanup_plan_ struct skiff_gpu_plan *p = NULL;
        int r = plan_for("\"NVIDIA_VISIBLE_DEVICES=0\"", &cfg, &p, NULL);
        unlink(n0);
        unlink(ctl);
        rmdir(dev);
        cr_assert_eq(r, 0);
        cr_assert_eq(node(p, "/dev/nvidia0")->mode, 0660);
        cr_assert_eq(node(p, "/dev/nvidiactl")->mode, 0600);
        cr_assert_eq(node(p, "/dev/nvidia-uvm")->mode, 0666); /* no host node: default */
}
