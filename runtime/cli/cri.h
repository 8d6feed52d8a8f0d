/* A minimal CRI client: RuntimeService/Status over gRPC (HTTP/2 with prior knowledge, through
 * libcurl) on containerd's unix socket. Used by `skiff node install` to wait until the restarted
 * containerd serves CRI with the skiff handler registered. Blocking; one call = one connection. */
#ifndef SKIFF_CLI_CRI_H
#define SKIFF_CLI_CRI_H

#include <stddef.h>

#include "base/error.h"

#define SKIFF_CRI_RESPONSE_MAX (8 * 1024 * 1024)

/* Calls /runtime.v1.RuntimeService/Status {verbose: true} and returns the value of the "config"
 * entry of the response's info map (containerd's CRI config as JSON; heap, NUL-terminated).
 * -ECONNREFUSED/-ENOENT while the socket does not answer, -EPROTO for a gRPC error status or a
 * malformed reply (the message names it), -ETIMEDOUT after timeout_ms. */
int skiff_cri_status_config(const char *socket_path, long timeout_ms, char **ret, skiff_err_t *err);

/* 1 when the CRI config JSON lists handler among containerd.runtimes, 0 when not. -EBADMSG when
 * config is not JSON. Pure. */
int skiff_cri_config_has_handler(const char *config, const char *handler, skiff_err_t *err);

#endif
