/* fetch.c against a local HTTP server and proxy (test/store/fetch_httpd.py, run with
 * /usr/bin/python3): retries and backoff, what is not retried, timeouts, credentials (sent only to
 * their host, never in messages), proxy variables, parallel transfers with a slow consumer. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/config.h"
#include "store/fetch.h"
#include "fetch_server.h"

#define PY "/usr/bin/python3"

static char tmpdir[] = "/tmp/skiff-test-fetch.XXXXXX";
static struct th_server srv_a, srv_b;

static void server_start(struct th_server *s, const char *name)
{
        th_server_start(s, tmpdir, name);
}

static void server_stop(struct th_server *s)
{
        th_server_stop(s);
}

static void setup(void)
{
        if (access(PY, X_OK) != 0)
                cr_skip_test("no %s", PY);
        cr_assert(mkdtemp(tmpdir));
        /* Only the proxy tests set these. */
        const char *vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                              "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(vars); i++)
                unsetenv(vars[i]);
        cr_assert_eq(skiff_fetch_global_init(NULL), 0);
        server_start(&srv_a, "a");
        server_start(&srv_b, "b");
}

static void teardown(void)
{
        server_stop(&srv_a);
        server_stop(&srv_b);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 60);

static struct skiff_config *config(const char *extra)
{
        _cleanup_free_ char *doc =
            extra && strstr(extra, "\"retries\"")
                ? xasprintf("{%s}", extra)
                : xasprintf("{\"retries\": 3%s%s}", extra ? ", " : "", extra ? extra : "");
        struct skiff_config *c = NULL;
        skiff_err_t err = NULL;
        int r = skiff_config_parse(doc, strlen(doc), &c, &err);
        cr_assert_eq(r, 0, "config: %s", skiff_error_msg(err));
        return c;
}

static char *url_a(const char *path)
{
        return xasprintf("http://127.0.0.1:%d%s", srv_a.port, path);
}

/* Lines of a server's request log that contain needle. */
static int log_count(const struct th_server *s, const char *needle)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (skiff_fs_read_file(s->log, 1 << 20, &buf, &len, NULL) < 0)
                return 0;
        int n = 0;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                if (strstr(line, needle))
                        n++;
        return n;
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct got {
        int r;
        char *body;
        char *msg;
        double secs;
};

static struct got get(const struct skiff_config *cfg, const char *url)
{
        struct skiff_fetch *f = NULL;
        cr_assert_eq(skiff_fetch_new(cfg, &f, NULL), 0);
        skiff_err_t err = NULL;
        struct got g = {0};
        size_t len = 0;
        double t0 = now();
        g.r = skiff_fetch_buf(f, url, 1 << 20, &g.body, &len, &err);
        g.secs = now() - t0;
        g.msg = xstrdup(err ? skiff_error_msg(err) : "");
        skiff_error_free(&err);
        skiff_fetch_free(f);
        return g;
}

static void got_free(struct got *g)
{
        free(g->body);
        free(g->msg);
}

Test(fetch, retries_5xx_with_backoff_then_succeeds)
{
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        _cleanup_free_ char *u500 = url_a("/fail/500/2/a");
        struct got g = get(cfg, u500);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        cr_assert_str_eq(g.body, "recovered");
        cr_assert_eq(log_count(&srv_a, "\"/fail/500/2/a\""), 3);
        cr_assert_geq(g.secs, 0.29, "two backoffs (100 + 200 ms) took %.3f s", g.secs);
        got_free(&g);

        _cleanup_free_ char *u503 = url_a("/fail/503/1/b");
        g = get(cfg, u503);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        cr_assert_eq(log_count(&srv_a, "\"/fail/503/1/b\""), 2);
        got_free(&g);
}

Test(fetch, retries_connection_reset_then_succeeds)
{
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        _cleanup_free_ char *u = url_a("/reset/2/c");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        cr_assert_str_eq(g.body, "recovered");
        cr_assert_eq(log_count(&srv_a, "\"/reset/2/c\""), 3);
        got_free(&g);
}

