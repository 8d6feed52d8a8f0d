/* Container lifecycle against real namespaces, mounts and cgroups: needs root and a static
 * busybox (busybox-static) for the rootfs; skipped otherwise. The test process is the caller,
 * so it reaps the container processes itself with waitpid(). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/cgroups.h"
#include "oci/container.h"
#include "oci/spec.h"

#define BUSYBOX "/bin/busybox"
#define FIXTURE SKIFF_SOURCE_DIR "/test/fixtures/container/config.json"

static const char *const applets[] = {"sh",       "echo",  "cat",   "ls",   "ps",    "tty",
                                      "hostname", "sleep", "touch", "true", "false", "id",
                                      "readlink", "wc",    "stat",  NULL};

struct fx {
        char bundle[64];
        char *src; /* rootfs directory bind-mounted by the rootfs request */
        char *id, *cgpath;
        struct skiff_spec *spec;
        struct skiff_rootfs_mount rootfs;
        struct skiff_container_config cfg;
        struct skiff_container *c;
};

static struct fx F;
static char *bind_opts[] = {"rbind", "rw", NULL};

static void must(int r, skiff_err_t *e, const char *what)
{
        cr_assert_geq(r, 0, "%s: %s", what, skiff_error_msg(*e));
}

static void build_rootfs(const char *dir)
{
        static const char *const dirs[] = {"bin", "proc", "dev", "sys", "tmp", "etc", "run", NULL};
        skiff_err_t e = NULL;
        for (const char *const *d = dirs; *d; d++) {
                _cleanup_free_ char *p = skiff_path_join(dir, *d);
                must(skiff_fs_mkdir_p(p, 0755, &e), &e, "mkdir");
        }
        _cleanup_free_ char *bb = NULL;
        size_t len = 0;
        must(skiff_fs_read_file(BUSYBOX, 64u << 20, &bb, &len, &e), &e, "read busybox");
        _cleanup_free_ char *dst = xasprintf("%s/bin/busybox", dir);
        must(skiff_fs_write_file_atomic(dst, bb, len, 0755, false, &e), &e, "write busybox");
        for (const char *const *a = applets; *a; a++) {
                _cleanup_free_ char *l = xasprintf("%s/bin/%s", dir, *a);
                cr_assert_eq(symlink("busybox", l), 0, "symlink %s: %s", l, strerror(errno));
        }
}

static void set_args(struct skiff_spec_process *p, const char *const *args)
{
        skiff_strv_free(p->args);
        p->args = skiff_strv_copy((char *const *)args);
}

