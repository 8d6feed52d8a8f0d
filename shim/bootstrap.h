/* The shim binary's non-serving side (shim-protocol.md §9-§10): Go-flag-style argument parsing,
 * the `start` action (stdin options / 2.3+ BootstrapParams, pod grouping, socket creation,
 * spawning the daemon), the `delete` action, `-info` and `-v`.
 *
 * These run in short-lived processes whose stdout containerd parses: nothing here logs; every
 * problem comes back as an error for main.c to print on stderr. */
#ifndef SKIFF_SHIM_BOOTSTRAP_H
#define SKIFF_SHIM_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_SHIM_NAME            "io.containerd.skiff.v2"
#define SKIFF_SHIM_SOCKET_DIR      "/run/containerd/s"
#define SKIFF_SHIM_SOCKET_PATH_MAX 106 /* containerd's socketPathLimit */
#define SKIFF_SHIM_STDIN_MAX       (1u << 20)
#define SKIFF_SHIM_LISTEN_FD       3 /* the daemon's inherited listening socket */

/* Command line. Strings point into argv (not owned). */
struct skiff_shim_args {
        const char *ns;             /* -namespace */
        const char *address;        /* -address: containerd's gRPC socket */
        const char *publish_binary; /* -publish-binary */
        const char *id;             /* -id */
        const char *bundle;         /* -bundle (start: cwd when absent) */
        bool debug;                 /* -debug */
        bool version;               /* -v */
        bool info;                  /* -info */
        const char *socket;         /* -socket: internal, the daemon's own socket path */
        const char *config_path;    /* -config-path: internal, runtime options config_path */
        const char *action;         /* first non-flag argument: start | delete | serve, or NULL */
};

/* Parses argv with Go flag semantics: single or double dash, `-f value`, `-f=value`, bool flags
 * take no separate value, parsing stops at the first non-flag argument or after `--`. Unknown
 * flags and missing values are errors (-EINVAL). */
int skiff_bootstrap_parse_args(int argc, char *const *argv, struct skiff_shim_args *out,
                               skiff_err_t *err);

/* What `start` learned from stdin. Strings are owned; free with skiff_bootstrap_input_done(). */
struct skiff_bootstrap_input {
        bool is_params;      /* stdin was a 2.3+ BootstrapParams (answer with BootstrapResult) */
        char *config_path;   /* runtimeoptions.v1.Options.config_path, or NULL */
        char *socket_dir;    /* BootstrapParams.socket_dir, or NULL */
        char *ttrpc_address; /* BootstrapParams.containerd_ttrpc_address, or NULL */
        bool debug;          /* BootstrapParams.log_level is debug or trace */
};

/* Decodes start's stdin: empty, a google.protobuf.Any of runtime options, or a BootstrapParams.
 * It is taken as BootstrapParams only when it decodes as one AND its instance_id and namespace
 * equal id and ns (§9.4); otherwise as an Any. Known option types (runtimeoptions.v1.Options,
 * containerd.runc.v1.Options) are decoded, others ignored. Garbage is -EBADMSG with an error
 * naming `stdin`. */
int skiff_bootstrap_decode_stdin(const uint8_t *buf, size_t len, const char *id, const char *ns,
                                 struct skiff_bootstrap_input *out, skiff_err_t *err);
void skiff_bootstrap_input_done(struct skiff_bootstrap_input *in);

/* The group of a task: the bundle's config.json annotation `io.containerd.runc.v2.group`, else
 * `io.kubernetes.cri.sandbox-id`, else id. Errors when config.json cannot be loaded. */
int skiff_bootstrap_group_id(const char *bundle, const char *id, char **ret, skiff_err_t *err);

/* <socket_dir>/<hex(sha256(clean(address/ns/group)))> (§10); -ENAMETOOLONG past
 * SKIFF_SHIM_SOCKET_PATH_MAX. *ret is owned by the caller. */
int skiff_bootstrap_socket_path(const char *socket_dir, const char *address, const char *ns,
                                const char *group, char **ret, skiff_err_t *err);

/* Creates the listening socket at path (mode 0600, parent directories 0711). Returns 1 when a
 * server already answers there (nothing created, *ret_fd untouched), 0 with *ret_fd listening
 * (CLOEXEC), or -errno. A stale socket file is replaced. */
int skiff_bootstrap_listen(const char *path, int *ret_fd, skiff_err_t *err);

/* The `start` action: reads stdin (fd 0), groups, listens, spawns `<self> … serve` with the
 * socket as fd 3, writes `address` into the bundle, and writes the answer to out_fd (the plain
 * address, or a BootstrapResult for BootstrapParams). Blocks until the daemon has exec'd. */
int skiff_bootstrap_start(const struct skiff_shim_args *args, int out_fd, skiff_err_t *err);

/* The `delete` action: cleans up container -id of the bundle and writes DeleteResponse{pid,
 * exit_status 137, exited_at now} to out_fd. Cleanup problems are returned in *warning (to be
 * printed on stderr); the response is written regardless. Returns -errno only when the response
 * could not be written. */
int skiff_bootstrap_delete(const struct skiff_shim_args *args, int out_fd, skiff_err_t *warning,
                           skiff_err_t *err);

/* `-info`: writes a containerd.types.RuntimeInfo. `-v`: writes a version text. */
int skiff_bootstrap_info(int out_fd, skiff_err_t *err);
int skiff_bootstrap_version(int out_fd, skiff_err_t *err);

#endif
