/* Private helpers shared by mounts.c, mounts-rootfs.c, mounts-cgroup.c and devices.c. */
#ifndef SKIFF_OCI_MOUNTS_INTERNAL_H
#define SKIFF_OCI_MOUNTS_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"
#include "oci/mounts.h"

struct skiff_spec;

static inline void skiff_mount_opts_clearp(struct skiff_mount_opts *o)
{
        skiff_mount_opts_clear(o);
}
#define _cleanup_mount_opts_ __attribute__((cleanup(skiff_mount_opts_clearp)))

/* "/proc/self/fd/<fd>": a path the mount syscalls can use for an O_PATH fd. */
struct skiff_fdpath {
        char p[32];
};
static inline struct skiff_fdpath skiff_fdpath(int fd)
{
        struct skiff_fdpath r;
        snprintf(r.p, sizeof(r.p), "/proc/self/fd/%d", fd);
        return r;
}

/* MS_* flags that a bind mount only gets through a second MS_REMOUNT|MS_BIND pass. */
#define SKIFF_MOUNTS_REMOUNT_MASK                                                                  \
        (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | \
         MS_STRICTATIME | MS_NOSYMFOLLOW)

/* Bind-remounts target with flags (from SKIFF_MOUNTS_REMOUNT_MASK). On EPERM (flags locked by
 * the source mount, e.g. in a user namespace) retries with the flags statvfs reports for
 * target added, except those in keep_clear. Errors are -errno with err set. */
int skiff_mounts_remount_bind(const char *target, unsigned long flags, unsigned long keep_clear,
                              skiff_err_t *err);

/* After a mount at the O_PATH fd (opened on the new mount's root): the bind remount pass
 * (when bind), recursive mount_setattr attributes, then propagation. */
int skiff_mounts_post_mount(int fd, const struct skiff_mount_opts *o, bool bind, skiff_err_t *err);

/* One /proc/self/mountinfo line, unescaped; strings point into a buffer owned by the
 * iterator and are valid only during the callback. */
struct skiff_mountinfo {
        const char *root, *mount_point, *mount_opts, *optional, *fstype, *source, *super_opts;
};
/* Calls cb for every line; a negative return from cb stops and is returned. */
int skiff_mountinfo_foreach(int (*cb)(const struct skiff_mountinfo *mi, void *ud), void *ud,
                            skiff_err_t *err);

/* True when spec asks for a new (or joins a) namespace of this type (linux.namespaces). */
bool skiff_mounts_spec_has_ns(const struct skiff_spec *spec, int type);

/* The spec's "cgroup" and "cgroup2" mounts (mounts-cgroup.c). rootfd is the rootfs. */
int skiff_mounts_cgroup(const struct skiff_spec *spec, int rootfd, const char *dest,
                        const struct skiff_mount_opts *o, bool want_v2, skiff_err_t *err);

#endif
