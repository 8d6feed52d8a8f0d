/* Event publisher: a ttrpc client of containerd's Events/Forward, one call in flight, ordered
 * queue, reconnect with backoff. */
#include "shim/events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "events/forward.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "shim/ttrpc_codec.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define EVENTS_SERVICE   "containerd.services.events.ttrpc.v1.Events"
#define QUEUE_MAX        1024 /* queued events beyond this drop the oldest */
#define CALL_TIMEOUT_MS  5000 /* per Forward, like containerd's publisher */
#define BACKOFF_MIN_MS   50
#define BACKOFF_MAX_MS   2000
#define FLUSH_TIMEOUT_MS 3000 /* flush gives up on what is left after this */
#define STATUS_RETRIES   5    /* a Forward answered with an error is retried this often */

struct item {
        struct item *next;
        char *topic; /* for logs; points into data's allocation */
        unsigned failures;
        size_t len;
        uint8_t data[]; /* serialized ForwardRequest, then the topic string */
};

enum state {
        ST_IDLE,       /* nothing in progress */
        ST_CONNECTING, /* uv_pipe_connect pending */
        ST_WAITING,    /* a Forward is in flight */
        ST_BACKOFF,    /* timer running before the next attempt */
};

enum pipe_state { PIPE_NONE, PIPE_OPEN, PIPE_CLOSING };

struct skiff_events {
        uv_loop_t *loop;
        char *path;
        char *ns;
        struct item *head, *tail;
        size_t n_items;
        enum state state;
        enum pipe_state pipe_state;
        bool connected;
        uv_pipe_t pipe;
        uv_connect_t connect_req;
        uv_timer_t timer;       /* backoff and call timeout */
        uv_timer_t flush_timer; /* flush deadline */
        uint32_t next_sid, inflight_sid;
        unsigned backoff_ms;
        uint8_t *rx; /* response bytes received so far */
        size_t rx_len, rx_cap;
        void (*flush_cb)(void *data);
        void *flush_data;
        bool closing;
        unsigned open_handles;
};

struct wreq {
        uv_write_t req;
        uint8_t *frame;
};

static void kick(struct skiff_events *ev);
static void on_timer(uv_timer_t *t);

static void item_pop(struct skiff_events *ev)
{
        struct item *it = ev->head;
        ev->head = it->next;
        if (!ev->head)
                ev->tail = NULL;
        ev->n_items--;
        free(it);
}

static void maybe_flushed(struct skiff_events *ev)
{
        if (!ev->flush_cb || ev->head)
                return;
        void (*cb)(void *) = ev->flush_cb;
        ev->flush_cb = NULL;
        uv_timer_stop(&ev->flush_timer);
        cb(ev->flush_data);
}

static void maybe_free(struct skiff_events *ev)
{
        if (!ev->closing || ev->open_handles > 0)
                return;
        while (ev->head)
                item_pop(ev);
        free(ev->rx);
        free(ev->path);
        free(ev->ns);
        free(ev);
}

static void on_handle_closed(uv_handle_t *h)
{
        struct skiff_events *ev = uv_handle_get_data(h);
        ev->open_handles--;
        maybe_free(ev);
}

static void on_pipe_closed(uv_handle_t *h)
{
        struct skiff_events *ev = container_of(h, struct skiff_events, pipe);
        ev->pipe_state = PIPE_NONE;
        ev->open_handles--;
        if (ev->closing)
                maybe_free(ev);
        else
                kick(ev);
}

static void drop_connection(struct skiff_events *ev)
{
        ev->connected = false;
        ev->rx_len = 0;
        if (ev->pipe_state == PIPE_OPEN) {
                ev->pipe_state = PIPE_CLOSING;
                uv_close((uv_handle_t *)&ev->pipe, on_pipe_closed);
        }
}

