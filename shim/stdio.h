/* Stdio of one container process (shim-protocol.md §15), opened without ever blocking the loop.
 *
 * The stdout URI picks the mode (no scheme = fifo):
 *  - fifo paths: stdout/stderr FIFOs are held open O_RDWR by the shim (never blocks, no EPIPE
 *    when the client goes away); stdin is opened O_RDONLY|O_NONBLOCK plus an extra writer that
 *    is held until CloseIO so the process does not see EOF between client writers. Without a
 *    terminal the process gets the FIFOs themselves (zero copy: its own blocking file
 *    descriptions). A regular file path is opened O_WRONLY|O_APPEND.
 *  - file:///abs/path: the file is opened O_WRONLY|O_APPEND|O_CREAT (parent created), for both
 *    stdout and stderr.
 *  - binary:///abs/logger?k=v: the logger is forked and exec'd (never uv_spawn) with the read
 *    ends of a stdout and a stderr pipe as fds 3 and 4 and the write end of a readiness pipe
 *    as fd 5, environment CONTAINER_ID and CONTAINER_NAMESPACE only; it is reaped through the
 *    reaper. skiff_stdio_wait_ready() waits (on the loop) for fd 5 to reach EOF.
 *  - empty paths: the process gets /dev/null (fd -1 in struct skiff_stdio_fds).
 * With a terminal the stderr path is never opened, and the shim copies between the pty master
 * and the stdin/stdout endpoints with libuv (uv_poll, non-blocking reads and writes).
 *
 * After the process exits, skiff_stdio_process_exited() finishes copying (bounded by a
 * timeout) and closes the shim's write ends so readers see EOF (ctr, CRI ExecSync).
 * Single-threaded; loop thread only. */
#ifndef SKIFF_SHIM_STDIO_H
#define SKIFF_SHIM_STDIO_H

#include <stdbool.h>
#include <uv.h>

#include "base/error.h"
#include "oci/container.h"

#define SKIFF_STDIO_DRAIN_TIMEOUT_MS 2000
#define SKIFF_STDIO_LOGGER_KILL_MS   12000

struct skiff_reaper;
struct skiff_stdio;

struct skiff_stdio_config {
        const char *id;             /* container id (binary:// loggers) */
        const char *ns;             /* containerd namespace (binary:// loggers) */
        const char *in, *out, *err; /* NULL or "" = none */
        bool terminal;
};

/* Opens the endpoints. The reaper (not owned, must outlive s) reaps binary:// loggers. Errors
 * name the path: "open stdout fifo `/run/...`: No such file or directory". */
int skiff_stdio_open(uv_loop_t *loop, struct skiff_reaper *reaper,
                     const struct skiff_stdio_config *cfg, struct skiff_stdio **out,
                     skiff_err_t *err);

/* The fds to install as 0, 1, 2 in the process (-1 = /dev/null). They stay owned by s and are
 * valid until skiff_stdio_child_started(). All of them are blocking. */
struct skiff_stdio_fds skiff_stdio_child_fds(const struct skiff_stdio *s);

/* Calls cb(0, data) from the loop once a binary:// logger is ready (fd 5 reached EOF), or on
 * the next loop iteration when there is nothing to wait for. Returns <0 (and cb is never
 * called) if waiting cannot start. At most one wait at a time. */
int skiff_stdio_wait_ready(struct skiff_stdio *s, void (*cb)(int status, void *data), void *data);

/* The runtime has installed the child fds: the shim drops its copies of them. */
void skiff_stdio_child_started(struct skiff_stdio *s);

/* Terminal mode: takes ownership of the pty master and starts copying stdin -> master and
 * master -> stdout. */
int skiff_stdio_attach_console(struct skiff_stdio *s, int master, skiff_err_t *err);
/* TIOCSWINSZ on the master: -ENOTTY without a console. */
int skiff_stdio_resize(struct skiff_stdio *s, unsigned width, unsigned height, skiff_err_t *err);

/* CloseIO(stdin=true): closes the extra stdin writer. Once the client closed its writer too,
 * the reader (the process, or the copy to the pty) sees EOF. Idempotent. */
void skiff_stdio_close_stdin(struct skiff_stdio *s);

/* The process exited: finish copying buffered output (at most timeout_ms), then close the
 * shim's write ends and the console. cb (may be NULL) runs from the loop when done. */
void skiff_stdio_process_exited(struct skiff_stdio *s, unsigned timeout_ms, void (*cb)(void *data),
                                void *data);
/* True once the write ends are closed (output fully delivered or given up). */
bool skiff_stdio_drained(const struct skiff_stdio *s);

/* Closes everything (pending callbacks are dropped). A binary:// logger gets SIGTERM, then
 * SIGKILL after SKIFF_STDIO_LOGGER_KILL_MS if it is still alive. NULL-safe. Memory is released
 * once libuv closed the handles. */
void skiff_stdio_free(struct skiff_stdio *s);

/* Parsed stdout URI (exposed for tests). */
enum skiff_stdio_scheme {
        SKIFF_STDIO_FIFO,
        SKIFF_STDIO_FILE,
        SKIFF_STDIO_BINARY,
};
/* Splits "scheme://path?query". *path and *query (may be NULL) are heap strings with %XX
 * decoded in the path. -EINVAL for unknown schemes or relative paths. */
int skiff_stdio_parse_uri(const char *uri, enum skiff_stdio_scheme *scheme, char **path,
                          char **query, skiff_err_t *err);

#endif
