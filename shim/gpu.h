/* NVIDIA GPUs in the shim (runtime/gpu, gpu.md §0): at container Create the GPU plan of the spec
 * is built and applied to it (device nodes, cgroup rules, env); the plan is then handed to the
 * container module as its pre-pivot callback (gpu/inject.h), and exec processes of a GPU
 * container get the same environment edits.
 *
 * Cost for containers that ask for no GPU: one pass over the spec's env, mounts, annotations and
 * devices (no file is read, not even the node config). For a GPU container: the node config
 * (shared with shim/env.c), driver discovery and CDI files (blocking file I/O, a few ms).
 *
 * Node config (store/config.h `gpu`): driver_root (absent: `/run/nvidia/driver`, then
 * `/usr/local/nvidia` when they exist, then `/`: the first where discovery succeeds; the error
 * is that of the first root that found a driver, else `/`'s),
 * accept_env_unprivileged, cdi_dirs, probe_cuda. The environment of an imageless container
 * (shim/env.h) contributes its `requires.cuda` and its glibc loader.
 *
 * Error messages (what `kubectl describe pod` shows) start "skiff: gpu: ". Single-threaded: call
 * everything on the loop thread. */
#ifndef SKIFF_SHIM_GPU_H
#define SKIFF_SHIM_GPU_H

#include "base/error.h"

struct skiff_config;
struct skiff_gpu_config;
struct skiff_gpu_plan;
struct skiff_spec;
struct skiff_spec_process;

/* Container Create of id, after its environment (if any) was assembled into spec and before
 * the container is created. *plan is NULL for a container that gets no GPU (spec untouched);
 * else spec was edited and *plan is what the pre-pivot callback needs: the caller keeps it
 * until create returned and frees it (skiff_gpu_plan_free). Errors: no driver, unknown
 * devices, unsatisfied requirements ("skiff: gpu: environment requires CUDA >=99.0, but the
 * driver 580.159.04 supports CUDA 13.0"), a node config that does not load. */
int skiff_shim_gpu_prepare(const char *id, struct skiff_spec *spec, struct skiff_gpu_plan **plan,
                           skiff_err_t *err);

/* After a successful create with plan: remembers the process edits for id's exec processes. */
void skiff_shim_gpu_created(const char *id, const struct skiff_gpu_plan *plan);

/* Exec processes of container id: the GPU env edits (no-op for non-GPU containers). */
void skiff_shim_gpu_exec(const char *id, struct skiff_spec_process *proc);

/* Container Delete: forgets id. Unknown ids are fine. */
void skiff_shim_gpu_release(const char *id);

/* Frees everything remembered (shim shutdown). */
void skiff_shim_gpu_shutdown(void);

/* The GPU layer's config from the node config (borrowed strings: out lives no longer than nc);
 * driver_root NULL = automatic. Exposed for tests. */
void skiff_shim_gpu_config(const struct skiff_config *nc, struct skiff_gpu_config *out);

#endif
