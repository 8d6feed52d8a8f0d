#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "gpu/discover.h"
#include "gpu/nvenv.h"

#define FIX    SKIFF_SOURCE_DIR "/test/fixtures/gpu/"
#define DRIVER FIX "driver"
#define V      "580.159.04"

SKIFF_DEFINE_CLEANUP(struct skiff_driver *, skiff_driver_free)
#define _cleanup_driver_ _cleanup_(skiff_driver_freep)

static struct skiff_discover_config fixture_config(void)
{
        return (struct skiff_discover_config){
            .driver_root = DRIVER,
            .proc_root = DRIVER "/proc",
            .dev_root = DRIVER "/dev",
            .run_root = DRIVER "/run",
            .mps_dir = DRIVER "/no-mps",
        };
}

static const struct skiff_driver_file *lib(const struct skiff_driver *d, const char *name)
{
        for (size_t i = 0; i < d->n_libs; i++)
                if (strcmp(d->libs[i].name, name) == 0)
                        return &d->libs[i];
        return NULL;
}

Test(discover, fixture_driver_root_through_ld_so_cache)
{
        struct skiff_discover_config cfg = fixture_config();
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(d->version, V);
        _cleanup_free_ char *real_root = realpath(DRIVER, NULL);
        _cleanup_free_ char *libdir = xasprintf("%s/lib64", real_root);
        cr_assert_str_eq(d->libdir, libdir);
        cr_assert_str_eq(d->cuda_version, "13.0");
        cr_assert_str_eq(d->cuda_version_source, "note");

        /* Every *.so.V except the never-mounted GTK helper; stale 535 library left out. */
        cr_assert_eq(d->n_libs, 13, "%zu libs", d->n_libs);
        cr_assert_null(lib(d, "libnvidia-gtk3.so." V));
        cr_assert_null(lib(d, "libnvidia-ml.so.535.54.03"));
        const struct skiff_driver_file *f = lib(d, "libcuda.so." V);
        cr_assert_not_null(f);
        cr_assert_str_eq(f->soname, "libcuda.so.1");
        cr_assert_eq(f->caps, SKIFF_NVENV_CAP_COMPUTE);
        f = lib(d, "vdpau/libvdpau_nvidia.so." V);
        cr_assert_not_null(f);
        cr_assert_eq(f->caps, SKIFF_NVENV_CAP_VIDEO);
        cr_assert_eq(lib(d, "libnvidia-ml.so." V)->caps, SKIFF_NVENV_CAP_UTILITY);
        cr_assert_eq(lib(d, "libGLX_nvidia.so." V)->caps, SKIFF_NVENV_CAP_GRAPHICS);
        cr_assert_eq(lib(d, "libnvidia-tileiras.so." V)->caps, SKIFF_NVENV_CAP_COMPUTE);
        cr_assert_str_eq(lib(d, "libnvidia-gpucomp.so." V)->soname, "libnvidia-gpucomp.so." V);

        cr_assert_eq(d->n_gpus, 2);
        cr_assert_str_eq(d->gpus[0].uuid, "GPU-5f0ab2c1-0000-1111-2222-333344445555");
        cr_assert_str_eq(d->gpus[0].pci, "00000000:00:1e.0");
        cr_assert_str_eq(d->gpus[0].bus_dir, "0000:00:1e.0");
        cr_assert_str_eq(d->gpus[0].model, "NVIDIA H100 80GB HBM3");
        cr_assert_eq(d->gpus[1].minor, 1);
        cr_assert_eq(d->gpus[1].index, 1);

        cr_assert_eq(d->major_uvm, 238);
        cr_assert_eq(d->major_caps, 241);
        cr_assert_eq(d->major_imex, 242);
        cr_assert(d->has_mig_config && d->mig_config_minor == 1);
        cr_assert(d->has_mig_monitor && d->mig_monitor_minor == 2);
        cr_assert_eq(d->n_mig, 6);
        cr_assert(d->mig[1].is_ci && d->mig[1].gi == 0 && d->mig[1].ci == 0 &&
                  d->mig[1].minor == 4);
        cr_assert_eq(d->mig[4].gpu_minor, 1);

        cr_assert_eq(d->n_bins, 3);
        cr_assert_str_eq(d->bins[0].name, "nvidia-smi");
        cr_assert_eq(d->bins[0].caps, SKIFF_NVENV_CAP_UTILITY);
        cr_assert_not_null(d->persistenced_socket);
        cr_assert_null(d->fabricmanager_socket);
        cr_assert_null(d->mps_dir);
        cr_assert(strstr(d->params_masked, "ModifyDeviceFiles: 0\n"));
        cr_assert_null(strstr(d->params_masked, "ModifyDeviceFiles: 1"));
        cr_assert(strstr(d->params_masked, "DeviceFileMode: 438\n"));
}

Test(discover, falls_back_to_fixed_dirs_without_a_cache)
{
        struct skiff_discover_config cfg = fixture_config();
        cfg.ldcache = "/nonexistent/ld.so.cache";
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert(strstr(d->libdir, "/driver/lib64"));
}

