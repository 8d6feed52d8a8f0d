/* cgroups v1 (legacy and hybrid hosts) and v2: create, limit, enter, freeze, stat, kill, remove.
 * No systemd is involved: every cgroup is managed through the cgroupfs files directly.
 *
 * cgroupsPath forms (skiff_cgroup_resolve_path):
 *   - empty: "/skiff/<id>";
 *   - "/a/b": absolute, cleaned ("//" and "." dropped), ".." refused, "/" refused;
 *   - "a/b": relative, placed under the caller's own cgroup from /proc/self/cgroup (v2: the
 *     "0::" entry; v1: the memory controller's entry, else the first controller's entry);
 *   - "slice:prefix:name" (systemd form, as kubelet with the systemd driver sends it): the slice
 *     is expanded the way systemd nests slices ("kubepods-burstable-pod1.slice" ->
 *     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"; "-.slice" is the
 *     root; an empty slice means "system.slice") and "/<prefix>-<name>.scope" is appended
 *     ("/<name>.scope" for an empty prefix; a name ending in ".slice" is used as is). This is
 *     the cgroupfs path systemd itself would create for that unit.
 *
 * v1: each controller skiff manages (cpu, cpuacct, cpuset, memory, pids, freezer, devices,
 * blkio, hugetlb) gets <root>/<controller><path>; controllers that are not mounted are skipped
 * and so are their limits. New cpuset directories (intermediate ones included) inherit
 * cpuset.cpus / cpuset.mems from their parent when empty.
 * v2: <root><path>; the needed controllers are enabled best effort in every ancestor's
 * cgroup.subtree_control; limits of controllers not available in the leaf are skipped.
 * Resource mapping on v2 follows runc: memory.swap (memory+swap) becomes
 * memory.swap.max = swap - limit; cpu.weight = 1 + ((shares - 2) * 9999) / 262142;
 * io.weight = 1 + (weight - 10) * 9999 / 990; swappiness and disableOOMKiller are ignored;
 * realtime cpu values are refused (-ENOTSUP). Device rules on v2 are an eBPF
 * BPF_PROG_TYPE_CGROUP_DEVICE program (last matching rule wins, no match denies) that replaces
 * the one of an earlier update. pids.limit > 0 sets the number, <= 0 means "max".
 *
 * All functions block only for the short waits documented on them. Errors name the cgroup path
 * or file. */
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
        SKIFF_CGROUP_V1, /* legacy or hybrid: controllers in /sys/fs/cgroup/<ctrl> */
        SKIFF_CGROUP_V2, /* unified */
};

/* Detects the host's mode (cached): statfs("/sys/fs/cgroup") is cgroup2 -> V2, else V1 (this
 * includes hybrid hosts, whose cgroup2 mount at /sys/fs/cgroup/unified carries no controllers). */
enum skiff_cgroup_mode skiff_cgroup_mode(void);

/* Test-only: use root instead of "/sys/fs/cgroup" and force mode (root NULL restores
 * detection). Not thread-safe; never called by the runtime. */
void skiff_cgroup_set_root_for_testing(const char *root, enum skiff_cgroup_mode mode);
/* Test-only: read path instead of /proc/self/cgroup (NULL restores it). */
void skiff_cgroup_set_self_cgroup_for_testing(const char *path);

/* Resolves a spec cgroupsPath (forms above) into a clean absolute path "/a/b" (heap, caller
 * frees). -EINVAL for malformed paths or ids (the message names the path); errors reading
 * /proc/self/cgroup for relative paths. */
int skiff_cgroup_resolve_path(const char *cgroups_path, const char *id, char **ret,
                              skiff_err_t *err);

struct skiff_cgroup; /* opaque */

/* Resolves the spec's cgroupsPath (or "/skiff/<id>" when empty) and creates the cgroup in every
 * needed controller; applies r when non-NULL. On failure the leaf directories created here are
 * removed again. *out is owned by the caller (skiff_cgroup_free). */
int skiff_cgroup_create(const char *cgroups_path, const char *id,
                        const struct skiff_spec_resources *r, struct skiff_cgroup **out,
                        skiff_err_t *err);
/* Reopens an existing cgroup by its resolved path (for cleanup); does not create it and does
 * not require it to exist (operations on a missing cgroup fail with -ENOENT, remove succeeds). */
int skiff_cgroup_open(const char *resolved_path, struct skiff_cgroup **out, skiff_err_t *err);
const char *skiff_cgroup_path(const struct skiff_cgroup *cg); /* resolved "/a/b" */
/* Moves pid into the cgroup (all controllers). */
int skiff_cgroup_enter(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err);
/* Applies resource values live; only fields whose has_ flag is set (or non-NULL strings, non-empty
 * arrays) are written. Device rules, when present, replace the previous rule set: v1 writes
 * devices.deny "a" and then the rules in order; v2 attaches a new program. */
int skiff_cgroup_update(struct skiff_cgroup *cg, const struct skiff_spec_resources *r,
                        skiff_err_t *err);
/* Freezes / thaws and waits until the kernel reports the state (v1 freezer.state, v2
 * cgroup.events "frozen"), up to ~5 s (-ETIMEDOUT). -ENOTSUP without a freezer. */
int skiff_cgroup_freeze(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err);
/* Pids listed in cgroup.procs (host pid namespace); caller frees *pids. */
int skiff_cgroup_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, skiff_err_t *err);
/* Fills *out (zeroed first; release with skiff_cgroup_stats_clear). */
int skiff_cgroup_stats(struct skiff_cgroup *cg, struct skiff_cgroup_stats *out, skiff_err_t *err);
/* Sends sig to every process in the cgroup; an empty or missing cgroup is success. For SIGKILL
 * the cgroup is thawed first, v2 cgroup.kill is used when present, and the pids are signalled
 * repeatedly until cgroup.procs is empty (up to ~5 s, then -EBUSY). Other signals are sent once.
 * Note that an exited but unreaped child of the caller may still be listed on some kernels. */
int skiff_cgroup_kill(struct skiff_cgroup *cg, int sig, skiff_err_t *err);
/* OOM notification fd, owned by cg (non-blocking; v1: eventfd registered through
 * cgroup.event_control on memory.oom_control; v2: inotify IN_MODIFY on memory.events).
 * -ENOTSUP without the memory controller. Created on the first call, then the same fd. */
int skiff_cgroup_oom_fd(struct skiff_cgroup *cg, int *fd, skiff_err_t *err);
/* Drains the OOM fd (when opened) and reports whether an OOM kill happened since the previous
 * check (or since create/open): the oom_kill counter grew, or (v1) the eventfd fired while the
 * cgroup still exists. Never blocks. A removed cgroup reports false. */
int skiff_cgroup_oom_check(struct skiff_cgroup *cg, bool *oom_killed, skiff_err_t *err);
/* Removes the leaf cgroup directories, retrying for up to ~1 s while exiting tasks leave, then
 * -EBUSY. Missing directories are fine. Intermediate directories (e.g. "/skiff", slices) are
 * left in place: other containers may share them. */
int skiff_cgroup_remove(struct skiff_cgroup *cg, skiff_err_t *err);
void skiff_cgroup_free(struct skiff_cgroup *cg); /* NULL-safe; closes fds, removes nothing */

#endif
