/* Mounts for a container: the CreateTaskRequest rootfs mounts (host side, before clone), and the
 * in-container filesystem setup (child side, inside the new mount namespace): rootfs
 * propagation, the spec's mounts, /dev and linux.devices, pivot_root, then masked and read-only
 * paths and a read-only root. Mount options are decoded by one table (fstab-style names ->
 * MS_* flags, propagation, or data).
 *
 * Requires Linux >= 5.6 (openat2 RESOLVE_IN_ROOT); mount_setattr (>= 5.12) is used for the
 * recursive "r*" options and for read-only rbind mounts when available. */
#ifndef SKIFF_OCI_MOUNTS_H
#define SKIFF_OCI_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_spec;
struct skiff_rootfs_mount;

struct skiff_mount_opts {
        unsigned long flags;       /* MS_* to set */
        unsigned long clear;       /* MS_* explicitly cleared ("rw", "suid", ...) */
        unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) or 0 */
        bool bind, recursive;      /* "bind" / "rbind" */
        uint64_t attr_set;         /* MOUNT_ATTR_* applied recursively ("rro", "rnosuid", ...) */
        uint64_t attr_clr;         /* MOUNT_ATTR_* cleared recursively ("rrw", "rsuid", ...) */
        char *data;              /* comma-joined unknown options (filesystem data), heap or NULL */
        const char *unsupported; /* first option we refuse ("idmap", "ridmap"), static, or NULL */
};

/* Decodes options (NULL-terminated; options may be NULL); unknown options go to data.
 * Ignored (dropped): "defaults", "tmpcopyup" (the tmpfs starts empty; the image's content under
 * the destination is not copied up). Refused via ->unsupported: "idmap", "ridmap" (idmapped
 * mounts need a user namespace fd, not implemented). Later options override earlier ones.
 * Never fails except on allocation (which aborts). */
void skiff_mount_opts_parse(char *const *options, struct skiff_mount_opts *out);
void skiff_mount_opts_clear(struct skiff_mount_opts *o);

/* Host side: mounts each rootfs entry onto target (types: "bind", "rbind", "overlay", any
 * filesystem type listed in /proc/filesystems; "rbind"/"bind" options honoured). Entries with
 * a target are mounted at that path resolved inside target (symlinks cannot escape). An overlay
 * whose data is longer than a page gets its lowerdir paths rewritten relative to their common
 * parent and is mounted from a forked helper that chdir()s there; the caller's cwd is never
 * changed. On failure, what was mounted is unmounted. Unknown mount types fail with
 * "mount rootfs[<i>]: unknown mount type `foo`". Blocks for the mount syscalls only. */
int skiff_mounts_rootfs_mount(const char *target, const struct skiff_rootfs_mount *m, size_t n,
                              skiff_err_t *err);
/* Host side: unmounts everything at target (lazy detach, repeated until nothing is mounted
 * there). Idempotent: nothing mounted (or a missing target) is success. */
int skiff_mounts_rootfs_umount(const char *target, skiff_err_t *err);

/* Child side, already in a new mount namespace, as root: makes / rslave/rprivate per
 * linux.rootfsPropagation, bind-mounts rootfs onto itself, performs spec->mounts in order
 * (bind/rbind, proc, sysfs, tmpfs, devpts, mqueue, cgroup (v1 hierarchies or cgroup2 depending
 * on the host, read-only for a container without a cgroup ns), cgroup2, others by type), with
 * propagation options and the bind-remount of ro/nosuid/nodev/noexec flags; sets up /dev
 * (standard device nodes or bind mounts from the host when mknod is not permitted, /dev/pts,
 * /dev/ptmx symlink, /dev/fd, stdin/out/err symlinks, /dev/shm if not a spec mount) and
 * linux.devices; then pivot_root into rootfs (MS_MOVE + chroot fallback is not used) and
 * chdir("/").
 * Destination paths are resolved inside rootfs without following symlinks out of it; missing
 * destinations are created (a directory, or an empty file when a bind source is not a
 * directory). The "cgroup" type on a v1/hybrid host is a tmpfs holding, per hierarchy, a bind
 * of the container's own cgroup directory (from /proc/self/cgroup, so the caller must already
 * be in the container's cgroups), plus the host's comount symlinks; on a v2 host it is cgroup2
 * with a cgroup namespace, else a bind of the container's own cgroup2 directory.
 * Mount targets are passed to mount(2) as /proc/self/fd/N, so the host's /proc must still be
 * mounted at /proc until pivot_root. Not implemented: linux.mountLabel (SELinux).
 * Errors name the mount ("mount `proc` on `/proc`: ..."). */
int skiff_mounts_setup_rootfs(const struct skiff_spec *spec, const char *rootfs, skiff_err_t *err);

/* Called by skiff_mounts_setup_rootfs_hook() inside the new mount namespace after the spec's
 * mounts and /dev are set up and before pivot_root, with an fd of the rootfs (O_PATH) and its
 * path; host paths are still reachable. A negative return fails the setup. */
typedef int (*skiff_mounts_pre_pivot_fn)(int rootfd, const char *rootfs, void *data,
                                         skiff_err_t *err);
/* skiff_mounts_setup_rootfs() with a pre-pivot hook (NULL: none). */
int skiff_mounts_setup_rootfs_hook(const struct skiff_spec *spec, const char *rootfs,
                                   skiff_mounts_pre_pivot_fn hook, void *data, skiff_err_t *err);

/* Child side, after pivot_root and after the console is set up: makes linux.readonlyPaths
 * read-only (recursive bind remount), masks linux.maskedPaths (bind /dev/null over files,
 * read-only tmpfs over directories), and remounts / read-only when root.readonly. Missing
 * paths are skipped. */
int skiff_mounts_finalize(const struct skiff_spec *spec, skiff_err_t *err);

/* Helpers shared with the devices module. Paths are interpreted inside the directory rootfd as
 * if it were "/" (openat2 RESOLVE_IN_ROOT: "..", absolute symlinks and symlinks with ".." stay
 * inside). */
enum skiff_mounts_create {
        SKIFF_MOUNTS_NO_CREATE, /* the path must exist */
        SKIFF_MOUNTS_MKDIR,     /* create missing directories, the last one included */
        SKIFF_MOUNTS_MKFILE,    /* create missing parent directories and an empty regular file */
};
/* Opens path with O_PATH (following a final symlink inside the root) into *ret_fd (caller
 * closes), creating it as asked; a dangling symlink on the way gets its target created
 * (inside the root, as runc does). Errors name the path. */
int skiff_mounts_open_in_root(int rootfd, const char *path, enum skiff_mounts_create create,
                              int *ret_fd, skiff_err_t *err);
/* Opens the parent directory of path (created when mkdir_parents) as an O_PATH|O_DIRECTORY fd
 * and returns the last component in *ret_name (heap, caller frees). -EINVAL for "/". */
int skiff_mounts_open_parent_in_root(int rootfd, const char *path, bool mkdir_parents, int *ret_fd,
                                     char **ret_name, skiff_err_t *err);

#endif
