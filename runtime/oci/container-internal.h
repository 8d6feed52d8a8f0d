/* Private to container*.c: the container object, the description of a child to spawn, and the
 * helpers shared between the lifecycle (container.c), the spawning of processes
 * (container-spawn.c) and the state file (container-state.c). */
#ifndef SKIFF_OCI_CONTAINER_INTERNAL_H
#define SKIFF_OCI_CONTAINER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/cgroups.h"
#include "oci/mounts.h"
#include "oci/namespaces.h"
#include "oci/exec.h"
#include "oci/spec.h"

#define SKIFF_CONTAINER_STATE_FILE "skiff-state.json"

struct skiff_container {
        char *id;
        char *bundle;
        char *rootfs;     /* absolute host path of the root filesystem */
        char *state_path; /* <bundle>/skiff-state.json */
        bool rootfs_mounted;
        struct skiff_cgroup *cg;
        pid_t pid;
        int pidfd; /* -EBADF when pidfd_open is unavailable */
        uint64_t start_time;
        int sync_fd; /* parent end of init's sync socket until start */
        bool started;
        bool destroyed;
        void *seccomp; /* the container's compiled profile (scmp_filter_ctx), reused by exec */
};

/* What a container process needs (init: spec != NULL; exec: spec == NULL). Lives on the
 * caller's stack and is copied into the children by fork/clone; everything is prepared before
 * the fork so that the children never decode the spec. */
struct skiff_container_child {
        const struct skiff_spec *spec; /* NULL for exec */
        const char *rootfs;
        struct skiff_exec_plan plan;
        struct skiff_ns_fds ns;
        int root_fd; /* exec: /proc/<init>/root */
        int clone_flags;
        bool new_time, new_userns, new_cgroupns, new_uts;
        int devnull;
        skiff_mounts_pre_pivot_fn pre_pivot; /* init only; see skiff_container_config */
        void *pre_pivot_data;
};

/* Closes the fds of a (reset to -EBADF); idempotent. */
void skiff_container_child_done(struct skiff_container_child *a);

/* Forks the intermediate, which joins a->ns (and a->root_fd for exec), clones the container
 * process with CLONE_PARENT | a->clone_flags and reports its pid; the intermediate is reaped
 * here. On success *ret_pid is the container process (a child of the caller, waiting for
 * SKIFF_SYNC_GO) and *ret_sock the parent end of its sync socket. */
int skiff_container_spawn(struct skiff_container_child *a, pid_t *ret_pid, int *ret_sock,
                          skiff_err_t *err);

/* waitpid(pid) retrying on EINTR; -errno. */
int skiff_container_waitpid(pid_t pid, int *status);
/* SIGKILL + waitpid for a child of the caller that was not handed out yet; pid <= 0: no-op. */
void skiff_container_kill_and_reap(pid_t pid);

/* Start time of pid (field 22 of /proc/<pid>/stat, clock ticks since boot); -errno. */
int skiff_container_start_time(pid_t pid, uint64_t *out);
/* pidfd_open(pid) (close-on-exec) or -errno. */
int skiff_container_pidfd_open(pid_t pid);

/* Writes c's state file atomically. */
int skiff_container_write_state(const struct skiff_container *c, skiff_err_t *err);
/* Removes a state file; missing is success. */
int skiff_container_remove_state(const char *path, skiff_err_t *err);
/* SIGKILLs everything in cg and removes it. */
int skiff_container_remove_cgroup(struct skiff_cgroup *cg, skiff_err_t *err);

#endif
