/* A small HTTP/1.x server for a single-threaded poll(2) loop (the agent's /metrics and
 * /healthz): one request per connection (the reply carries "Connection: close"), GET and HEAD
 * only, request heads capped at SKIFF_HTTPD_HEAD_MAX bytes (431), at most SKIFF_HTTPD_CONNS
 * connections (further ones are accepted and closed at once), and every connection closed
 * SKIFF_HTTPD_TIMEOUT_MS after it was accepted, finished or not. Sockets are non-blocking and
 * CLOEXEC; nothing here blocks. */
#ifndef SKIFF_CLI_HTTPD_H
#define SKIFF_CLI_HTTPD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strbuf.h"

#define SKIFF_HTTPD_HEAD_MAX   8192
#define SKIFF_HTTPD_CONNS      32
#define SKIFF_HTTPD_TIMEOUT_MS 10000
#define SKIFF_HTTPD_POLLFDS    (SKIFF_HTTPD_CONNS + 1)

/* Fills body (and *content_type, a static string) for path; returns the HTTP status. */
typedef int (*skiff_httpd_handler_cb)(const char *path, struct skiff_strbuf *body,
                                      const char **content_type, void *userdata);

struct skiff_httpd;

/* Listens on "HOST:PORT" ("0.0.0.0:9464", "[::]:9464", "127.0.0.1:0" for any free port). */
int skiff_httpd_open(const char *listen_addr, skiff_httpd_handler_cb cb, void *userdata,
                     struct skiff_httpd **ret, skiff_err_t *err);
struct skiff_httpd *skiff_httpd_close(struct skiff_httpd *h); /* NULL-safe */
uint16_t skiff_httpd_port(const struct skiff_httpd *h);

/* Fills at most SKIFF_HTTPD_POLLFDS entries of fds; returns how many. */
size_t skiff_httpd_pollfds(struct skiff_httpd *h, struct pollfd *fds);
/* Milliseconds until the next connection deadline (-1: none). */
int skiff_httpd_timeout(const struct skiff_httpd *h);
/* Handles the events poll() reported in fds[0..n) (as filled by skiff_httpd_pollfds) and
 * expires connections past their deadline. */
void skiff_httpd_dispatch(struct skiff_httpd *h, const struct pollfd *fds, size_t n);

#endif