static void fx_teardown(void)
{
        skiff_err_t e = NULL;
        if (F.c) {
                (void)skiff_container_destroy(F.c, &e);
                skiff_error_free(&e);
                skiff_container_free(F.c);
                F.c = NULL;
        }
        if (F.bundle[0]) {
                pid_t p = 0;
                (void)skiff_container_cleanup(F.bundle, F.id, &p, &e);
                skiff_error_free(&e);
                (void)skiff_fs_rm_rf(F.bundle, &e);
                skiff_error_free(&e);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        skiff_spec_free(F.spec);
        free(F.src);
        free(F.id);
        free(F.cgpath);
        memset(&F, 0, sizeof(F));
}

static void fx_setup(void)
{
        memset(&F, 0, sizeof(F));
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (access(BUSYBOX, X_OK) != 0)
                cr_skip_test("needs " BUSYBOX " (busybox-static)");
        if (access("/sys/fs/cgroup/memory", F_OK) != 0 && skiff_cgroup_mode() != SKIFF_CGROUP_V2)
                cr_skip_test("no usable cgroup hierarchy");
        strcpy(F.bundle, "/tmp/skiff-ctrtest-XXXXXX");
        cr_assert_not_null(mkdtemp(F.bundle));
        F.src = skiff_path_join(F.bundle, "rootfs-src");
        build_rootfs(F.src);
        static unsigned seq;
        F.id = xasprintf("ctrtest-%d-%u", (int)getpid(), seq++);
        F.cgpath = xasprintf("/skiff-test/%s", F.id);

        skiff_err_t e = NULL;
        _cleanup_free_ char *json = NULL;
        size_t len = 0;
        must(skiff_fs_read_file(FIXTURE, 1u << 20, &json, &len, &e), &e, "read fixture");
        must(skiff_spec_parse(json, len, &F.spec, &e), &e, "parse fixture");
        free(F.spec->linux_.cgroups_path);
        F.spec->linux_.cgroups_path = xstrdup(F.cgpath);

        F.rootfs = (struct skiff_rootfs_mount){"bind", F.src, NULL, bind_opts};
        F.cfg = (struct skiff_container_config){
            .id = F.id,
            .bundle = F.bundle,
            .spec = F.spec,
            .rootfs = &F.rootfs,
            .n_rootfs = 1,
            .stdio = {-1, -1, -1},
        };
}

TestSuite(container, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

/* Reads fd to EOF (or EIO, for a pty master whose slave side is gone). */
static char *read_all(int fd)
{
        char *buf = xmalloc(1);
        size_t n = 0;
        for (;;) {
                char chunk[4096];
                ssize_t r = read(fd, chunk, sizeof(chunk));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                buf = xrealloc(buf, n + (size_t)r + 1);
                memcpy(buf + n, chunk, (size_t)r);
                n += (size_t)r;
        }
        buf[n] = '\0';
        return buf;
}

static int wait_status(pid_t pid)
{
        int st = 0;
        pid_t r;
        do
                r = waitpid(pid, &st, 0);
        while (r < 0 && errno == EINTR);
        cr_assert_eq(r, pid, "waitpid(%d): %s", (int)pid, strerror(errno));
        return st;
}

/* Creates and starts the container with stdout/stderr on a pipe; returns the read end. */
static int run(void)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        F.cfg.stdio.out = F.cfg.stdio.err = p[1];
        skiff_err_t e = NULL;
        int console = -1;
        must(skiff_container_create(&F.cfg, &F.c, &console, &e), &e, "create");
        cr_assert_eq(console, -1);
        int r = skiff_container_start(F.c, &e);
        close(p[1]);
        must(r, &e, "start");
        return p[0];
}

static char *run_output(const char *const *args, int *status)
{
        if (args)
                set_args(&F.spec->process, args);
        _cleanup_close_ int out = run();
        char *s = read_all(out);
        *status = wait_status(skiff_container_pid(F.c));
        return s;
}

Test(container, echo_output_and_exit_code)
{
        int st;
        _cleanup_free_ char *out =
            run_output((const char *const[]){"sh", "-c", "echo hello; exit 3", NULL}, &st);
        cr_assert_str_eq(out, "hello\n");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x", st);
}

Test(container, hostname_sysctl_and_pid1)
{
        int st;
        F.spec->process.oom_score_adj = 123;
        _cleanup_free_ char *out = run_output(
            (const char *const[]){"sh", "-c",
                                  "hostname; cat /proc/sys/net/ipv4/ip_forward; echo $$; "
                                  "cat /proc/self/oom_score_adj; echo $HOME",
                                  NULL},
            &st);
        cr_assert_str_eq(out, "skiff-test\n1\n1\n123\n/\n");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(container, no_fd_leak)
{
        /* An fd the caller forgot to mark close-on-exec must not reach the container. */
        int leak = open("/dev/null", O_RDONLY);
        cr_assert_geq(leak, 0);
        int st;
        _cleanup_free_ char *out =
            run_output((const char *const[]){"ls", "/proc/self/fd", NULL}, &st);
        close(leak);
        cr_assert_str_eq(out, "0\n1\n2\n3\n"); /* 3: ls's own directory fd */
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static uint64_t status_mask(pid_t pid, const char *key)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/status", (int)pid);
        _cleanup_free_ char *buf = NULL;
        skiff_err_t e = NULL;
        must(skiff_fs_read_file(path, 1u << 16, &buf, NULL, &e), &e, "read status");
        const char *p = strstr(buf, key);
        cr_assert_not_null(p, "%s not in %s", key, path);
        return strtoull(p + strlen(key), NULL, 16);
}

Test(container, signals_reset_in_child)
{
        /* The caller ignores SIGTERM and blocks SIGUSR1; the container must not inherit that. */
        signal(SIGTERM, SIG_IGN);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        cr_assert_neq(status_mask(getpid(), "SigIgn:"), 0);
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        pid_t pid = skiff_container_pid(F.c);
        cr_assert_eq(status_mask(pid, "SigBlk:"), 0);
        cr_assert_eq(status_mask(pid, "SigIgn:"), 0);
        skiff_err_t e = NULL;
        must(skiff_container_kill(F.c, SIGKILL, false, &e), &e, "kill");
        int st = wait_status(pid);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
}

Test(container, missing_binary_fails_start)
{
        set_args(&F.spec->process, (const char *const[]){"no-such-binary", NULL});
        skiff_err_t e = NULL;
        must(skiff_container_create(&F.cfg, &F.c, NULL, &e), &e, "create");
        int r = skiff_container_start(F.c, &e);
        cr_assert_eq(r, -ENOENT, "start: %d %s", r, skiff_error_msg(e));
        cr_assert_str_eq(skiff_error_msg(e),
                         "exec `no-such-binary`: executable file not found in $PATH");
        skiff_error_free(&e);
        int st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 127, "status %#x", st);
}

Test(container, setup_error_names_the_mount)
{
        F.spec->mounts =
            xreallocarray(F.spec->mounts, F.spec->n_mounts + 1, sizeof(*F.spec->mounts));
        F.spec->mounts[F.spec->n_mounts++] = (struct skiff_spec_mount){
            xstrdup("/bogus"), xstrdup("no-such-fs"), xstrdup("none"), NULL};
        skiff_err_t e = NULL;
        int r = skiff_container_create(&F.cfg, &F.c, NULL, &e);
        cr_assert_lt(r, 0);
        cr_assert(strstr(skiff_error_msg(e), "/bogus"), "%s", skiff_error_msg(e));
        skiff_error_free(&e);
        cr_assert_null(F.c);
        /* Rolled back: no cgroup, no mount, no state file. */
        _cleanup_free_ char *st = xasprintf("%s/skiff-state.json", F.bundle);
        cr_assert_neq(access(st, F_OK), 0);
        _cleanup_free_ char *bb = xasprintf("%s/rootfs/bin/busybox", F.bundle);
        cr_assert_neq(access(bb, F_OK), 0, "rootfs still mounted");
}

Test(container, readonly_root)
{
        F.spec->root_readonly = true;
        int st;
        _cleanup_free_ char *out =
            run_output((const char *const[]){"sh", "-c",
                                             "touch /x 2>&1; touch /tmp/y && "
                                             "echo tmp-ok",
                                             NULL},
                       &st);
        (void)st;
        cr_assert(strstr(out, "Read-only file system"), "%s", out);
}

static char *exec_output(const char *const *args, int *status)
{
        _cleanup_(skiff_strv_freep) char **argv = skiff_strv_copy((char *const *)args);
        struct skiff_spec_process proc = F.spec->process;
        proc.args = argv;
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        struct skiff_exec_config ec = {.process = &proc, .stdio = {-1, p[1], p[1]}};
        pid_t pid = 0;
        skiff_err_t e = NULL;
        int r = skiff_container_exec(F.c, &ec, &pid, NULL, &e);
        close(p[1]);
        must(r, &e, "exec");
        char *s = read_all(p[0]);
        close(p[0]);
        *status = wait_status(pid);
        return s;
}

Test(container, exec_joins_namespaces)
{
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        int st;
        _cleanup_free_ char *h = exec_output((const char *const[]){"hostname", NULL}, &st);
        cr_assert_str_eq(h, "skiff-test\n");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        _cleanup_free_ char *cmd =
            exec_output((const char *const[]){"cat", "/proc/1/cmdline", NULL}, &st);
        cr_assert_eq(memcmp(cmd, "sleep", 6), 0, "pid 1 is `%s`", cmd);
        _cleanup_free_ char *ps = exec_output((const char *const[]){"ps", NULL}, &st);
        cr_assert(strstr(ps, "sleep 100"), "%s", ps);
        _cleanup_free_ char *fds =
            exec_output((const char *const[]){"ls", "/proc/self/fd", NULL}, &st);
        cr_assert_str_eq(fds, "0\n1\n2\n3\n");

        /* The exec'd process is in the container's cgroup while it runs. */
        pid_t *pids = NULL;
        size_t n = 0;
        skiff_err_t e = NULL;
        must(skiff_container_pids(F.c, &pids, &n, &e), &e, "pids");
        cr_assert_eq(n, 1);
        cr_assert_eq(pids[0], skiff_container_pid(F.c));
        free(pids);

        /* A missing binary is an exec error; the failed process is reaped by exec. */
        _cleanup_(skiff_strv_freep) char **argv = skiff_strv_copy((char *[]){"nope", NULL});
        struct skiff_spec_process proc = F.spec->process;
        proc.args = argv;
        struct skiff_exec_config ec = {.process = &proc, .stdio = {-1, -1, -1}};
        pid_t pid = 1;
        int r = skiff_container_exec(F.c, &ec, &pid, NULL, &e);
        cr_assert_eq(r, -ENOENT);
        cr_assert(strstr(skiff_error_msg(e), "exec `nope`"), "%s", skiff_error_msg(e));
        cr_assert_eq(pid, 0);
        skiff_error_free(&e);

        must(skiff_container_kill(F.c, SIGKILL, true, &e), &e, "kill all");
        st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

Test(container, terminal)
{
        F.spec->process.terminal = true;
        F.spec->process.has_console_size = true;
        F.spec->process.console_height = 33;
        F.spec->process.console_width = 101;
        set_args(&F.spec->process,
                 (const char *const[]){"sh", "-c", "tty; stty size; readlink /proc/1/fd/0", NULL});
        skiff_err_t e = NULL;
        int console = -1;
        must(skiff_container_create(&F.cfg, &F.c, &console, &e), &e, "create");
        cr_assert_geq(console, 0);
        unsigned ptn = 0;
        cr_assert_eq(ioctl(console, TIOCGPTN, &ptn), 0, "console fd is not a pty master");
        must(skiff_container_start(F.c, &e), &e, "start");
        _cleanup_free_ char *out = read_all(console);
        close(console);
        int st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
        cr_assert(strncmp(out, "/dev/pts/", 9) == 0 || strncmp(out, "/dev/console", 12) == 0, "%s",
                  out);
        cr_assert(strstr(out, "33 101"), "%s", out);
}

Test(container, kill_all)
{
        set_args(&F.spec->process,
                 (const char *const[]){"sh", "-c", "sleep 100 & sleep 100 & wait", NULL});
        _cleanup_close_ int rd = run();
        skiff_err_t e = NULL;
        size_t n = 0;
        for (int i = 0; i < 500 && n < 3; i++) {
                pid_t *pids = NULL;
                must(skiff_container_pids(F.c, &pids, &n, &e), &e, "pids");
                free(pids);
                usleep(10000);
        }
        cr_assert_eq(n, 3);
        must(skiff_container_kill(F.c, SIGKILL, true, &e), &e, "kill all");
        int st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        pid_t *pids = NULL;
        must(skiff_container_pids(F.c, &pids, &n, &e), &e, "pids");
        free(pids);
        cr_assert_eq(n, 0);
        int r = skiff_container_kill(F.c, SIGTERM, false, &e);
        cr_assert_eq(r, -ESRCH, "%s", skiff_error_msg(e));
        skiff_error_free(&e);
}

static bool cgroup_exists(void)
{
        _cleanup_free_ char *v1 = xasprintf("/sys/fs/cgroup/pids%s", F.cgpath);
        _cleanup_free_ char *v2 = xasprintf("/sys/fs/cgroup%s", F.cgpath);
        return access(skiff_cgroup_mode() == SKIFF_CGROUP_V2 ? v2 : v1, F_OK) == 0;
}

static bool rootfs_mounted(void)
{
        _cleanup_free_ char *bb = xasprintf("%s/rootfs/bin/busybox", F.bundle);
        return access(bb, F_OK) == 0;
}

static bool state_exists(void)
{
        _cleanup_free_ char *s = xasprintf("%s/skiff-state.json", F.bundle);
        return access(s, F_OK) == 0;
}

/* Field 22 of /proc/<pid>/stat, parsed independently of the module. */
static unsigned long long start_time_of(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
        _cleanup_free_ char *buf = NULL;
        skiff_err_t e = NULL;
        must(skiff_fs_read_file(path, 4096, &buf, NULL, &e), &e, "read stat");
        _cleanup_(skiff_strv_freep) char **f = skiff_strv_split(strrchr(buf, ')') + 2, " ", true);
        cr_assert_geq(skiff_strv_len(f), 20);
        return strtoull(f[19], NULL, 10); /* f[0] is field 3 */
}

Test(container, destroy_removes_everything)
{
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        _cleanup_free_ char *state = NULL;
        _cleanup_free_ char *spath = xasprintf("%s/skiff-state.json", F.bundle);
        skiff_err_t e0 = NULL;
        must(skiff_fs_read_file(spath, 1u << 16, &state, NULL, &e0), &e0, "read state");
        _cleanup_free_ char *want =
            xasprintf("\"pid_start_time\": %llu", start_time_of(skiff_container_pid(F.c)));
        cr_assert(strstr(state, want), "%s lacks %s", state, want);
        cr_assert(cgroup_exists());
        cr_assert(rootfs_mounted());
        cr_assert(state_exists());
        skiff_err_t e = NULL;
        must(skiff_container_destroy(F.c, &e), &e, "destroy");
        int st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        cr_assert_not(cgroup_exists());
        cr_assert_not(rootfs_mounted());
        cr_assert_not(state_exists());
        must(skiff_container_destroy(F.c, &e), &e, "destroy again");
}

Test(container, destroy_before_start)
{
        skiff_err_t e = NULL;
        must(skiff_container_create(&F.cfg, &F.c, NULL, &e), &e, "create");
        must(skiff_container_destroy(F.c, &e), &e, "destroy");
        int st = wait_status(skiff_container_pid(F.c));
        cr_assert(WIFSIGNALED(st) || WIFEXITED(st));
        cr_assert_not(cgroup_exists());
        cr_assert_not(rootfs_mounted());
}

Test(container, cleanup_from_state_file)
{
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        pid_t init = skiff_container_pid(F.c);
        cr_assert_eq(kill(init, SIGKILL), 0);
        int st = wait_status(init);
        cr_assert(WIFSIGNALED(st));
        skiff_container_free(F.c); /* as if the shim had died: no destroy */
        F.c = NULL;
        skiff_err_t e = NULL;
        pid_t recorded = 0;
        must(skiff_container_cleanup(F.bundle, F.id, &recorded, &e), &e, "cleanup");
        cr_assert_eq(recorded, init);
        cr_assert_not(cgroup_exists());
        cr_assert_not(rootfs_mounted());
        cr_assert_not(state_exists());
        /* Idempotent, and fine without a state file. */
        must(skiff_container_cleanup(F.bundle, F.id, &recorded, &e), &e, "cleanup again");
        cr_assert_eq(recorded, 0);
}

Test(container, cleanup_kills_live_init)
{
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        pid_t init = skiff_container_pid(F.c);
        skiff_container_free(F.c);
        F.c = NULL;
        skiff_err_t e = NULL;
        pid_t recorded = 0;
        must(skiff_container_cleanup(F.bundle, F.id, &recorded, &e), &e, "cleanup");
        cr_assert_eq(recorded, init);
        int st = wait_status(init);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        cr_assert_not(cgroup_exists());
        cr_assert_not(rootfs_mounted());
}

Test(container, pause_resume_stats)
{
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        skiff_err_t e = NULL;
        must(skiff_container_pause(F.c, &e), &e, "pause");
        must(skiff_container_resume(F.c, &e), &e, "resume");
        struct skiff_cgroup_stats s;
        must(skiff_container_stats(F.c, &s, &e), &e, "stats");
        cr_assert_eq(s.pids_current, 1);
        cr_assert_eq(s.pids_limit, 64);
        skiff_cgroup_stats_clear(&s);
}

Test(container, device_rules)
{
        if (skiff_cgroup_mode() != SKIFF_CGROUP_V1)
                cr_skip_test("checks the v1 devices.list");
        skiff_err_t e = NULL;
        must(skiff_container_create(&F.cfg, &F.c, NULL, &e), &e, "create");
        _cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/devices%s/devices.list", F.cgpath);
        _cleanup_free_ char *list = NULL;
        must(skiff_fs_read_file(path, 1u << 16, &list, NULL, &e), &e, "read devices.list");
        /* The fixture denies everything first; the standard devices stay usable. */
        cr_assert_null(strstr(list, "a *:* rwm"), "%s", list);
        cr_assert(strstr(list, "c 1:3 rwm"), "%s", list);
        cr_assert(strstr(list, "c 136:* rwm"), "%s", list);
        cr_assert(strstr(list, "c *:* m"), "%s", list);
        cr_assert_null(strstr(list, "c 1:1 "), "%s", list); /* /dev/mem stays denied */
}

Test(container, exec_user_and_terminal)
{
        static const char passwd[] = "root:x:0:0::/root:/bin/sh\nu:x:1000:1001::/home/u:/bin/sh\n";
        _cleanup_free_ char *pw = xasprintf("%s/etc/passwd", F.src);
        skiff_err_t e0 = NULL;
        must(skiff_fs_write_file_atomic(pw, passwd, strlen(passwd), 0644, false, &e0), &e0,
             "write passwd");
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        int st;
        struct skiff_spec_process proc = F.spec->process;
        proc.user.uid = 1000;
        proc.user.gid = 1001;
        _cleanup_(skiff_strv_freep) char **argv =
            skiff_strv_copy((char *[]){"sh", "-c", "id -u; id -g; echo $HOME; tty", NULL});
        proc.args = argv;
        proc.terminal = true;
        struct skiff_exec_config ec = {.process = &proc, .stdio = {-1, -1, -1}};
        pid_t pid = 0;
        int console = -1;
        skiff_err_t e = NULL;
        must(skiff_container_exec(F.c, &ec, &pid, &console, &e), &e, "exec");
        cr_assert_geq(console, 0);
        _cleanup_free_ char *out = read_all(console);
        close(console);
        st = wait_status(pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
        cr_assert(strncmp(out, "1000\r\n1001\r\n/home/u\r\n/dev/pts/", 30) == 0, "%s", out);
}

static void set_ns_path(enum skiff_ns_type t, const char *path)
{
        for (size_t i = 0; i < F.spec->linux_.n_namespaces; i++)
                if (F.spec->linux_.namespaces[i].type == t) {
                        free(F.spec->linux_.namespaces[i].path);
                        F.spec->linux_.namespaces[i].path = xstrdup(path);
                        return;
                }
        cr_assert_fail("no namespace %d in the fixture", (int)t);
}

static char *ns_link(pid_t pid, const char *ns)
{
        _cleanup_free_ char *p = xasprintf("/proc/%d/ns/%s", (int)pid, ns);
        char buf[128];
        ssize_t n = readlink(p, buf, sizeof(buf) - 1);
        cr_assert_gt(n, 0);
        buf[n] = '\0';
        return xstrdup(buf);
}

Test(container, join_pid_and_net_namespaces_by_path)
{
        /* A first container provides the namespaces. */
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        pid_t a = skiff_container_pid(F.c);
        struct skiff_container *first = TAKE_PTR(F.c);

        /* Same bundle layout is not reusable while mounted: a second bundle for the joiner. */
        char bundle2[] = "/tmp/skiff-ctrtest2-XXXXXX";
        cr_assert_not_null(mkdtemp(bundle2));
        _cleanup_free_ char *pidns = xasprintf("/proc/%d/ns/pid", (int)a);
        _cleanup_free_ char *netns = xasprintf("/proc/%d/ns/net", (int)a);
        set_ns_path(SKIFF_NS_PID, pidns);
        set_ns_path(SKIFF_NS_NETWORK, netns);
        set_args(&F.spec->process, (const char *const[]){"sh", "-c",
                                                         "echo $$; cat /proc/1/comm; "
                                                         "readlink /proc/self/ns/net",
                                                         NULL});
        _cleanup_free_ char *id2 = xasprintf("%s-b", F.id);
        _cleanup_free_ char *cg2 = xasprintf("%s-b", F.cgpath);
        free(F.spec->linux_.cgroups_path);
        F.spec->linux_.cgroups_path = xstrdup(cg2);
        F.cfg.id = id2;
        F.cfg.bundle = bundle2;
        int st;
        _cleanup_free_ char *out = run_output(NULL, &st);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
        _cleanup_free_ char *want_net = ns_link(a, "net");
        _cleanup_(skiff_strv_freep) char **lines = skiff_strv_split(out, "\n", true);
        cr_assert_eq(skiff_strv_len(lines), 3, "%s", out);
        cr_assert_str_neq(lines[0], "1"); /* not the init of the joined pid namespace */
        cr_assert_eq(strncmp(lines[1], "sleep", 5), 0, "%s", out);
        cr_assert_str_eq(lines[2], want_net);

        skiff_err_t e = NULL;
        must(skiff_container_destroy(F.c, &e), &e, "destroy second");
        skiff_container_free(F.c);
        F.c = first; /* torn down by the fixture */
        F.cfg.bundle = F.bundle;
        (void)skiff_fs_rm_rf(bundle2, &e);
        skiff_error_free(&e);
}

static void use_new_user_namespace(void)
{
        struct skiff_spec_linux *l = &F.spec->linux_;
        l->namespaces = xreallocarray(l->namespaces, l->n_namespaces + 1, sizeof(*l->namespaces));
        l->namespaces[l->n_namespaces++] = (struct skiff_spec_namespace){SKIFF_NS_USER, NULL};
        l->uid_mappings = xcalloc(1, sizeof(*l->uid_mappings));
        l->gid_mappings = xcalloc(1, sizeof(*l->gid_mappings));
        l->uid_mappings[0] = l->gid_mappings[0] = (struct skiff_spec_idmap){0, 100000, 65536};
        l->n_uid_mappings = l->n_gid_mappings = 1;
        /* The mapped root must be able to reach the rootfs through the bundle. */
        cr_assert_eq(chmod(F.bundle, 0711), 0);
}

Test(container, new_user_namespace)
{
        use_new_user_namespace();
        int st;
        _cleanup_free_ char *out = run_output(
            (const char *const[]){"sh", "-c", "id -u; cat /proc/self/uid_map", NULL}, &st);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
        cr_assert(strncmp(out, "0\n", 2) == 0, "%s", out);
        cr_assert(strstr(out, "100000"), "%s", out);
}

Test(container, exec_into_user_namespace)
{
        use_new_user_namespace();
        set_args(&F.spec->process, (const char *const[]){"sleep", "100", NULL});
        _cleanup_close_ int rd = run();
        int st;
        _cleanup_free_ char *out = exec_output(
            (const char *const[]){"sh", "-c", "id -u; cat /proc/self/uid_map", NULL}, &st);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
        cr_assert(strncmp(out, "0\n", 2) == 0, "%s", out);
        cr_assert(strstr(out, "100000"), "%s", out);
}
