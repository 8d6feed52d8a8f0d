/* cgroup v2 backend: one directory <root><path> in the unified hierarchy. Controllers are
 * enabled (best effort) in every ancestor's cgroup.subtree_control on the way down; limits of
 * controllers that end up unavailable in the leaf are skipped, like unmounted v1 controllers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/cgroups-internal.h"
#include "oci/spec.h"

#define FREEZE_WAIT_MS 5000

static const char *const wanted_controllers[] = {"cpu",  "cpuset", "memory",
                                                 "pids", "io",     "hugetlb"};

static char **read_controllers(const char *dir, const char *file)
{
        _cleanup_free_ char *body = NULL;
        skiff_err_t e = NULL;
        if (skiff_cg_read(dir, file, &body, &e) < 0) {
                skiff_error_free(&e);
                return skiff_strv_split("", " ", true);
        }
        return skiff_strv_split(body, " \n", true);
}

/* Best effort: a controller that cannot be enabled (e.g. threaded subtree, or a parent that
 * already hosts processes) leaves its limits unapplied rather than failing the container. */
static void enable_controllers(const char *dir)
{
        _cleanup_strv_ char **avail = read_controllers(dir, "cgroup.controllers");
        _cleanup_strv_ char **on = read_controllers(dir, "cgroup.subtree_control");
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(wanted_controllers); i++) {
                const char *c = wanted_controllers[i];
                if (!skiff_strv_contains(avail, c) || skiff_strv_contains(on, c))
                        continue;
                skiff_err_t e = NULL;
                _cleanup_free_ char *v = xasprintf("+%s", c);
                if (skiff_cg_write(dir, "cgroup.subtree_control", v, &e) < 0)
                        log_debug("cgroup: enable %s: %s, ignoring", c, skiff_error_msg(e));
                skiff_error_free(&e);
        }
}

static int v2_setup(struct skiff_cgroup *cg, bool create, skiff_err_t *err)
{
        cg->dir = skiff_path_join(skiff_cg_root(), cg->path);
        if (!create)
                return 0;
        _cleanup_strv_ char **comps = skiff_strv_split(cg->path, "/", true);
        _cleanup_free_ char *cur = xstrdup(skiff_cg_root());
        bool created = false;
        for (char **c = comps; *c; c++) {
                enable_controllers(cur);
                char *next = skiff_path_join(cur, *c);
                free(cur);
                cur = next;
                int r = skiff_cg_mkdir(cur, &created, err);
                if (r < 0)
                        return r;
        }
        cg->created = created;
        return 0;
}

static int write_limit(const char *dir, const char *file, int64_t v, skiff_err_t *err)
{
        if (v < 0)
                return skiff_cg_write(dir, file, "max", err);
        return skiff_cg_writef(dir, file, err, "%" PRId64, v);
}

/* OCI memory.swap is memory+swap (the v1 meaning); v2's memory.swap.max is swap alone. */
static int v2_apply_memory(const char *dir, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        int ret;
        int64_t mem = r->has_mem_limit ? r->mem_limit : 0;
        int64_t memsw = r->has_mem_swap ? r->mem_swap : 0;
        if (mem != 0 && (ret = write_limit(dir, "memory.max", mem, err)) < 0)
                return ret;
        if (r->has_mem_reservation && r->mem_reservation != 0 &&
            (ret = write_limit(dir, "memory.low", r->mem_reservation, err)) < 0)
                return ret;
        bool set_swap = true;
        int64_t swap = 0;
        if ((mem == -1 && memsw == 0) || memsw == -1)
                swap = -1;
        else if (memsw == 0)
                set_swap = false;
        else if (mem <= 0)
                return skiff_error_set(err, EINVAL, "memory.swap %" PRId64 " needs a memory.limit",
                                       memsw);
        else if (memsw < mem)
                return skiff_error_set(err, EINVAL,
                                       "memory.swap %" PRId64 " is below memory.limit %" PRId64,
                                       memsw, mem);
        else
                swap = memsw - mem;
        if (set_swap) {
                _cleanup_free_ char *v = swap < 0 ? xstrdup("max") : xasprintf("%" PRId64, swap);
                if ((ret = skiff_cg_write_optional(dir, "memory.swap.max", v, err)) < 0)
                        return ret;
                if (ret == 0)
                        log_debug("cgroup %s: no memory.swap.max, memory.swap ignored", dir);
        }
        /* v2 has neither swappiness nor a switch to disable the OOM killer: ignored. */
        return 0;
}

