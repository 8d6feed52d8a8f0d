/* What a container asks of the NVIDIA driver: the channels of gpu.md §4–§5 decoded into plain
 * data, under a trust policy. Pure (reads only the parsed spec).
 *
 * Channels, first match wins:
 *   1. SPEC       config.json already holds NVIDIA device nodes (major 195) in linux.devices:
 *                 containerd applied CDI edits, or the device plugin passed device specs.
 *   2. CDI        annotations whose key starts with the CDI prefix (default `cdi.k8s.io/`), keys
 *                 sorted, each value a comma list of fully-qualified CDI names.
 *   3. MOUNTS     bind mounts of `/dev/null` onto `/var/run/nvidia-container-devices/<id>` (the
 *                 device plugin's volume-mounts strategy); `<id>` may be
 * `cdi/<vendor>/<class>=<name>` or `cdi/<vendor>/<class>/<name>` (a CDI name) or `imex/<channel>`.
 *   4. ENV        NVIDIA_VISIBLE_DEVICES: honoured only for a privileged container (CAP_SYS_ADMIN
 * in the bounding set) or when the node policy accepts it from unprivileged pods, because any pod
 * can set it itself (gpu.md §4.1). Default: not accepted.
 *
 * Trust: SPEC, CDI and MOUNTS are written by the kubelet from the device plugin's Allocate
 * answer (a pod cannot create device nodes, `cdi.k8s.io/` annotations reach config.json only
 * when the runtime handler allowlists them, and a pod cannot bind-mount `/dev/null` from the host
 * without a hostPath volume, which admission policy should forbid). The env channel is not.
 *
 * Not supported: the "legacy image" rule (CUDA_VERSION without NVIDIA_REQUIRE_CUDA implies all
 * GPUs) — imageless pods have no image env, and the rule would bypass the policy. */
#ifndef SKIFF_GPU_NVENV_H
#define SKIFF_GPU_NVENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_spec;

#define SKIFF_NVENV_MAX_DEVICES 256 /* tokens in one device list */
#define SKIFF_NVENV_MOUNT_DIR   "/var/run/nvidia-container-devices"
#define SKIFF_NVENV_CDI_PREFIX  "cdi.k8s.io/"

/* NVIDIA_DRIVER_CAPABILITIES bits. */
enum {
        SKIFF_NVENV_CAP_COMPUTE = 1 << 0,
        SKIFF_NVENV_CAP_UTILITY = 1 << 1,
        SKIFF_NVENV_CAP_GRAPHICS = 1 << 2,
        SKIFF_NVENV_CAP_VIDEO = 1 << 3,
        SKIFF_NVENV_CAP_DISPLAY = 1 << 4,
        SKIFF_NVENV_CAP_COMPAT32 = 1 << 5,
        SKIFF_NVENV_CAP_NGX = 1 << 6,
};
#define SKIFF_NVENV_CAPS_DEFAULT (SKIFF_NVENV_CAP_UTILITY | SKIFF_NVENV_CAP_COMPUTE)
#define SKIFF_NVENV_CAPS_ALL     0x7f

enum skiff_nvenv_id_kind {
        SKIFF_NVENV_ID_INDEX,      /* "0": NVML order = PCI bus order */
        SKIFF_NVENV_ID_GPU_UUID,   /* "GPU-<uuid>" */
        SKIFF_NVENV_ID_PCI,        /* "0000:00:1e.0" (normalised to %08x:%02x:%02x.%x) */
        SKIFF_NVENV_ID_MIG_INDEX,  /* "<gpu index>:<mig index>" */
        SKIFF_NVENV_ID_MIG_UUID,   /* "MIG-<uuid>" (R470+) */
        SKIFF_NVENV_ID_MIG_LEGACY, /* "MIG-GPU-<gpu uuid>/<gi>/<ci>" (pre-R470) */
        SKIFF_NVENV_ID_CDI,        /* "vendor/class=name" */
        _SKIFF_NVENV_ID_MAX,
};

struct skiff_nvenv_id {
        enum skiff_nvenv_id_kind kind;
        uint32_t gpu; /* INDEX, MIG_INDEX: the GPU index; MIG_LEGACY: the GI id */
        uint32_t mig; /* MIG_INDEX: the MIG index; MIG_LEGACY: the CI id */
        char *str;    /* the token as given (UUID kinds: as given; PCI: normalised); owned */
};

enum skiff_nvenv_visible {
        SKIFF_NVENV_UNSET, /* variable absent: no request */
        SKIFF_NVENV_VOID,  /* "", "void", or a list containing "void": no request */
        SKIFF_NVENV_NONE,  /* "none": driver files and control nodes, no GPU */
        SKIFF_NVENV_ALL,   /* "all" */
        SKIFF_NVENV_LIST,  /* ids */
        _SKIFF_NVENV_VISIBLE_MAX,
};

