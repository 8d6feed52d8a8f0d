/* The imageless container (design §6): the assembly plan of a realized environment (plain data,
 * written by the realizer as JSON, read by the shim and `skiff run`) and its application to an
 * OCI spec before the container is created.
 *
 * Applied to a spec (skiff_assemble_apply), for the `closure` view:
 *   - a tmpfs on /nix/store (nosuid,nodev,mode=0755), then one bind per closure path
 *     <real_store>/<base> -> /nix/store/<base> (ro,nosuid,nodev), and /nix/store in
 *     linux.readonlyPaths, so the tmpfs itself is made read-only after the binds;
 * for the `store` view: one bind of the whole real store on /nix/store (ro,nosuid,nodev);
 * in both: /run/skiff/env = ro bind of the merged profile; the skeleton, only for what the image
 * lacks (an empty stub image lacks everything): /bin/sh and /usr/bin/env as ro binds of the
 * profile's files (resolved to host files), /etc/passwd, /etc/group, /etc/nsswitch.conf as ro
 * binds of files generated into skel_dir (a per-container directory under the bundle; the
 * image's rootfs is never written), and a tmpfs on /tmp; process.env per skiff_assemble_env;
 * process.args prefixed with the plan's hook argv, so the hook shell execs the workload.
 * The new mounts go before the spec's own mounts under the same destinations, so Kubernetes
 * volumes still land on top. Everything else in the spec is left alone.
 *
 * Pure functions except skiff_assemble_apply (writes skel_dir) and skiff_assemble_image_has
 * (lstat on the image directories). No logging, no event loop. */
#ifndef SKIFF_ENV_ASSEMBLE_H
#define SKIFF_ENV_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "env/annotations.h"

#define SKIFF_ASSEMBLE_PLAN_MAX (16 * 1024 * 1024)

struct skiff_spec;
struct skiff_spec_process;
struct skiff_rootfs_mount;

struct skiff_assemble_plan {
        char *refs;       /* the resolved layer references, comma-separated ("acme/app@7") */
        char *store_dir;  /* store dir inside the container, "/nix/store" */
        char *real_store; /* host directory holding the store paths */
        char *profile;    /* host path of the merged profile */
        char **closure;   /* full store paths (under store_dir), NULL-terminated, never NULL */
        char **env;       /* generated and document variables "K=V" (activation.h steps 1-2);
                             never NULL */
        char **hook_argv; /* argv prefix running the hooks ([sh, -c, script, --]) or NULL */
        char *sh;         /* host file providing /bin/sh, or NULL */
        char *env_bin;    /* host file providing /usr/bin/env, or NULL */
        /* For the GPU layer (gpu/plan.h), not applied here: */
        char *requires_cuda; /* the layers' `requires.cuda` joined with ',' (all must hold), or
                                NULL */
        char *loader;        /* container path of a glibc loader in the closure
                                (<store_dir>/<glibc>/lib/ld-linux-x86-64.so.2), or NULL */
};

void skiff_assemble_plan_done(struct skiff_assemble_plan *p); /* NULL-safe; zeroes *p */

/* JSON form (one object; keys as the struct members). Heap string. */
int skiff_assemble_plan_encode(const struct skiff_assemble_plan *p, char **ret, size_t *ret_len,
                               skiff_err_t *err);
/* Parses and checks the JSON form: absolute paths, closure paths under store_dir, env entries
 * NAME=VALUE. *ret is caller-allocated; release with skiff_assemble_plan_done(). -EINVAL naming
 * the key. */
int skiff_assemble_plan_decode(const char *buf, size_t len, struct skiff_assemble_plan *ret,
                               skiff_err_t *err);

/* The process environment: the plan's env, then spec_env (may be NULL; pod-spec values win,
 * each name once, in order), with PATH = "/run/skiff/env/bin:" + the spec's PATH (else the
 * plan's) and never prepended twice. For the init process and for exec processes. -EINVAL
 * naming a spec_env entry without '='. */
int skiff_assemble_env(const struct skiff_assemble_plan *p, char *const *spec_env, char ***ret,
                       skiff_err_t *err);

/* Directories where the image's content is visible before the container starts, from the
 * CreateTaskRequest rootfs mounts (overlay upperdir and lowerdirs; a bind's source), else
 * <bundle>/<root_path> when there are none. New strv. */
char **skiff_assemble_image_dirs(const struct skiff_rootfs_mount *m, size_t n, const char *bundle,
                                 const char *root_path);
/* True when rel (e.g. "bin/sh") exists (any type, a dangling symlink included) in one of dirs. */
bool skiff_assemble_image_has(char *const *dirs, const char *rel);

/* Applies the plan to spec (see the top of this file). image_dirs decides which skeleton parts
 * the image lacks (NULL: it lacks all). skel_dir is created when missing. Errors name the
 * file. */
int skiff_assemble_apply(const struct skiff_assemble_plan *p, enum skiff_annotations_view view,
                         struct skiff_spec *spec, char *const *image_dirs, const char *skel_dir,
                         skiff_err_t *err);

/* Exec processes of an opted-in container: process.env per skiff_assemble_env. */
int skiff_assemble_apply_process(const struct skiff_assemble_plan *p,
                                 struct skiff_spec_process *proc, skiff_err_t *err);

#endif