static int v2_apply_cpu(const char *dir, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        int ret;
        if (r->has_cpu_shares && r->cpu_shares != 0) {
                uint64_t shares = r->cpu_shares;
                if (shares < 2)
                        shares = 2;
                if (shares > 262144)
                        shares = 262144;
                uint64_t weight = 1 + ((shares - 2) * 9999) / 262142;
                if ((ret = skiff_cg_writef(dir, "cpu.weight", err, "%" PRIu64, weight)) < 0)
                        return ret;
        }
        bool set_quota = r->has_cpu_quota && r->cpu_quota != 0;
        bool set_period = r->has_cpu_period && r->cpu_period != 0;
        if (set_quota || set_period) {
                /* Keep the current half of "quota period" that this request leaves out. */
                _cleanup_free_ char *cur = NULL;
                if ((ret = skiff_cg_read(dir, "cpu.max", &cur, err)) < 0)
                        return ret;
                char qbuf[32] = "max";
                uint64_t period = 100000;
                if (sscanf(cur, "%31s %" SCNu64, qbuf, &period) < 1)
                        return skiff_error_set(err, EBADMSG, "parse `%s/cpu.max`", dir);
                if (set_quota) {
                        if (r->cpu_quota < 0)
                                snprintf(qbuf, sizeof(qbuf), "max");
                        else
                                snprintf(qbuf, sizeof(qbuf), "%" PRId64, r->cpu_quota);
                }
                if (set_period)
                        period = r->cpu_period;
                if ((ret = skiff_cg_writef(dir, "cpu.max", err, "%s %" PRIu64, qbuf, period)) < 0)
                        return ret;
        }
        if (r->has_cpu_burst) {
                _cleanup_free_ char *v = xasprintf("%" PRIu64, r->cpu_burst);
                if ((ret = skiff_cg_write_optional(dir, "cpu.max.burst", v, err)) < 0)
                        return ret;
        }
        if (r->has_cpu_idle) {
                _cleanup_free_ char *v = xasprintf("%" PRId64, r->cpu_idle);
                if ((ret = skiff_cg_write_optional(dir, "cpu.idle", v, err)) < 0)
                        return ret;
        }
        return 0;
}

