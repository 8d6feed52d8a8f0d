#include "shim/stdio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "shim/reaper.h"
#include "shim/stdio-internal.h"

#define COPY_BUF_SIZE  (64u << 10)
#define COPY_MAX_SPINS 16 /* read/write rounds per poll callback, so one stream cannot starve */

struct copier;

/* One fd the shim reads from and/or writes to while copying. One uv_poll per fd (libuv allows
 * only one), shared by the copy reading from it and the copy writing to it. */
struct endpoint {
        struct skiff_stdio *s;
        int fd;
        bool pollable; /* false for regular files: always writable, written synchronously */
        bool poll_init;
        uv_poll_t poll;
        struct copier *reader; /* copy whose source is this fd */
        struct copier *writer; /* copy whose destination is this fd */
};

struct copier {
        struct endpoint *src, *dst; /* dst NULL: discard (keeps a pty from filling up) */
        char *buf;
        size_t off, len;
        bool eof;  /* source finished */
        bool done; /* eof and everything written (or the destination failed) */
};

struct skiff_stdio {
        uv_loop_t *loop;
        struct skiff_reaper *reaper;
        bool terminal;
        enum skiff_stdio_scheme scheme;

        int child_in, child_out, child_err; /* handed to the runtime; -1 = /dev/null */
        int stdin_writer;                   /* the extra writer held until CloseIO */
        int out_hold, err_hold;             /* shim-held fds on the output FIFOs */

        struct endpoint ep_in, ep_master, ep_out;
        struct copier c_in, c_out;

        struct skiff_stdio_logger *logger;
        int ready_fd;
        uv_poll_t ready_poll;
        bool ready_poll_init;
        uv_timer_t ready_timer;
        void (*ready_cb)(int status, void *data);
        void *ready_data;

        uv_timer_t drain_timer;
        bool exited, drained;
        void (*drained_cb)(void *data);
        void *drained_data;

        int handles; /* initialised uv handles not yet closed */
        bool freeing;
};

/* ---- helpers --------------------------------------------------------------------------- */

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void handle_closed(uv_handle_t *h)
{
        struct skiff_stdio *s = h->data;
        if (--s->handles == 0 && s->freeing)
                free(s);
}

static void close_handle(struct skiff_stdio *s, uv_handle_t *h)
{
        if (!uv_is_closing(h))
                uv_close(h, handle_closed);
}

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

char *skiff_stdio_url_decode(const char *s, size_t n, bool plus_space)
{
        char *out = xmalloc(n + 1), *o = out;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                        *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                        i += 2;
                } else if (s[i] == '+' && plus_space) {
                        *o++ = ' ';
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        return out;
}

int skiff_stdio_parse_uri(const char *uri, enum skiff_stdio_scheme *scheme, char **path,
                          char **query, skiff_err_t *err)
{
        static const struct {
                const char *prefix;
                enum skiff_stdio_scheme scheme;
        } schemes[] = {
            {"fifo://", SKIFF_STDIO_FIFO},
            {"file://", SKIFF_STDIO_FILE},
            {"binary://", SKIFF_STDIO_BINARY},
        };
        const char *rest = NULL;
        enum skiff_stdio_scheme sc = SKIFF_STDIO_FIFO;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(schemes); i++) {
                size_t n = strlen(schemes[i].prefix);
                if (strncmp(uri, schemes[i].prefix, n) == 0) {
                        rest = uri + n;
                        sc = schemes[i].scheme;
                        break;
                }
        }
        if (!rest) {
                if (strstr(uri, "://"))
                        return skiff_error_set(err, EINVAL, "parse stdio uri `%s`: unknown scheme",
                                               uri);
                *scheme = SKIFF_STDIO_FIFO;
                *path = xstrdup(uri);
                if (query)
                        *query = NULL;
                return 0;
        }
        const char *q = strchr(rest, '?');
        size_t plen = q ? (size_t)(q - rest) : strlen(rest);
        _cleanup_free_ char *p = skiff_stdio_url_decode(rest, plen, false);
        if (p[0] != '/')
                return skiff_error_set(err, EINVAL, "parse stdio uri `%s`: path must be absolute",
                                       uri);
        *scheme = sc;
        *path = TAKE_PTR(p);
        if (query)
                *query = q ? xstrdup(q + 1) : NULL;
        return 0;
}