/* The head event could not be delivered: drop the connection and try again later. */
static void fail_attempt(struct skiff_events *ev, const char *why)
{
        log_debug("events: forward of `%s` failed: %s; retrying in %ums", ev->head->topic, why,
                  ev->backoff_ms);
        drop_connection(ev);
        ev->state = ST_BACKOFF;
        uv_timer_start(&ev->timer, on_timer, ev->backoff_ms, 0);
        ev->backoff_ms = ev->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ev->backoff_ms * 2;
}

static void on_timer(uv_timer_t *t)
{
        struct skiff_events *ev = uv_handle_get_data((uv_handle_t *)t);
        if (ev->state == ST_WAITING) {
                fail_attempt(ev, "timed out");
                return;
        }
        ev->state = ST_IDLE;
        kick(ev);
}

static void on_write(uv_write_t *req, int status)
{
        struct wreq *w = container_of(req, struct wreq, req);
        free(w->frame);
        free(w);
        /* A failed write shows up as a read error / EOF too; nothing else to do here. */
}

static void send_head(struct skiff_events *ev)
{
        struct item *it = ev->head;
        struct wreq *w = xcalloc(1, sizeof(*w));
        size_t len;
        uint32_t sid = ev->next_sid;
        ev->next_sid += 2;
        if (skiff_ttrpc_request_frame(sid, EVENTS_SERVICE, "Forward", it->data, it->len, &w->frame,
                                      &len) < 0) {
                free(w);
                log_warn("events: event `%s` is too large, dropping it", it->topic);
                item_pop(ev);
                kick(ev);
                return;
        }
        uv_buf_t b = uv_buf_init((char *)w->frame, (unsigned)len);
        int r = uv_write(&w->req, (uv_stream_t *)&ev->pipe, &b, 1, on_write);
        if (r < 0) {
                free(w->frame);
                free(w);
                fail_attempt(ev, uv_strerror(r));
                return;
        }
        ev->inflight_sid = sid;
        ev->state = ST_WAITING;
        uv_timer_start(&ev->timer, on_timer, CALL_TIMEOUT_MS, 0);
}

