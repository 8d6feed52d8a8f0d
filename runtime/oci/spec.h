/* config.json -> typed OCI runtime spec. This module is the only reader of config.json (and of
 * the JSON process / LinuxResources documents containerd sends in Exec and Update). Unknown
 * top-level keys of the spec are ignored (the OCI spec allows extensions), but every value of a
 * known key is type-checked, and errors name the JSON path ("linux.seccomp.syscalls[2].action").
 *
 * All strings and arrays are heap-owned by the struct and freed by skiff_spec_free(). Optional
 * scalars carry a has_ flag. */
#ifndef SKIFF_OCI_SPEC_H
#define SKIFF_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define SKIFF_SPEC_MAX_SIZE (16u << 20) /* larger config.json files are refused */

struct skiff_spec_rlimit {
        int resource; /* RLIMIT_* resolved from "RLIMIT_NOFILE" etc. */
        uint64_t hard, soft;
};

struct skiff_spec_caps {
        char **bounding, **effective, **inheritable, **permitted, **ambient; /* names, strv */
};

struct skiff_spec_user {
        uint32_t uid, gid;
        bool has_umask;
        uint32_t umask;
        uint32_t *additional_gids;
        size_t n_additional_gids;
};

struct skiff_spec_process {
        bool terminal;
        bool has_console_size;
        uint32_t console_height, console_width;
        struct skiff_spec_user user;
        char **args; /* strv, required non-empty */
        char **env;  /* strv "K=V" */
        char *cwd;   /* required, absolute */
        bool has_caps;
        struct skiff_spec_caps caps;
        struct skiff_spec_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        char *apparmor_profile;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *selinux_label;
};

struct skiff_spec_mount {
        char *destination; /* absolute */
        char *type;        /* may be NULL for bind mounts */
        char *source;
        char **options; /* strv as given; decoded by the mounts module's option table */
};

enum skiff_ns_type {
        SKIFF_NS_PID,
        SKIFF_NS_NETWORK,
        SKIFF_NS_MOUNT,
        SKIFF_NS_IPC,
        SKIFF_NS_UTS,
        SKIFF_NS_USER,
        SKIFF_NS_CGROUP,
        SKIFF_NS_TIME,
        _SKIFF_NS_MAX,
};

struct skiff_spec_namespace {
        enum skiff_ns_type type;
        char *path; /* NULL: create a new one; else join by path */
};

struct skiff_spec_idmap {
        uint32_t container_id, host_id, size;
};

struct skiff_spec_device {
        char *path;
        char type; /* 'c', 'b', 'u', 'p' */
        int64_t major, minor;
        bool has_file_mode;
        uint32_t file_mode;
        bool has_uid, has_gid;
        uint32_t uid, gid;
};

struct skiff_spec_device_rule {
        bool allow;
        char type;            /* 'a', 'c', 'b' (0 = 'a') */
        int64_t major, minor; /* -1 = wildcard */
        char *access;         /* "rwm" subset; NULL = "rwm" */
};

/* linux.resources; also the document of UpdateTaskRequest.resources. Each has_ flag says the
 * value was present. */
struct skiff_spec_resources {
        struct skiff_spec_device_rule *devices;
        size_t n_devices;
        /* memory */
        bool has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_swappiness;
        int64_t mem_limit, mem_reservation, mem_swap;
        uint64_t mem_swappiness;
        bool has_disable_oom_killer;
        bool disable_oom_killer;
        /* cpu */
        bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_cpu_burst;
        uint64_t cpu_shares, cpu_period, cpu_burst;
        int64_t cpu_quota;
        bool has_cpu_rt_runtime, has_cpu_rt_period;
        int64_t cpu_rt_runtime;
        uint64_t cpu_rt_period;
        char *cpuset_cpus, *cpuset_mems;
        bool has_cpu_idle;
        int64_t cpu_idle;
        /* pids */
        bool has_pids_limit;
        int64_t pids_limit;
        /* blockIO weight only (devices-specific throttles are parsed but not applied yet) */
        bool has_blkio_weight;
        uint32_t blkio_weight;
        /* hugepage limits */
        struct {
                char *page_size;
                uint64_t limit;
        } * hugepages;
        size_t n_hugepages;
        /* cgroup v2 unified key/values: alternating strv */
        char **unified;
};