Test(fetch, gives_up_after_retries_naming_url_and_status)
{
        _cleanup_config_ struct skiff_config *cfg = config("\"retries\": 2");
        _cleanup_free_ char *u = url_a("/fail/503/10/d");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, -EIO, "%d %s", g.r, g.msg);
        cr_assert(strstr(g.msg, u), "%s", g.msg);
        cr_assert(strstr(g.msg, "503"), "%s", g.msg);
        cr_assert_eq(log_count(&srv_a, "\"/fail/503/10/d\""), 3);
        got_free(&g);
}

Test(fetch, not_found_is_not_retried_and_names_url)
{
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        _cleanup_free_ char *u = url_a("/missing");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, -ENOENT, "%d %s", g.r, g.msg);
        cr_assert(strstr(g.msg, u), "%s", g.msg);
        cr_assert_eq(log_count(&srv_a, "\"/missing\""), 1);
        got_free(&g);
}

Test(fetch, truncated_body_is_detected)
{
        _cleanup_config_ struct skiff_config *cfg = config("\"retries\": 1");
        _cleanup_free_ char *u = url_a("/trunc");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, -EIO, "%d %s", g.r, g.msg);
        cr_assert(strstr(g.msg, u), "%s", g.msg);
        cr_assert(strstr(g.msg, "partial"), "%s", g.msg);
        cr_assert_eq(log_count(&srv_a, "\"/trunc\""), 2, "retried once");
        got_free(&g);
}

Test(fetch, connect_timeout)
{
        /* A listener whose accept queue is full drops further SYNs: connect() hangs. */
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        cr_assert(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
        cr_assert(listen(l, 0) == 0);
        cr_assert(getsockname(l, (struct sockaddr *)&a, &alen) == 0);
        for (int i = 0; i < 3; i++) {
                int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                (void)!connect(c, (struct sockaddr *)&a, sizeof(a)); /* kept open on purpose */
        }
        usleep(200 * 1000);
        _cleanup_config_ struct skiff_config *cfg =
            config("\"retries\": 0, \"connect_timeout\": 1");
        _cleanup_free_ char *u = xasprintf("http://127.0.0.1:%d/x", ntohs(a.sin_port));
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, -ETIMEDOUT, "%d %s", g.r, g.msg);
        cr_assert(g.secs >= 0.9 && g.secs < 5, "took %.2f s", g.secs);
        cr_assert(strstr(g.msg, u), "%s", g.msg);
        got_free(&g);
}

Test(fetch, low_speed_timeout)
{
        _cleanup_config_ struct skiff_config *cfg =
            config("\"retries\": 0, \"low_speed_timeout\": 1");
        _cleanup_free_ char *u = url_a("/stall");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, -ETIMEDOUT, "%d %s", g.r, g.msg);
        cr_assert(g.secs >= 0.9 && g.secs < 6, "took %.2f s", g.secs);
        got_free(&g);
}

/* Credentials for 127.0.0.1 reach it, and neither a direct request to another host (localhost)
 * nor a redirect from 127.0.0.1 to it carries them. */
static void check_credentials(const char *creds, const char *want_header)
{
        _cleanup_free_ char *extra = xasprintf("\"credentials\": {\"127.0.0.1\": %s}", creds);
        _cleanup_config_ struct skiff_config *cfg = config(extra);
        _cleanup_free_ char *u = url_a("/ok");
        struct got g = get(cfg, u);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        got_free(&g);
        _cleanup_free_ char *seen = xasprintf("\"auth\": \"%s\"", want_header);
        cr_assert_eq(log_count(&srv_a, seen), 1, "the configured host saw `%s`", want_header);

        _cleanup_free_ char *other = xasprintf("http://localhost:%d/ok", srv_b.port);
        g = get(cfg, other);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        got_free(&g);
        _cleanup_free_ char *redir =
            xasprintf("http://127.0.0.1:%d/redirect?to=%s", srv_a.port, other);
        g = get(cfg, redir);
        cr_assert_eq(g.r, 0, "%s", g.msg);
        cr_assert_str_eq(g.body, "hello skiff");
        got_free(&g);
        cr_assert_eq(log_count(&srv_a, "/redirect?to="), 1);
        cr_assert_eq(log_count(&srv_a, seen), 2, "the redirecting host got the credentials");
        cr_assert_eq(log_count(&srv_b, "\"/ok\""), 2);
        cr_assert_eq(log_count(&srv_b, "\"auth\": null"), 2, "another host got credentials");
}

