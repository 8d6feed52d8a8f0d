/* ttrpc server: frame reassembly, dispatch by (service, method), replies by stream id. The
 * bytes of every frame come from ttrpc_codec.c. */
#include "shim/ttrpc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Size of the server's shared read buffer. Frames that fit in one read are dispatched straight
 * from it; only frames that straddle reads get a buffer of their own. */
#define READ_BUF_SIZE (16u << 10)

struct service {
        const char *name;
        size_t name_len;
        const struct skiff_ttrpc_method *methods;
        size_t n_methods;
        void *userdata;
};

struct conn {
        uv_pipe_t pipe;
        struct skiff_ttrpc_server *srv; /* valid until the handle's close callback */
        struct conn *prev, *next;       /* the server's list of open connections */
        unsigned refs;                  /* 1 for the open handle + 1 per in-flight call */
        bool closed;                    /* no more dispatching or replies */
        uint8_t hdr[SKIFF_TTRPC_HEADER_LEN];
        size_t hdr_len;              /* bytes of a partial header in hdr */
        struct skiff_ttrpc_header h; /* header of the frame being assembled in body */
        uint8_t *body;               /* owned; non-NULL while a frame straddles reads */
        size_t body_len;
        size_t discard; /* bytes of an oversize frame still to skip */
        uv_shutdown_t shutdown_req;
};

struct skiff_ttrpc_call {
        struct conn *conn; /* holds a reference */
        uint32_t stream_id;
        const char *method;
        const void *data; /* the method entry's data */
};

struct skiff_ttrpc_server {
        uv_loop_t *loop;
        uv_pipe_t listener;
        struct service *services;
        size_t n_services;
        struct conn *conns;
        unsigned open_handles; /* listener + connections whose close callback is pending */
        bool closing;
        uint8_t rbuf[READ_BUF_SIZE];
};

struct wbuf {
        uv_write_t req;
        size_t len;
        uint8_t data[];
};

/* ---- connections ------------------------------------------------------------------------- */

static void conn_unref(struct conn *c)
{
        if (--c->refs > 0)
                return;
        free(c->body);
        free(c);
}

static void maybe_free_server(struct skiff_ttrpc_server *s)
{
        if (!s->closing || s->open_handles > 0)
                return;
        free(s->services);
        free(s);
}

static void on_conn_closed(uv_handle_t *h)
{
        struct conn *c = container_of(h, struct conn, pipe);
        struct skiff_ttrpc_server *s = c->srv;
        c->srv = NULL;
        s->open_handles--;
        maybe_free_server(s);
        conn_unref(c);
}

static void conn_unlink(struct conn *c)
{
        struct skiff_ttrpc_server *s = c->srv;
        if (c->prev)
                c->prev->next = c->next;
        else if (s->conns == c)
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void conn_close(struct conn *c)
{
        if (!c->closed) {
                c->closed = true;
                conn_unlink(c);
        }
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
                uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_conn_shutdown(uv_shutdown_t *req, int status)
{
        struct conn *c = container_of(req, struct conn, shutdown_req);
        conn_close(c);
}

/* Closes after already queued replies went out. */
static void conn_close_gracefully(struct conn *c)
{
        if (c->closed)
                return;
        c->closed = true;
        conn_unlink(c);
        uv_read_stop((uv_stream_t *)&c->pipe);
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > 0 &&
            uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->pipe, on_conn_shutdown) == 0)
                return;
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
        struct wbuf *w = container_of(req, struct wbuf, req);
        struct conn *c = container_of(req->handle, struct conn, pipe);
        free(w);
        if (status < 0 && status != UV_ECANCELED) {
                log_debug("ttrpc: write failed: %s", uv_strerror(status));
                conn_close(c);
        }
}

