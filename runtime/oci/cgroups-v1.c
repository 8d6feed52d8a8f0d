/* cgroup v1 backend: one directory per mounted controller hierarchy (<root>/<controller><path>);
 * co-mounted controllers ("cpu,cpuacct") are reached through the usual symlinks and simply see
 * the same directory twice. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/cgroups-internal.h"
#include "oci/spec.h"

#define FREEZE_TRIES   50
#define FREEZE_WAIT_MS 100

static const char *dir_of(const struct skiff_cgroup *cg, enum skiff_cg_v1_ctrl c)
{
        return cg->v1_dirs[c];
}

/* Empty cpuset.cpus / cpuset.mems make a cpuset unusable: inherit the parent's. */
static int cpuset_inherit(const char *dir, const char *parent, skiff_err_t *err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *cur = NULL, *up = NULL;
                int r = skiff_cg_read(dir, files[i], &cur, err);
                if (r < 0)
                        return r;
                if (cur[strspn(cur, " \n")] != '\0')
                        continue;
                r = skiff_cg_read(parent, files[i], &up, err);
                if (r < 0)
                        return r;
                up[strcspn(up, "\n")] = '\0';
                r = skiff_cg_write(dir, files[i], up, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_setup(struct skiff_cgroup *cg, bool create, skiff_err_t *err)
{
        _cleanup_strv_ char **comps = skiff_strv_split(cg->path, "/", true);
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++) {
                _cleanup_free_ char *base = skiff_path_join(skiff_cg_root(), skiff_cg_v1_names[i]);
                if (!skiff_cg_exists(base, "cgroup.procs"))
                        continue; /* controller not mounted */
                if (!create) {
                        cg->v1_dirs[i] = skiff_path_join(base, cg->path);
                        continue;
                }
                _cleanup_free_ char *cur = TAKE_PTR(base);
                bool created = false;
                for (char **c = comps; *c; c++) {
                        char *next = skiff_path_join(cur, *c);
                        int r = skiff_cg_mkdir(next, &created, err);
                        if (r >= 0 && i == SKIFF_CG_CPUSET)
                                r = cpuset_inherit(next, cur, err);
                        free(cur);
                        cur = next;
                        if (r < 0) {
                                if (created && !c[1]) {
                                        cg->v1_dirs[i] = TAKE_PTR(cur);
                                        cg->v1_created[i] = true;
                                }
                                return r;
                        }
                }
                cg->v1_dirs[i] = TAKE_PTR(cur);
                cg->v1_created[i] = created;
        }
        return 0;
}

static int write_i64(const char *dir, const char *file, int64_t v, skiff_err_t *err)
{
        return skiff_cg_writef(dir, file, err, "%" PRId64, v);
}

/* Writes memory limit and memory+swap limit; memsw must stay >= the limit at every step, so the
 * order depends on the direction of the change: try memsw first, and on EINVAL the limit first. */
static int v1_apply_memory(const char *dir, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        bool has_memsw = skiff_cg_exists(dir, "memory.memsw.limit_in_bytes");
        bool set_swap = r->has_mem_swap && r->mem_swap != 0;
        int64_t swap = r->mem_swap;
        /* An unlimited memory request without a swap value means unlimited memory+swap too. */
        if (r->has_mem_limit && r->mem_limit == -1 && !set_swap) {
                set_swap = true;
                swap = -1;
        }
        if (set_swap && !has_memsw) {
                log_debug("cgroup %s: no swap accounting, memory.swap ignored", dir);
                set_swap = false;
        }
        bool set_limit = r->has_mem_limit && r->mem_limit != 0;
        int ret;
        if (set_swap && set_limit) {
                ret = write_i64(dir, "memory.memsw.limit_in_bytes", swap, err);
                if (ret == -EINVAL) {
                        skiff_error_free(err);
                        ret = write_i64(dir, "memory.limit_in_bytes", r->mem_limit, err);
                        if (ret >= 0)
                                ret = write_i64(dir, "memory.memsw.limit_in_bytes", swap, err);
                        if (ret < 0)
                                return ret;
                } else if (ret < 0) {
                        return ret;
                } else if ((ret = write_i64(dir, "memory.limit_in_bytes", r->mem_limit, err)) < 0) {
                        return ret;
                }
        } else if (set_limit) {
                if ((ret = write_i64(dir, "memory.limit_in_bytes", r->mem_limit, err)) < 0)
                        return ret;
        } else if (set_swap) {
                if ((ret = write_i64(dir, "memory.memsw.limit_in_bytes", swap, err)) < 0)
                        return ret;
        }
        if (r->has_mem_reservation && r->mem_reservation != 0 &&
            (ret = write_i64(dir, "memory.soft_limit_in_bytes", r->mem_reservation, err)) < 0)
                return ret;
        if (r->has_mem_swappiness) {
                if (r->mem_swappiness > 100)
                        return skiff_error_set(err, EINVAL,
                                               "memory.swappiness %" PRIu64 " is above 100",
                                               r->mem_swappiness);
                ret = skiff_cg_writef(dir, "memory.swappiness", err, "%" PRIu64, r->mem_swappiness);
                if (ret < 0)
                        return ret;
        }
        if (r->has_disable_oom_killer &&
            (ret = skiff_cg_write(dir, "memory.oom_control", r->disable_oom_killer ? "1" : "0",
                                  err)) < 0)
                return ret;
        return 0;
}

/* Writes a period, then a runtime/quota. Lowering a period can be refused (EINVAL) while the old
 * quota is still in place; then the quota goes first and the period is retried. */
static int write_period_quota(const char *dir, const char *period_file, bool has_period,
                              uint64_t period, const char *quota_file, bool has_quota,
                              int64_t quota, skiff_err_t *err)
{
        bool quota_done = false;
        int r;
        if (has_period && period != 0) {
                r = skiff_cg_writef(dir, period_file, err, "%" PRIu64, period);
                if (r == -EINVAL && has_quota && quota != 0) {
                        skiff_error_free(err);
                        if ((r = write_i64(dir, quota_file, quota, err)) < 0)
                                return r;
                        quota_done = true;
                        r = skiff_cg_writef(dir, period_file, err, "%" PRIu64, period);
                }
                if (r < 0)
                        return r;
        }
        if (has_quota && quota != 0 && !quota_done &&
            (r = write_i64(dir, quota_file, quota, err)) < 0)
                return r;
        return 0;
}

static int v1_apply_cpu(const char *dir, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        int ret;
        if (r->has_cpu_shares && r->cpu_shares != 0 &&
            (ret = skiff_cg_writef(dir, "cpu.shares", err, "%" PRIu64, r->cpu_shares)) < 0)
                return ret;
        ret = write_period_quota(dir, "cpu.cfs_period_us", r->has_cpu_period, r->cpu_period,
                                 "cpu.cfs_quota_us", r->has_cpu_quota, r->cpu_quota, err);
        if (ret < 0)
                return ret;
        if (r->has_cpu_burst) {
                _cleanup_free_ char *v = xasprintf("%" PRIu64, r->cpu_burst);
                if ((ret = skiff_cg_write_optional(dir, "cpu.cfs_burst_us", v, err)) < 0)
                        return ret;
        }
        ret =
            write_period_quota(dir, "cpu.rt_period_us", r->has_cpu_rt_period, r->cpu_rt_period,
                               "cpu.rt_runtime_us", r->has_cpu_rt_runtime, r->cpu_rt_runtime, err);
        if (ret < 0)
                return ret;
        if (r->has_cpu_idle) {
                _cleanup_free_ char *v = xasprintf("%" PRId64, r->cpu_idle);
                if ((ret = skiff_cg_write_optional(dir, "cpu.idle", v, err)) < 0)
                        return ret;
        }
        return 0;
}

static int v1_apply_devices(const char *dir, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        int ret = skiff_cg_write(dir, "devices.deny", "a", err);
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < r->n_devices; i++) {
                _cleanup_free_ char *rule = NULL;
                ret = skiff_cg_device_rule_string(&r->devices[i], &rule, err);
                if (ret >= 0)
                        ret = skiff_cg_write(
                            dir, r->devices[i].allow ? "devices.allow" : "devices.deny", rule, err);
                if (ret < 0)
                        return skiff_error_wrap(err, "linux.resources.devices[%zu]", i);
        }
        return 0;
}