struct skiff_nvenv_devices {
        enum skiff_nvenv_visible visible;
        struct skiff_nvenv_id *ids; /* owned, n_ids entries, in the order given, no duplicates */
        size_t n_ids;
};

/* Parses a NVIDIA_VISIBLE_DEVICES value (NULL = unset) per gpu.md §4.2: tokens split at ',',
 * surrounding blanks trimmed, empty tokens skipped. `all` and `none` must stand alone. Errors
 * (-EINVAL) quote the token: "device `GPU-xyz`: invalid GPU UUID". Release with _done. */
int skiff_nvenv_parse_devices(const char *value, struct skiff_nvenv_devices *ret, skiff_err_t *err);
void skiff_nvenv_devices_done(struct skiff_nvenv_devices *d); /* NULL-safe; zeroes *d */
/* Parses one token (no commas) into *ret (caller-allocated, ret->str owned). */
int skiff_nvenv_parse_id(const char *token, struct skiff_nvenv_id *ret, skiff_err_t *err);
/* Normalises a PCI bus id "d:b:s.f" (hex) to "%08x:%02x:%02x.%x"; heap result or NULL when the
 * syntax is wrong. */
char *skiff_nvenv_normalize_pci(const char *s);

/* Parses NVIDIA_DRIVER_CAPABILITIES (NULL or "" = the default utility,compute); words are
 * compute, compat32, graphics, utility, video, display, ngx, all. `video` implies compute (the
 * video libraries need libcuda). An unknown word is -EINVAL naming it. */
int skiff_nvenv_parse_caps(const char *value, unsigned *ret, skiff_err_t *err);
/* Comma-separated names of the bits in caps, heap ("utility,compute"). */
char *skiff_nvenv_caps_string(unsigned caps);

/* Go strconv.ParseBool truth (1 t T TRUE true True); everything else is false. */
bool skiff_nvenv_parse_bool(const char *s);

struct skiff_gpu_policy {
        bool accept_env_unprivileged; /* default false */
        bool accept_mounts;           /* default true */
        bool accept_cdi_annotations;  /* default true */
        const char *cdi_prefix;       /* NULL = SKIFF_NVENV_CDI_PREFIX; not owned */
};
#define SKIFF_GPU_POLICY_DEFAULT                                                                   \
        {                                                                                          \
                false, true, true, NULL                                                            \
        }

enum skiff_nvenv_source {
        SKIFF_NVENV_SOURCE_NONE, /* not a GPU container: leave it untouched */
        SKIFF_NVENV_SOURCE_SPEC,
        SKIFF_NVENV_SOURCE_CDI,
        SKIFF_NVENV_SOURCE_MOUNTS,
        SKIFF_NVENV_SOURCE_ENV,
        _SKIFF_NVENV_SOURCE_MAX,
};

struct skiff_nvenv_request {
        enum skiff_nvenv_source source;
        struct skiff_nvenv_devices devices; /* MOUNTS and ENV */
        char **cdi_devices;    /* CDI names (CDI source; CDI ids of MOUNTS and ENV), strv */
        uint32_t *spec_minors; /* SPEC: minors of /dev/nvidia<N> nodes present in linux.devices */
        size_t n_spec_minors;
        char *
            *imex_channels; /* MOUNTS imex/<n> and NVIDIA_IMEX_CHANNELS (trusted with ENV), strv */
        unsigned caps;
        char **requires;      /* alternating name, value: every NVIDIA_REQUIRE_* except _JETPACK */
        bool disable_require; /* NVIDIA_DISABLE_REQUIRE is true */
        bool privileged;      /* CAP_SYS_ADMIN in process.capabilities.bounding */
        bool env_refused;     /* NVIDIA_VISIBLE_DEVICES asked for GPUs but the policy refused it */
};

/* Decides what spec asks for under policy (NULL = defaults). A container that asks for nothing
 * gets source NONE and no error, whatever else its env holds. Errors (-EINVAL) name the
 * channel: "env `NVIDIA_VISIBLE_DEVICES`: device `x`: ...", "annotation `cdi.k8s.io/a`: ...",
 * "mount `/var/run/nvidia-container-devices/x`: ...". Release with _done. */
int skiff_nvenv_request_from_spec(const struct skiff_spec *spec,
                                  const struct skiff_gpu_policy *policy,
                                  struct skiff_nvenv_request *ret, skiff_err_t *err);
void skiff_nvenv_request_done(struct skiff_nvenv_request *r); /* NULL-safe; zeroes *r */

const char *skiff_nvenv_source_name(enum skiff_nvenv_source s); /* "spec", "cdi", ... */

#endif