Test(fetch, bearer_token_only_to_its_host)
{
        check_credentials("{\"bearer_token\": \"tok-SECRET-123\"}", "Bearer tok-SECRET-123");
}

Test(fetch, basic_credentials_only_to_their_host)
{
        /* base64("joe:pw-SECRET-456") */
        check_credentials("{\"username\": \"joe\", \"password\": \"pw-SECRET-456\"}",
                          "Basic am9lOnB3LVNFQ1JFVC00NTY=");
}

Test(fetch, credentials_never_in_messages)
{
        _cleanup_config_ struct skiff_config *cfg =
            config("\"retries\": 1, \"low_speed_timeout\": 1, \"credentials\": {"
                   "\"127.0.0.1\": {\"bearer_token\": \"tok-SECRET-123\"},"
                   "\"localhost\": {\"username\": \"joe\", \"password\": \"pw-SECRET-456\"}}");
        char *urls[] = {
            url_a("/missing"),
            url_a("/fail/503/10/e"),
            url_a("/trunc"),
            url_a("/stall"),
            xasprintf("http://localhost:%d/missing", srv_a.port),
            xasprintf("http://joe:pw-SECRET-789@127.0.0.1:%d/missing", srv_a.port),
            xasprintf("http://joe:pw-SECRET-789@127.0.0.1:%d/fail/500/10/f", srv_a.port),
            xasprintf("http://127.0.0.1:%d/redirect?to=http://localhost:%d/missing", srv_a.port,
                      srv_b.port),
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(urls); i++) {
                struct got g = get(cfg, urls[i]);
                cr_assert_lt(g.r, 0, "`%s` should fail", urls[i]);
                cr_assert_neq(g.msg[0], '\0');
                cr_assert(!strstr(g.msg, "SECRET"), "a secret in `%s`", g.msg);
                cr_assert(!strstr(g.msg, "am9lOnB3"), "a secret in `%s`", g.msg);
                got_free(&g);
                free(urls[i]);
        }
}

Test(fetch, http_proxy_is_honoured)
{
        _cleanup_free_ char *proxy = xasprintf("http://127.0.0.1:%d", srv_b.port);
        setenv("http_proxy", proxy, 1);
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        struct got g = get(cfg, "http://skiff-proxy-test.invalid/some/path");
        cr_assert_eq(g.r, 0, "%s", g.msg);
        cr_assert_str_eq(g.body, "via proxy");
        got_free(&g);
        cr_assert_eq(
            log_count(&srv_b,
                      "\"line\": \"GET http://skiff-proxy-test.invalid/some/path HTTP/1.1\""),
            1);
}

Test(fetch, https_proxy_is_honoured)
{
        _cleanup_free_ char *proxy = xasprintf("http://127.0.0.1:%d", srv_b.port);
        setenv("HTTPS_PROXY", proxy, 1);
        _cleanup_config_ struct skiff_config *cfg = config("\"retries\": 0");
        struct got g = get(cfg, "https://skiff-proxy-test.invalid/x");
        cr_assert_lt(g.r, 0, "the test proxy refuses tunnels");
        got_free(&g);
        cr_assert_eq(
            log_count(&srv_b, "\"line\": \"CONNECT skiff-proxy-test.invalid:443 HTTP/1.1\""), 1);
}

/* ---- parallel transfers on one fetcher, with a consumer slower than the network ------- */

struct slow {
        struct skiff_fetch *f;
        char *url;
        size_t mib;
        uint64_t seen;
        bool pattern_ok;
        struct skiff_fetch_result res;
        int r;
};

static int slow_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        struct slow *s = userdata;
        const uint8_t *p = data;
        for (size_t i = 0; i < len; i++)
                if (p[i] != (uint8_t)((s->seen + i) % 251))
                        s->pattern_ok = false;
        s->seen += len;
        usleep(2000); /* slower than loopback: the transfer's queue fills and it is paused */
        return 0;
}

static void *slow_run(void *arg)
{
        struct slow *s = arg;
        skiff_err_t err = NULL;
        s->r = skiff_fetch_stream(s->f, s->url, 64 << 20, 0, slow_cb, NULL, s, &s->res, &err);
        skiff_error_free(&err);
        return NULL;
}