/* Sends a frame; takes ownership of w. */
static void conn_send(struct conn *c, struct wbuf *w)
{
        if (c->closed) {
                free(w);
                return;
        }
        uv_stream_t *st = (uv_stream_t *)&c->pipe;
        size_t off = 0;
        if (uv_stream_get_write_queue_size(st) == 0) {
                uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
                int r = uv_try_write(st, &b, 1);
                if (r >= 0 && (size_t)r == w->len) {
                        free(w);
                        return;
                }
                if (r >= 0)
                        off = (size_t)r;
                else if (r != UV_EAGAIN) {
                        free(w);
                        conn_close(c);
                        return;
                }
        }
        uv_buf_t b = uv_buf_init((char *)w->data + off, (unsigned)(w->len - off));
        if (uv_write(&w->req, st, &b, 1, on_write) < 0) {
                free(w);
                conn_close(c);
        }
}

static struct wbuf *wbuf_new(size_t len)
{
        struct wbuf *w = xmalloc(sizeof(*w) + len);
        w->len = len;
        return w;
}

static void send_status(struct conn *c, uint32_t stream_id, enum skiff_grpc_code code,
                        const char *msg)
{
        struct wbuf *w = wbuf_new(skiff_ttrpc_status_frame_len(code, msg));
        skiff_ttrpc_status_frame_write(stream_id, code, msg, w->data);
        conn_send(c, w);
}

static void send_statusf(struct conn *c, uint32_t stream_id, enum skiff_grpc_code code,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void send_statusf(struct conn *c, uint32_t stream_id, enum skiff_grpc_code code,
                         const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        send_status(c, stream_id, code, msg);
}

static const struct service *find_service(const struct skiff_ttrpc_server *s, const char *name,
                                          size_t len)
{
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i].name_len == len && memcmp(s->services[i].name, name, len) == 0)
                        return &s->services[i];
        return NULL;
}

static void dispatch(struct conn *c, const struct skiff_ttrpc_header *h, const uint8_t *data,
                     size_t len)
{
        if (h->type != SKIFF_TTRPC_TYPE_REQUEST || !c->srv)
                return; /* Data frames and unknown types are ignored (§2.3). */

        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_ttrpc_request_view req;
        if (skiff_ttrpc_request_decode(data, len, &req, &err) < 0) {
                send_statusf(c, h->stream_id, SKIFF_GRPC_INVALID_ARGUMENT,
                             "unmarshal request error: %s", skiff_error_msg(err));
                return;
        }
        if (!(h->stream_id & 1)) {
                send_status(c, h->stream_id, SKIFF_GRPC_INVALID_ARGUMENT,
                            "StreamID must be odd for client initiated streams");
                return;
        }
        const struct service *svc = find_service(c->srv, req.service, req.service_len);
        if (!svc) {
                send_statusf(c, h->stream_id, SKIFF_GRPC_UNIMPLEMENTED, "service %.*s",
                             (int)req.service_len, req.service);
                return;
        }
        const struct skiff_ttrpc_method *m = NULL;
        for (size_t i = 0; i < svc->n_methods; i++)
                if (strlen(svc->methods[i].name) == req.method_len &&
                    memcmp(svc->methods[i].name, req.method, req.method_len) == 0) {
                        m = &svc->methods[i];
                        break;
                }
        if (!m || !m->fn) {
                send_statusf(c, h->stream_id, SKIFF_GRPC_UNIMPLEMENTED, "method %.*s",
                             (int)req.method_len, req.method);
                return;
        }
        struct skiff_ttrpc_call *call = xmalloc(sizeof(*call));
        call->conn = c;
        call->stream_id = h->stream_id;
        call->method = m->name;
        call->data = m->data;
        c->refs++;
        m->fn(call, req.payload ? req.payload : (const uint8_t *)"", req.payload_len,
              svc->userdata);
}

/* Starts a frame whose header is h, given n bytes of its body at p (possibly more than the
 * frame); returns how many bytes were consumed. */
