/* Child-side setup of a container process, shared by the container's init and by exec'd
 * processes: signal and fd hygiene, stdio, rlimits, the user and capability switch, umask, cwd,
 * PATH lookup, no_new_privs, seccomp and the final execve with error reporting over the sync
 * channel (oci/sync.h). Everything a child needs is prepared by the parent in a
 * struct skiff_exec_plan before clone, so the child never decodes the spec or resolves
 * capability names. The module is named after its last step (execve); the shim's own
 * shim/process.h is an unrelated process-state object.
 *
 * The child must be the only thread of its process (it is: a fresh clone/fork). Functions that
 * end the process use _exit(), so no atexit handler of the caller runs in the child. */
#ifndef SKIFF_OCI_EXEC_H
#define SKIFF_OCI_EXEC_H

#include <stdbool.h>

#include "base/error.h"
#include "oci/caps.h"
#include "oci/spec.h"

#define SKIFF_EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SKIFF_EXEC_EXIT_SETUP   1   /* exit status of a child whose setup failed */
#define SKIFF_EXEC_EXIT_EXEC    127 /* exit status of a child whose execve failed */

struct skiff_exec_plan {
        const struct skiff_spec_process *proc; /* borrowed */
        bool has_caps;                         /* false: capabilities are left as they are */
        struct skiff_caps_plan caps;
        void *seccomp; /* compiled scmp_filter_ctx (oci/seccomp.h) or NULL; borrowed */
        int sync_fd;   /* child end of the sync socketpair */
        int stdio[3];  /* fds to install as 0, 1, 2 (-1: /dev/null); unused with a terminal */
        bool barrier;  /* wait for SKIFF_SYNC_START before execve (container init) */
};

/* Parent side: fills the parts of plan derived from proc (capability sets). */
int skiff_exec_plan_init(struct skiff_exec_plan *plan, const struct skiff_spec_process *proc,
                         skiff_err_t *err);

/* Child side: every signal disposition back to SIG_DFL and an empty signal mask. */
void skiff_exec_reset_signals(void);

/* Child side: marks every fd >= from close-on-exec (close_range, or /proc/self/fd). Async-signal
 * unsafe only in the fallback (opendir): call it between fork and exec of a single-threaded
 * process. */
int skiff_exec_cloexec_fds(int from, skiff_err_t *err);

/* Child side: installs plan->stdio as 0, 1, 2; -1 entries get devnull (an fd of /dev/null
 * opened by the child before pivot_root). Works when the given fds overlap 0..2. */
int skiff_exec_setup_stdio(const struct skiff_exec_plan *plan, int devnull, skiff_err_t *err);

/* Child side: process.rlimits. Raising a hard limit above what the process may have (EPERM,
 * e.g. RLIMIT_NOFILE without CAP_SYS_RESOURCE) falls back to the current hard limit. */
int skiff_exec_set_rlimits(const struct skiff_spec_process *proc, skiff_err_t *err);

/* Child side: creates process.cwd (mode 0755, as the current user) when it does not exist, like
 * runc; call before the root filesystem is made read-only. */
int skiff_exec_ensure_cwd(const struct skiff_spec_process *proc, skiff_err_t *err);

/* Child side, does not return: switches user and capabilities (oci/caps.h order), applies
 * umask and cwd (created when missing), looks args[0] up in the process env's PATH, sets
 * no_new_privs, loads seccomp, waits at the exec barrier when plan->barrier, and execs.
 * A setup failure is sent as SKIFF_SYNC_ERROR and exits SKIFF_EXEC_EXIT_SETUP; an exec
 * failure (including a failed PATH lookup, reported only after the barrier) is sent the same
 * way and exits SKIFF_EXEC_EXIT_EXEC. EOF on the sync fd at the barrier (the parent went
 * away) exits SKIFF_EXEC_EXIT_SETUP. */
_Noreturn void skiff_exec_run(const struct skiff_exec_plan *plan);

/* Child side, does not return: reports *err (consumed) over sync_fd and _exit(status). */
_Noreturn void skiff_exec_fail(int sync_fd, skiff_err_t *err, int status);

#endif