static int v1_apply(struct skiff_cgroup *cg, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        const char *d;
        int ret;
        if (r->unified && r->unified[0])
                return skiff_error_set(err, EINVAL,
                                       "linux.resources.unified needs cgroup v2 (host is v1)");
        if (r->n_devices > 0 && (d = dir_of(cg, SKIFF_CG_DEVICES)) &&
            (ret = v1_apply_devices(d, r, err)) < 0)
                return ret;
        if ((d = dir_of(cg, SKIFF_CG_MEMORY)) && (ret = v1_apply_memory(d, r, err)) < 0)
                return ret;
        if ((d = dir_of(cg, SKIFF_CG_CPU)) && (ret = v1_apply_cpu(d, r, err)) < 0)
                return ret;
        if ((d = dir_of(cg, SKIFF_CG_CPUSET))) {
                if (r->cpuset_cpus && *r->cpuset_cpus &&
                    (ret = skiff_cg_write(d, "cpuset.cpus", r->cpuset_cpus, err)) < 0)
                        return ret;
                if (r->cpuset_mems && *r->cpuset_mems &&
                    (ret = skiff_cg_write(d, "cpuset.mems", r->cpuset_mems, err)) < 0)
                        return ret;
        }
        if (r->has_pids_limit && (d = dir_of(cg, SKIFF_CG_PIDS))) {
                if (r->pids_limit > 0)
                        ret = write_i64(d, "pids.max", r->pids_limit, err);
                else
                        ret = skiff_cg_write(d, "pids.max", "max", err);
                if (ret < 0)
                        return ret;
        }
        if (r->has_blkio_weight && r->blkio_weight && (d = dir_of(cg, SKIFF_CG_BLKIO))) {
                _cleanup_free_ char *v = xasprintf("%u", r->blkio_weight);
                ret = skiff_cg_write_optional(d, "blkio.weight", v, err);
                if (ret == 0)
                        ret = skiff_cg_write_optional(d, "blkio.bfq.weight", v, err);
                if (ret < 0)
                        return ret;
                if (ret == 0)
                        log_debug("cgroup %s: no blkio weight file, blockIO.weight ignored", d);
        }
        if ((d = dir_of(cg, SKIFF_CG_HUGETLB))) {
                for (size_t i = 0; i < r->n_hugepages; i++) {
                        const char *ps = r->hugepages[i].page_size;
                        if (!ps || !skiff_path_is_component(ps))
                                return skiff_error_set(err, EINVAL,
                                                       "linux.resources.hugepageLimits[%zu]: "
                                                       "bad page size",
                                                       i);
                        _cleanup_free_ char *f = xasprintf("hugetlb.%s.limit_in_bytes", ps);
                        ret = skiff_cg_writef(d, f, err, "%" PRIu64, r->hugepages[i].limit);
                        if (ret < 0)
                                return ret;
                }
        }
        return 0;
}

