/* The GPU plan: request (nvenv.c / cdi.c) + discovery (discover.c) -> plain data describing
 * everything a container gets, checked against the requirements. No effects: inject.c applies
 * it. Layout (gpu.md §7.3, the Nix convention):
 *
 *   /run/opengl-driver             tmpfs, read-only once populated
 *     lib/<file>.so.<ver>          read-only binds of the host driver libraries (nosuid,nodev)
 *     lib/<SONAME>, lib/libcuda.so symlinks (plus libGLX_indirect, gbm/ for graphics)
 *     lib/vdpau/...                video
 *     bin/<utility>                read-only binds of nvidia-smi & co. (PATH gets this dir)
 *     etc/ld.so.cache              generated (new format), also bound over /etc/ld.so.cache
 *     etc/ld.so.conf               "/run/opengl-driver/lib"
 *     etc/OpenCL/vendors/nvidia.icd   when libnvidia-opencl is mounted
 *   /proc/driver/nvidia            tmpfs: params with ModifyDeviceFiles 0, version, and binds
 *                                  of the selected gpus/<bus> directories only
 *   /run/nvidia-persistenced/socket, /run/nvidia-fabricmanager/socket, /tmp/nvidia-mps
 *   linux.devices + linux.resources.devices   device nodes and cgroup rules (inject_spec)
 *   env                            LD_LIBRARY_PATH (prepended), PATH (appended),
 *                                  CONDA_OVERRIDE_CUDA (unless set), CDI env edits
 * Deviation from gpu.md §7.3: utilities live in /run/opengl-driver/bin instead of
 * /usr/local/nvidia/bin, so that nothing but mount points is created in the rootfs. */
#ifndef SKIFF_GPU_PLAN_H
#define SKIFF_GPU_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "gpu/discover.h"
#include "gpu/nvenv.h"

struct skiff_spec;
struct skiff_cdi_edits;

#define SKIFF_GPU_DRIVER_DIR "/run/opengl-driver"
#define SKIFF_GPU_LIB_DIR    SKIFF_GPU_DRIVER_DIR "/lib"
#define SKIFF_GPU_BIN_DIR    SKIFF_GPU_DRIVER_DIR "/bin"
#define SKIFF_GPU_PROC_DIR   "/proc/driver/nvidia"

struct skiff_gpu_node {
        char *path; /* container path */
        char type;  /* 'c' */
        uint32_t major, minor;
        uint32_t mode;  /* file mode bits */
        char access[4]; /* cgroup access, "rw" (CDI may say otherwise) */
        bool has_uid, has_gid;
        uint32_t uid, gid;
};

struct skiff_gpu_mount {
        char *source; /* host path */
        char *target; /* container path */
        bool is_dir;
        bool optional_target; /* skip (no error) when the target cannot be created */
};

struct skiff_gpu_link {
        char *path;   /* container path of the symlink */
        char *target; /* its (relative) target */
};

struct skiff_gpu_file {
        char *path; /* container path inside SKIFF_GPU_DRIVER_DIR */
        char *data;
        size_t len;
        mode_t mode;
};

struct skiff_gpu_plan {
        bool active; /* false: not a GPU container, nothing to do */
        enum skiff_nvenv_source source;
        unsigned caps;
        char *driver_version, *cuda_version; /* NULL when inactive / unknown */
        char **gpus;                         /* selected GPU UUIDs, strv */
        struct skiff_gpu_node *nodes;
        size_t n_nodes;
        /* Under SKIFF_GPU_DRIVER_DIR, in order: files, links, then mounts whose target is
         * inside it; then the other mounts. */
        struct skiff_gpu_file *files;
        size_t n_files;
        struct skiff_gpu_link *links;
        size_t n_links;
        struct skiff_gpu_mount *mounts;
        size_t n_mounts;
        /* /proc/driver/nvidia masking (when the container mounts procfs at /proc) */
        bool mask_proc;
        char *proc_params;                 /* masked params content */
        char *proc_version_source;         /* host path of the version file, or NULL */
        struct skiff_gpu_mount *proc_gpus; /* host gpus/<bus> -> /proc/driver/nvidia/gpus/<bus> */
        size_t n_proc_gpus;
        bool bind_ld_so_cache; /* bind etc/ld.so.cache over /etc/ld.so.cache */
        char *loader_link;     /* target of /lib64/ld-linux-x86-64.so.2 when the path is free */
        char **env_set;        /* "K=V": replace or append */
        char *ld_library_path; /* prepend this dir to LD_LIBRARY_PATH, or NULL */
        char *path_append;     /* append this dir to PATH, or NULL */
        uint32_t *gids;        /* additionalGids from CDI */
        size_t n_gids;
        char **hooks; /* CDI hooks, recorded as "<hookName> <path> <args...>", not run */
};

struct skiff_gpu_config {
        struct skiff_gpu_policy policy;
        struct skiff_discover_config discover;
        const char *const *cdi_dirs; /* NULL = /etc/cdi, /var/run/cdi */
        const char *requires_cuda;   /* the generation document's requires.cuda, or NULL */
        const char *loader;          /* container path of the closure's ld-linux, or NULL */
        bool no_ld_so_cache;         /* do not bind a generated /etc/ld.so.cache */
};

/* Builds the plan from a decided request, a discovered driver and the resolved CDI edits (NULL
 * when the request named no CDI devices). env is the container's env (for user values of
 * LD_LIBRARY_PATH / CONDA_OVERRIDE_CUDA). Errors: -EINVAL for ids that match no GPU ("device
 * `3`: unknown device (the node has 2 GPUs)"), -ENOTSUP for MIG ids that need NVML, -ERANGE for
 * unsatisfied requirements (require.h wording). */
int skiff_gpu_plan_build(const struct skiff_nvenv_request *req, const struct skiff_driver *drv,
                         const struct skiff_cdi_edits *cdi, const struct skiff_gpu_config *cfg,
                         char *const *env, struct skiff_gpu_plan **ret, skiff_err_t *err);

/* The whole pipeline for one container: request (policy) -> nothing to do (inactive plan, no
 * discovery) or CDI resolution + discovery + build. A GPU request on a node without a driver
 * fails: "container requests GPUs (via env `NVIDIA_VISIBLE_DEVICES`) but no NVIDIA driver: ...".
 * Blocks on file I/O. */
int skiff_gpu_plan_for_spec(const struct skiff_spec *spec, const struct skiff_gpu_config *cfg,
                            struct skiff_gpu_plan **ret, skiff_err_t *err);

struct skiff_gpu_plan *skiff_gpu_plan_free(struct skiff_gpu_plan *p); /* NULL-safe */

/* A JSON rendering of the plan (for `skiff gpu plan` and logs); heap string. */
int skiff_gpu_plan_to_json(const struct skiff_gpu_plan *p, char **out, skiff_err_t *err);

#endif