static size_t frame_begin(struct conn *c, const struct skiff_ttrpc_header *h, const uint8_t *p,
                          size_t n)
{
        if (h->length > SKIFF_TTRPC_MAX_FRAME) {
                send_statusf(c, h->stream_id, SKIFF_GRPC_RESOURCE_EXHAUSTED,
                             "message length %u exceed maximum message size of %u", h->length,
                             SKIFF_TTRPC_MAX_FRAME);
                c->discard = h->length;
                return 0;
        }
        if (n >= h->length) {
                dispatch(c, h, p, h->length);
                return h->length;
        }
        c->h = *h;
        c->body = xmalloc(h->length);
        memcpy(c->body, p, n);
        c->body_len = n;
        return n;
}

static void body_complete(struct conn *c)
{
        _cleanup_free_ uint8_t *body = TAKE_PTR(c->body);
        c->body_len = 0;
        dispatch(c, &c->h, body, c->h.length);
}

static void process(struct conn *c, const uint8_t *p, size_t n)
{
        while (n > 0 && !c->closed) {
                if (c->discard) {
                        size_t k = n < c->discard ? n : c->discard;
                        c->discard -= k;
                        p += k;
                        n -= k;
                        continue;
                }
                if (c->body) {
                        size_t need = c->h.length - c->body_len;
                        size_t k = n < need ? n : need;
                        memcpy(c->body + c->body_len, p, k);
                        c->body_len += k;
                        p += k;
                        n -= k;
                        if (c->body_len == c->h.length)
                                body_complete(c);
                        continue;
                }
                struct skiff_ttrpc_header h;
                if (c->hdr_len == 0 && n >= SKIFF_TTRPC_HEADER_LEN) {
                        skiff_ttrpc_header_decode(p, &h);
                        p += SKIFF_TTRPC_HEADER_LEN;
                        n -= SKIFF_TTRPC_HEADER_LEN;
                } else {
                        size_t k = SKIFF_TTRPC_HEADER_LEN - c->hdr_len;
                        if (k > n)
                                k = n;
                        memcpy(c->hdr + c->hdr_len, p, k);
                        c->hdr_len += k;
                        p += k;
                        n -= k;
                        if (c->hdr_len < SKIFF_TTRPC_HEADER_LEN)
                                break;
                        c->hdr_len = 0;
                        skiff_ttrpc_header_decode(c->hdr, &h);
                }
                size_t used = frame_begin(c, &h, p, n);
                p += used;
                n -= used;
        }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct conn *c = container_of(h, struct conn, pipe);
        if (c->body) {
                /* Read the rest of a straddling frame straight into its buffer. */
                *buf = uv_buf_init((char *)c->body + c->body_len,
                                   (unsigned)(c->h.length - c->body_len));
                return;
        }
        *buf = uv_buf_init((char *)c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        struct conn *c = container_of(st, struct conn, pipe);
        if (nread < 0) {
                if (nread != UV_EOF)
                        log_debug("ttrpc: read failed: %s", uv_strerror((int)nread));
                conn_close(c);
                return;
        }
        if (nread == 0 || c->closed)
                return;
        c->refs++; /* handlers may close the connection or the server */
        if (c->body && (uint8_t *)buf->base == c->body + c->body_len) {
                c->body_len += (size_t)nread;
                if (c->body_len == c->h.length)
                        body_complete(c);
        } else {
                process(c, (const uint8_t *)buf->base, (size_t)nread);
        }
        conn_unref(c);
}

static bool peer_is_same_user(uv_pipe_t *p)
{
        uv_os_fd_t fd;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (uv_fileno((uv_handle_t *)p, &fd) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        return cred.uid == geteuid() && cred.gid == getegid();
}

static void on_conn_rejected(uv_handle_t *h)
{
        struct conn *c = container_of(h, struct conn, pipe);
        struct skiff_ttrpc_server *s = c->srv;
        s->open_handles--;
        free(c);
        maybe_free_server(s);
}

static void on_connection(uv_stream_t *server, int status)
{
        struct skiff_ttrpc_server *s = container_of(server, struct skiff_ttrpc_server, listener);
        if (status < 0) {
                log_warn("ttrpc: accept failed: %s, ignoring", uv_strerror(status));
                return;
        }
        struct conn *c = xcalloc(1, sizeof(*c));
        c->srv = s;
        uv_pipe_init(s->loop, &c->pipe, 0);
        s->open_handles++;
        if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 || !peer_is_same_user(&c->pipe)) {
                log_warn("ttrpc: rejected a connection (accept failed or invalid credentials)");
                uv_close((uv_handle_t *)&c->pipe, on_conn_rejected);
                return;
        }
        c->refs = 1;
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        int r = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
        if (r < 0)
                conn_close(c);
}

/* ---- public API -------------------------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
        struct skiff_ttrpc_server *s = container_of(h, struct skiff_ttrpc_server, listener);
        s->open_handles--;
        maybe_free_server(s);
}

int skiff_ttrpc_server_new(uv_loop_t *loop, int listen_fd, struct skiff_ttrpc_server **out)
{
        struct skiff_ttrpc_server *s = xcalloc(1, sizeof(*s));
        s->loop = loop;
        int r = uv_pipe_init(loop, &s->listener, 0);
        if (r < 0) {
                free(s);
                close(listen_fd);
                return r;
        }
        r = uv_pipe_open(&s->listener, listen_fd);
        if (r < 0)
                close(listen_fd);
        else
                r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
        s->open_handles = 1;
        if (r < 0) {
                /* Freed by the close callback on the next loop iteration. */
                s->closing = true;
                uv_close((uv_handle_t *)&s->listener, on_listener_closed);
                return r;
        }
        *out = s;
        return 0;
}

