/* One-request-per-connection HTTP server for poll loops. */
#include "cli/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

struct conn {
        int fd; /* -EBADF: free slot */
        int64_t deadline_ms;
        char head[SKIFF_HTTPD_HEAD_MAX];
        size_t head_len;
        char *out; /* response being written (heap) */
        size_t out_len, out_off;
};

struct skiff_httpd {
        int fd;
        uint16_t port;
        skiff_httpd_handler_cb cb;
        void *userdata;
        struct conn conns[SKIFF_HTTPD_CONNS];
};

static int64_t now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -EBADF;
        free(c->out);
        c->out = NULL;
        c->head_len = c->out_len = c->out_off = 0;
}

int skiff_httpd_open(const char *listen_addr, skiff_httpd_handler_cb cb, void *userdata,
                     struct skiff_httpd **ret, skiff_err_t *err)
{
        _cleanup_free_ char *host = NULL;
        const char *colon = strrchr(listen_addr, ':');
        if (!colon)
                return skiff_error_set(err, EINVAL, "listen address `%s` has no port", listen_addr);
        if (listen_addr[0] == '[') {
                if (colon == listen_addr || colon[-1] != ']')
                        return skiff_error_set(err, EINVAL, "bad listen address `%s`", listen_addr);
                host = xstrndup(listen_addr + 1, (size_t)(colon - listen_addr) - 2);
        } else {
                host = xstrndup(listen_addr, (size_t)(colon - listen_addr));
        }
        char *end = NULL;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (errno || !*(colon + 1) || *end || port > 65535)
                return skiff_error_set(err, EINVAL, "bad port in listen address `%s`", listen_addr);
        struct sockaddr_storage ss = {0};
        socklen_t slen;
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t)port);
                slen = sizeof(*in4);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                slen = sizeof(*in6);
        } else {
                return skiff_error_set(err, EINVAL, "listen address `%s`: not an IP address",
                                       listen_addr);
        }
        _cleanup_close_ int fd =
            socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "socket");
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* best effort */
        if (bind(fd, (struct sockaddr *)&ss, slen) < 0)
                return skiff_error_set_errno(err, errno, "bind `%s`", listen_addr);
        if (listen(fd, 64) < 0)
                return skiff_error_set_errno(err, errno, "listen on `%s`", listen_addr);
        slen = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0)
                return skiff_error_set_errno(err, errno, "getsockname");
        struct skiff_httpd *h = xcalloc(1, sizeof(*h));
        h->port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
        h->fd = TAKE_FD(fd);
        h->cb = cb;
        h->userdata = userdata;
        for (size_t i = 0; i < SKIFF_HTTPD_CONNS; i++)
                h->conns[i].fd = -EBADF;
        *ret = h;
        return 0;
}

struct skiff_httpd *skiff_httpd_close(struct skiff_httpd *h)
{
        if (!h)
                return NULL;
        for (size_t i = 0; i < SKIFF_HTTPD_CONNS; i++)
                conn_close(&h->conns[i]);
        close(h->fd);
        free(h);
        return NULL;
}

uint16_t skiff_httpd_port(const struct skiff_httpd *h)
{
        return h->port;
}

size_t skiff_httpd_pollfds(struct skiff_httpd *h, struct pollfd *fds)
{
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = h->fd, .events = POLLIN};
        for (size_t i = 0; i < SKIFF_HTTPD_CONNS; i++) {
                struct conn *c = &h->conns[i];
                if (c->fd >= 0)
                        fds[n++] =
                            (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
        }
        return n;
}

int skiff_httpd_timeout(const struct skiff_httpd *h)
{
        int64_t now = now_ms(), best = -1;
        for (size_t i = 0; i < SKIFF_HTTPD_CONNS; i++) {
                const struct conn *c = &h->conns[i];
                if (c->fd < 0)
                        continue;
                int64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
                if (best < 0 || left < best)
                        best = left;
        }
        return (int)best;
}