static int v1_enter(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err)
{
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++) {
                if (!cg->v1_dirs[i])
                        continue;
                int r = skiff_cg_writef(cg->v1_dirs[i], "cgroup.procs", err, "%d", (int)pid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_freeze(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err)
{
        const char *d = dir_of(cg, SKIFF_CG_FREEZER);
        const char *want = frozen ? "FROZEN" : "THAWED";
        if (!d)
                return skiff_error_set(err, ENOTSUP, "freezer controller not mounted");
        /* Tasks forked while freezing can leave the state at FREEZING: write again. */
        for (int i = 0;; i++) {
                int r = skiff_cg_write(d, "freezer.state", want, err);
                if (r >= 0)
                        r = skiff_cg_wait_value(d, "freezer.state", NULL, want, FREEZE_WAIT_MS,
                                                err);
                if (r != -ETIMEDOUT || i + 1 >= FREEZE_TRIES)
                        return r;
                skiff_error_free(err);
        }
}

static const char *v1_procs_dir(const struct skiff_cgroup *cg)
{
        static const enum skiff_cg_v1_ctrl order[] = {
            SKIFF_CG_FREEZER, SKIFF_CG_PIDS, SKIFF_CG_MEMORY, SKIFF_CG_CPU, SKIFF_CG_DEVICES};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(order); i++)
                if (cg->v1_dirs[order[i]])
                        return cg->v1_dirs[order[i]];
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++)
                if (cg->v1_dirs[i])
                        return cg->v1_dirs[i];
        return NULL;
}

