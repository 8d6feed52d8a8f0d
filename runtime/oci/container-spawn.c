/* Spawning container processes: the intermediate and the container process's own setup (the
 * parts specific to a container init: mounts, console, hostname, sysctl), ending in
 * oci/process.c's common tail. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "oci/container-internal.h"
#include "oci/mounts.h"
#include "oci/sync.h"
#include "oci/terminal.h"

void skiff_container_child_done(struct skiff_container_child *a)
{
        skiff_ns_fds_close(&a->ns);
        skiff_closep(&a->root_fd);
        skiff_closep(&a->devnull);
        a->root_fd = a->devnull = -EBADF;
}

int skiff_container_waitpid(pid_t pid, int *status)
{
        int st = 0;
        pid_t r;
        do
                r = waitpid(pid, &st, __WALL);
        while (r < 0 && errno == EINTR);
        if (status)
                *status = st;
        return r < 0 ? -errno : 0;
}

void skiff_container_kill_and_reap(pid_t pid)
{
        if (pid <= 0)
                return;
        (void)kill(pid, SIGKILL); /* our child: no reuse possible before we reap it */
        (void)skiff_container_waitpid(pid, NULL);
}

static _Noreturn void child_fail(const struct skiff_container_child *a, skiff_err_t *err)
{
        skiff_exec_fail(a->plan.sync_fd, err, SKIFF_EXEC_EXIT_SETUP);
}

static int set_sysctls(const struct skiff_spec *spec, skiff_err_t *err)
{
        char **kv = spec->linux_.sysctl;
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
                const char *key = kv[i];
                if (!*key || strstr(key, "..") || key[0] == '.' || key[0] == '/')
                        return skiff_error_set(err, EINVAL, "linux.sysctl: invalid key `%s`", key);
                _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
                for (char *p = path + strlen("/proc/sys/"); *p; p++)
                        if (*p == '.')
                                *p = '/';
                skiff_err_t e = NULL;
                int r = skiff_fs_write_string(path, kv[i + 1], &e);
                if (r < 0) {
                        r = skiff_error_set(err, -r, "linux.sysctl: set `%s` to `%s`: %s", key,
                                            kv[i + 1], strerror(-r));
                        skiff_error_free(&e);
                        return r;
                }
        }
        return 0;
}

