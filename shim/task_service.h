/* The containerd Task service (task v2 and v3, identical messages) on top of runtime/oci.
 * Owns: the table of tasks (containers) of this shim, their processes, the reaper (SIGCHLD ->
 * waitpid(-1) drain), stdio plumbing, OOM watches, and the errno -> ttrpc status mapping (the
 * only place that maps). */
#ifndef SKIFF_SHIM_TASK_SERVICE_H
#define SKIFF_SHIM_TASK_SERVICE_H

#include <uv.h>

#include "shim/ttrpc.h"

struct skiff_shim_ctx;

/* Registers the Task service under "containerd.task.v2.Task" and "containerd.task.v3.Task" on
 * ctx->server and installs the SIGCHLD reaper on loop. */
int skiff_task_service_init(uv_loop_t *loop, struct skiff_shim_ctx *ctx);
/* Number of tasks still registered (Shutdown is a no-op while > 0). */
unsigned skiff_task_service_count(void);
/* The single errno -> google.rpc.Code mapping of the shim (style.md §9.4). r may be negative or
 * positive: ENOENT -> NOT_FOUND, EEXIST -> ALREADY_EXISTS, EINVAL -> INVALID_ARGUMENT,
 * EBUSY/ENOTCONN -> FAILED_PRECONDITION, ENOTSUP/ENOSYS -> UNIMPLEMENTED, ETIMEDOUT ->
 * DEADLINE_EXCEEDED, ECANCELED -> CANCELLED, anything else -> UNKNOWN. */
enum skiff_grpc_code skiff_task_service_code(int r);
/* SIGTERM path: kill every container (SIGKILL), clean up, then the caller exits. */
void skiff_task_service_shutdown(void);

#endif