static int v1_kill_all(struct skiff_cgroup *cg, skiff_err_t *err)
{
        return skiff_error_set(err, ENOTSUP, "cgroup v1 has no cgroup.kill");
}

static int v1_stats_cpu(struct skiff_cgroup *cg, struct skiff_cgroup_stats *s, skiff_err_t *err)
{
        const char *d = dir_of(cg, SKIFF_CG_CPUACCT);
        int r;
        if (d) {
                if ((r = skiff_cg_read_u64(d, "cpuacct.usage", 0, &s->cpu_usage_ns, err)) < 0)
                        return r;
                _cleanup_free_ char *percpu = NULL, *stat = NULL;
                if ((r = skiff_cg_read(d, "cpuacct.usage_percpu", &percpu, err)) < 0)
                        return r;
                _cleanup_strv_ char **v = skiff_strv_split(percpu, " \n", true);
                s->cpu_percpu_ns = xcalloc(skiff_strv_len(v) + 1, sizeof(uint64_t));
                for (char **p = v; *p; p++)
                        if (skiff_parse_u64(*p, &s->cpu_percpu_ns[s->n_cpu_percpu++]) < 0)
                                return skiff_error_set(err, EBADMSG,
                                                       "parse `%s/cpuacct.usage_percpu`", d);
                if ((r = skiff_cg_read(d, "cpuacct.stat", &stat, err)) < 0)
                        return r;
                long hz = sysconf(_SC_CLK_TCK);
                uint64_t ticks;
                if (hz <= 0)
                        hz = 100;
                if (skiff_cg_kv_get(stat, "user", &ticks) == 0)
                        s->cpu_user_ns = ticks * (1000000000ull / (uint64_t)hz);
                if (skiff_cg_kv_get(stat, "system", &ticks) == 0)
                        s->cpu_system_ns = ticks * (1000000000ull / (uint64_t)hz);
        }
        if ((d = dir_of(cg, SKIFF_CG_CPU))) {
                _cleanup_free_ char *stat = NULL;
                if ((r = skiff_cg_read(d, "cpu.stat", &stat, err)) < 0)
                        return r;
                (void)skiff_cg_kv_get(stat, "nr_periods", &s->cpu_nr_periods); /* 0 if absent */
                (void)skiff_cg_kv_get(stat, "nr_throttled", &s->cpu_nr_throttled);
                (void)skiff_cg_kv_get(stat, "throttled_time", &s->cpu_throttled_ns);
        }
        return 0;
}

