#include "oci/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/sync.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int skiff_exec_plan_init(struct skiff_exec_plan *plan, const struct skiff_spec_process *proc,
                         skiff_err_t *err)
{
        plan->proc = proc;
        plan->has_caps = proc->has_caps;
        if (proc->has_caps) {
                int r = skiff_caps_plan_from_spec(&proc->caps, &plan->caps, err);
                if (r < 0)
                        return r;
        }
        if (!proc->args || !proc->args[0] || !*proc->args[0])
                return skiff_error_set(err, EINVAL, "process.args: must not be empty");
        return 0;
}

void skiff_exec_reset_signals(void)
{
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigemptyset(&sa.sa_mask);
        for (int sig = 1; sig < NSIG; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                (void)sigaction(sig, &sa, NULL); /* EINVAL for libc-reserved signals */
        }
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int skiff_exec_cloexec_fds(int from, skiff_err_t *err)
{
        if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
        if (!d)
                return skiff_error_set_errno(err, errno, "open `/proc/self/fd`");
        struct dirent *de;
        while ((de = readdir(d))) {
                char *end = NULL;
                long fd = strtol(de->d_name, &end, 10);
                if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd < from ||
                    fd == dirfd(d))
                        continue;
                if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
                        return skiff_error_set_errno(err, errno, "set FD_CLOEXEC on fd %ld", fd);
        }
        return 0;
}

int skiff_exec_setup_stdio(const struct skiff_exec_plan *plan, int devnull, skiff_err_t *err)
{
        int tmp[3] = {-EBADF, -EBADF, -EBADF};
        int r = 0;
        for (int i = 0; i < 3 && r == 0; i++) {
                int src = plan->stdio[i] >= 0 ? plan->stdio[i] : devnull;
                tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
                if (tmp[i] < 0)
                        r = skiff_error_set_errno(err, errno, "dup stdio fd %d", src);
        }
        for (int i = 0; i < 3 && r == 0; i++)
                if (dup2(tmp[i], i) < 0)
                        r = skiff_error_set_errno(err, errno, "dup stdio to fd %d", i);
        for (int i = 0; i < 3; i++)
                skiff_closep(&tmp[i]);
        return r;
}

int skiff_exec_set_rlimits(const struct skiff_spec_process *proc, skiff_err_t *err)
{
        for (size_t i = 0; i < proc->n_rlimits; i++) {
                const struct skiff_spec_rlimit *l = &proc->rlimits[i];
                struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
                if (setrlimit(l->resource, &rl) == 0)
                        continue;
                if (errno != EPERM)
                        return skiff_error_set_errno(err, errno, "process.rlimits[%zu]: setrlimit",
                                                     i);
                struct rlimit cur;
                if (getrlimit(l->resource, &cur) < 0)
                        return skiff_error_set_errno(err, errno, "process.rlimits[%zu]: getrlimit",
                                                     i);
                if (rl.rlim_max > cur.rlim_max)
                        rl.rlim_max = cur.rlim_max;
                if (rl.rlim_cur > rl.rlim_max)
                        rl.rlim_cur = rl.rlim_max;
                if (setrlimit(l->resource, &rl) < 0)
                        return skiff_error_set_errno(err, errno, "process.rlimits[%zu]: setrlimit",
                                                     i);
        }
        return 0;
}

int skiff_exec_ensure_cwd(const struct skiff_spec_process *proc, skiff_err_t *err)
{
        struct stat st;
        if (stat(proc->cwd, &st) == 0 || errno != ENOENT)
                return 0; /* other errors are reported by the chdir */
        int r = skiff_fs_mkdir_p(proc->cwd, 0755, err);
        if (r < 0)
                return skiff_error_wrap(err, "process.cwd");
        return 0;
}

_Noreturn void skiff_exec_fail(int sync_fd, skiff_err_t *err, int status)
{
        (void)skiff_sync_send_error(sync_fd, *err); /* nothing else to do if the parent is gone */
        skiff_error_free(err);
        _exit(status);
}