static int open_fifo_or_file(const char *path, int flags, bool *is_fifo, const char *what,
                             skiff_err_t *err)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return skiff_error_set_errno(err, errno, "open %s `%s`", what, path);
        *is_fifo = S_ISFIFO(st.st_mode);
        if (!*is_fifo)
                flags = (flags & O_RDWR) || (flags & O_WRONLY) ? O_WRONLY | O_APPEND : O_RDONLY;
        int fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open %s `%s`", what, path);
        return fd;
}

/* ---- copying --------------------------------------------------------------------------- */

static void poll_cb(uv_poll_t *h, int status, int events);
static void check_drained(struct skiff_stdio *s);

static void ep_update(struct endpoint *ep)
{
        if (ep->fd < 0 || !ep->poll_init || uv_is_closing((uv_handle_t *)&ep->poll))
                return;
        int ev = 0;
        if (ep->reader && !ep->reader->eof && ep->reader->len == 0)
                ev |= UV_READABLE;
        if (ep->writer && ep->writer->len > 0 && !ep->writer->done)
                ev |= UV_WRITABLE;
        if (ev)
                (void)uv_poll_start(&ep->poll, ev, poll_cb); /* only fails for closed fds */
        else
                (void)uv_poll_stop(&ep->poll);
}

static int ep_init(struct skiff_stdio *s, struct endpoint *ep, int fd)
{
        ep->s = s;
        ep->fd = fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        ep->pollable = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
        if (!ep->pollable)
                return 0;
        int r = skiff_fd_set_nonblock(fd, true);
        if (r < 0)
                return r;
        r = uv_poll_init(s->loop, &ep->poll, fd);
        if (r < 0)
                return r;
        ep->poll.data = s;
        ep->poll_init = true;
        s->handles++;
        return 0;
}

static void ep_close(struct endpoint *ep)
{
        if (ep->poll_init)
                close_handle(ep->s, (uv_handle_t *)&ep->poll);
        close_fd(&ep->fd);
}

static void copier_pump(struct copier *c)
{
        for (int spin = 0; spin < COPY_MAX_SPINS && !c->done; spin++) {
                if (c->len > 0) {
                        if (!c->dst) {
                                c->len = 0;
                        } else {
                                ssize_t n = write(c->dst->fd, c->buf + c->off, c->len);
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n < 0 && errno == EAGAIN)
                                        break;
                                if (n < 0) {
                                        /* Reader gone for good: drop output, keep draining
                                         * the source so the process never blocks. */
                                        log_debug("stdio write failed, discarding: "
                                                  "errno=%d",
                                                  errno);
                                        c->dst = NULL;
                                        c->len = 0;
                                        continue;
                                }
                                c->off += (size_t)n;
                                c->len -= (size_t)n;
                                if (c->len > 0)
                                        continue;
                        }
                }
                if (c->eof) {
                        c->done = true;
                        break;
                }
                ssize_t n = read(c->src->fd, c->buf, COPY_BUF_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) { /* EOF, or EIO from a pty master whose slave is gone */
                        c->eof = true;
                        continue;
                }
                c->off = 0;
                c->len = (size_t)n;
        }
        ep_update(c->src);
        if (c->dst)
                ep_update(c->dst);
        if (c->done)
                check_drained(c->src->s);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
        struct endpoint *ep = NULL;
        struct skiff_stdio *s = h->data;
        if (h == &s->ep_in.poll)
                ep = &s->ep_in;
        else if (h == &s->ep_master.poll)
                ep = &s->ep_master;
        else
                ep = &s->ep_out;
        if (status < 0)
                events = UV_READABLE | UV_WRITABLE; /* let read/write report the error */
        if ((events & UV_WRITABLE) && ep->writer)
                copier_pump(ep->writer);
        if ((events & UV_READABLE) && ep->reader)
                copier_pump(ep->reader);
}

static void copier_start(struct copier *c, struct endpoint *src, struct endpoint *dst)
{
        c->src = src;
        c->dst = dst;
        c->buf = xmalloc(COPY_BUF_SIZE);
        src->reader = c;
        if (dst)
                dst->writer = c;
        ep_update(src);
}