static int v1_stats(struct skiff_cgroup *cg, struct skiff_cgroup_stats *s, skiff_err_t *err)
{
        const char *d;
        int r;
        s->v2 = false;
        if ((r = v1_stats_cpu(cg, s, err)) < 0)
                return r;
        if ((d = dir_of(cg, SKIFF_CG_MEMORY))) {
                static const struct {
                        const char *file;
                        size_t off;
                } files[] = {
                    {"memory.usage_in_bytes", offsetof(struct skiff_cgroup_stats, mem_usage)},
                    {"memory.max_usage_in_bytes",
                     offsetof(struct skiff_cgroup_stats, mem_max_usage)},
                    {"memory.limit_in_bytes", offsetof(struct skiff_cgroup_stats, mem_limit)},
                    {"memory.failcnt", offsetof(struct skiff_cgroup_stats, mem_failcnt)},
                };
                for (size_t i = 0; i < SKIFF_ARRAY_SIZE(files); i++)
                        if ((r = skiff_cg_read_u64(d, files[i].file, UINT64_MAX,
                                                   (uint64_t *)((char *)s + files[i].off), err)) <
                            0)
                                return r;
                if (skiff_cg_exists(d, "memory.memsw.usage_in_bytes")) {
                        if ((r = skiff_cg_read_u64(d, "memory.memsw.usage_in_bytes", UINT64_MAX,
                                                   &s->swap_usage, err)) < 0 ||
                            (r = skiff_cg_read_u64(d, "memory.memsw.limit_in_bytes", UINT64_MAX,
                                                   &s->swap_limit, err)) < 0)
                                return r;
                }
                _cleanup_free_ char *stat = NULL, *oc = NULL;
                if ((r = skiff_cg_read(d, "memory.stat", &stat, err)) < 0)
                        return r;
                skiff_cg_kv_parse(stat, &s->memory_stat, &s->n_memory_stat);
                if ((r = skiff_cg_read(d, "memory.oom_control", &oc, err)) < 0)
                        return r;
                (void)skiff_cg_kv_get(oc, "oom_kill", &s->oom_kill); /* absent before 4.13 */
        }
        if ((d = dir_of(cg, SKIFF_CG_PIDS))) {
                if ((r = skiff_cg_read_u64(d, "pids.current", 0, &s->pids_current, err)) < 0 ||
                    (r = skiff_cg_read_u64(d, "pids.max", 0, &s->pids_limit, err)) < 0)
                        return r;
        }
        return 0;
}

static int v1_oom_open(struct skiff_cgroup *cg, skiff_err_t *err)
{
        const char *d = dir_of(cg, SKIFF_CG_MEMORY);
        if (!d)
                return skiff_error_set(err, ENOTSUP, "memory controller not mounted");
        _cleanup_free_ char *ocp = skiff_path_join(d, "memory.oom_control");
        _cleanup_close_ int oc = open(ocp, O_RDONLY | O_CLOEXEC);
        if (oc < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", ocp);
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return skiff_error_set_errno(err, errno, "eventfd");
        int r = skiff_cg_writef(d, "cgroup.event_control", err, "%d %d", efd, oc);
        if (r < 0)
                return r;
        cg->oom_fd = TAKE_FD(efd);
        cg->oom_ctl_fd = TAKE_FD(oc);
        return 0;
}

static int v1_oom_drain(struct skiff_cgroup *cg, bool *fired, skiff_err_t *err)
{
        uint64_t v;
        ssize_t n = read(cg->oom_fd, &v, sizeof(v));
        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return skiff_error_set_errno(err, errno, "read OOM eventfd");
        *fired = n == (ssize_t)sizeof(v) && v > 0;
        return 0;
}

static int v1_oom_kills(struct skiff_cgroup *cg, uint64_t *count, skiff_err_t *err)
{
        const char *d = dir_of(cg, SKIFF_CG_MEMORY);
        if (!d)
                return skiff_error_set(err, ENOTSUP, "memory controller not mounted");
        _cleanup_free_ char *oc = NULL;
        int r = skiff_cg_read(d, "memory.oom_control", &oc, err);
        if (r < 0)
                return r;
        *count = 0;
        (void)skiff_cg_kv_get(oc, "oom_kill", count); /* absent before 4.13: eventfd only */
        return 0;
}

static int v1_rmdir(struct skiff_cgroup *cg, skiff_err_t *err)
{
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++) {
                if (!cg->v1_dirs[i])
                        continue;
                int r = skiff_cg_rmdir(cg->v1_dirs[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

const struct skiff_cgroup_ops skiff_cgroup_v1_ops = {
    .setup = v1_setup,
    .apply = v1_apply,
    .enter = v1_enter,
    .freeze = v1_freeze,
    .procs_dir = v1_procs_dir,
    .kill_all = v1_kill_all,
    .stats = v1_stats,
    .oom_open = v1_oom_open,
    .oom_drain = v1_oom_drain,
    .oom_kills = v1_oom_kills,
    .rmdir = v1_rmdir,
};
