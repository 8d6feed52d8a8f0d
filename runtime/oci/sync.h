/* The parent <-> child channel used while a container process is set up: a
 * SOCK_SEQPACKET|SOCK_CLOEXEC socketpair carrying small typed messages, optionally with one fd
 * (SCM_RIGHTS). The child reports setup and exec failures as text so the caller gets the
 * child's message verbatim. Because the child's end is close-on-exec, EOF after the last
 * message means the child's execve succeeded. */
#ifndef SKIFF_OCI_SYNC_H
#define SKIFF_OCI_SYNC_H

#include <stdint.h>

#include "base/error.h"

enum skiff_sync_type {
        SKIFF_SYNC_EOF = 0, /* not sent: recv() saw the peer close */
        SKIFF_SYNC_PID,     /* intermediate -> parent: value = the final child's pid */
        SKIFF_SYNC_GO,      /* parent -> child: cgroup joined, id maps written; set up now */
        SKIFF_SYNC_CONSOLE, /* child -> parent: carries the pty master fd */
        SKIFF_SYNC_READY,   /* child -> parent: setup done, waiting at the exec barrier */
        SKIFF_SYNC_START,   /* parent -> child: release the exec barrier */
        SKIFF_SYNC_ERROR,   /* child -> parent: value = errno, text = message */
        _SKIFF_SYNC_MAX,
};

#define SKIFF_SYNC_TEXT_MAX 2048

struct skiff_sync_msg {
        uint32_t type;
        int32_t value;
        char text[SKIFF_SYNC_TEXT_MAX]; /* NUL-terminated (empty unless ERROR) */
};

/* Creates the socketpair (both ends CLOEXEC). */
int skiff_sync_pair(int fds[2], skiff_err_t *err);

/* Sends one message; fd >= 0 is passed along with SCM_RIGHTS (the sender keeps its copy).
 * Never raises SIGPIPE. Returns 0 or -errno (no error object: usable in a child whose only
 * way to report is this channel). */
int skiff_sync_send(int sock, enum skiff_sync_type type, int32_t value, const char *text, int fd);

/* Sends SKIFF_SYNC_ERROR with the error's errno and message (or "unknown error"). */
int skiff_sync_send_error(int sock, const struct skiff_error *e);

/* Receives one message; blocks. On EOF msg->type is SKIFF_SYNC_EOF. A passed fd (CLOEXEC) is
 * stored in *ret_fd when ret_fd is non-NULL, else closed; *ret_fd is -EBADF when none came. */
int skiff_sync_recv(int sock, struct skiff_sync_msg *msg, int *ret_fd, skiff_err_t *err);

/* Receives one message and requires it to be of type want. An ERROR message becomes an error
 * carrying the child's text and errno; EOF or another type is -EPROTO naming what (what = the
 * step, e.g. "container init"). */
int skiff_sync_expect(int sock, enum skiff_sync_type want, struct skiff_sync_msg *msg, int *ret_fd,
                      const char *what, skiff_err_t *err);

#endif
