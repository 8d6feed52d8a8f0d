/* One process of a task: the container's init or an exec. Holds the lifecycle state machine
 * (a [state][op] table, style.md §9.8), the pid, the exit status and time, the stdio, and the
 * waiters that want to hear about the exit (pending Wait calls, deferred work).
 *
 * An operation that the current state does not allow returns -EBUSY (the process is live or
 * busy: start twice, delete while running) or -ENOTCONN (the process is not running: pause a
 * stopped process). Kill after the exit returns -ENOENT ("process already finished",
 * shim-protocol.md §18.18). The task service maps these to FAILED_PRECONDITION / NOT_FOUND.
 *
 * Single-threaded; everything runs on the shim loop. */
#ifndef SKIFF_SHIM_PROCESS_H
#define SKIFF_SHIM_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum skiff_proc_state {
        SKIFF_PROC_CREATED,
        SKIFF_PROC_RUNNING,
        SKIFF_PROC_PAUSED,
        SKIFF_PROC_STOPPED,
        SKIFF_PROC_DELETED,
        _SKIFF_PROC_STATE_MAX,
};

enum skiff_proc_op {
        SKIFF_PROC_OP_START,
        SKIFF_PROC_OP_KILL,
        SKIFF_PROC_OP_PAUSE,
        SKIFF_PROC_OP_RESUME,
        SKIFF_PROC_OP_EXIT, /* the reaper saw the process die */
        SKIFF_PROC_OP_DELETE,
        SKIFF_PROC_OP_EXEC, /* add an exec to this (init) process's container */
        SKIFF_PROC_OP_IO,   /* ResizePty, CloseIO */
        _SKIFF_PROC_OP_MAX,
};

struct skiff_stdio;
struct skiff_spec_process;
struct skiff_process;

typedef void (*skiff_process_exit_cb)(struct skiff_process *p, void *data);

struct skiff_process_waiter {
        skiff_process_exit_cb cb;
        void *data;
};

struct skiff_process {
        char *exec_id; /* NULL for init; owned */
        void *task;    /* owning struct skiff_task; not owned */
        enum skiff_proc_state state;
        pid_t pid;
        int exit_status;
        struct timespec exited_at; /* zero until the exit */

        /* Stdio as requested (owned copies, "" when empty). */
        char *stdin_path, *stdout_path, *stderr_path;
        bool terminal;
        struct skiff_stdio *stdio;       /* owned; NULL once released */
        struct skiff_spec_process *spec; /* exec only: the process to run; owned */

        struct skiff_process_waiter *waiters;
        size_t n_waiters;
};

/* Allocates a process in state CREATED. exec_id NULL or "" means init. Paths may be NULL. */
struct skiff_process *skiff_process_new(const char *exec_id, const char *in, const char *out,
                                        const char *err, bool terminal);
/* Frees the process, its spec and its stdio; pending waiters are dropped without a call. NULL-safe.
 */
void skiff_process_free(struct skiff_process *p);

/* Validates op against the state table and applies the transition. Returns 0, -EBUSY,
 * -ENOTCONN or -ENOENT; the state is unchanged on error. Pure: no side effects beyond
 * p->state. */
int skiff_process_transition(struct skiff_process *p, enum skiff_proc_op op);
/* The same check without changing anything. */
int skiff_process_check(const struct skiff_process *p, enum skiff_proc_op op);

/* Records the exit (status, time), moves to STOPPED, and runs then clears the waiters in the
 * order they were added. Ignored (returns -ENOTCONN) if the process already stopped. */
int skiff_process_set_exited(struct skiff_process *p, int status, const struct timespec *at);
/* Runs cb when the process stops; right away (synchronously) if it already has. */
void skiff_process_on_exit(struct skiff_process *p, skiff_process_exit_cb cb, void *data);
/* Removes a waiter added with the same cb and data. Returns true if one was removed. */
bool skiff_process_remove_waiter(struct skiff_process *p, skiff_process_exit_cb cb, void *data);

bool skiff_process_is_init(const struct skiff_process *p);
/* Human-readable state name ("created", "running", ...). */
const char *skiff_process_state_name(enum skiff_proc_state s);

#endif
