#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "oci/cgroups-internal.h"
#include "oci/cgroups.h"
#include "oci/spec.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static char tmp_root[] = "/tmp/skiff-cgtest-XXXXXX";

static void rm_tmp(void)
{
        skiff_err_t e = NULL;
        (void)skiff_fs_rm_rf(tmp_root, &e);
        skiff_error_free(&e);
}

static void make_tmp(void)
{
        cr_assert_not_null(mkdtemp(tmp_root));
        atexit(rm_tmp);
}

/* Writes content to <tmp_root>/<rel>, creating parent directories. */
static void put(const char *rel, const char *content)
{
        _cleanup_free_ char *p = skiff_path_join(tmp_root, rel);
        _cleanup_free_ char *dir = skiff_path_dirname(p);
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(dir, 0755, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(skiff_fs_write_file_atomic(p, content, strlen(content), 0644, false, &e), 0,
                     "%s", skiff_error_msg(e));
}

/* Content of an absolute or <tmp_root>-relative file, first line only. */
static char *get(const char *path)
{
        _cleanup_free_ char *p = path[0] == '/' ? xstrdup(path) : skiff_path_join(tmp_root, path);
        char *buf = NULL;
        size_t len = 0;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_fs_read_file(p, 1 << 20, &buf, &len, &e), 0, "%s", skiff_error_msg(e));
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

static void assert_file(const char *rel, const char *want)
{
        _cleanup_free_ char *got = get(rel);
        cr_assert_str_eq(got, want, "%s: got `%s`, want `%s`", rel, got, want);
}

static void expect_resolve(const char *in, const char *id, const char *want)
{
        _cleanup_free_ char *got = NULL;
        skiff_err_t e = NULL;
        int r = skiff_cgroup_resolve_path(in, id, &got, &e);
        cr_assert_eq(r, 0, "resolve `%s`: %s", in, skiff_error_msg(e));
        cr_assert_str_eq(got, want, "resolve `%s`", in);
}

static void expect_resolve_fails(const char *in, const char *id)
{
        _cleanup_free_ char *got = NULL;
        _cleanup_error_ skiff_err_t e = NULL;
        int r = skiff_cgroup_resolve_path(in, id, &got, &e);
        cr_assert_eq(r, -EINVAL, "resolve `%s` gave %d (%s)", in, r, got ? got : "");
        if (in && *in)
                cr_assert(strstr(skiff_error_msg(e), in) != NULL, "message `%s` names `%s`",
                          skiff_error_msg(e), in);
}

/* ---- path resolution ---------------------------------------------------------------------------
 */

Test(cgroups, resolve_cgroupfs_paths)
{
        expect_resolve("/a//b/./c/", "x", "/a/b/c");
        expect_resolve("/kubepods/burstable/pod1/abc", "abc", "/kubepods/burstable/pod1/abc");
        expect_resolve("", "ctr1", "/skiff/ctr1");
        expect_resolve(NULL, "ctr1", "/skiff/ctr1");
        expect_resolve_fails("/a/../../etc", "x");
        expect_resolve_fails("/", "x");
        expect_resolve_fails("", "../evil");
}

Test(cgroups, resolve_systemd_form)
{
        expect_resolve("kubepods-burstable-pod123.slice:cri-containerd:abc", "abc",
                       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/"
                       "cri-containerd-abc.scope");
        expect_resolve("system.slice:docker:1", "1", "/system.slice/docker-1.scope");
        expect_resolve(":cri:1", "1", "/system.slice/cri-1.scope");
        expect_resolve("-.slice:p:n", "n", "/p-n.scope");
        expect_resolve("a.slice::n", "n", "/a.slice/n.scope");
        expect_resolve("a-b.slice:p:a-b-c.slice", "n", "/a.slice/a-b.slice/a-b-c.slice");
        expect_resolve_fails("a--b.slice:p:n", "n");
        expect_resolve_fails("-a.slice:p:n", "n");
        expect_resolve_fails("notaslice:p:n", "n");
        expect_resolve_fails("a.slice:p", "n");
        expect_resolve_fails("a.slice:p:../n", "n");
}

Test(cgroups, resolve_relative_under_own_cgroup)
{
        make_tmp();
        put("self-v1", "9:name=systemd:/sys\n8:pids:/p\n4:memory:/process_api/x\n1:cpu:/c\n0::/\n");
        put("self-v2", "0::/user.slice/session-1.scope\n");
        _cleanup_free_ char *v1 = skiff_path_join(tmp_root, "self-v1");
        _cleanup_free_ char *v2 = skiff_path_join(tmp_root, "self-v2");
        skiff_cgroup_set_root_for_testing(tmp_root, SKIFF_CGROUP_V1);
        skiff_cgroup_set_self_cgroup_for_testing(v1);
        expect_resolve("rel/a", "a", "/process_api/x/rel/a");
        expect_resolve_fails("rel/../../a", "a");
        skiff_cgroup_set_root_for_testing(tmp_root, SKIFF_CGROUP_V2);
        skiff_cgroup_set_self_cgroup_for_testing(v2);
        expect_resolve("rel", "a", "/user.slice/session-1.scope/rel");
}

/* ---- fake hierarchies ------------------------------------------------------------------------ */

static const char *const v1_ctrls[] = {"cpu",  "cpuacct", "cpuset", "memory",
                                       "pids", "freezer", "devices"};

/* A v1 tree with controllers (no blkio, no hugetlb: "not mounted"), cgroup /a/b pre-populated
 * with the knob files (the kernel would create them on mkdir). */
static void fake_v1_tree(void)
{
        static const char *const leaf_files[] = {
            "cgroup.procs",
            "cgroup.event_control",
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpuset.cpus",
            "cpuset.mems",
            "memory.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "pids.max",
            "freezer.state",
            "devices.allow",
            "devices.deny",
        };
        make_tmp();
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(v1_ctrls); i++) {
                _cleanup_free_ char *p = xasprintf("%s/cgroup.procs", v1_ctrls[i]);
                put(p, "");
                for (size_t f = 0; f < SKIFF_ARRAY_SIZE(leaf_files); f++) {
                        _cleanup_free_ char *l = xasprintf("%s/a/b/%s", v1_ctrls[i], leaf_files[f]);
                        put(l, "");
                }
        }
        put("cpuset/cpuset.cpus", "0-1\n");
        put("cpuset/cpuset.mems", "0\n");
        put("cpuset/a/cpuset.cpus", "\n");
        put("cpuset/a/cpuset.mems", "\n");
        put("memory/a/b/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        skiff_cgroup_set_root_for_testing(tmp_root, SKIFF_CGROUP_V1);
}

static struct skiff_spec_device_rule test_rules[] = {
    {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = (char *)"rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = (char *)"rwm"},
};

Test(cgroups, v1_limits_written)
{
        fake_v1_tree();
        struct skiff_spec_resources r = {0};
        r.has_mem_limit = r.has_mem_reservation = r.has_mem_swap = r.has_mem_swappiness = true;
        r.mem_limit = 100 << 20;
        r.mem_reservation = 50 << 20;
        r.mem_swap = 200 << 20;
        r.mem_swappiness = 10;
        r.has_disable_oom_killer = r.disable_oom_killer = true;
        r.has_cpu_shares = r.has_cpu_quota = r.has_cpu_period = true;
        r.cpu_shares = 512;
        r.cpu_quota = 50000;
        r.cpu_period = 100000;
        r.cpuset_cpus = (char *)"0,1";
        r.has_pids_limit = true;
        r.pids_limit = 42;
        r.devices = test_rules;
        r.n_devices = SKIFF_ARRAY_SIZE(test_rules);
        put("memory/a/b/memory.oom_control", ""); /* fake files are not truncated by writes */
        r.has_blkio_weight = true;                /* blkio not mounted: skipped */
        r.blkio_weight = 100;
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create("/a/b", "b", &r, &cg, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_str_eq(skiff_cgroup_path(cg), "/a/b");
        assert_file("memory/a/b/memory.limit_in_bytes", "104857600");
        assert_file("memory/a/b/memory.memsw.limit_in_bytes", "209715200");
        assert_file("memory/a/b/memory.soft_limit_in_bytes", "52428800");
        assert_file("memory/a/b/memory.swappiness", "10");
        assert_file("memory/a/b/memory.oom_control", "1");
        assert_file("cpu/a/b/cpu.shares", "512");
        assert_file("cpu/a/b/cpu.cfs_quota_us", "50000");
        assert_file("cpu/a/b/cpu.cfs_period_us", "100000");
        assert_file("cpuset/a/b/cpuset.cpus", "0,1");
        assert_file("cpuset/a/cpuset.cpus", "0-1"); /* intermediate inherited from the root */
        assert_file("cpuset/a/b/cpuset.mems", "0"); /* leaf inherited through /a */
        assert_file("pids/a/b/pids.max", "42");
        assert_file("devices/a/b/devices.deny", "a");
        assert_file("devices/a/b/devices.allow", "c 1:3 rwm");
        _cleanup_free_ char *blkio = xasprintf("%s/blkio", tmp_root);
        cr_assert(access(blkio, F_OK) != 0);

        struct skiff_spec_resources u = {0};
        u.has_pids_limit = true;
        u.pids_limit = -1;
        u.has_mem_limit = true;
        u.mem_limit = -1;
        put("pids/a/b/pids.max", ""); /* fake files are not truncated by writes */
        put("memory/a/b/memory.limit_in_bytes", "");
        put("memory/a/b/memory.memsw.limit_in_bytes", "");
        cr_assert_eq(skiff_cgroup_update(cg, &u, &e), 0, "%s", skiff_error_msg(e));
        assert_file("pids/a/b/pids.max", "max");
        assert_file("memory/a/b/memory.limit_in_bytes", "-1");
        assert_file("memory/a/b/memory.memsw.limit_in_bytes", "-1");
        u.pids_limit = 0;
        put("pids/a/b/pids.max", "");
        cr_assert_eq(skiff_cgroup_update(cg, &u, &e), 0, "%s", skiff_error_msg(e));
        assert_file("pids/a/b/pids.max", "max");
        u.has_mem_swappiness = true;
        u.mem_swappiness = 101;
        cr_assert_eq(skiff_cgroup_update(cg, &u, &e), -EINVAL);
        skiff_error_free(&e);

        char *unified[] = {(char *)"memory.high", (char *)"1", NULL};
        struct skiff_spec_resources w = {0};
        w.unified = unified;
        cr_assert_eq(skiff_cgroup_update(cg, &w, &e), -EINVAL);
        skiff_error_free(&e);
        skiff_cgroup_free(cg);
}

Test(cgroups, v1_device_rule_strings)
{
        struct skiff_spec_device_rule d[] = {
            {.allow = true, .type = 'c', .major = 195, .minor = -1, .access = (char *)"rw"},
            {.allow = true, .type = 'b', .major = -1, .minor = -1, .access = NULL},
            {.allow = false, .type = 0, .major = -1, .minor = -1, .access = (char *)"rwm"},
            {.allow = true, .type = 'x', .major = 1, .minor = 1, .access = (char *)"r"},
            {.allow = true, .type = 'c', .major = 1, .minor = 1, .access = (char *)"rq"},
        };
        const char *want[] = {"c 195:* rw", "b *:* rwm", "a", NULL, NULL};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(d); i++) {
                _cleanup_free_ char *s = NULL;
                _cleanup_error_ skiff_err_t e = NULL;
                int r = skiff_cg_device_rule_string(&d[i], &s, &e);
                if (want[i]) {
                        cr_assert_eq(r, 0);
                        cr_assert_str_eq(s, want[i]);
                } else {
                        cr_assert_eq(r, -EINVAL, "rule %zu", i);
                }
        }
}

Test(cgroups, v1_create_rolls_back_on_error)
{
        fake_v1_tree();
        /* no cpuset: a fresh fake directory lacks the cpuset files the kernel would create */
        _cleanup_free_ char *cpuset = xasprintf("%s/cpuset", tmp_root);
        skiff_err_t re = NULL;
        cr_assert_eq(skiff_fs_rm_rf(cpuset, &re), 0);
        struct skiff_spec_resources r = {0};
        r.has_mem_swappiness = true;
        r.mem_swappiness = 500;
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create("/new", "new", &r, &cg, &e), -EINVAL);
        cr_assert(strstr(skiff_error_msg(e), "`/new`") != NULL, "%s", skiff_error_msg(e));
        skiff_error_free(&e);
        _cleanup_free_ char *p = xasprintf("%s/memory/new", tmp_root);
        cr_assert(access(p, F_OK) != 0, "leaf created by the failed create was removed");
        cr_assert_null(cg);
}

static void fake_v2_tree(void)
{
        make_tmp();
        put("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
        put("cgroup.subtree_control", "");
        put("a/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
        put("a/cgroup.subtree_control", "");
        static const char *const leaf[] = {
            "cgroup.procs", "memory.max", "memory.low", "memory.swap.max", "cpu.weight",
            "cpuset.cpus",  "pids.max",   "io.weight",  "memory.high",     "cgroup.freeze"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(leaf); i++) {
                _cleanup_free_ char *p = xasprintf("a/b/%s", leaf[i]);
                put(p, "");
        }
        put("a/b/cgroup.controllers", "cpu memory pids io\n"); /* no cpuset, no hugetlb */
        put("a/b/cpu.max", "max 100000\n");
        put("a/b/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n");
        skiff_cgroup_set_root_for_testing(tmp_root, SKIFF_CGROUP_V2);
}

Test(cgroups, v2_limits_written)
{
        fake_v2_tree();
        char *unified[] = {(char *)"memory.high", (char *)"123", NULL};
        struct skiff_spec_resources r = {0};
        r.has_mem_limit = r.has_mem_reservation = r.has_mem_swap = true;
        r.mem_limit = 100 << 20;
        r.mem_reservation = 10 << 20;
        r.mem_swap = 150 << 20;
        r.has_cpu_shares = r.has_cpu_quota = true;
        r.cpu_shares = 1024;
        r.cpu_quota = 50000;
        r.cpuset_cpus = (char *)"0"; /* cpuset not available in the leaf: skipped */
        r.has_pids_limit = true;
        r.pids_limit = 0;
        r.has_blkio_weight = true;
        r.blkio_weight = 500;
        r.unified = unified;
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create("/a/b", "b", &r, &cg, &e), 0, "%s", skiff_error_msg(e));
        assert_file("a/b/memory.max", "104857600");
        assert_file("a/b/memory.low", "10485760");
        assert_file("a/b/memory.swap.max", "52428800");
        assert_file("a/b/cpu.weight", "39"); /* 1 + (1022 * 9999) / 262142 */
        assert_file("a/b/cpu.max", "50000 100000");
        assert_file("a/b/cpuset.cpus", "");
        assert_file("a/b/pids.max", "max");
        assert_file("a/b/io.weight", "4950"); /* 1 + 490 * 9999 / 990 */
        assert_file("a/b/memory.high", "123");
        /* controllers were enabled in the ancestors (last write: the longest name) */
        assert_file("cgroup.subtree_control", "+hugetlb");
        assert_file("a/cgroup.subtree_control", "+hugetlb");

        struct skiff_spec_resources u = {0};
        u.has_cpu_period = true;
        u.cpu_period = 200000;
        cr_assert_eq(skiff_cgroup_update(cg, &u, &e), 0, "%s", skiff_error_msg(e));
        assert_file("a/b/cpu.max", "50000 200000"); /* quota kept from the file */
        put("a/b/cpu.max", "1 200000\n");           /* fake files are not truncated by writes */
        u.has_cpu_quota = true;
        u.cpu_quota = -1;
        cr_assert_eq(skiff_cgroup_update(cg, &u, &e), 0, "%s", skiff_error_msg(e));
        assert_file("a/b/cpu.max", "max 200000");

        struct skiff_spec_resources bad = {0};
        bad.has_mem_swap = true;
        bad.mem_swap = 10;
        cr_assert_eq(skiff_cgroup_update(cg, &bad, &e), -EINVAL, "swap without memory limit");
        skiff_error_free(&e);
        char *badkey[] = {(char *)"../x", (char *)"1", NULL};
        struct skiff_spec_resources bk = {0};
        bk.unified = badkey;
        cr_assert_eq(skiff_cgroup_update(cg, &bk, &e), -EINVAL);
        cr_assert(strstr(skiff_error_msg(e), "../x") != NULL);
        skiff_error_free(&e);
        skiff_cgroup_free(cg);
}

/* ---- stats from fixture files ------------------------------------------------------------------
 */

Test(cgroups, v1_stats_parsed)
{
        fake_v1_tree();
        put("cpuacct/a/b/cpuacct.usage", "123456789\n");
        put("cpuacct/a/b/cpuacct.usage_percpu", "100 200 \n");
        put("cpuacct/a/b/cpuacct.stat", "user 10\nsystem 5\n");
        put("cpu/a/b/cpu.stat", "nr_periods 7\nnr_throttled 2\nthrottled_time 99\n");
        put("memory/a/b/memory.usage_in_bytes", "4096\n");
        put("memory/a/b/memory.max_usage_in_bytes", "8192\n");
        put("memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
        put("memory/a/b/memory.failcnt", "3\n");
        put("memory/a/b/memory.memsw.usage_in_bytes", "5000\n");
        put("memory/a/b/memory.memsw.limit_in_bytes", "6000\n");
        put("memory/a/b/memory.stat", "cache 1\nrss 2\ntotal_rss 20\n");
        put("memory/a/b/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        put("pids/a/b/pids.current", "5\n");
        put("pids/a/b/pids.max", "max\n");
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_open("/a/b", &cg, &e), 0, "%s", skiff_error_msg(e));
        struct skiff_cgroup_stats s;
        cr_assert_eq(skiff_cgroup_stats(cg, &s, &e), 0, "%s", skiff_error_msg(e));
        uint64_t tick_ns = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
        cr_assert(!s.v2);
        cr_assert_eq(s.cpu_usage_ns, 123456789);
        cr_assert_eq(s.n_cpu_percpu, 2);
        cr_assert_eq(s.cpu_percpu_ns[1], 200);
        cr_assert_eq(s.cpu_user_ns, 10 * tick_ns);
        cr_assert_eq(s.cpu_system_ns, 5 * tick_ns);
        cr_assert_eq(s.cpu_nr_periods, 7);
        cr_assert_eq(s.cpu_nr_throttled, 2);
        cr_assert_eq(s.cpu_throttled_ns, 99);
        cr_assert_eq(s.mem_usage, 4096);
        cr_assert_eq(s.mem_max_usage, 8192);
        cr_assert_eq(s.mem_limit, 9223372036854771712ull);
        cr_assert_eq(s.mem_failcnt, 3);
        cr_assert_eq(s.swap_usage, 5000);
        cr_assert_eq(s.swap_limit, 6000);
        cr_assert_eq(s.n_memory_stat, 3);
        cr_assert_str_eq(s.memory_stat[2].key, "total_rss");
        cr_assert_eq(s.memory_stat[2].value, 20);
        cr_assert_eq(s.oom_kill, 3);
        cr_assert_eq(s.pids_current, 5);
        cr_assert_eq(s.pids_limit, 0);
        skiff_cgroup_stats_clear(&s);

        /* OOM: the counter baseline is taken at open; an increment reports once. */
        bool oom = true;
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(!oom);
        put("memory/a/b/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(oom);
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(!oom);
        skiff_cgroup_free(cg);
}

Test(cgroups, v2_stats_and_oom_watch)
{
        fake_v2_tree();
        put("a/b/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\n"
                            "nr_throttled 1\nthrottled_usec 20\n");
        put("a/b/memory.current", "65536\n");
        put("a/b/memory.max", "max\n");
        put("a/b/memory.peak", "70000\n");
        put("a/b/memory.swap.current", "0\n");
        put("a/b/memory.swap.max", "max\n");
        put("a/b/memory.stat", "anon 4096\nfile 8192\n");
        put("a/b/pids.current", "2\n");
        put("a/b/pids.max", "100\n");
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_open("/a/b", &cg, &e), 0, "%s", skiff_error_msg(e));
        struct skiff_cgroup_stats s;
        cr_assert_eq(skiff_cgroup_stats(cg, &s, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(s.v2);
        cr_assert_eq(s.cpu_usage_ns, 1500000);
        cr_assert_eq(s.cpu_user_ns, 1000000);
        cr_assert_eq(s.cpu_system_ns, 500000);
        cr_assert_eq(s.cpu_nr_periods, 4);
        cr_assert_eq(s.cpu_nr_throttled, 1);
        cr_assert_eq(s.cpu_throttled_ns, 20000);
        cr_assert_eq(s.mem_usage, 65536);
        cr_assert_eq(s.mem_limit, UINT64_MAX);
        cr_assert_eq(s.mem_max_usage, 70000);
        cr_assert_eq(s.swap_limit, UINT64_MAX);
        cr_assert_eq(s.n_memory_stat, 2);
        cr_assert_str_eq(s.memory_stat[1].key, "file");
        cr_assert_eq(s.oom_events, 1);
        cr_assert_eq(s.oom_kill, 0);
        cr_assert_eq(s.mem_failcnt, 4);
        cr_assert_eq(s.pids_current, 2);
        cr_assert_eq(s.pids_limit, 100);
        skiff_cgroup_stats_clear(&s);

        int fd = -1;
        cr_assert_eq(skiff_cgroup_oom_fd(cg, &fd, &e), 0, "%s", skiff_error_msg(e));
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&pfd, 1, 0), 0);
        /* An in-place modification like the kernel's (inotify IN_MODIFY). */
        _cleanup_free_ char *ev = xasprintf("%s/a/b/memory.events", tmp_root);
        skiff_err_t we = NULL;
        cr_assert_eq(skiff_fs_write_string(ev, "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n", &we),
                     0);
        cr_assert_eq(poll(&pfd, 1, 1000), 1);
        bool oom = false;
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(oom);
        cr_assert_eq(poll(&pfd, 1, 0), 0, "oom_check drained the fd");
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(!oom);
        skiff_cgroup_free(cg);
}

/* ---- device program: a tiny interpreter for the instructions the generator emits ----------- */

static int run_prog(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t access,
                    uint32_t major, uint32_t minor)
{
        uint32_t ctx[3] = {(access << 16) | type, major, minor};
        uint64_t reg[11] = {0};
        for (size_t pc = 0; pc < n; pc++) {
                const struct bpf_insn *i = &p[pc];
                uint32_t src = i->imm;
                switch (i->code) {
                case BPF_LDX | BPF_MEM | BPF_W:
                        cr_assert_eq(i->src_reg, 1);
                        reg[i->dst_reg] = ctx[i->off / 4];
                        break;
                case BPF_ALU | BPF_MOV | BPF_X:
                        reg[i->dst_reg] = (uint32_t)reg[i->src_reg];
                        break;
                case BPF_ALU | BPF_AND | BPF_K:
                        reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] & src;
                        break;
                case BPF_ALU | BPF_RSH | BPF_K:
                        reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] >> src;
                        break;
                case BPF_ALU64 | BPF_MOV | BPF_K:
                        reg[i->dst_reg] = (uint64_t)(int64_t)i->imm;
                        break;
                case BPF_JMP32 | BPF_JNE | BPF_K:
                        if ((uint32_t)reg[i->dst_reg] != src)
                                pc += (size_t)i->off;
                        break;
                case BPF_JMP32 | BPF_JEQ | BPF_K:
                        if ((uint32_t)reg[i->dst_reg] == src)
                                pc += (size_t)i->off;
                        break;
                case BPF_JMP | BPF_EXIT:
                        return (int)reg[0];
                default:
                        cr_assert_fail("unexpected opcode 0x%x at %zu", i->code, pc);
                }
        }
        cr_assert_fail("fell off the end of the program");
        return -1;
}

Test(cgroups, bpf_device_program_semantics)
{
        struct skiff_spec_device_rule rules[] = {
            {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = (char *)"rwm"},
            {.allow = true, .type = 'c', .major = 1, .minor = -1, .access = (char *)"rwm"},
            {.allow = false, .type = 'c', .major = 1, .minor = 5, .access = (char *)"w"},
            {.allow = true, .type = 'b', .major = 8, .minor = 0, .access = (char *)"r"},
        };
        struct skiff_bpf_insn_buf b = {NULL, 0};
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cg_bpf_devices_build(rules, SKIFF_ARRAY_SIZE(rules), &b, &e), 0);
        const struct bpf_insn *p = b.insns;
        const uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
        const uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
        cr_assert_eq(run_prog(p, b.n, C, R | W, 1, 3), 1); /* /dev/null */
        cr_assert_eq(run_prog(p, b.n, C, R, 1, 5), 1);     /* /dev/zero read */
        cr_assert_eq(run_prog(p, b.n, C, W, 1, 5), 0);     /* later deny w wins */
        cr_assert_eq(run_prog(p, b.n, C, R | W, 1, 5), 0);
        cr_assert_eq(run_prog(p, b.n, C, R, 4, 1), 0); /* no match */
        cr_assert_eq(run_prog(p, b.n, B, R, 8, 0), 1);
        cr_assert_eq(run_prog(p, b.n, B, R | W, 8, 0), 0); /* w not covered */
        cr_assert_eq(run_prog(p, b.n, B, M, 8, 1), 0);
        free(b.insns);

        /* A trailing catch-all ends the program (no unreachable instructions). */
        struct skiff_spec_device_rule all[] = {
            {.allow = false, .type = 'c', .major = 1, .minor = 1, .access = (char *)"rwm"},
            {.allow = true, .type = 'a', .major = -1, .minor = -1, .access = NULL},
        };
        cr_assert_eq(skiff_cg_bpf_devices_build(all, 2, &b, &e), 0);
        cr_assert_eq(b.n, 8);
        cr_assert_eq(run_prog(b.insns, b.n, C, R, 1, 1), 1);
        free(b.insns);

        struct skiff_spec_device_rule bad = {.allow = true, .type = 'q', .major = 1, .minor = 1};
        cr_assert_eq(skiff_cg_bpf_devices_build(&bad, 1, &b, &e), -EINVAL);
        skiff_error_free(&e);
}

