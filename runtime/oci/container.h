/* Container lifecycle for one bundle, without runc: this module mounts, clones and execs; the
 * shim only calls it. All functions block for at most the time it takes to set up or tear down
 * a container (no waiting for exits). Processes started here are children of the caller; any
 * intermediate helper process is reaped here by pid before returning, so the caller's reaper
 * (waitpid(-1) on SIGCHLD) only ever sees the container's init and exec processes.
 *
 * Ordering contract with the caller's reaper: the caller must subscribe to the returned pid
 * before running its loop again; an exit observed before that must be cached by the caller. */
#ifndef SKIFF_OCI_CONTAINER_H
#define SKIFF_OCI_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/cgroups.h"
#include "oci/mounts.h"
#include "oci/spec.h"

/* One CreateTaskRequest.rootfs entry (containerd mount: type, source, target, options). */
struct skiff_rootfs_mount {
        const char *type;
        const char *source;
        const char *target;   /* relative to the rootfs; NULL or "" = the rootfs itself */
        char *const *options; /* NULL-terminated, fstab-style */
};

/* fds installed as 0, 1, 2 in the process (dup'ed in the child; the caller keeps its own).
 * -1 means /dev/null. Ignored when the process has a terminal. */
struct skiff_stdio_fds {
        int in, out, err;
};

struct skiff_container_config {
        const char *id;
        const char *bundle;            /* absolute; <bundle>/rootfs is the mount target */
        const struct skiff_spec *spec; /* borrowed for the duration of create */
        const struct skiff_rootfs_mount *rootfs;
        size_t n_rootfs;
        struct skiff_stdio_fds stdio;
        /* Optional: runs in init's mount namespace after the spec's mounts and /dev, before
         * pivot_root (GPU injection, gpu/inject.h). data is borrowed; init sees a copy-on-write
         * snapshot of it. */
        skiff_mounts_pre_pivot_fn pre_pivot;
        void *pre_pivot_data;
};
#define SKIFF_CONTAINER_PRE_PIVOT 1 /* struct skiff_container_config has pre_pivot */

struct skiff_container; /* opaque; owned by the caller, freed with skiff_container_free() */

/* Mounts the rootfs (CreateTaskRequest mounts onto <bundle>/rootfs, else spec root.path),
 * creates and configures the cgroup, and starts the container's init process with the spec's
 * namespaces. Init finishes all setup (mounts, pivot_root, devices, sysctl, rlimits, user,
 * capabilities, seccomp last) and then waits at an exec barrier. Returns once init is waiting;
 * on any failure everything done so far is rolled back (a spawned init is killed and reaped
 * here) and the error names the step. The spec must ask for a new mount namespace; namespaces
 * with a path are joined (user first), new ones are created; hostname/domainname are only set
 * with a new uts namespace. cgroup device rules: the spec's, then the standard devices
 * (null, zero, full, random, urandom, tty, console, ptmx, pts, tun, mknod of any), then one per
 * linux.devices entry.
 * When the spec asks for a terminal, *console_fd receives the pty master (caller owns it),
 * else -1. Writes <bundle>/skiff-state.json so skiff_container_cleanup() can work without this
 * object (e.g. after the shim was SIGKILLed). */
int skiff_container_create(const struct skiff_container_config *cfg, struct skiff_container **out,
                           int *console_fd, skiff_err_t *err);

pid_t skiff_container_pid(const struct skiff_container *c); /* init pid (host pid namespace) */
const char *skiff_container_id(const struct skiff_container *c);

/* Releases the exec barrier. Returns 0 once execve succeeded, or an error carrying the exec
 * failure ("exec `foo`: No such file or directory"); then init has exited with status 127. */
int skiff_container_start(struct skiff_container *c, skiff_err_t *err);

struct skiff_exec_config {
        const struct skiff_spec_process *process; /* borrowed */
        struct skiff_stdio_fds stdio;
};

/* Starts an additional process inside the running container: joins its namespaces and cgroup,
 * applies the process's user, capabilities, no_new_privs, rlimits, apparmor-less security and
 * the container's seccomp profile, then execs. Returns once execve succeeded (exec errors are
 * returned like skiff_container_start's). *pid is a direct child of the caller. On failure a
 * spawned process is killed and reaped here and *pid is 0. When the process asks for a terminal,
 * *console_fd receives the pty master (caller owns it), else -1. */
int skiff_container_exec(struct skiff_container *c, const struct skiff_exec_config *cfg, pid_t *pid,
                         int *console_fd, skiff_err_t *err);

/* Sends sig to init, or with all=true to every process in the container's cgroup.
 * -ESRCH when the target is gone. */
int skiff_container_kill(struct skiff_container *c, int sig, bool all, skiff_err_t *err);

/* Freezes / thaws every process of the container (cgroup freezer). */
int skiff_container_pause(struct skiff_container *c, skiff_err_t *err);
int skiff_container_resume(struct skiff_container *c, skiff_err_t *err);

/* Pids in the container's cgroup (host pid namespace); caller frees *pids. */
int skiff_container_pids(struct skiff_container *c, pid_t **pids, size_t *n, skiff_err_t *err);

int skiff_container_stats(struct skiff_container *c, struct skiff_cgroup_stats *out,
                          skiff_err_t *err);

/* Applies new resource limits live (UpdateTaskRequest). */
int skiff_container_update(struct skiff_container *c, const struct skiff_spec_resources *r,
                           skiff_err_t *err);

/* An fd that becomes readable when the container's cgroup records an OOM kill (cgroup v1:
 * eventfd on memory.oom_control; v2: inotify on memory.events), owned by c. -ENOTSUP when the
 * memory controller is unavailable. After it polls readable, call skiff_container_oom_check(). */
int skiff_container_oom_fd(struct skiff_container *c, int *fd, skiff_err_t *err);
/* Drains the OOM fd and reports whether new OOM kills happened since the last call. */
int skiff_container_oom_check(struct skiff_container *c, bool *oom_killed, skiff_err_t *err);

/* Tears down after init exited: SIGKILLs what is left in the cgroup, removes the cgroup,
 * unmounts the rootfs, removes the state file. Idempotent. */
int skiff_container_destroy(struct skiff_container *c, skiff_err_t *err);

/* The same teardown from the bundle's state file alone (the shim `delete` action): SIGKILLs
 * the recorded init if /proc still shows the same process (pid and start time), kills and
 * removes the recorded cgroup, unmounts the rootfs if create mounted it, removes the state file.
 * Without a state file it only unmounts <bundle>/rootfs. Idempotent; succeeds when nothing is
 * left. *init_pid receives the recorded init pid or 0. */
int skiff_container_cleanup(const char *bundle, const char *id, pid_t *init_pid, skiff_err_t *err);

void skiff_container_free(struct skiff_container *c); /* NULL-safe; does not tear down */

#endif