static int open_binary(struct skiff_stdio *s, const struct skiff_stdio_config *cfg,
                       const char *path, const char *query, skiff_err_t *err)
{
        int out[2] = {-1, -1}, errp[2] = {-1, -1}, ready[2] = {-1, -1};
        int r = 0;
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
                r = skiff_error_set_errno(err, errno, "create pipes for logger `%s`", path);
        if (r == 0)
                r = skiff_stdio_logger_spawn(s->loop, s->reaper, path, query, cfg->id, cfg->ns,
                                             out[0], errp[0], ready[1], &s->logger, err);
        close_fd(&out[0]);
        close_fd(&errp[0]);
        close_fd(&ready[1]);
        if (r < 0) {
                close_fd(&out[1]);
                close_fd(&errp[1]);
                close_fd(&ready[0]);
                return r;
        }
        s->ready_fd = ready[0];
        s->child_out = out[1];
        s->child_err = errp[1];
        return 0;
}

/* ---- open ------------------------------------------------------------------------------ */

static bool empty(const char *p)
{
        return !p || !*p;
}

static int open_stdin(struct skiff_stdio *s, const char *path, skiff_err_t *err)
{
        bool fifo = false;
        int fd = open_fifo_or_file(path, O_RDONLY | O_NONBLOCK, &fifo, "stdin", err);
        if (fd < 0)
                return fd;
        _cleanup_close_ int rd = fd;
        if (fifo) {
                /* A reader exists (rd), so a non-blocking writer open cannot fail with ENXIO. */
                s->stdin_writer = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (s->stdin_writer < 0)
                        return skiff_error_set_errno(err, errno, "open stdin fifo `%s` for writing",
                                                     path);
        } else if (s->terminal) {
                return skiff_error_set(err, EINVAL, "open stdin `%s`: not a fifo", path);
        }
        if (s->terminal) {
                int r = ep_init(s, &s->ep_in, TAKE_FD(rd));
                if (r < 0)
                        return skiff_error_set(err, -r, "watch stdin `%s`: %s", path, strerror(-r));
                return 0;
        }
        /* The process reads the FIFO itself, through its own blocking description. */
        int r = skiff_fd_set_nonblock(rd, false);
        if (r < 0)
                return skiff_error_set(err, -r, "open stdin `%s`: %s", path, strerror(-r));
        s->child_in = TAKE_FD(rd);
        return 0;
}

/* Output FIFO or file: *hold gets the shim's own fd, *child the process's (blocking). */
static int open_output(struct skiff_stdio *s, const char *path, const char *what, int *hold,
                       int *child, skiff_err_t *err)
{
        bool fifo = false;
        /* O_RDWR on a FIFO never blocks and never fails with ENXIO (Linux). */
        int fd = open_fifo_or_file(path, O_RDWR | O_NONBLOCK, &fifo, what, err);
        if (fd < 0)
                return fd;
        *hold = fd;
        if (s->terminal)
                return 0;
        if (!fifo) {
                *child = *hold;
                *hold = -1;
                return 0;
        }
        *child = open(path, O_WRONLY | O_CLOEXEC); /* does not block: *hold is a reader */
        if (*child < 0)
                return skiff_error_set_errno(err, errno, "open %s `%s` for the process", what,
                                             path);
        return 0;
}

static int open_file_uri(const char *path, int *fd, skiff_err_t *err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                int r = skiff_fs_mkdir_p(dir, 0755, err);
                if (r < 0)
                        return skiff_error_wrap(err, "open log file `%s`", path);
        }
        *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (*fd < 0)
                return skiff_error_set_errno(err, errno, "open log file `%s`", path);
        return 0;
}

static void stdio_init(struct skiff_stdio *s, uv_loop_t *loop, struct skiff_reaper *reaper)
{
        s->loop = loop;
        s->reaper = reaper;
        s->child_in = s->child_out = s->child_err = -1;
        s->stdin_writer = s->out_hold = s->err_hold = s->ready_fd = -1;
        s->ep_in.fd = s->ep_master.fd = s->ep_out.fd = -1;
        s->ep_in.s = s->ep_master.s = s->ep_out.s = s;
}