Test(fetch, parallel_transfers_with_slow_consumers)
{
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        struct skiff_fetch *f = NULL;
        cr_assert_eq(skiff_fetch_new(cfg, &f, NULL), 0);
        struct slow s[4];
        pthread_t t[4];
        for (size_t i = 0; i < 4; i++) {
                s[i] = (struct slow){.f = f, .mib = 4 + i, .pattern_ok = true};
                s[i].url = xasprintf("http://127.0.0.1:%d/big/%zu", srv_a.port, s[i].mib);
                cr_assert_eq(pthread_create(&t[i], NULL, slow_run, &s[i]), 0);
        }
        for (size_t i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                size_t n = s[i].mib << 20;
                cr_assert_eq(s[i].r, 0);
                cr_assert_eq(s[i].seen, n);
                cr_assert(s[i].pattern_ok, "transfer %zu delivered wrong bytes", i);
                uint8_t *want = xmalloc(n), d[SKIFF_SHA256_LEN];
                for (size_t k = 0; k < n; k++)
                        want[k] = (uint8_t)(k % 251);
                skiff_sha256_oneshot(want, n, d);
                free(want);
                cr_assert_eq(s[i].res.size, n);
                cr_assert_arr_eq(s[i].res.sha256, d, sizeof(d), "body hash of transfer %zu", i);
                free(s[i].url);
        }
        skiff_fetch_free(f);
}

/* Counts the bytes into *userdata and refuses a body whose first byte is 'A' (only the first
 * byte: later chunks may start anywhere in a body). */
static int count_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        bool first = *(uint64_t *)userdata == 0;
        *(uint64_t *)userdata += len;
        return first && len > 0 && ((const char *)data)[0] == 'A'
                   ? skiff_error_set(err, ECANCELED, "consumer refuses")
                   : 0;
}

static int stop_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        *(uint64_t *)userdata += len;
        return *(uint64_t *)userdata > (1 << 20) ? skiff_error_set(err, ECANCELED, "enough") : 0;
}

Test(fetch, consumer_error_cancels_without_retry)
{
        _cleanup_config_ struct skiff_config *cfg = config(NULL);
        struct skiff_fetch *f = NULL;
        cr_assert_eq(skiff_fetch_new(cfg, &f, NULL), 0);
        /* /big starts with byte 0: accepted; a file starting with 'A' is refused. */
        _cleanup_free_ char *file = xasprintf("%s/A.txt", tmpdir);
        cr_assert_eq(skiff_fs_write_file_atomic(file, "AAAA", 4, 0644, false, NULL), 0);
        _cleanup_free_ char *furl = xasprintf("file://%s", file);
        uint64_t n = 0;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_fetch_stream(f, furl, 100, 0, count_cb, NULL, &n, NULL, &err),
                     -ECANCELED);
        skiff_error_free(&err);
        _cleanup_free_ char *missing = xasprintf("file://%s/none", tmpdir);
        cr_assert_eq(skiff_fetch_stream(f, missing, 100, 0, count_cb, NULL, &n, NULL, &err),
                     -ENOENT);
        cr_assert(strstr(skiff_error_msg(err), missing));
        skiff_error_free(&err);
        _cleanup_free_ char *u = url_a("/big/8");
        n = 0;
        struct skiff_fetch_result res;
        cr_assert_eq(skiff_fetch_stream(f, u, 64 << 20, 0, count_cb, NULL, &n, &res, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(n, 8 << 20);
        cr_assert_eq(res.size, 8 << 20);
        cr_assert_eq(skiff_fetch_stream(f, u, 1 << 20, 0, count_cb, NULL, &n, NULL, &err), -EFBIG);
        skiff_error_free(&err);
        n = 0;
        cr_assert_eq(skiff_fetch_stream(f, u, 64 << 20, 0, stop_cb, NULL, &n, NULL, &err),
                     -ECANCELED);
        skiff_error_free(&err);
        cr_assert_eq(log_count(&srv_a, "\"/big/8\""), 3, "the cancelled transfer was retried");
        skiff_fetch_free(f);
}
