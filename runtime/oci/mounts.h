/* Mounts for a container: the CreateTaskRequest rootfs mounts (host side, before clone), and the
 * in-container filesystem setup (child side, inside the new mount namespace): rootfs
 * propagation, the spec's mounts, /dev and linux.devices, pivot_root, then masked and read-only
 * paths and a read-only root. Mount options are decoded by one table (fstab-style names ->
 * MS_* flags, propagation, or data). */
#ifndef SKIFF_OCI_MOUNTS_H
#define SKIFF_OCI_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct skiff_spec;
struct skiff_rootfs_mount;

struct skiff_mount_opts {
        unsigned long flags;       /* MS_* to set */
        unsigned long clear;       /* MS_* explicitly cleared ("rw", "suid", ...) */
        unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) or 0 */
        bool bind, recursive;      /* "bind" / "rbind" */
        char *data;                /* comma-joined unknown options (filesystem data), heap or NULL */
};

/* Decodes options; unknown options go to data. Never fails except on allocation. */
void skiff_mount_opts_parse(char *const *options, struct skiff_mount_opts *out);
void skiff_mount_opts_clear(struct skiff_mount_opts *o);

/* Host side: mounts each rootfs entry onto target (types: "bind", "rbind", "overlay", any
 * kernel fs type; "rbind"/"bind" options honoured). On failure, what was mounted is unmounted.
 * Unknown mount types fail with "mount rootfs[<i>]: unknown mount type `foo`". */
int skiff_mounts_rootfs_mount(const char *target, const struct skiff_rootfs_mount *m, size_t n,
                              skiff_err_t *err);
/* Host side: unmounts everything at target (lazy detach, repeated until nothing is mounted
 * there). Idempotent: nothing mounted is success. */
int skiff_mounts_rootfs_umount(const char *target, skiff_err_t *err);

/* Child side, already in a new mount namespace, as root: makes / rslave/rprivate per
 * linux.rootfsPropagation, bind-mounts rootfs onto itself, performs spec->mounts in order
 * (bind/rbind, proc, sysfs, tmpfs, devpts, mqueue, cgroup (v1 hierarchies or cgroup2 depending
 * on the host, read-only for a container without a cgroup ns), cgroup2, others by type), with
 * propagation options and the bind-remount of ro/nosuid/nodev/noexec flags; sets up /dev
 * (standard device nodes or bind mounts from the host when mknod is not permitted, /dev/pts,
 * /dev/ptmx symlink, /dev/fd, stdin/out/err symlinks, /dev/shm if not a spec mount) and
 * linux.devices; then pivot_root into rootfs (MS_MOVE + chroot fallback is not used).
 * Destination paths are resolved inside rootfs without following symlinks out of it.
 * Errors name the mount ("mount `proc` on `/proc`: ..."). */
int skiff_mounts_setup_rootfs(const struct skiff_spec *spec, const char *rootfs, skiff_err_t *err);

/* Child side, after pivot_root and after the console is set up: masks linux.maskedPaths (bind
 * /dev/null over files, read-only tmpfs over directories; missing paths are skipped), makes
 * linux.readonlyPaths read-only (recursive bind remount), and remounts / read-only when
 * root.readonly. */
int skiff_mounts_finalize(const struct skiff_spec *spec, skiff_err_t *err);

#endif