static int stdio_open_outputs(struct skiff_stdio *s, const struct skiff_stdio_config *cfg,
                              skiff_err_t *err)
{
        if (empty(cfg->out) && (s->terminal || empty(cfg->err)))
                return 0;
        enum skiff_stdio_scheme scheme = SKIFF_STDIO_FIFO;
        _cleanup_free_ char *path = NULL, *query = NULL;
        int r = 0;
        if (!empty(cfg->out)) {
                r = skiff_stdio_parse_uri(cfg->out, &scheme, &path, &query, err);
                if (r < 0)
                        return r;
        }
        s->scheme = scheme;
        switch (scheme) {
        case SKIFF_STDIO_FILE:
                r = open_file_uri(path, &s->child_out, err);
                if (r < 0)
                        return r;
                if (!s->terminal) {
                        s->child_err = fcntl(s->child_out, F_DUPFD_CLOEXEC, 3);
                        if (s->child_err < 0)
                                return skiff_error_set_errno(err, errno, "dup log file `%s`", path);
                }
                break;
        case SKIFF_STDIO_BINARY:
                r = open_binary(s, cfg, path, query, err);
                if (r < 0)
                        return r;
                break;
        case SKIFF_STDIO_FIFO:
                if (path) {
                        r = open_output(s, path, "stdout", &s->out_hold, &s->child_out, err);
                        if (r < 0)
                                return r;
                }
                if (!s->terminal && !empty(cfg->err)) {
                        _cleanup_free_ char *epath = NULL;
                        enum skiff_stdio_scheme es;
                        r = skiff_stdio_parse_uri(cfg->err, &es, &epath, NULL, err);
                        if (r < 0)
                                return r;
                        r = open_output(s, epath, "stderr", &s->err_hold, &s->child_err, err);
                        if (r < 0)
                                return r;
                }
                break;
        }
        if (s->terminal) {
                /* The copy from the pty master writes to the shim's fd. */
                int fd = -1;
                if (s->out_hold >= 0)
                        fd = TAKE_FD(s->out_hold);
                else if (s->child_out >= 0)
                        fd = TAKE_FD(s->child_out);
                close_fd(&s->child_err);
                if (fd >= 0) {
                        r = ep_init(s, &s->ep_out, fd);
                        if (r < 0) {
                                close(fd);
                                return skiff_error_set(err, -r, "watch stdout: %s", strerror(-r));
                        }
                }
        }
        return 0;
}

int skiff_stdio_open(uv_loop_t *loop, struct skiff_reaper *reaper,
                     const struct skiff_stdio_config *cfg, struct skiff_stdio **out,
                     skiff_err_t *err)
{
        struct skiff_stdio *s = xcalloc(1, sizeof(*s));
        stdio_init(s, loop, reaper);
        s->terminal = cfg->terminal;
        int r = uv_timer_init(loop, &s->ready_timer);
        if (r == 0) {
                s->ready_timer.data = s;
                s->handles++;
                r = uv_timer_init(loop, &s->drain_timer);
        }
        if (r == 0) {
                s->drain_timer.data = s;
                s->handles++;
        } else {
                skiff_stdio_free(s);
                return skiff_error_set(err, -r, "init stdio timers: %s", uv_strerror(r));
        }

        if (!empty(cfg->in))
                r = open_stdin(s, cfg->in, err);
        if (r == 0)
                r = stdio_open_outputs(s, cfg, err);
        if (r < 0) {
                skiff_stdio_free(s);
                return r;
        }
        *out = s;
        return 0;
}

struct skiff_stdio_fds skiff_stdio_child_fds(const struct skiff_stdio *s)
{
        return (struct skiff_stdio_fds){
            .in = s->child_in, .out = s->child_out, .err = s->child_err};
}

static void ready_fire(struct skiff_stdio *s, int status)
{
        void (*cb)(int, void *) = s->ready_cb;
        s->ready_cb = NULL;
        if (s->ready_poll_init)
                close_handle(s, (uv_handle_t *)&s->ready_poll);
        close_fd(&s->ready_fd);
        if (cb)
                cb(status, s->ready_data);
}

static void ready_poll_cb(uv_poll_t *h, int status, int events)
{
        struct skiff_stdio *s = h->data;
        char buf[64];
        ssize_t n = read(s->ready_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && status == 0)
                return;
        if (n > 0)
                return; /* data before EOF: keep waiting for EOF */
        ready_fire(s, 0);
}

static void ready_timer_cb(uv_timer_t *t)
{
        ready_fire(t->data, 0);
}

int skiff_stdio_wait_ready(struct skiff_stdio *s, void (*cb)(int status, void *data), void *data)
{
        if (s->ready_cb)
                return -EBUSY;
        s->ready_cb = cb;
        s->ready_data = data;
        if (s->ready_fd < 0)
                return uv_timer_start(&s->ready_timer, ready_timer_cb, 0, 0);
        int r = skiff_fd_set_nonblock(s->ready_fd, true);
        if (r == 0)
                r = uv_poll_init(s->loop, &s->ready_poll, s->ready_fd);
        if (r < 0) {
                s->ready_cb = NULL;
                return r;
        }
        s->ready_poll.data = s;
        s->ready_poll_init = true;
        s->handles++;
        r = uv_poll_start(&s->ready_poll, UV_READABLE | UV_DISCONNECT, ready_poll_cb);
        if (r < 0)
                s->ready_cb = NULL;
        return r;
}

