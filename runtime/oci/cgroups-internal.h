/* Private to cgroups*.c: the cgroup object, the per-version backend vtable and the shared file
 * helpers. Backends: cgroups-v1.c (one directory per controller hierarchy) and cgroups-v2.c
 * (one directory in the unified hierarchy; device rules through cgroups-bpf.c). */
#ifndef SKIFF_OCI_CGROUPS_INTERNAL_H
#define SKIFF_OCI_CGROUPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/cgroups.h"

struct skiff_spec_resources;
struct skiff_spec_device_rule;

/* v1 controllers skiff manages; index into skiff_cgroup.v1_dirs. */
enum skiff_cg_v1_ctrl {
        SKIFF_CG_CPU,
        SKIFF_CG_CPUACCT,
        SKIFF_CG_CPUSET,
        SKIFF_CG_MEMORY,
        SKIFF_CG_PIDS,
        SKIFF_CG_FREEZER,
        SKIFF_CG_DEVICES,
        SKIFF_CG_BLKIO,
        SKIFF_CG_HUGETLB,
        _SKIFF_CG_V1_MAX,
};

extern const char *const skiff_cg_v1_names[_SKIFF_CG_V1_MAX];

struct skiff_cgroup_ops;

struct skiff_cgroup {
        const struct skiff_cgroup_ops *ops;
        char *path; /* resolved "/a/b" */
        /* v1: absolute leaf directory per mounted controller, NULL when not mounted.
         * v1_created: the leaf was created by this object (rolled back on create failure). */
        char *v1_dirs[_SKIFF_CG_V1_MAX];
        bool v1_created[_SKIFF_CG_V1_MAX];
        /* v2: absolute leaf directory. */
        char *dir;
        bool created;
        int oom_fd;     /* v1 eventfd / v2 inotify; -EBADF until skiff_cgroup_oom_fd() */
        int oom_ctl_fd; /* v1: memory.oom_control, kept open while registered */
        uint64_t oom_kill_seen;
};

struct skiff_cgroup_ops {
        /* Fills the directory fields from cg->path; creates them when create is true. */
        int (*setup)(struct skiff_cgroup *cg, bool create, skiff_err_t *err);
        int (*apply)(struct skiff_cgroup *cg, const struct skiff_spec_resources *r,
                     skiff_err_t *err);
        int (*enter)(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err);
        int (*freeze)(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err);
        /* Directory whose cgroup.procs lists the cgroup's processes, or NULL. */
        const char *(*procs_dir)(const struct skiff_cgroup *cg);
        /* Kernel-side kill of the whole cgroup (v2 cgroup.kill); -ENOTSUP when unavailable. */
        int (*kill_all)(struct skiff_cgroup *cg, skiff_err_t *err);
        int (*stats)(struct skiff_cgroup *cg, struct skiff_cgroup_stats *out, skiff_err_t *err);
        /* Creates cg->oom_fd. */
        int (*oom_open)(struct skiff_cgroup *cg, skiff_err_t *err);
        /* Drains cg->oom_fd; *fired: the fd reported an event that counts as an OOM by itself. */
        int (*oom_drain)(struct skiff_cgroup *cg, bool *fired, skiff_err_t *err);
        /* Current OOM-kill counter of the cgroup. */
        int (*oom_kills)(struct skiff_cgroup *cg, uint64_t *count, skiff_err_t *err);
        /* rmdir of the leaf directories (one attempt); missing is success, -EBUSY passes up. */
        int (*rmdir)(struct skiff_cgroup *cg, skiff_err_t *err);
};

extern const struct skiff_cgroup_ops skiff_cgroup_v1_ops;
extern const struct skiff_cgroup_ops skiff_cgroup_v2_ops;

/* The hierarchy root in use ("/sys/fs/cgroup" unless overridden for tests). */
const char *skiff_cg_root(void);

/* File helpers: dir + "/" + file. Errors name the full path. */
int skiff_cg_write(const char *dir, const char *file, const char *value, skiff_err_t *err);
int skiff_cg_writef(const char *dir, const char *file, skiff_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like skiff_cg_write() but a missing file is success (returns 1 when written, 0 when missing). */
int skiff_cg_write_optional(const char *dir, const char *file, const char *value, skiff_err_t *err);
bool skiff_cg_exists(const char *dir, const char *file);
/* Reads a (small) cgroup file; trailing newline kept. */
int skiff_cg_read(const char *dir, const char *file, char **ret, skiff_err_t *err);
/* Reads a single unsigned number ("max" gives max_value). */
int skiff_cg_read_u64(const char *dir, const char *file, uint64_t max_value, uint64_t *ret,
                      skiff_err_t *err);
/* Looks up key in a flat-keyed file body ("key value\n" lines). -ENOENT when absent. */
int skiff_cg_kv_get(const char *body, const char *key, uint64_t *ret);
/* Parses all "key value" lines into a heap array (lines with a non-numeric value skipped). */
void skiff_cg_kv_parse(const char *body, struct skiff_kv_u64 **ret, size_t *n);
/* Polls file until its content (first line, trimmed) or the value of key (when key != NULL)
 * equals want, for up to timeout_ms. -ETIMEDOUT otherwise. */
int skiff_cg_wait_value(const char *dir, const char *file, const char *key, const char *want,
                        int timeout_ms, skiff_err_t *err);
/* rmdir with ENOENT as success. */
int skiff_cg_rmdir(const char *dir, skiff_err_t *err);
/* mkdir that reports whether it created the directory. */
int skiff_cg_mkdir(const char *dir, bool *created, skiff_err_t *err);
/* Formats a device rule for v1 devices.allow/deny ("c 1:3 rwm"), heap string; -EINVAL for bad
 * type or access. */
int skiff_cg_device_rule_string(const struct skiff_spec_device_rule *d, char **ret,
                                skiff_err_t *err);
/* Access bits of a rule ("rwm" subset, NULL = all) as BPF_DEVCG_ACC_* bits; -EINVAL if bad. */
int skiff_cg_device_access(const char *access, unsigned *ret);

/* cgroups-bpf.c: builds the BPF_PROG_TYPE_CGROUP_DEVICE program for rules (pure), and
 * replaces the device program attached to the cgroup directory dir. */
struct skiff_bpf_insn_buf {
        void *insns; /* struct bpf_insn[], heap */
        size_t n;
};
int skiff_cg_bpf_devices_build(const struct skiff_spec_device_rule *rules, size_t n,
                               struct skiff_bpf_insn_buf *out, skiff_err_t *err);
int skiff_cg_bpf_devices_apply(const char *dir, const struct skiff_spec_device_rule *rules,
                               size_t n, skiff_err_t *err);

#endif
