/* The shim's only reaper (style.md §9.8): one uv_signal for SIGCHLD drains waitpid(-1, WNOHANG)
 * and hands each exit to the subscriber of that pid. Exits of pids nobody has subscribed to yet
 * are cached (bounded, oldest dropped first) and replayed when the pid is subscribed, so a
 * process that dies before its owner subscribed is never lost. Reparented orphans (pids never
 * subscribed) just age out of the cache.
 *
 * Never use uv_spawn next to this reaper: libuv reaps its own children by pid and silently
 * loses statuses that waitpid(-1) took first. Spawn with fork/exec (or the runtime library).
 *
 * Callbacks always run from the loop (never from inside skiff_reaper_subscribe), so a caller
 * may subscribe, then publish "started" events, and is guaranteed that the exit callback comes
 * after. Single-threaded: call everything on the loop thread. */
#ifndef SKIFF_SHIM_REAPER_H
#define SKIFF_SHIM_REAPER_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#define SKIFF_REAPER_CACHE_MAX 1024

struct skiff_reaper;

/* One reaped child. status is the converted exit status (WEXITSTATUS, or 128 + signal number);
 * wstatus the raw waitpid status; exited_at the wall-clock time (CLOCK_REALTIME) of the reap. */
struct skiff_exit {
        pid_t pid;
        int status;
        int wstatus;
        struct timespec exited_at;
};

typedef void (*skiff_reaper_exit_cb)(const struct skiff_exit *exit, void *data);

/* Installs the SIGCHLD handler on loop. The loop must not run uv_spawn'ed children. */
int skiff_reaper_new(uv_loop_t *loop, struct skiff_reaper **out);
/* Closes the signal handle; frees r once libuv has closed it. Pending subscriptions are
 * dropped without a callback. NULL-safe. */
void skiff_reaper_close(struct skiff_reaper *r);

/* Calls cb(data) once pid exits (or right away, from the loop, when its exit is already cached).
 * One subscriber per pid: -EEXIST if pid is already subscribed; -EINVAL for pid <= 0. */
int skiff_reaper_subscribe(struct skiff_reaper *r, pid_t pid, skiff_reaper_exit_cb cb, void *data);
/* Forgets a subscription (no callback). Returns false if pid was not subscribed. */
bool skiff_reaper_unsubscribe(struct skiff_reaper *r, pid_t pid);

/* Drains waitpid(-1, WNOHANG) now and dispatches. The SIGCHLD handler does this; callers may
 * call it after forking to close the window before the signal is delivered. */
void skiff_reaper_drain(struct skiff_reaper *r);

/* Number of cached, unclaimed exits (for tests and debugging). */
size_t skiff_reaper_cached(const struct skiff_reaper *r);

/* WEXITSTATUS for a normal exit, 128 + signal for a signalled one (shim-protocol.md §16). */
int skiff_reaper_exit_status(int wstatus);

#endif
