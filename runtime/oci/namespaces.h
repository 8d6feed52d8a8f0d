/* Linux namespaces of a container: which ones a spec creates (clone flags), opening the ones it
 * joins by path, joining them in a safe order, the user namespace id maps, and opening the
 * namespaces of a running process (for exec). Functions marked "child side" only make
 * syscalls and never allocate. */
#ifndef SKIFF_OCI_NAMESPACES_H
#define SKIFF_OCI_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/spec.h"

/* One fd per namespace type, -EBADF where none is to be joined. */
struct skiff_ns_fds {
        int fd[_SKIFF_NS_MAX];
};

void skiff_ns_fds_init(struct skiff_ns_fds *f);
void skiff_ns_fds_close(struct skiff_ns_fds *f); /* closes and resets every fd */

/* "pid", "net", "mnt", ... (the /proc/<pid>/ns name). */
const char *skiff_namespace_name(enum skiff_ns_type t);
int skiff_namespace_clone_flag(enum skiff_ns_type t);

/* Clone flags for the namespaces the spec creates (path == NULL), except the cgroup namespace
 * (unshared by the child once it sits in the container's cgroup) and the time namespace
 * (unshared before clone; see skiff_namespaces_join). -EINVAL for a namespace type listed
 * twice. */
int skiff_namespaces_new_flags(const struct skiff_spec *spec, int *flags, skiff_err_t *err);
bool skiff_namespaces_is_new(const struct skiff_spec *spec, enum skiff_ns_type t);

/* Opens every namespace the spec joins by path (O_RDONLY|O_CLOEXEC) and checks that each is a
 * namespace of the stated type. Errors name the path: "open namespace `/proc/1/ns/net`: ...". */
int skiff_namespaces_open_paths(const struct skiff_spec *spec, struct skiff_ns_fds *out,
                                skiff_err_t *err);

/* Opens /proc/<pid>/ns/<name> for every type, skipping namespaces the caller is already in. */
int skiff_namespaces_open_pid(pid_t pid, struct skiff_ns_fds *out, skiff_err_t *err);

/* Child side (single-threaded): setns() into every open fd, user namespace first, mount
 * namespace last; then unshares a new time namespace for the children when new_time. Closes
 * the fds it joined. */
int skiff_namespaces_join(struct skiff_ns_fds *f, bool new_time, skiff_err_t *err);

/* Parent side: writes linux.uidMappings / gidMappings to /proc/<pid>/{uid,gid}_map. */
int skiff_namespaces_write_idmaps(pid_t pid, const struct skiff_spec *spec, skiff_err_t *err);

#endif
