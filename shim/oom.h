/* OOM watch for one container: polls the runtime's OOM notification fd (skiff_container_oom_fd)
 * on the loop and calls back once per batch of new OOM kills (the task service publishes
 * TaskOOM). Loop thread only. */
#ifndef SKIFF_SHIM_OOM_H
#define SKIFF_SHIM_OOM_H

#include <uv.h>

#include "base/error.h"

struct skiff_container;
struct skiff_oom_watch;

typedef void (*skiff_oom_cb)(void *data);

/* Starts watching c (borrowed: stop the watch before the container is destroyed or freed).
 * -ENOTSUP when the host has no memory controller for it. */
int skiff_oom_watch_start(uv_loop_t *loop, struct skiff_container *c, skiff_oom_cb cb, void *data,
                          struct skiff_oom_watch **out, skiff_err_t *err);
/* Runs the OOM check now, calling back if kills were recorded since the last check. Used before
 * publishing an init exit: the kernel's notification may still be queued on the loop behind the
 * SIGCHLD, and TaskOOM must come before TaskExit (CRI derives reason OOMKilled from it). NULL-safe.
 */
void skiff_oom_watch_check_now(struct skiff_oom_watch *w);
/* Stops and frees (after libuv closed the handle). NULL-safe. */
void skiff_oom_watch_stop(struct skiff_oom_watch *w);

#endif