/* ---- real hierarchy (root) ----------------------------------------------------------------- */

/* A child that counts in shared memory until killed; waits on a pipe before starting. */
struct child {
        pid_t pid;
        volatile uint64_t *counter;
        int go; /* write end */
};

static void child_start(struct child *c, bool busy)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        c->counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq((void *)c->counter, MAP_FAILED);
        c->pid = fork();
        cr_assert_geq(c->pid, 0);
        if (c->pid == 0) {
                char x;
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphans when an assert fails */
                close(p[1]);
                if (read(p[0], &x, 1) != 1)
                        _exit(1);
                char *mem = malloc(4 << 20);
                if (!mem)
                        _exit(1);
                memset(mem, 1, 4 << 20); /* charged to the new memory cgroup */
                for (;;) {
                        (*c->counter)++;
                        if (!busy)
                                usleep(1000);
                }
        }
        close(p[0]);
        c->go = p[1];
}

static void child_go(struct child *c)
{
        cr_assert_eq(write(c->go, "x", 1), 1);
        close(c->go);
}

static uint64_t counter_after(struct child *c, int ms)
{
        uint64_t a = *c->counter;
        usleep((useconds_t)ms * 1000);
        return *c->counter - a;
}

static void require_root(void)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (skiff_cgroup_mode() == SKIFF_CGROUP_V1 &&
            access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) != 0)
                cr_skip_test("no v1 memory controller mounted");
        if (skiff_cgroup_mode() == SKIFF_CGROUP_V2 &&
            access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0)
                cr_skip_test("cgroup v2 hierarchy not writable");
}

