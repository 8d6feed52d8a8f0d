/* Applies a GPU plan (plan.h) to a container, in two steps:
 *
 * 1. skiff_gpu_inject_spec(), host side before the container is created: device nodes go into
 *    linux.devices and their cgroup rules into linux.resources.devices, so the existing devices
 *    and cgroups modules create the nodes (mknod, or a bind from the host in a user namespace)
 *    and own the rules (v1 devices.allow, v2 eBPF) — nothing patches cgroups behind their back
 *    (gpu.md §1.6, §9.1). Environment and additional GIDs are edited too.
 *
 * 2. skiff_gpu_inject_rootfs(), child side, in the container's mount namespace after the spec's
 *    mounts and /dev are set up and before pivot_root (host paths are still reachable): the
 *    /run/opengl-driver tmpfs with read-only binds of the driver files, SONAME links and
 *    generated files; /etc/ld.so.cache; IPC sockets; the /proc/driver/nvidia mask; the loader
 *    link. Every container path is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT) and
 *    every mount target is passed as /proc/self/fd/N. On failure everything done so far is
 *    undone in reverse order from an explicit record: mounts are detached and the mount points
 *    this function created in the rootfs are removed.
 *
 * Hook point: skiff_gpu_inject_rootfs() has the signature of a pre-pivot callback
 * (int (*)(int rootfd, const char *rootfs, void *data, skiff_err_t *err)), data being the plan.
 * It must run after procfs is mounted at <rootfs>/proc (to mask it) and before pivot_root. */
#ifndef SKIFF_GPU_INJECT_H
#define SKIFF_GPU_INJECT_H

#include "base/error.h"

struct skiff_spec;
struct skiff_spec_process;
struct skiff_gpu_plan;

/* Edits spec in place (an inactive plan changes nothing). A node whose path is already in
 * linux.devices replaces that entry; cgroup rules are appended (a rule with empty access, CDI's
 * "none", is not added); env: the plan's K=V replace or append, LD_LIBRARY_PATH is prepended,
 * PATH appended; GIDs are appended once. -EINVAL (before any change) when the plan needs a
 * process and the spec has none. Never fails half-way. */
int skiff_gpu_inject_spec(const struct skiff_gpu_plan *plan, struct skiff_spec *spec,
                          skiff_err_t *err);

/* The process part of skiff_gpu_inject_spec (env and GIDs) for one process, e.g. an exec
 * process of a GPU container. An inactive plan changes nothing. */
void skiff_gpu_inject_process(const struct skiff_gpu_plan *plan, struct skiff_spec_process *proc);

/* Child side; see above. plan is a const struct skiff_gpu_plan *. rootfd is an fd of the rootfs
 * directory (O_PATH is fine), rootfs its path (messages only). Must run as (namespace) root.
 * Errors name the container path ("gpu: bind `/usr/lib/libcuda.so.1` on
 * `/run/opengl-driver/lib/libcuda.so.1`: ..."). */
int skiff_gpu_inject_rootfs(int rootfd, const char *rootfs, void *plan, skiff_err_t *err);

#endif
