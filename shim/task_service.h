/* The containerd Task service (task v2 and v3, identical messages) on top of runtime/oci.
 * Owns: the table of tasks (containers) of this shim, their processes, the reaper (SIGCHLD ->
 * waitpid(-1) drain), stdio plumbing, OOM watches, and the errno -> ttrpc status mapping (the
 * only place that maps). */
#ifndef SKIFF_SHIM_TASK_SERVICE_H
#define SKIFF_SHIM_TASK_SERVICE_H

#include <uv.h>

struct skiff_shim_ctx;

/* Registers the Task service under "containerd.task.v2.Task" and "containerd.task.v3.Task" on
 * ctx->server and installs the SIGCHLD reaper on loop. */
int skiff_task_service_init(uv_loop_t *loop, struct skiff_shim_ctx *ctx);
/* Number of tasks still registered (Shutdown is a no-op while > 0). */
unsigned skiff_task_service_count(void);
/* SIGTERM path: kill every container (SIGKILL), clean up, then the caller exits. */
void skiff_task_service_shutdown(void);

#endif