static int set_hostname(const struct skiff_container_child *a, skiff_err_t *err)
{
        const struct skiff_spec *spec = a->spec;
        if (!a->new_uts)
                return 0; /* the hostname belongs to whoever owns the joined (or host) uts ns */
        if (spec->hostname && *spec->hostname &&
            sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return skiff_error_set_errno(err, errno, "hostname: sethostname `%s`",
                                             spec->hostname);
        if (spec->domainname && *spec->domainname &&
            setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
                return skiff_error_set_errno(err, errno, "domainname: setdomainname `%s`",
                                             spec->domainname);
        return 0;
}

static int setup_terminal(const struct skiff_container_child *a, bool console, skiff_err_t *err)
{
        const struct skiff_spec_process *p = a->plan.proc;
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        uint32_t rows = p->has_console_size ? p->console_height : 0;
        uint32_t cols = p->has_console_size ? p->console_width : 0;
        int r = skiff_terminal_open(rows, cols, &master, &slave, err);
        if (r >= 0)
                r = skiff_terminal_setup_slave(master, slave, console, err);
        if (r < 0)
                return skiff_error_wrap(err, "process.terminal");
        r = skiff_sync_send(a->plan.sync_fd, SKIFF_SYNC_CONSOLE, 0, NULL, master);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "send the console fd");
        return 0;
}

/* The container process, init (a->spec != NULL) or exec'd. Never returns. */
static _Noreturn void container_child(struct skiff_container_child *a)
{
        skiff_err_t err = NULL;
        struct skiff_sync_msg msg;
        const struct skiff_spec_process *proc = a->plan.proc;
        bool init = a->spec != NULL;

        skiff_exec_reset_signals();
        if (skiff_sync_expect(a->plan.sync_fd, SKIFF_SYNC_GO, &msg, NULL, "wait for the runtime",
                              &err) < 0)
                _exit(SKIFF_EXEC_EXIT_SETUP); /* the parent is gone or failed */
        if (a->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
                skiff_error_set_errno(&err, errno, "become root in the new user namespace");
                child_fail(a, &err);
        }
        if (a->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
                skiff_error_set_errno(&err, errno, "create cgroup namespace");
                child_fail(a, &err);
        }
        if (skiff_exec_cloexec_fds(3, &err) < 0)
                child_fail(a, &err);
        if (setsid() < 0) {
                skiff_error_set_errno(&err, errno, "setsid");
                child_fail(a, &err);
        }
        if (!proc->terminal && skiff_exec_setup_stdio(&a->plan, a->devnull, &err) < 0)
                child_fail(a, &err);
        if (init) {
                if (skiff_mounts_setup_rootfs_hook(a->spec, a->rootfs, a->pre_pivot,
                                                   a->pre_pivot_data, &err) < 0)
                        child_fail(a, &err);
        }
        if (proc->terminal && setup_terminal(a, init, &err) < 0)
                child_fail(a, &err);
        if (init) {
                if (set_hostname(a, &err) < 0 || set_sysctls(a->spec, &err) < 0 ||
                    skiff_exec_ensure_cwd(proc, &err) < 0 ||
                    skiff_mounts_finalize(a->spec, &err) < 0)
                        child_fail(a, &err);
        }
        if (skiff_exec_set_rlimits(proc, &err) < 0)
                child_fail(a, &err);
        skiff_closep(&a->devnull);
        skiff_exec_run(&a->plan);
}

/* The intermediate: joins namespaces by fd, clones the container process as a sibling and
 * reports its pid. Never returns. */
static _Noreturn void intermediate(struct skiff_container_child *a)
{
        skiff_err_t err = NULL;
        skiff_exec_reset_signals();
        if (skiff_namespaces_join(&a->ns, a->new_time, &err) < 0)
                child_fail(a, &err);
        if (a->root_fd >= 0 && (fchdir(a->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)) {
                skiff_error_set_errno(&err, errno, "enter the container's root");
                child_fail(a, &err);
        }
        /* With a NULL stack, clone behaves like fork (copy-on-write). */
        long pid = syscall(SYS_clone, (unsigned long)a->clone_flags | CLONE_PARENT | SIGCHLD, NULL,
                           NULL, NULL, NULL);
        if (pid < 0) {
                skiff_error_set_errno(&err, errno, "clone the container process");
                child_fail(a, &err);
        }
        if (pid == 0)
                container_child(a);
        if (skiff_sync_send(a->plan.sync_fd, SKIFF_SYNC_PID, (int32_t)pid, NULL, -1) < 0) {
                (void)kill((pid_t)pid, SIGKILL);
                _exit(SKIFF_EXEC_EXIT_SETUP);
        }
        _exit(0);
}

/* Parent side of the spawn: fork the intermediate, collect the container process's pid, reap
 * the intermediate. *ret_sock is the parent end of the sync socket. */
int skiff_container_spawn(struct skiff_container_child *a, pid_t *ret_pid, int *ret_sock,
                          skiff_err_t *err)
{
        int sp[2];
        int r = skiff_sync_pair(sp, err);
        if (r < 0)
                return r;
        _cleanup_close_ int sock = sp[0];
        a->plan.sync_fd = sp[1];
        pid_t helper = fork();
        if (helper < 0) {
                r = -errno;
                close(sp[1]);
                return skiff_error_set_errno(err, -r, "fork");
        }
        if (helper == 0) {
                close(sock);
                intermediate(a);
        }
        close(sp[1]);
        a->plan.sync_fd = -EBADF;
        struct skiff_sync_msg msg;
        r = skiff_sync_expect(sock, SKIFF_SYNC_PID, &msg, NULL, "start the container process", err);
        int status = 0;
        int w = skiff_container_waitpid(helper, &status);
        if (r < 0)
                return r;
        if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                skiff_container_kill_and_reap(msg.value);
                return skiff_error_set(err, EPROTO, "the intermediate process failed (status %d)",
                                       status);
        }
        *ret_pid = msg.value;
        *ret_sock = TAKE_FD(sock);
        return 0;
}
