/* process.capabilities -> a plan of five capability bit sets, and the raw prctl/capset calls
 * that apply it. libcap is used only to turn names into numbers.
 *
 * Call order in the container init / exec child (after namespaces, mounts and pivot_root):
 *   1. skiff_caps_drop_bounding()            needs CAP_SETPCAP, so it comes first;
 *   2. prctl(PR_SET_KEEPCAPS, 1)              keep the permitted set across the uid change;
 *   3. setgroups() / setgid() / setuid()      the spec's user;
 *   4. prctl(PR_SET_KEEPCAPS, 0);
 *   5. skiff_caps_apply()                     permitted/effective/inheritable, then ambient;
 *   6. prctl(PR_SET_NO_NEW_PRIVS, 1)          when process.noNewPrivileges;
 *   7. skiff_seccomp_load()                   (see oci/seccomp.h for its CAP_SYS_ADMIN rule);
 *   8. execve().
 * Capabilities the running kernel does not know (above /proc/sys/kernel/cap_last_cap) are
 * dropped from the plan silently when applying, as runc does; unknown names are an error. */
#ifndef SKIFF_OCI_CAPS_H
#define SKIFF_OCI_CAPS_H

#include <stdint.h>

#include "base/error.h"
#include "oci/spec.h"

struct skiff_caps_plan {
        uint64_t bounding, effective, permitted, inheritable, ambient; /* bit n = capability n */
};

/* Resolves the five name lists of c (a missing list is an empty set). An unknown name is
 * -EINVAL: "process.capabilities.bounding: unknown capability `CAP_FOO`". Pure. */
int skiff_caps_plan_from_spec(const struct skiff_spec_caps *c, struct skiff_caps_plan *out,
                              skiff_err_t *err);

/* Highest capability number the running kernel supports: /proc/sys/kernel/cap_last_cap, or,
 * when /proc is not readable, probed with PR_CAPBSET_READ. */
int skiff_caps_last_cap(unsigned *out, skiff_err_t *err);

/* Drops every capability not in p->bounding from the calling thread's bounding set
 * (PR_CAPBSET_DROP, up to the kernel's last capability). Needs CAP_SETPCAP. */
int skiff_caps_drop_bounding(const struct skiff_caps_plan *p, skiff_err_t *err);

/* Sets the calling thread's effective, permitted and inheritable sets with capset(2), then
 * clears the ambient set and raises each ambient capability (each must be in both permitted
 * and inheritable, else -EPERM naming it). */
int skiff_caps_apply(const struct skiff_caps_plan *p, skiff_err_t *err);

#endif