static int switch_user(const struct skiff_exec_plan *plan, skiff_err_t *err)
{
        const struct skiff_spec_user *u = &plan->proc->user;
        if (plan->has_caps) {
                int r = skiff_caps_drop_bounding(&plan->caps, err);
                if (r < 0)
                        return r;
        }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return skiff_error_set_errno(err, errno, "prctl(PR_SET_KEEPCAPS)");
        gid_t *gids = (gid_t *)u->additional_gids;
        _Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");
        if (setgroups(u->n_additional_gids, gids) < 0) {
                /* A user namespace with setgroups denied only allows the empty list, which
                 * it already has. */
                if (!(errno == EPERM && u->n_additional_gids == 0))
                        return skiff_error_set_errno(err, errno,
                                                     "process.user.additionalGids: setgroups");
        }
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return skiff_error_set_errno(err, errno, "process.user.gid: setgid %u", u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return skiff_error_set_errno(err, errno, "process.user.uid: setuid %u", u->uid);
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return skiff_error_set_errno(err, errno, "prctl(PR_SET_KEEPCAPS)");
        if (plan->has_caps)
                return skiff_caps_apply(&plan->caps, err);
        return 0;
}

/* Like a shell's PATH search: the first regular file with an execute bit. */
static int lookup_path(const char *name, char *const *env, char *out, size_t outsz,
                       skiff_err_t *err)
{
        if (strchr(name, '/')) {
                if (strlen(name) >= outsz)
                        return skiff_error_set(err, ENAMETOOLONG, "exec `%s`: path too long", name);
                strcpy(out, name);
                return 0;
        }
        const char *path = skiff_strv_env_get(env, "PATH");
        if (!path)
                path = SKIFF_EXEC_DEFAULT_PATH;
        const char *p = path;
        for (;;) {
                const char *colon = strchrnul(p, ':');
                size_t dlen = (size_t)(colon - p);
                int n = dlen == 0 ? snprintf(out, outsz, "./%s", name)
                                  : snprintf(out, outsz, "%.*s/%s", (int)dlen, p, name);
                struct stat st;
                if (n > 0 && (size_t)n < outsz && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
                    (st.st_mode & 0111))
                        return 0;
                if (!*colon)
                        break;
                p = colon + 1;
        }
        return skiff_error_set(err, ENOENT, "exec `%s`: executable file not found in $PATH", name);
}

/* Home directory of uid in the container's /etc/passwd (parsed by hand: NSS modules must
 * never be loaded from a container image). */
static char *passwd_home(uid_t uid)
{
        _cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
        if (!f)
                return NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\n")] = '\0';
                char *field[7] = {NULL};
                char *p = line;
                size_t n = 0;
                for (; n < 7 && p; n++)
                        field[n] = strsep(&p, ":");
                uint64_t v;
                if (n >= 6 && skiff_parse_u64(field[2], &v) == 0 && v == uid && *field[5])
                        return xstrdup(field[5]);
        }
        return NULL;
}

/* The process env, plus HOME from /etc/passwd ("/" when unknown) when the spec sets none,
 * like runc. NULL means "use proc->env as is". */
static char **env_with_home(const struct skiff_spec_process *proc)
{
        if (skiff_strv_env_get(proc->env, "HOME"))
                return NULL;
        char **env = skiff_strv_copy(proc->env);
        _cleanup_free_ char *home = passwd_home(proc->user.uid);
        skiff_strv_env_set(&env, "HOME", home ? home : "/");
        return env;
}

static int load_seccomp(void *ctx, skiff_err_t *err)
{
        int r = seccomp_load(ctx);
        if (r == -EACCES)
                return skiff_error_set_errno(
                    err, -r, "load seccomp filter (requires no_new_privs or CAP_SYS_ADMIN)");
        if (r < 0)
                return skiff_error_set_errno(err, -r, "load seccomp filter");
        return 0;
}

_Noreturn void skiff_exec_run(const struct skiff_exec_plan *plan)
{
        const struct skiff_spec_process *proc = plan->proc;
        skiff_err_t err = NULL;
        char path[PATH_MAX];
        int r = 0;

        /* Without no_new_privs the kernel wants CAP_SYS_ADMIN for seccomp, which the process
         * may be about to lose: load the filter before the user switch then. */
        if (plan->seccomp && !proc->no_new_privileges)
                r = load_seccomp(plan->seccomp, &err);
        if (r == 0)
                r = switch_user(plan, &err);
        if (r < 0)
                skiff_exec_fail(plan->sync_fd, &err, SKIFF_EXEC_EXIT_SETUP);
        umask(proc->user.has_umask ? (mode_t)proc->user.umask : 022);
        if (chdir(proc->cwd) < 0) {
                skiff_error_set_errno(&err, errno, "process.cwd: chdir `%s`", proc->cwd);
                skiff_exec_fail(plan->sync_fd, &err, SKIFF_EXEC_EXIT_SETUP);
        }
        char **env = env_with_home(proc);
        if (!env)
                env = proc->env;
        skiff_err_t lookup_err = NULL;
        (void)lookup_path(proc->args[0], env, path, sizeof(path), &lookup_err);
        if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                skiff_error_set_errno(&err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
                skiff_exec_fail(plan->sync_fd, &err, SKIFF_EXEC_EXIT_SETUP);
        }
        if (plan->seccomp && proc->no_new_privileges && load_seccomp(plan->seccomp, &err) < 0)
                skiff_exec_fail(plan->sync_fd, &err, SKIFF_EXEC_EXIT_SETUP);

        if (plan->barrier) {
                if (skiff_sync_send(plan->sync_fd, SKIFF_SYNC_READY, 0, NULL, -1) < 0)
                        _exit(SKIFF_EXEC_EXIT_SETUP);
                struct skiff_sync_msg msg;
                if (skiff_sync_recv(plan->sync_fd, &msg, NULL, &err) < 0 ||
                    msg.type != SKIFF_SYNC_START)
                        _exit(SKIFF_EXEC_EXIT_SETUP);
        }
        if (lookup_err)
                skiff_exec_fail(plan->sync_fd, &lookup_err, SKIFF_EXEC_EXIT_EXEC);
        static char *const empty[] = {NULL};
        execve(path, proc->args, env ? env : empty);
        skiff_error_set_errno(&err, errno, "exec `%s`", path);
        skiff_exec_fail(plan->sync_fd, &err, SKIFF_EXEC_EXIT_EXEC);
}