static int v2_apply(struct skiff_cgroup *cg, const struct skiff_spec_resources *r, skiff_err_t *err)
{
        const char *d = cg->dir;
        _cleanup_strv_ char **avail = read_controllers(d, "cgroup.controllers");
        int ret;
        if ((r->has_cpu_rt_runtime && r->cpu_rt_runtime != 0) ||
            (r->has_cpu_rt_period && r->cpu_rt_period != 0))
                return skiff_error_set(err, ENOTSUP, "cpu.realtime* is not supported on cgroup v2");
        if (r->n_devices > 0 &&
            (ret = skiff_cg_bpf_devices_apply(d, r->devices, r->n_devices, err)) < 0)
                return ret;
        if (skiff_strv_contains(avail, "memory") && (ret = v2_apply_memory(d, r, err)) < 0)
                return ret;
        if (skiff_strv_contains(avail, "cpu") && (ret = v2_apply_cpu(d, r, err)) < 0)
                return ret;
        if (skiff_strv_contains(avail, "cpuset")) {
                if (r->cpuset_cpus && *r->cpuset_cpus &&
                    (ret = skiff_cg_write(d, "cpuset.cpus", r->cpuset_cpus, err)) < 0)
                        return ret;
                if (r->cpuset_mems && *r->cpuset_mems &&
                    (ret = skiff_cg_write(d, "cpuset.mems", r->cpuset_mems, err)) < 0)
                        return ret;
        }
        if (r->has_pids_limit && skiff_strv_contains(avail, "pids") &&
            (ret = write_limit(d, "pids.max", r->pids_limit > 0 ? r->pids_limit : -1, err)) < 0)
                return ret;
        if (r->has_blkio_weight && r->blkio_weight && skiff_strv_contains(avail, "io")) {
                /* io.bfq.weight takes the v1 value; io.weight the 1..10000 scale. */
                _cleanup_free_ char *v1 = xasprintf("%u", r->blkio_weight);
                ret = skiff_cg_write_optional(d, "io.bfq.weight", v1, err);
                if (ret == 0) {
                        uint64_t w = r->blkio_weight < 10 ? 10 : r->blkio_weight;
                        _cleanup_free_ char *v2 = xasprintf("%" PRIu64, 1 + (w - 10) * 9999 / 990);
                        ret = skiff_cg_write_optional(d, "io.weight", v2, err);
                }
                if (ret < 0)
                        return ret;
        }
        if (skiff_strv_contains(avail, "hugetlb")) {
                for (size_t i = 0; i < r->n_hugepages; i++) {
                        const char *ps = r->hugepages[i].page_size;
                        if (!ps || !skiff_path_is_component(ps))
                                return skiff_error_set(err, EINVAL,
                                                       "linux.resources.hugepageLimits[%zu]: "
                                                       "bad page size",
                                                       i);
                        _cleanup_free_ char *f = xasprintf("hugetlb.%s.max", ps);
                        ret = skiff_cg_writef(d, f, err, "%" PRIu64, r->hugepages[i].limit);
                        if (ret < 0)
                                return ret;
                }
        }
        for (char **kv = r->unified; kv && kv[0] && kv[1]; kv += 2) {
                if (!skiff_path_is_component(kv[0]))
                        return skiff_error_set(err, EINVAL,
                                               "linux.resources.unified: invalid key `%s`", kv[0]);
                if ((ret = skiff_cg_write(d, kv[0], kv[1], err)) < 0)
                        return skiff_error_wrap(err, "linux.resources.unified `%s`", kv[0]);
        }
        return 0;
}

static int v2_enter(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err)
{
        return skiff_cg_writef(cg->dir, "cgroup.procs", err, "%d", (int)pid);
}

static int v2_freeze(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err)
{
        if (!skiff_cg_exists(cg->dir, "cgroup.freeze"))
                return skiff_error_set(err, ENOTSUP, "no `%s/cgroup.freeze` (kernel < 5.2?)",
                                       cg->dir);
        int r = skiff_cg_write(cg->dir, "cgroup.freeze", frozen ? "1" : "0", err);
        if (r < 0)
                return r;
        return skiff_cg_wait_value(cg->dir, "cgroup.events", "frozen", frozen ? "1" : "0",
                                   FREEZE_WAIT_MS, err);
}

static const char *v2_procs_dir(const struct skiff_cgroup *cg)
{
        return cg->dir;
}

static int v2_kill_all(struct skiff_cgroup *cg, skiff_err_t *err)
{
        if (!skiff_cg_exists(cg->dir, "cgroup.kill"))
                return skiff_error_set(err, ENOTSUP, "no `%s/cgroup.kill`", cg->dir);
        return skiff_cg_write(cg->dir, "cgroup.kill", "1", err);
}

