/* linux.seccomp -> a libseccomp filter. Mapping: defaultAction (+ defaultErrnoRet, EPERM when
 * absent) is the filter's default; architectures ("SCMP_ARCH_X86_64", ...) are added next to
 * the native one; flags ("SECCOMP_FILTER_FLAG_LOG", "..._SPEC_ALLOW", "..._TSYNC") become
 * filter attributes; each syscalls[] rule adds one rule per known syscall name (names the
 * running libseccomp does not know are skipped, since profiles list syscalls of newer kernels);
 * rules whose action equals the default action are skipped. A rule's args are ANDed, except
 * that several args on the same index are added as separate rules (one per arg), like runc.
 * SCMP_ACT_ERRNO / SCMP_ACT_TRACE use errnoRet, EPERM when absent. SCMP_ACT_NOTIFY is refused
 * (-EINVAL without listenerPath, -ENOTSUP with one: no notify listener support yet).
 *
 * libseccomp's NO_NEW_PRIVS attribute is cleared: skiff sets no_new_privs itself only when the
 * spec asks for it (process.noNewPrivileges).
 *
 * Ordering contract for the container init / exec child: load the filter last, right before
 * execve, after the user switch and skiff_caps_apply() and after prctl(PR_SET_NO_NEW_PRIVS)
 * when the spec asks for it. Without no_new_privs the kernel only accepts the filter from a
 * process with CAP_SYS_ADMIN in its user namespace, so the child must still hold CAP_SYS_ADMIN
 * in its effective set at that point (it does when the spec's process capabilities include it,
 * or when the filter is loaded before dropping it); otherwise seccomp_load fails with -EACCES
 * and the error says so. The filter applies to the calling thread only unless the TSYNC flag
 * is given. */
#ifndef SKIFF_OCI_SECCOMP_H
#define SKIFF_OCI_SECCOMP_H

#include "base/error.h"
#include "oci/spec.h"

/* Builds the filter. On success *ctx_out is a scmp_filter_ctx owned by the caller (release with
 * seccomp_release()). Errors: -EINVAL for an unknown architecture / flag / out-of-range
 * errnoRet, -ENOTSUP for SCMP_ACT_NOTIFY, libseccomp's -errno otherwise; the message names the
 * offending field, e.g. "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_FOO`".
 * Does not block; does not change the calling process. */
int skiff_seccomp_compile(const struct skiff_spec_seccomp *s, void **ctx_out, skiff_err_t *err);

/* Compiles s and installs it on the calling process (see the ordering contract above). */
int skiff_seccomp_load(const struct skiff_spec_seccomp *s, skiff_err_t *err);

#endif
