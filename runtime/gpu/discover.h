/* NVIDIA driver discovery on the host without NVML (gpu.md §1.2, §2, §8): the driver version
 * from procfs, the GPUs from /proc/driver/nvidia/gpus/<bus>/information, character-device
 * majors from /proc/devices, MIG capability minors, the directory holding libcuda.so.<version>
 * (found through the driver root's ld.so.cache, then fixed search directories), every driver
 * library of that version with its SONAME, the utilities, IPC sockets, and the driver's CUDA
 * version from libcuda's `.note.cuda.fwd_compatibility` note (fallback: cuDriverGetVersion in a
 * forked child that dlopen()s libcuda, only when asked).
 *
 * Reads files only (no effects); all host paths are resolved inside the driver root with
 * openat2(RESOLVE_IN_ROOT), so symlinks in the driver tree cannot point outside it. Blocks on
 * file I/O (and on the optional child probe, bounded by a 10 s timeout). The result is plain
 * data for plan.c. */
#ifndef SKIFF_GPU_DISCOVER_H
#define SKIFF_GPU_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_discover_config {
        const char *driver_root; /* NULL = "/"; e.g. "/usr/local/nvidia", "/run/nvidia/driver" */
        const char *proc_root;   /* NULL = "/proc" */
        const char *dev_root;    /* NULL = "/dev": host device nodes (modes) */
        const char *run_root;    /* NULL = "/run": nvidia-persistenced / -fabricmanager sockets */
        const char *mps_dir;     /* NULL = "/tmp/nvidia-mps" */
        const char *ldcache;     /* NULL = <driver_root>/etc/ld.so.cache; missing is fine */
        bool probe_cuda;         /* fall back to cuDriverGetVersion when the note is missing */
};

/* Which capability (NVIDIA_DRIVER_CAPABILITIES bit, nvenv.h) needs a file. */
struct skiff_driver_file {
        char *path; /* resolved host path (absolute) */
        char *name; /* file name, with the subdirectory for vdpau ("vdpau/libvdpau_nvidia.so.V") */
        char *soname; /* DT_SONAME (libraries) or NULL */
        unsigned caps;
};

struct skiff_gpu_device {
        char *bus_dir; /* directory name under /proc/driver/nvidia/gpus */
        char *pci;     /* normalised %08x:%02x:%02x.%x */
        char *uuid;    /* "GPU-…" */
        char *model;
        uint32_t minor; /* /dev/nvidia<minor> */
        uint32_t index; /* position in PCI order (NVML's order) */
};

struct skiff_mig_cap {
        uint32_t gpu_minor, gi, ci;
        bool is_ci; /* gpu<N>/gi<G>/ci<C>/access, else gpu<N>/gi<G>/access */
        uint32_t minor;
};

struct skiff_driver {
        char *root, *proc_root, *dev_root;
        char *version;                              /* "580.159.04" */
        char *libdir;                               /* host directory of libcuda.so.<version> */
        char *cuda_version;                         /* "13.0", or NULL when unknown */
        const char *cuda_version_source;            /* "note", "probe" or NULL; static */
        uint32_t major_uvm, major_caps, major_imex; /* from /proc/devices; 0 = absent */
        struct skiff_gpu_device *gpus;              /* in PCI order */
        size_t n_gpus;
        struct skiff_mig_cap *mig;
        size_t n_mig;
        bool has_mig_config, has_mig_monitor;
        uint32_t mig_config_minor, mig_monitor_minor;
        struct skiff_driver_file *libs; /* every *.so.<version> of libdir (+ vdpau/), sorted */
        size_t n_libs;
        struct skiff_driver_file *bins;
        size_t n_bins;
        char *persistenced_socket, *fabricmanager_socket, *mps_dir; /* host paths or NULL */
        char *params_path;   /* <proc>/driver/nvidia/params, or NULL */
        char *params_masked; /* its content with ModifyDeviceFiles set to 0, or NULL */
};

/* Discovers the driver. -ENODEV with a message saying what is missing when there is no driver
 * ("no NVIDIA driver: `/proc/driver/nvidia/version` does not exist (is the nvidia kernel module
 * loaded?)", "no `libcuda.so.580.159.04` under driver root `/`: searched ..."); other errors
 * name the file. */
int skiff_discover_driver(const struct skiff_discover_config *cfg, struct skiff_driver **ret,
                          skiff_err_t *err);
struct skiff_driver *skiff_driver_free(struct skiff_driver *d); /* NULL-safe */

/* Parsers, exported for tests and fuzzing. All take NUL-terminated text unless a length is
 * given, and fail with -EBADMSG naming the problem. */
/* The version token of /proc/driver/nvidia/version's "NVRM version:" line. */
int skiff_discover_parse_version(const char *text, char **ret, skiff_err_t *err);
/* One gpus/<bus>/information file (needs "GPU UUID", "Device Minor", "Bus Location"). */
int skiff_discover_parse_information(const char *text, struct skiff_gpu_device *ret,
                                     skiff_err_t *err);
/* The "CUDA version" (key matched case-insensitively) of the note's JSON descriptor. */
int skiff_discover_parse_cuda_note(const char *json, size_t len, char **ret, skiff_err_t *err);
/* The major of a character device name in /proc/devices text; 0 when absent. */
uint32_t skiff_discover_devices_major(const char *text, const char *name);
/* /proc/driver/nvidia/params with "ModifyDeviceFiles: 1" rewritten to 0 (added when absent). */
char *skiff_discover_mask_params(const char *params);

/* Capability bits of a driver library by its file name (gpu.md §2.1 lists), 0 for files that
 * must never be mounted (X server modules, GTK helpers). Libraries unknown to the lists get
 * compute (NVIDIA adds libraries such as libnvidia-tileiras in new branches). */
unsigned skiff_discover_lib_caps(const char *name);

#endif