static const char *reason(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 431:
                return "Request Header Fields Too Large";
        case 503:
                return "Service Unavailable";
        default:
                return "Internal Server Error";
        }
}

static void respond(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                    bool head_only)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_printf(&sb,
                            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                            "Connection: close\r\n\r\n",
                            status, reason(status), ctype, len);
        if (!head_only)
                skiff_strbuf_append(&sb, body, len);
        c->out_len = sb.len;
        c->out_off = 0;
        c->out = skiff_strbuf_take(&sb);
}

static void handle_request(struct skiff_httpd *h, struct conn *c)
{
        /* Request line: METHOD SP TARGET SP HTTP/x.y */
        char *eol = memchr(c->head, '\r', c->head_len);
        char *sp1 = memchr(c->head, ' ', c->head_len);
        char *sp2 = sp1 && eol ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        static const char text[] = "text/plain; charset=utf-8";
        if (!eol || !sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
                respond(c, 400, text, "bad request\n", 12, false);
                return;
        }
        bool get = sp1 - c->head == 3 && memcmp(c->head, "GET", 3) == 0;
        bool head = sp1 - c->head == 4 && memcmp(c->head, "HEAD", 4) == 0;
        if (!get && !head) {
                respond(c, 405, text, "method not allowed\n", 19, false);
                return;
        }
        *sp2 = '\0';
        char *path = sp1 + 1;
        path[strcspn(path, "?")] = '\0';
        struct skiff_strbuf body = SKIFF_STRBUF_INIT;
        const char *ctype = text;
        int status = h->cb(path, &body, &ctype, h->userdata);
        respond(c, status, ctype, body.buf ? body.buf : "", body.len, head);
        skiff_strbuf_free(&body);
}

static void on_readable(struct skiff_httpd *h, struct conn *c)
{
        for (;;) {
                if (c->head_len == sizeof(c->head)) {
                        respond(c, 431, "text/plain; charset=utf-8", "request too large\n", 18,
                                false);
                        return;
                }
                ssize_t n = read(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0) {
                        conn_close(c);
                        return;
                }
                size_t scan_from = c->head_len >= 3 ? c->head_len - 3 : 0;
                c->head_len += (size_t)n;
                if (memmem(c->head + scan_from, c->head_len - scan_from, "\r\n\r\n", 4)) {
                        handle_request(h, c);
                        return;
                }
        }
}

static void on_writable(struct conn *c)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0)
                        break;
                c->out_off += (size_t)n;
        }
        conn_close(c);
}

static void on_accept(struct skiff_httpd *h)
{
        for (;;) {
                int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return; /* EAGAIN, or a transient error such as EMFILE: retry later */
                struct conn *c = NULL;
                for (size_t i = 0; !c && i < SKIFF_HTTPD_CONNS; i++)
                        if (h->conns[i].fd < 0)
                                c = &h->conns[i];
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                c->deadline_ms = now_ms() + SKIFF_HTTPD_TIMEOUT_MS;
        }
}

void skiff_httpd_dispatch(struct skiff_httpd *h, const struct pollfd *fds, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                if (!fds[i].revents)
                        continue;
                struct conn *c = NULL;
                for (size_t j = 0; !c && j < SKIFF_HTTPD_CONNS; j++)
                        if (h->conns[j].fd == fds[i].fd)
                                c = &h->conns[j];
                if (!c)
                        continue;
                if (fds[i].revents & (POLLERR | POLLNVAL))
                        conn_close(c);
                else if (c->out)
                        on_writable(c);
                else
                        on_readable(h, c);
                if (c->fd >= 0 && c->out && (fds[i].revents & POLLIN))
                        on_writable(c); /* reply at once; POLLOUT comes next round otherwise */
        }
        if (n && (fds[0].revents & POLLIN))
                on_accept(h);
        int64_t now = now_ms();
        for (size_t j = 0; j < SKIFF_HTTPD_CONNS; j++)
                if (h->conns[j].fd >= 0 && h->conns[j].deadline_ms <= now)
                        conn_close(&h->conns[j]);
}
