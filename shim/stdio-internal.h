/* Private to stdio.c and stdio-logger.c. */
#ifndef SKIFF_SHIM_STDIO_INTERNAL_H
#define SKIFF_SHIM_STDIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "base/error.h"

struct skiff_reaper;
struct skiff_stdio_logger;

/* Percent-decodes s[0..n) into a heap string; plus_space turns '+' into ' ' (query strings). */
char *skiff_stdio_url_decode(const char *s, size_t n, bool plus_space);

/* Forks and execs the logger at path with out_r, err_r, ready_w as its fds 3, 4, 5 (the caller
 * keeps and closes its own copies) and subscribes it to reaper. *ret owns the process record
 * until skiff_stdio_logger_detach(). */
int skiff_stdio_logger_spawn(uv_loop_t *loop, struct skiff_reaper *reaper, const char *path,
                             const char *query, const char *id, const char *ns, int out_r,
                             int err_r, int ready_w, struct skiff_stdio_logger **ret,
                             skiff_err_t *err);
/* Lets go of a logger: SIGTERM now, SIGKILL after SKIFF_STDIO_LOGGER_KILL_MS if it is still
 * alive; the record frees itself once the logger was reaped. NULL-safe. */
void skiff_stdio_logger_detach(struct skiff_stdio_logger *l);

#endif