static bool dir_exists(const char *p)
{
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *knob(const char *ctrl, const char *path, const char *file)
{
        if (skiff_cgroup_mode() == SKIFF_CGROUP_V2)
                return xasprintf("/sys/fs/cgroup%s/%s", path, file);
        return xasprintf("/sys/fs/cgroup/%s%s/%s", ctrl, path, file);
}

static bool v2_has(const char *path, const char *ctrl)
{
        _cleanup_free_ char *p = xasprintf("/sys/fs/cgroup%s", path);
        _cleanup_free_ char *c = NULL;
        skiff_err_t e = NULL;
        if (skiff_cg_read(p, "cgroup.controllers", &c, &e) < 0) {
                skiff_error_free(&e);
                return false;
        }
        _cleanup_free_ char *pad = xasprintf(" %s", c);
        pad[strcspn(pad, "\n")] = ' ';
        _cleanup_free_ char *needle = xasprintf(" %s ", ctrl);
        return strstr(pad, needle) != NULL;
}

Test(cgroups, real_lifecycle)
{
        require_root();
        bool v2 = skiff_cgroup_mode() == SKIFF_CGROUP_V2;
        _cleanup_free_ char *path = xasprintf("/skiff-test-%d", (int)getpid());
        struct skiff_spec_resources r = {0};
        r.has_mem_limit = true;
        r.mem_limit = 256 << 20;
        r.has_pids_limit = true;
        r.pids_limit = 32;
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create(path, "t", &r, &cg, &e), 0, "%s", skiff_error_msg(e));
        struct child c;
        child_start(&c, true);
        cr_assert_eq(skiff_cgroup_enter(cg, c.pid, &e), 0, "%s", skiff_error_msg(e));
        child_go(&c);

        if (!v2 || v2_has(path, "memory")) {
                _cleanup_free_ char *m =
                    knob("memory", path, v2 ? "memory.max" : "memory.limit_in_bytes");
                assert_file(m, "268435456");
        }
        if (!v2 || v2_has(path, "pids")) {
                _cleanup_free_ char *p = knob("pids", path, "pids.max");
                assert_file(p, "32");
        }
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        cr_assert_eq(skiff_cgroup_pids(cg, &pids, &n, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(n, 1);
        cr_assert_eq(pids[0], c.pid);

        cr_assert_gt(counter_after(&c, 50), 0, "child runs");
        cr_assert_eq(skiff_cgroup_freeze(cg, true, &e), 0, "%s", skiff_error_msg(e));
        if (v2) {
                _cleanup_free_ char *ev = knob("", path, "cgroup.events");
                _cleanup_free_ char *body = NULL;
                size_t len;
                cr_assert_eq(skiff_fs_read_file(ev, 4096, &body, &len, &e), 0);
                cr_assert(strstr(body, "frozen 1") != NULL);
        } else {
                _cleanup_free_ char *st = knob("freezer", path, "freezer.state");
                assert_file(st, "FROZEN");
        }
        cr_assert_eq(counter_after(&c, 100), 0, "frozen child does not run");
        cr_assert_eq(skiff_cgroup_freeze(cg, false, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_gt(counter_after(&c, 50), 0, "thawed child runs");

        struct skiff_cgroup_stats s;
        cr_assert_eq(skiff_cgroup_stats(cg, &s, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_gt(s.cpu_usage_ns, 0);
        if (!v2 || v2_has(path, "memory")) {
                cr_assert_gt(s.mem_usage, 0);
                cr_assert_gt(s.n_memory_stat, 0);
        }
        if (!v2)
                cr_assert_gt(s.n_cpu_percpu, 0);
        if (!v2 || v2_has(path, "pids"))
                cr_assert_eq(s.pids_current, 1);
        skiff_cgroup_stats_clear(&s);

        /* kill a frozen cgroup: kill thaws first */
        cr_assert_eq(skiff_cgroup_freeze(cg, true, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(skiff_cgroup_kill(cg, SIGKILL, &e), 0, "%s", skiff_error_msg(e));
        int status;
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "%s", skiff_error_msg(e));
        _cleanup_free_ char *leaf = knob("memory", path, "");
        cr_assert(!dir_exists(leaf), "%s removed", leaf);
        _cleanup_free_ char *fr = knob("freezer", path, "");
        cr_assert(!dir_exists(fr), "%s removed", fr);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "removing again is fine");
        skiff_cgroup_free(cg);
}

Test(cgroups, real_remove_busy_then_kill)
{
        require_root();
        _cleanup_free_ char *path = xasprintf("/skiff-test-busy-%d", (int)getpid());
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create(path, "t", NULL, &cg, &e), 0, "%s", skiff_error_msg(e));
        struct child c;
        child_start(&c, false);
        cr_assert_eq(skiff_cgroup_enter(cg, c.pid, &e), 0, "%s", skiff_error_msg(e));
        child_go(&c);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), -EBUSY, "a populated cgroup is busy");
        cr_assert(strstr(skiff_error_msg(e), path) != NULL, "%s", skiff_error_msg(e));
        skiff_error_free(&e);
        cr_assert_eq(skiff_cgroup_kill(cg, SIGTERM, &e), 0, "%s", skiff_error_msg(e));
        int status;
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "%s", skiff_error_msg(e));
        skiff_cgroup_free(cg);

        /* reopen by path after removal: remove of a missing cgroup succeeds */
        cr_assert_eq(skiff_cgroup_open(path, &cg, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "%s", skiff_error_msg(e));
        skiff_cgroup_free(cg);
}

Test(cgroups, real_oom_kill_reported)
{
        require_root();
        bool v2 = skiff_cgroup_mode() == SKIFF_CGROUP_V2;
        _cleanup_free_ char *path = xasprintf("/skiff-test-oom-%d", (int)getpid());
        struct skiff_spec_resources r = {0};
        r.has_mem_limit = r.has_mem_swap = true;
        r.mem_limit = r.mem_swap = 32 << 20;
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create(path, "t", &r, &cg, &e), 0, "%s", skiff_error_msg(e));
        if (v2 && !v2_has(path, "memory")) {
                skiff_cgroup_remove(cg, &e);
                skiff_cgroup_free(cg);
                cr_skip_test("memory controller not available in the v2 leaf");
        }
        int fd = -1;
        cr_assert_eq(skiff_cgroup_oom_fd(cg, &fd, &e), 0, "%s", skiff_error_msg(e));
        bool oom = true;
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(!oom, "no OOM yet");

        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                char x;
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphans when an assert fails */
                close(p[1]);
                if (read(p[0], &x, 1) != 1)
                        _exit(1);
                for (size_t i = 0; i < 64; i++) {
                        char *m = malloc(16 << 20);
                        if (!m)
                                _exit(2);
                        memset(m, 1, 16 << 20);
                }
                _exit(0);
        }
        close(p[0]);
        cr_assert_eq(skiff_cgroup_enter(cg, pid, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(write(p[1], "x", 1), 1);
        close(p[1]);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&pfd, 1, 5000), 1, "OOM fd readable");
        cr_assert_eq(skiff_cgroup_oom_check(cg, &oom, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(oom, "OOM kill reported");
        struct skiff_cgroup_stats s;
        cr_assert_eq(skiff_cgroup_stats(cg, &s, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_geq(s.oom_kill, 1);
        skiff_cgroup_stats_clear(&s);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "%s", skiff_error_msg(e));
        skiff_cgroup_free(cg);
}

/* On a hybrid host the v2 code runs against the controller-less cgroup2 mount at
 * /sys/fs/cgroup/unified: create, enter, freeze, device program, kill, remove. */
Test(cgroups, real_v2_on_unified_mount)
{
        struct statfs fs;
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (skiff_cgroup_mode() == SKIFF_CGROUP_V1) {
                if (statfs("/sys/fs/cgroup/unified", &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
                        cr_skip_test("no cgroup2 mount at /sys/fs/cgroup/unified");
                skiff_cgroup_set_root_for_testing("/sys/fs/cgroup/unified", SKIFF_CGROUP_V2);
        } else if (access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0) {
                cr_skip_test("cgroup v2 hierarchy not writable");
        }
        const char *root = skiff_cg_root();
        _cleanup_free_ char *path = xasprintf("/skiff-test-v2-%d", (int)getpid());
        struct skiff_spec_resources r = {0};
        r.devices = test_rules; /* deny all, allow /dev/null */
        r.n_devices = SKIFF_ARRAY_SIZE(test_rules);
        struct skiff_cgroup *cg = NULL;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_cgroup_create(path, "t", &r, &cg, &e), 0, "%s", skiff_error_msg(e));
        _cleanup_free_ char *dir = xasprintf("%s%s", root, path);

        int res[2];
        cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
        struct child c;
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        c.counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        c.pid = fork();
        cr_assert_geq(c.pid, 0);
        if (c.pid == 0) {
                char x;
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphans when an assert fails */
                close(p[1]);
                if (read(p[0], &x, 1) != 1)
                        _exit(1);
                int a = open("/dev/null", O_RDWR | O_CLOEXEC);
                int b = open("/dev/zero", O_RDONLY | O_CLOEXEC);
                char out[2] = {a >= 0 ? 'y' : 'n', b >= 0 ? 'y' : (errno == EPERM ? 'p' : 'n')};
                if (write(res[1], out, 2) != 2)
                        _exit(1);
                for (;;) {
                        (*c.counter)++;
                        usleep(1000);
                }
        }
        close(p[0]);
        c.go = p[1];
        cr_assert_eq(skiff_cgroup_enter(cg, c.pid, &e), 0, "%s", skiff_error_msg(e));
        child_go(&c);
        char out[2];
        cr_assert_eq(read(res[0], out, 2), 2);
        cr_assert_eq(out[0], 'y', "/dev/null allowed");
        cr_assert_eq(out[1], 'p', "/dev/zero denied with EPERM (got %c)", out[1]);

        cr_assert_eq(skiff_cgroup_freeze(cg, true, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_eq(counter_after(&c, 100), 0, "frozen child does not run");
        cr_assert_eq(skiff_cgroup_freeze(cg, false, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_gt(counter_after(&c, 50), 0, "thawed child runs");

        struct skiff_cgroup_stats s;
        cr_assert_eq(skiff_cgroup_stats(cg, &s, &e), 0, "%s", skiff_error_msg(e));
        cr_assert_gt(s.cpu_usage_ns, 0);
        skiff_cgroup_stats_clear(&s);

        cr_assert_eq(skiff_cgroup_kill(cg, SIGKILL, &e), 0, "%s", skiff_error_msg(e));
        int status;
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cr_assert_eq(skiff_cgroup_remove(cg, &e), 0, "%s", skiff_error_msg(e));
        cr_assert(!dir_exists(dir));
        skiff_cgroup_free(cg);
}