static void handle_response(struct skiff_events *ev, const struct skiff_ttrpc_header *h,
                            const uint8_t *body)
{
        if (h->type != SKIFF_TTRPC_TYPE_RESPONSE || ev->state != ST_WAITING ||
            h->stream_id != ev->inflight_sid)
                return;
        uv_timer_stop(&ev->timer);
        ev->state = ST_IDLE;
        struct skiff_ttrpc_response_view v;
        _cleanup_error_ skiff_err_t err = NULL;
        if (skiff_ttrpc_response_decode(body, h->length, &v, &err) < 0) {
                fail_attempt(ev, skiff_error_msg(err));
                return;
        }
        struct item *it = ev->head;
        if (v.code != 0) {
                /* containerd rejected the event; an invalid envelope will never pass. */
                if (v.code == 3 || ++it->failures >= STATUS_RETRIES) {
                        log_warn("events: containerd rejected event `%s`: code %d: %.*s, "
                                 "dropping it",
                                 it->topic, v.code, (int)v.message_len, v.message);
                        item_pop(ev);
                } else {
                        ev->state = ST_BACKOFF;
                        uv_timer_start(&ev->timer, on_timer, ev->backoff_ms, 0);
                        ev->backoff_ms = ev->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                             : ev->backoff_ms * 2;
                        return;
                }
        } else {
                item_pop(ev);
        }
        ev->backoff_ms = BACKOFF_MIN_MS;
        kick(ev);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct skiff_events *ev = container_of(h, struct skiff_events, pipe);
        if (ev->rx_cap - ev->rx_len < 512) {
                ev->rx_cap = ev->rx_cap ? ev->rx_cap * 2 : 1024;
                ev->rx = xrealloc(ev->rx, ev->rx_cap);
        }
        *buf = uv_buf_init((char *)ev->rx + ev->rx_len, (unsigned)(ev->rx_cap - ev->rx_len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        struct skiff_events *ev = container_of(st, struct skiff_events, pipe);
        if (nread < 0) {
                if (ev->state == ST_WAITING) {
                        uv_timer_stop(&ev->timer);
                        fail_attempt(ev, nread == UV_EOF ? "connection closed"
                                                         : uv_strerror((int)nread));
                } else {
                        drop_connection(ev);
                }
                return;
        }
        ev->rx_len += (size_t)nread;
        size_t off = 0;
        while (ev->rx_len - off >= SKIFF_TTRPC_HEADER_LEN) {
                struct skiff_ttrpc_header h;
                skiff_ttrpc_header_decode(ev->rx + off, &h);
                if (h.length > SKIFF_TTRPC_MAX_FRAME) {
                        if (ev->state == ST_WAITING) {
                                uv_timer_stop(&ev->timer);
                                fail_attempt(ev, "oversize response frame");
                        } else {
                                drop_connection(ev);
                        }
                        return;
                }
                if (ev->rx_len - off - SKIFF_TTRPC_HEADER_LEN < h.length) {
                        if (ev->rx_cap < h.length + SKIFF_TTRPC_HEADER_LEN) {
                                ev->rx_cap = h.length + SKIFF_TTRPC_HEADER_LEN;
                                memmove(ev->rx, ev->rx + off, ev->rx_len - off);
                                ev->rx_len -= off;
                                off = 0;
                                ev->rx = xrealloc(ev->rx, ev->rx_cap);
                        }
                        break;
                }
                const uint8_t *body = ev->rx + off + SKIFF_TTRPC_HEADER_LEN;
                off += SKIFF_TTRPC_HEADER_LEN + h.length;
                handle_response(ev, &h, body);
                if (!ev->connected)
                        return; /* handle_response dropped the connection */
        }
        memmove(ev->rx, ev->rx + off, ev->rx_len - off);
        ev->rx_len -= off;
}

static void on_connect(uv_connect_t *req, int status)
{
        struct skiff_events *ev = container_of(req, struct skiff_events, connect_req);
        if (ev->closing || ev->pipe_state != PIPE_OPEN)
                return;
        if (status < 0) {
                ev->state = ST_IDLE;
                fail_attempt(ev, uv_strerror(status));
                return;
        }
        ev->connected = true;
        ev->next_sid = 1;
        ev->rx_len = 0;
        int r = uv_read_start((uv_stream_t *)&ev->pipe, on_alloc, on_read);
        if (r < 0) {
                fail_attempt(ev, uv_strerror(r));
                return;
        }
        ev->state = ST_IDLE;
        kick(ev);
}

static void kick(struct skiff_events *ev)
{
        if (ev->closing)
                return;
        if (!ev->head) {
                maybe_flushed(ev);
                return;
        }
        if (ev->state != ST_IDLE)
                return;
        if (ev->connected) {
                send_head(ev);
                return;
        }
        if (ev->pipe_state == PIPE_CLOSING)
                return; /* on_pipe_closed kicks again */
        if (uv_pipe_init(ev->loop, &ev->pipe, 0) < 0) {
                fail_attempt(ev, "cannot create a pipe handle");
                return;
        }
        /* An idle connection must not keep the loop alive: the call timer and the connect
         * request do that while something is in progress. */
        uv_unref((uv_handle_t *)&ev->pipe);
        ev->pipe_state = PIPE_OPEN;
        ev->open_handles++;
        ev->state = ST_CONNECTING;
        uv_pipe_connect(&ev->connect_req, &ev->pipe, ev->path, on_connect);
}

int skiff_events_new(uv_loop_t *loop, const char *address, const char *ns,
                     struct skiff_events **out)
{
        if (!address || !*address || !ns)
                return -EINVAL;
        if (strncmp(address, "unix://", 7) == 0)
                address += 7;
        if (strlen(address) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return -ENAMETOOLONG;
        struct skiff_events *ev = xcalloc(1, sizeof(*ev));
        ev->loop = loop;
        ev->path = xstrdup(address);
        ev->ns = xstrdup(ns);
        ev->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &ev->timer);
        uv_timer_init(loop, &ev->flush_timer);
        uv_handle_set_data((uv_handle_t *)&ev->timer, ev);
        uv_handle_set_data((uv_handle_t *)&ev->flush_timer, ev);
        /* Timers only keep the loop alive while there is something to deliver. */
        ev->open_handles = 2;
        *out = ev;
        return 0;
}

void skiff_events_publish(struct skiff_events *ev, const char *topic, const char *type_name,
                          const ProtobufCMessage *msg)
{
        if (!ev || ev->closing)
                return;
        size_t mlen = protobuf_c_message_get_packed_size(msg);
        _cleanup_free_ uint8_t *mbuf = xmalloc(mlen ? mlen : 1);
        protobuf_c_message_pack(msg, mbuf);

        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ts.seconds = now.tv_sec;
        ts.nanos = (int32_t)now.tv_nsec;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = (char *)type_name;
        any.value.data = mbuf;
        any.value.len = mlen;
        Containerd__Services__Events__Ttrpc__V1__Envelope env =
            CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
        env.timestamp = &ts;
        env.namespace_ = ev->ns;
        env.topic = (char *)topic;
        env.event = &any;
        Containerd__Services__Events__Ttrpc__V1__ForwardRequest fr =
            CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
        fr.envelope = &env;

        size_t len = protobuf_c_message_get_packed_size(&fr.base);
        size_t tlen = strlen(topic) + 1;
        struct item *it = xmalloc(sizeof(*it) + len + tlen);
        it->next = NULL;
        it->failures = 0;
        it->len = len;
        protobuf_c_message_pack(&fr.base, it->data);
        it->topic = (char *)it->data + len;
        memcpy(it->topic, topic, tlen);

        if (ev->n_items >= QUEUE_MAX) {
                /* Drop the oldest event that is not in flight. */
                struct item **victim = ev->state == ST_WAITING ? &ev->head->next : &ev->head;
                struct item *v = *victim;
                if (v) {
                        log_warn("events: queue full, dropping event `%s`", v->topic);
                        *victim = v->next;
                        if (ev->tail == v)
                                ev->tail = victim == &ev->head ? NULL : ev->head;
                        ev->n_items--;
                        free(v);
                }
        }
        if (ev->tail)
                ev->tail->next = it;
        else
                ev->head = it;
        ev->tail = it;
        ev->n_items++;
        kick(ev);
}

static void on_flush_timeout(uv_timer_t *t)
{
        struct skiff_events *ev = uv_handle_get_data((uv_handle_t *)t);
        if (ev->head)
                log_warn("events: giving up on %zu undelivered event(s)", ev->n_items);
        /* Forget everything, including the event in flight. */
        uv_timer_stop(&ev->timer);
        ev->state = ST_IDLE;
        drop_connection(ev);
        while (ev->head)
                item_pop(ev);
        maybe_flushed(ev);
}

void skiff_events_flush(struct skiff_events *ev, void (*cb)(void *data), void *data)
{
        if (!ev || !ev->head) {
                cb(data);
                return;
        }
        ev->flush_cb = cb;
        ev->flush_data = data;
        uv_timer_start(&ev->flush_timer, on_flush_timeout, FLUSH_TIMEOUT_MS, 0);
}

void skiff_events_close(struct skiff_events *ev)
{
        if (!ev || ev->closing)
                return;
        ev->closing = true;
        ev->flush_cb = NULL;
        uv_close((uv_handle_t *)&ev->timer, on_handle_closed);
        uv_close((uv_handle_t *)&ev->flush_timer, on_handle_closed);
        if (ev->pipe_state == PIPE_OPEN) {
                ev->pipe_state = PIPE_CLOSING;
                uv_close((uv_handle_t *)&ev->pipe, on_pipe_closed);
        }
}
