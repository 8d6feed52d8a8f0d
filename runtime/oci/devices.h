/* /dev inside a container rootfs (child side, before pivot_root): the default device nodes,
 * the standard symlinks, and linux.devices. */
#ifndef SKIFF_OCI_DEVICES_H
#define SKIFF_OCI_DEVICES_H

#include "base/error.h"

struct skiff_spec;

enum {
        /* null, zero, full, random, urandom, tty (mode 0666, root-owned; bind mounts of the
         * host nodes when mknod is not permitted), /dev/pts (directory only), /dev/fd,
         * /dev/std{in,out,err} symlinks into /proc/self/fd, and /dev/ptmx -> pts/ptmx. */
        SKIFF_DEVICES_DEFAULTS = 1 << 0,
        /* a tmpfs on /dev/shm (nosuid,nodev,noexec,mode=1777,size=65536k) */
        SKIFF_DEVICES_SHM = 1 << 1,
};

/* Creates what flags ask for, then every linux.devices entry (an existing file at the path is
 * replaced; type 'c', 'u', 'b' or 'p'; mode from fileMode & 07777, default 0666, applied
 * regardless of the umask; owner uid/gid, default 0). When mknod is not permitted (EPERM) a
 * device is bind-mounted from the same path on the host instead. rootfd is an fd of the rootfs
 * directory; all paths are resolved inside it. Errors name the device path. */
int skiff_devices_setup(const struct skiff_spec *spec, int rootfd, unsigned flags,
                        skiff_err_t *err);

#endif