static int v2_stats(struct skiff_cgroup *cg, struct skiff_cgroup_stats *s, skiff_err_t *err)
{
        const char *d = cg->dir;
        int r;
        s->v2 = true;
        _cleanup_free_ char *cpu = NULL;
        if ((r = skiff_cg_read(d, "cpu.stat", &cpu, err)) < 0)
                return r;
        uint64_t v;
        if (skiff_cg_kv_get(cpu, "usage_usec", &v) == 0)
                s->cpu_usage_ns = v * 1000;
        if (skiff_cg_kv_get(cpu, "user_usec", &v) == 0)
                s->cpu_user_ns = v * 1000;
        if (skiff_cg_kv_get(cpu, "system_usec", &v) == 0)
                s->cpu_system_ns = v * 1000;
        if (skiff_cg_kv_get(cpu, "throttled_usec", &v) == 0)
                s->cpu_throttled_ns = v * 1000;
        (void)skiff_cg_kv_get(cpu, "nr_periods", &s->cpu_nr_periods); /* only with cpu enabled */
        (void)skiff_cg_kv_get(cpu, "nr_throttled", &s->cpu_nr_throttled);
        if (skiff_cg_exists(d, "memory.current")) {
                _cleanup_free_ char *stat = NULL, *events = NULL;
                if ((r = skiff_cg_read_u64(d, "memory.current", 0, &s->mem_usage, err)) < 0 ||
                    (r = skiff_cg_read_u64(d, "memory.max", UINT64_MAX, &s->mem_limit, err)) < 0)
                        return r;
                if (skiff_cg_exists(d, "memory.peak") &&
                    (r = skiff_cg_read_u64(d, "memory.peak", 0, &s->mem_max_usage, err)) < 0)
                        return r;
                if (skiff_cg_exists(d, "memory.swap.current") &&
                    ((r = skiff_cg_read_u64(d, "memory.swap.current", 0, &s->swap_usage, err)) <
                         0 ||
                     (r = skiff_cg_read_u64(d, "memory.swap.max", UINT64_MAX, &s->swap_limit,
                                            err)) < 0))
                        return r;
                if ((r = skiff_cg_read(d, "memory.stat", &stat, err)) < 0 ||
                    (r = skiff_cg_read(d, "memory.events", &events, err)) < 0)
                        return r;
                skiff_cg_kv_parse(stat, &s->memory_stat, &s->n_memory_stat);
                (void)skiff_cg_kv_get(events, "oom", &s->oom_events);
                (void)skiff_cg_kv_get(events, "oom_kill", &s->oom_kill);
                (void)skiff_cg_kv_get(events, "max", &s->mem_failcnt);
        }
        if (skiff_cg_exists(d, "pids.current") &&
            ((r = skiff_cg_read_u64(d, "pids.current", 0, &s->pids_current, err)) < 0 ||
             (r = skiff_cg_read_u64(d, "pids.max", 0, &s->pids_limit, err)) < 0))
                return r;
        return 0;
}

static int v2_oom_open(struct skiff_cgroup *cg, skiff_err_t *err)
{
        if (!skiff_cg_exists(cg->dir, "memory.events"))
                return skiff_error_set(err, ENOTSUP, "no `%s/memory.events`", cg->dir);
        _cleanup_free_ char *p = skiff_path_join(cg->dir, "memory.events");
        _cleanup_close_ int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "inotify_init1");
        if (inotify_add_watch(fd, p, IN_MODIFY) < 0)
                return skiff_error_set_errno(err, errno, "watch `%s`", p);
        cg->oom_fd = TAKE_FD(fd);
        return 0;
}

static int v2_oom_drain(struct skiff_cgroup *cg, bool *fired, skiff_err_t *err)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        *fired = false; /* only the oom_kill counter decides on v2 */
        for (;;) {
                ssize_t n = read(cg->oom_fd, buf, sizeof(buf));
                if (n > 0)
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != EAGAIN)
                        return skiff_error_set_errno(err, errno, "read OOM inotify fd");
                return 0;
        }
}

static int v2_oom_kills(struct skiff_cgroup *cg, uint64_t *count, skiff_err_t *err)
{
        _cleanup_free_ char *events = NULL;
        int r = skiff_cg_read(cg->dir, "memory.events", &events, err);
        if (r < 0)
                return r;
        *count = 0;
        (void)skiff_cg_kv_get(events, "oom_kill", count);
        return 0;
}

static int v2_rmdir(struct skiff_cgroup *cg, skiff_err_t *err)
{
        return skiff_cg_rmdir(cg->dir, err);
}

const struct skiff_cgroup_ops skiff_cgroup_v2_ops = {
    .setup = v2_setup,
    .apply = v2_apply,
    .enter = v2_enter,
    .freeze = v2_freeze,
    .procs_dir = v2_procs_dir,
    .kill_all = v2_kill_all,
    .stats = v2_stats,
    .oom_open = v2_oom_open,
    .oom_drain = v2_oom_drain,
    .oom_kills = v2_oom_kills,
    .rmdir = v2_rmdir,
};
