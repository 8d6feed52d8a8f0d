/* cgroups v1 (hybrid hosts) and v2: create, limit, freeze, stat, kill, remove. The cgroups path
 * of the spec is either the cgroupfs form ("/a/b", relative ones are placed under the shim's
 * own cgroup) or the systemd form ("slice:prefix:name", mapped to a cgroupfs path
 * "/<slice path>/<prefix>-<name>.scope" when systemd is not used). */
#ifndef SKIFF_OCI_CGROUPS_H
#define SKIFF_OCI_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct skiff_spec_resources;

struct skiff_kv_u64 {
        char *key;
        uint64_t value;
};

/* Plain-data cgroup statistics; the shim converts them to containerd's Metrics messages.
 * Fields not available on this host are 0. */
struct skiff_cgroup_stats {
        bool v2;
        /* cpu */
        uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
        uint64_t *cpu_percpu_ns; /* v1 cpuacct.usage_percpu */
        size_t n_cpu_percpu;
        uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_ns;
        /* memory */
        uint64_t mem_usage, mem_max_usage, mem_limit, mem_failcnt;
        uint64_t swap_usage, swap_limit;
        struct skiff_kv_u64 *memory_stat; /* memory.stat as read */
        size_t n_memory_stat;
        uint64_t oom_events, oom_kill; /* v2 memory.events; v1 oom_control oom_kill */
        /* pids */
        uint64_t pids_current, pids_limit; /* limit 0 = max */
};

void skiff_cgroup_stats_clear(struct skiff_cgroup_stats *s);

enum skiff_cgroup_mode {
        SKIFF_CGROUP_V1,     /* legacy or hybrid: controllers in /sys/fs/cgroup/<ctrl> */
        SKIFF_CGROUP_V2,     /* unified */
};

/* Detects the host's mode (cached). */
enum skiff_cgroup_mode skiff_cgroup_mode(void);

struct skiff_cgroup; /* opaque */

/* Resolves the spec's cgroupsPath (or "/skiff/<id>" when empty) and creates the cgroup in every
 * needed controller; applies r when non-NULL. */
int skiff_cgroup_create(const char *cgroups_path, const char *id,
                        const struct skiff_spec_resources *r, struct skiff_cgroup **out,
                        skiff_err_t *err);
/* Reopens an existing cgroup by its resolved path (for cleanup); does not create it. */
int skiff_cgroup_open(const char *resolved_path, struct skiff_cgroup **out, skiff_err_t *err);
const char *skiff_cgroup_path(const struct skiff_cgroup *cg); /* resolved "/a/b" */
/* Moves pid into the cgroup (all controllers). */
int skiff_cgroup_enter(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err);
int skiff_cgroup_update(struct skiff_cgroup *cg, const struct skiff_spec_resources *r,
                        skiff_err_t *err);
int skiff_cgroup_freeze(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err);
int skiff_cgroup_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, skiff_err_t *err);
int skiff_cgroup_stats(struct skiff_cgroup *cg, struct skiff_cgroup_stats *out, skiff_err_t *err);
/* Sends sig to every process in the cgroup (thawing first for SIGKILL). */
int skiff_cgroup_kill(struct skiff_cgroup *cg, int sig, skiff_err_t *err);
/* OOM notification fd (see skiff_container_oom_fd), owned by cg. */
int skiff_cgroup_oom_fd(struct skiff_cgroup *cg, int *fd, skiff_err_t *err);
int skiff_cgroup_oom_check(struct skiff_cgroup *cg, bool *oom_killed, skiff_err_t *err);
/* Removes the cgroup directories (retrying briefly while exiting tasks leave). -EBUSY if
 * processes remain. Missing directories are fine. */
int skiff_cgroup_remove(struct skiff_cgroup *cg, skiff_err_t *err);
void skiff_cgroup_free(struct skiff_cgroup *cg); /* NULL-safe; closes fds, removes nothing */

#endif