void skiff_stdio_child_started(struct skiff_stdio *s)
{
        close_fd(&s->child_in);
        close_fd(&s->child_out);
        close_fd(&s->child_err);
}

int skiff_stdio_attach_console(struct skiff_stdio *s, int master, skiff_err_t *err)
{
        if (s->ep_master.fd >= 0) {
                close(master);
                return skiff_error_set(err, EBUSY, "attach console: already attached");
        }
        int r = ep_init(s, &s->ep_master, master);
        if (r < 0) {
                close_fd(&s->ep_master.fd);
                return skiff_error_set(err, -r, "watch console: %s", strerror(-r));
        }
        copier_start(&s->c_out, &s->ep_master, s->ep_out.fd >= 0 ? &s->ep_out : NULL);
        if (s->ep_in.fd >= 0)
                copier_start(&s->c_in, &s->ep_in, &s->ep_master);
        return 0;
}

int skiff_stdio_resize(struct skiff_stdio *s, unsigned width, unsigned height, skiff_err_t *err)
{
        if (s->ep_master.fd < 0)
                return skiff_error_set(err, ENOTTY, "resize pty: the process has no terminal");
        struct winsize ws = {.ws_col = (unsigned short)width, .ws_row = (unsigned short)height};
        if (ioctl(s->ep_master.fd, TIOCSWINSZ, &ws) < 0)
                return skiff_error_set_errno(err, errno, "resize pty");
        return 0;
}

void skiff_stdio_close_stdin(struct skiff_stdio *s)
{
        close_fd(&s->stdin_writer);
}

/* ---- exit and teardown ----------------------------------------------------------------- */

static void close_outputs(struct skiff_stdio *s)
{
        if (s->drained)
                return;
        s->drained = true;
        (void)uv_timer_stop(&s->drain_timer);
        ep_close(&s->ep_in);
        ep_close(&s->ep_master);
        ep_close(&s->ep_out);
        close_fd(&s->out_hold);
        close_fd(&s->err_hold);
        close_fd(&s->stdin_writer);
        skiff_stdio_child_started(s);
        void (*cb)(void *) = s->drained_cb;
        s->drained_cb = NULL;
        if (cb)
                cb(s->drained_data);
}

static void check_drained(struct skiff_stdio *s)
{
        if (!s->exited || s->drained)
                return;
        if (s->ep_master.fd >= 0 && !s->c_out.done)
                return;
        close_outputs(s);
}

static void drain_timeout_cb(uv_timer_t *t)
{
        struct skiff_stdio *s = t->data;
        log_debug("stdio drain timed out, closing");
        close_outputs(s);
}

void skiff_stdio_process_exited(struct skiff_stdio *s, unsigned timeout_ms, void (*cb)(void *data),
                                void *data)
{
        s->drained_cb = cb;
        s->drained_data = data;
        if (s->exited) {
                if (s->drained && cb) {
                        s->drained_cb = NULL;
                        cb(data);
                }
                return;
        }
        s->exited = true;
        if (s->ep_master.fd >= 0 && !s->c_out.done) {
                (void)uv_timer_start(&s->drain_timer, drain_timeout_cb, timeout_ms, 0);
                copier_pump(&s->c_out); /* picks up anything already buffered */
                return;
        }
        close_outputs(s);
}

bool skiff_stdio_drained(const struct skiff_stdio *s)
{
        return s->drained;
}

void skiff_stdio_free(struct skiff_stdio *s)
{
        if (!s)
                return;
        s->drained_cb = NULL;
        s->ready_cb = NULL;
        s->exited = true;
        close_outputs(s);
        if (s->ready_poll_init)
                close_handle(s, (uv_handle_t *)&s->ready_poll);
        close_fd(&s->ready_fd);
        skiff_stdio_logger_detach(s->logger);
        s->logger = NULL;
        free(s->c_in.buf);
        free(s->c_out.buf);
        s->c_in.buf = s->c_out.buf = NULL;
        s->freeing = true;
        if (s->handles == 0) {
                free(s);
                return;
        }
        close_handle(s, (uv_handle_t *)&s->ready_timer);
        close_handle(s, (uv_handle_t *)&s->drain_timer);
}
