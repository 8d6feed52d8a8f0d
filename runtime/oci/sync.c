#include "oci/sync.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"

static const char *const type_names[_SKIFF_SYNC_MAX] = {
    [SKIFF_SYNC_EOF] = "eof",         [SKIFF_SYNC_PID] = "pid",     [SKIFF_SYNC_GO] = "go",
    [SKIFF_SYNC_CONSOLE] = "console", [SKIFF_SYNC_READY] = "ready", [SKIFF_SYNC_START] = "start",
    [SKIFF_SYNC_ERROR] = "error",
};

int skiff_sync_pair(int fds[2], skiff_err_t *err)
{
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return skiff_error_set_errno(err, errno, "create sync socketpair");
        return 0;
}

int skiff_sync_send(int sock, enum skiff_sync_type type, int32_t value, const char *text, int fd)
{
        struct skiff_sync_msg msg = {.type = type, .value = value};
        size_t tlen = 0;
        if (text) {
                tlen = strnlen(text, sizeof(msg.text) - 1);
                memcpy(msg.text, text, tlen);
        }
        struct iovec iov = {.iov_base = &msg,
                            .iov_len = offsetof(struct skiff_sync_msg, text) + tlen + 1};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } cbuf;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
                memset(&cbuf, 0, sizeof(cbuf));
                mh.msg_control = cbuf.buf;
                mh.msg_controllen = sizeof(cbuf.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return 0;
}

int skiff_sync_send_error(int sock, const struct skiff_error *e)
{
        const char *m = skiff_error_msg(e);
        return skiff_sync_send(sock, SKIFF_SYNC_ERROR, e ? e->errnum : EIO,
                               *m ? m : "unknown error", -1);
}

int skiff_sync_recv(int sock, struct skiff_sync_msg *msg, int *ret_fd, skiff_err_t *err)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf.buf,
                            .msg_controllen = sizeof(cbuf.buf)};
        if (ret_fd)
                *ret_fd = -EBADF;
        memset(msg, 0, sizeof(*msg));
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return skiff_error_set_errno(err, errno, "read sync socket");
        int passed = -EBADF;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < nfds; i++) {
                        int f;
                        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (passed < 0)
                                passed = f;
                        else
                                close(f);
                }
        }
        _cleanup_close_ int passed_fd = passed;
        if (n == 0) {
                msg->type = SKIFF_SYNC_EOF;
                return 0;
        }
        if ((size_t)n < offsetof(struct skiff_sync_msg, text) || msg->type == SKIFF_SYNC_EOF ||
            msg->type >= _SKIFF_SYNC_MAX || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                return skiff_error_set(err, EPROTO, "malformed sync message (%zd bytes)", n);
        msg->text[sizeof(msg->text) - 1] = '\0';
        if (ret_fd)
                *ret_fd = TAKE_FD(passed_fd);
        return 0;
}

int skiff_sync_expect(int sock, enum skiff_sync_type want, struct skiff_sync_msg *msg, int *ret_fd,
                      const char *what, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_sync_recv(sock, msg, &fd, err);
        if (r < 0)
                return skiff_error_wrap(err, "%s", what);
        if (msg->type == want) {
                if (ret_fd)
                        *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (msg->type == SKIFF_SYNC_ERROR)
                return skiff_error_set(err, msg->value > 0 ? msg->value : EIO, "%s", msg->text);
        if (msg->type == SKIFF_SYNC_EOF)
                return skiff_error_set(err, EPROTO, "%s: exited during setup (expected `%s`)", what,
                                       type_names[want]);
        return skiff_error_set(err, EPROTO, "%s: unexpected sync message `%s` (expected `%s`)",
                               what, type_names[msg->type], type_names[want]);
}