enum skiff_seccomp_action {
        SKIFF_SECCOMP_KILL,         /* SCMP_ACT_KILL (thread) */
        SKIFF_SECCOMP_KILL_PROCESS, /* SCMP_ACT_KILL_PROCESS */
        SKIFF_SECCOMP_KILL_THREAD,
        SKIFF_SECCOMP_TRAP,
        SKIFF_SECCOMP_ERRNO,
        SKIFF_SECCOMP_TRACE,
        SKIFF_SECCOMP_ALLOW,
        SKIFF_SECCOMP_LOG,
        SKIFF_SECCOMP_NOTIFY,
        _SKIFF_SECCOMP_ACTION_MAX,
};

enum skiff_seccomp_op {
        SKIFF_SECCOMP_OP_NE,
        SKIFF_SECCOMP_OP_LT,
        SKIFF_SECCOMP_OP_LE,
        SKIFF_SECCOMP_OP_EQ,
        SKIFF_SECCOMP_OP_GE,
        SKIFF_SECCOMP_OP_GT,
        SKIFF_SECCOMP_OP_MASKED_EQ,
        _SKIFF_SECCOMP_OP_MAX,
};

struct skiff_spec_seccomp_arg {
        uint32_t index;
        uint64_t value, value_two;
        enum skiff_seccomp_op op;
};

struct skiff_spec_seccomp_rule {
        char **names; /* syscall names */
        enum skiff_seccomp_action action;
        bool has_errno_ret;
        uint32_t errno_ret;
        struct skiff_spec_seccomp_arg *args;
        size_t n_args;
};

struct skiff_spec_seccomp {
        enum skiff_seccomp_action default_action;
        bool has_default_errno_ret;
        uint32_t default_errno_ret;
        char **architectures; /* "SCMP_ARCH_X86_64", ... */
        char **flags;         /* "SECCOMP_FILTER_FLAG_LOG", ... */
        char *listener_path;
        struct skiff_spec_seccomp_rule *syscalls;
        size_t n_syscalls;
};

struct skiff_spec_linux {
        struct skiff_spec_namespace *namespaces;
        size_t n_namespaces;
        struct skiff_spec_idmap *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        struct skiff_spec_device *devices;
        size_t n_devices;
        char *cgroups_path;
        bool has_resources;
        struct skiff_spec_resources resources;
        char **sysctl; /* alternating key, value */
        bool has_seccomp;
        struct skiff_spec_seccomp seccomp;
        char *rootfs_propagation; /* "private", "rprivate", "slave", "rslave", "shared", ... */
        char **masked_paths;
        char **readonly_paths;
        char *mount_label;
};

struct skiff_spec {
        char *oci_version;
        char *root_path; /* root.path (may be relative to the bundle) */
        bool root_readonly;
        bool has_process;
        struct skiff_spec_process process;
        char *hostname;
        char *domainname;
        struct skiff_spec_mount *mounts;
        size_t n_mounts;
        struct skiff_spec_linux linux_; /* "linux" */
        char **annotations;             /* alternating key, value */
};

/* Parses a config.json document. */
int skiff_spec_parse(const char *buf, size_t len, struct skiff_spec **out, skiff_err_t *err);
/* Reads and parses <bundle>/config.json (errors name the file). */
int skiff_spec_load(const char *bundle, struct skiff_spec **out, skiff_err_t *err);
void skiff_spec_free(struct skiff_spec *spec); /* NULL-safe */

/* Parses a JSON OCI "process" object (ExecProcessRequest.spec). */
int skiff_spec_process_parse(const char *buf, size_t len, struct skiff_spec_process **out,
                             skiff_err_t *err);
void skiff_spec_process_free(struct skiff_spec_process *p); /* NULL-safe */

/* Parses a JSON LinuxResources object (UpdateTaskRequest.resources). */
int skiff_spec_resources_parse(const char *buf, size_t len, struct skiff_spec_resources **out,
                               skiff_err_t *err);
void skiff_spec_resources_free(struct skiff_spec_resources *r); /* NULL-safe */

/* Annotation value by key, or NULL. */
const char *skiff_spec_annotation(const struct skiff_spec *spec, const char *key);
/* True when the spec asks for a namespace of this type; *path gets its path (or NULL). */
bool skiff_spec_has_namespace(const struct skiff_spec *spec, enum skiff_ns_type t,
                              const char **path);

#endif