void skiff_ttrpc_server_register(struct skiff_ttrpc_server *s, const char *service,
                                 const struct skiff_ttrpc_method *methods, size_t n_methods,
                                 void *userdata)
{
        s->services = xreallocarray(s->services, s->n_services + 1, sizeof(*s->services));
        s->services[s->n_services++] = (struct service){
            .name = service,
            .name_len = strlen(service),
            .methods = methods,
            .n_methods = n_methods,
            .userdata = userdata,
        };
}

void skiff_ttrpc_server_close(struct skiff_ttrpc_server *s)
{
        if (!s || s->closing)
                return;
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        while (s->conns)
                conn_close_gracefully(s->conns);
}

void skiff_ttrpc_reply(struct skiff_ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct conn *c = call->conn;
        uint32_t sid = call->stream_id;
        free(call);
        if (!c->closed) {
                size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
                if (n + 16 > SKIFF_TTRPC_MAX_FRAME) {
                        send_status(c, sid, SKIFF_GRPC_RESOURCE_EXHAUSTED,
                                    "response exceeds maximum message size");
                } else {
                        struct wbuf *w = wbuf_new(skiff_ttrpc_response_frame_len(n));
                        skiff_ttrpc_response_frame_write(sid, msg, n, w->data);
                        conn_send(c, w);
                }
        }
        conn_unref(c);
}

void skiff_ttrpc_reply_error(struct skiff_ttrpc_call *call, enum skiff_grpc_code code,
                             const char *fmt, ...)
{
        struct conn *c = call->conn;
        uint32_t sid = call->stream_id;
        free(call);
        if (!c->closed) {
                va_list ap;
                va_start(ap, fmt);
                _cleanup_free_ char *msg = xvasprintf(fmt, ap);
                va_end(ap);
                send_status(c, sid, code, msg);
        }
        conn_unref(c);
}

const char *skiff_ttrpc_call_method(const struct skiff_ttrpc_call *call)
{
        return call->method;
}

const void *skiff_ttrpc_call_data(const struct skiff_ttrpc_call *call)
{
        return call->data;
}

int skiff_ttrpc_call_alive(const struct skiff_ttrpc_call *call)
{
        return !call->conn->closed;
}
