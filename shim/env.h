/* Imageless environments in the shim (design §5-§6): realization runs in `skiff prefetch`
 * children (fork/exec of the `skiff` binary next to the shim binary; reaped by the shim's
 * reaper; JSON progress lines read from a pipe on the loop), one per distinct layer set of the
 * pod, started at sandbox creation. A container's Create waits for its layer set without
 * blocking the loop, bounded by its realize-timeout (annotation, else the node config); on
 * timeout it fails with the progress so far while the realization continues for the kubelet's
 * retry. Then the assembly plan is applied to the container's spec (env/assemble.h), the
 * container gets a GC root (`skiff store root add`, removed at delete) and its exec processes
 * get the same environment (unless skip-exec).
 *
 * Error messages (what `kubectl describe pod` shows) start "skiff: environment <refs>: ".
 * Single-threaded: call everything on the loop thread. The shim links no network code: every
 * store operation runs in a `skiff` child. */
#ifndef SKIFF_SHIM_ENV_H
#define SKIFF_SHIM_ENV_H

#include <stddef.h>
#include <uv.h>

#include "base/error.h"

struct skiff_assemble_plan;
struct skiff_config;
struct skiff_reaper;
struct skiff_shim_ctx;
struct skiff_spec;
struct skiff_spec_process;
struct skiff_rootfs_mount;

/* ctx and reaper are borrowed and must outlive the module (until skiff_shim_env_shutdown). */
void skiff_shim_env_init(uv_loop_t *loop, struct skiff_reaper *reaper,
                         const struct skiff_shim_ctx *ctx);
/* Fails pending waits (-ECANCELED) and closes handles; running realizations keep running. */
void skiff_shim_env_shutdown(void);

/* Called when the ready callback of skiff_shim_env_prepare fires: r < 0 with *err set on
 * failure (the callee owns and must free *err). */
typedef void (*skiff_shim_env_ready_cb)(int r, skiff_err_t *err, void *data);

/* Sandbox Create: when spec (the sandbox's) opts in, starts realizing the pod's environment.
 * Never fails the sandbox: problems surface at the containers' Create. */
void skiff_shim_env_sandbox(const char *bundle, const struct skiff_spec *spec);

/* Container Create, before the container is created. Returns 1 when the container does not use
 * an environment (spec untouched; cb is not called); 0 when cb will be called from the loop,
 * after spec was assembled (r = 0) or with the error; < 0 on an immediate error (cb is not
 * called), e.g. a malformed annotation. spec and rootfs (the CreateTaskRequest mounts) are
 * borrowed until cb runs. */
int skiff_shim_env_prepare(const char *id, const char *bundle, struct skiff_spec *spec,
                           const struct skiff_rootfs_mount *rootfs, size_t n_rootfs,
                           skiff_shim_env_ready_cb cb, void *data, skiff_err_t *err);

/* Exec processes of container id: the container's environment variables, unless the
 * container does not use an environment or is in skip-exec (then proc is untouched). */
int skiff_shim_env_exec(const char *id, struct skiff_spec_process *proc, skiff_err_t *err);

/* The node config (SKIFF_CONFIG_PATH_DEFAULT or the runtime options' ConfigPath), loaded once
 * per shim on first use and shared with the other shim modules; borrowed until
 * skiff_shim_env_shutdown. Errors start "skiff: node config: ". */
int skiff_shim_env_config(const struct skiff_config **ret, skiff_err_t *err);

/* The assembly plan of container id (borrowed, valid until skiff_shim_env_release(id)), or
 * NULL when it does not use an environment. */
const struct skiff_assemble_plan *skiff_shim_env_plan(const char *id);

/* Container Delete: removes its GC root (in a child) and forgets it. Unknown ids are fine. */
void skiff_shim_env_release(const char *id);

#endif