Test(discover, corrupt_cache_is_an_error_naming_it)
{
        struct skiff_discover_config cfg = fixture_config();
        cfg.ldcache = DRIVER "/proc/devices";
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), -EBADMSG);
        cr_assert(strstr(skiff_error_msg(err), "proc/devices`"), "%s", skiff_error_msg(err));
}

Test(discover, no_kernel_module_is_enodev)
{
        struct skiff_discover_config cfg = fixture_config();
        cfg.proc_root = FIX "nonexistent-proc";
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), -ENODEV);
        cr_assert(strstr(skiff_error_msg(err), "no NVIDIA driver: `"), "%s", skiff_error_msg(err));
        cr_assert(strstr(skiff_error_msg(err), "is the nvidia kernel module loaded?"));
}

Test(discover, library_version_mismatch_is_enodev)
{
        /* The kernel says 550.54.15 but the driver root has 580 libraries. */
        struct skiff_discover_config cfg = fixture_config();
        cfg.proc_root = FIX "driver-nonote/proc";
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), -ENODEV);
        cr_assert(strstr(skiff_error_msg(err), "no `libcuda.so.550.54.15` under driver root"), "%s",
                  skiff_error_msg(err));
}

Test(discover, cuda_version_from_child_probe_without_note)
{
        struct skiff_discover_config cfg = {
            .driver_root = FIX "driver-nonote",
            .proc_root = FIX "driver-nonote/proc",
            .run_root = FIX "driver-nonote/run",
        };
        _cleanup_driver_ struct skiff_driver *d = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_null(d->cuda_version);
        cr_assert_eq(d->n_gpus, 0);
        skiff_driver_free(TAKE_PTR(d));
        cfg.probe_cuda = true;
        cr_assert_eq(skiff_discover_driver(&cfg, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(d->cuda_version, "12.4");
        cr_assert_str_eq(d->cuda_version_source, "probe");
}

Test(discover, version_parser_table)
{
        static const struct {
                const char *text, *want;
        } ok[] = {
            {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
             "(nixbld@)\nGCC version: gcc 12.2.0\n",
             "580.159.04"},
            {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54.03  Tue Jun  6 22:20:39 UTC "
             "2023\n",
             "535.54.03"},
            {"NVRM version: NVIDIA UNIX Kernel Module for aarch64  550.90  Release Build\n",
             "550.90"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *v = NULL;
                cr_assert_eq(skiff_discover_parse_version(ok[i].text, &v, NULL), 0);
                cr_assert_str_eq(v, ok[i].want);
        }
        const char *bad[] = {"", "GCC version: 12.2.0\n", "NVRM version: NVIDIA Module x86_64\n",
                             "NVRM version: Module 1..2\n"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad); i++) {
                char *v = NULL;
                cr_assert_eq(skiff_discover_parse_version(bad[i], &v, NULL), -EBADMSG, "%s",
                             bad[i]);
        }
}

Test(discover, information_and_note_parsers_reject_garbage)
{
        struct skiff_gpu_device g;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_discover_parse_information("GPU UUID: GPU-x\nDevice Minor: 255\n"
                                                      "Bus Location: 0000:00:1e.0\n",
                                                      &g, &err),
                     -EBADMSG);
        cr_assert(strstr(skiff_error_msg(err), "`Device Minor`"));
        cr_assert_eq(skiff_discover_parse_information("GPU UUID: GPU-x\nDevice Minor: 3\n"
                                                      "Bus Location: nowhere\n",
                                                      &g, &err),
                     -EBADMSG);
        cr_assert(strstr(skiff_error_msg(err), "`Bus Location`"));
        char *v = NULL;
        const char *notes[] = {"{}", "[1]", "{\"CUDA version\":13}", "{\"cuda version\":\"x\"}",
                               "{\"CUDA version\":\"13.0\""};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(notes); i++)
                cr_assert_lt(skiff_discover_parse_cuda_note(notes[i], strlen(notes[i]), &v, NULL),
                             0, "%s", notes[i]);
        const char *good = "{\"format\":1,\"cuda VERSION\":\"12.8\"}";
        cr_assert_eq(skiff_discover_parse_cuda_note(good, strlen(good), &v, NULL), 0);
        cr_assert_str_eq(v, "12.8");
        free(v);
}

Test(discover, devices_major_and_params_mask)
{
        const char *devs = "Character devices:\n  1 mem\n195 nvidia\n238 nvidia-uvm\n\n"
                           "Block devices:\n238 nvidia-caps\n";
        cr_assert_eq(skiff_discover_devices_major(devs, "nvidia-uvm"), 238);
        cr_assert_eq(skiff_discover_devices_major(devs, "nvidia-caps"), 0); /* block section */
        cr_assert_eq(skiff_discover_devices_major(devs, "nvidia-uv"), 0);
        _cleanup_free_ char *m = skiff_discover_mask_params("A: 1\nB: 2\n");
        cr_assert_str_eq(m, "A: 1\nB: 2\nModifyDeviceFiles: 0\n");
        cr_assert_eq(skiff_discover_lib_caps("libnvidia-gtk2.so.1"), 0);
        cr_assert_eq(skiff_discover_lib_caps("libnvidia-sandboxutils.so.1"),
                     SKIFF_NVENV_CAP_COMPUTE);
}
