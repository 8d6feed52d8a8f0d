#include "ttrpc-client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "shim/ttrpc_codec.h"

static struct sockaddr_un unix_addr(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        cr_assert_lt(strlen(path), sizeof(sa.sun_path), "socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        return sa;
}

int tc_listen(const char *path)
{
        struct sockaddr_un sa = unix_addr(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path,
                     strerror(errno));
        cr_assert_eq(listen(fd, 16), 0, "listen: %s", strerror(errno));
        return fd;
}

void tc_connect(struct tc_client *c, const char *path, uv_loop_t *loop)
{
        struct sockaddr_un sa = unix_addr(path);
        *c = (struct tc_client){
            .fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), .loop = loop, .next_sid = 1};
        cr_assert_geq(c->fd, 0, "socket: %s", strerror(errno));
        cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s", path,
                     strerror(errno));
}

void tc_close(struct tc_client *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
}

void tc_pump(const struct tc_client *c)
{
        if (c->loop)
                uv_run(c->loop, UV_RUN_NOWAIT);
}

void tc_send_all(struct tc_client *c, const void *data, size_t len)
{
        const uint8_t *p = data;
        while (len) {
                ssize_t n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s",
                                  strerror(errno));
                        tc_pump(c);
                        continue;
                }
                p += n;
                len -= (size_t)n;
                tc_pump(c);
        }
}

static int64_t elapsed_ms(const struct timespec *start)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (int64_t)(now.tv_sec - start->tv_sec) * 1000 +
               (now.tv_nsec - start->tv_nsec) / 1000000;
}

int tc_recv_exact(struct tc_client *c, void *buf, size_t len, int timeout_ms)
{
        uint8_t *p = buf;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (len) {
                tc_pump(c);
                struct pollfd pfd = {c->fd, POLLIN, 0};
                if (poll(&pfd, 1, 5) == 1) {
                        ssize_t n = recv(c->fd, p, len, MSG_DONTWAIT);
                        if (n == 0)
                                return -EPIPE;
                        if (n > 0) {
                                p += n;
                                len -= (size_t)n;
                                continue;
                        }
                        cr_assert(errno == EAGAIN || errno == EINTR, "recv: %s", strerror(errno));
                }
                if (elapsed_ms(&start) > timeout_ms)
                        return -ETIMEDOUT;
        }
        return 0;
}

uint32_t tc_send_raw(struct tc_client *c, const char *service, const char *method,
                     const void *payload, size_t len)
{
        uint8_t *frame = NULL;
        size_t flen = 0;
        uint32_t sid = c->next_sid;
        c->next_sid += 2;
        cr_assert_eq(skiff_ttrpc_request_frame(sid, service, method, payload, len, &frame, &flen),
                     0);
        tc_send_all(c, frame, flen);
        free(frame);
        return sid;
}

uint32_t tc_send(struct tc_client *c, const char *service, const char *method,
                 const ProtobufCMessage *m)
{
        size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;
        uint8_t *payload = malloc(n ? n : 1);
        cr_assert_not_null(payload);
        if (m)
                protobuf_c_message_pack(m, payload);
        uint32_t sid = tc_send_raw(c, service, method, payload, n);
        free(payload);
        return sid;
}

bool tc_recv(struct tc_client *c, uint32_t sid, const ProtobufCMessageDescriptor *d,
             struct tc_resp *r, int timeout_ms)
{
        memset(r, 0, sizeof(*r));
        uint8_t hdr[SKIFF_TTRPC_HEADER_LEN];
        if (tc_recv_exact(c, hdr, sizeof(hdr), timeout_ms) < 0)
                return false;
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(hdr, &h);
        cr_assert_eq(h.type, SKIFF_TTRPC_TYPE_RESPONSE);
        cr_assert_eq(h.stream_id, sid, "answer for stream %u, expected %u", h.stream_id, sid);
        uint8_t *body = malloc(h.length + 1);
        cr_assert_not_null(body);
        cr_assert_eq(tc_recv_exact(c, body, h.length, timeout_ms), 0, "truncated answer");
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(body, h.length, &v, &err), 0, "%s",
                     skiff_error_msg(err));
        r->sid = h.stream_id;
        r->code = v.code;
        snprintf(r->msg, sizeof(r->msg), "%.*s", (int)v.message_len, v.message ? v.message : "");
        r->payload_len = v.payload_len;
        if (v.code == 0 && d) {
                r->m = protobuf_c_message_unpack(d, NULL, v.payload_len, v.payload);
                cr_assert_not_null(r->m, "bad %s payload", d->name);
        }
        free(body);
        return true;
}

struct tc_resp tc_call(struct tc_client *c, const char *service, const char *method,
                       const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
        struct tc_resp r;
        uint32_t sid = tc_send(c, service, method, m);
        cr_assert(tc_recv(c, sid, d, &r, 10000), "no answer to %s", method);
        return r;
}

void tc_resp_free(struct tc_resp *r)
{
        if (r->m)
                protobuf_c_message_free_unpacked(r->m, NULL);
        r->m = NULL;
}
