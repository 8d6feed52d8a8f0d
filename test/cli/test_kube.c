/* kube.c against test/cli/kube_apiserver.py, a stand-in Kubernetes API server over HTTPS on the
 * loopback (run with /usr/bin/python3; certificates made with the openssl CLI): the PATCH as the
 * server receives it, label removal, node and host names, TLS trust, 401/403/500, token handling
 * (read, trimmed, never in a message), the in-cluster sources. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/kube.h"

#define PY    "/usr/bin/python3"
#define LABEL "skiff.dev/enabled"

static char tmpdir[] = "/tmp/skiff-test-kube.XXXXXX";
static char token[33]; /* random hex, the content of <tmpdir>/token (with a newline) */
static pid_t srv_pid = -1;
static unsigned srv_port;

static char *in_tmp(const char *name)
{
        return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *name, const char *content)
{
        _cleanup_free_ char *p = in_tmp(name);
        skiff_err_t err = NULL;
        int r = skiff_fs_write_file_atomic(p, content, strlen(content), 0600, false, &err);
        cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
}

static char *read_tmp(const char *name)
{
        _cleanup_free_ char *p = in_tmp(name);
        char *buf = NULL;
        if (skiff_fs_read_file(p, 1 << 20, &buf, NULL, NULL) < 0)
                return xstrdup("");
        return buf;
}

static void random_hex(char *out, size_t n)
{
        unsigned char raw[64];
        cr_assert_leq(n / 2, sizeof(raw));
        _cleanup_close_ int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(read(fd, raw, n / 2), (ssize_t)(n / 2));
        for (size_t i = 0; i < n / 2; i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* CAs "ca" and "otherca"; server certificates "server" (ca, for 127.0.0.1 and ::1), "stranger"
 * (otherca, same names) and "elsewhere" (ca, for 127.0.0.2 and elsewhere.invalid). */
static const char certs_sh[] =
    "set -e\n"
    "ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \\\n"
    "  -keyout $1.key -out $1.crt -subj /CN=$1 -addext basicConstraints=critical,CA:TRUE \\\n"
    "  -addext keyUsage=critical,keyCertSign,cRLSign; }\n"
    "srv() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n"
    "  -keyout $1.key -out $1.csr -subj /CN=$1\n"
    "  printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\nsubjectAltName=%s\\n' \\\n"
    "    \"$3\" >$1.ext\n"
    "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 2 \\\n"
    "    -extfile $1.ext -out $1.crt; }\n"
    "ca ca; ca otherca\n"
    "srv server ca IP:127.0.0.1,IP:::1\n"
    "srv stranger otherca IP:127.0.0.1,IP:::1\n"
    "srv elsewhere ca IP:127.0.0.2,DNS:elsewhere.invalid\n";

static void setup(void)
{
        if (access(PY, X_OK) != 0)
                cr_skip_test("no %s", PY);
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                cr_skip_test("no openssl CLI on $PATH");
        cr_assert(mkdtemp(tmpdir));
        /* The client honours proxy variables like client-go; the loopback server is not behind
         * one. */
        const char *vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(vars); i++)
                unsetenv(vars[i]);
        write_file("certs.sh", certs_sh);
        _cleanup_free_ char *cmd = xasprintf("cd '%s' && sh certs.sh >openssl.log 2>&1", tmpdir);
        if (system(cmd) != 0) {
                _cleanup_free_ char *log = read_tmp("openssl.log");
                cr_assert_fail("making the test certificates failed:\n%s", log);
        }
        random_hex(token, 32);
        _cleanup_free_ char *content = xasprintf("%s\n", token);
        write_file("token", content);
}

static void teardown(void)
{
        if (srv_pid > 0) {
                kill(srv_pid, SIGTERM);
                waitpid(srv_pid, NULL, 0);
                srv_pid = -1;
        }
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

TestSuite(kube, .init = setup, .fini = teardown, .timeout = 60);

/* Starts the server on bind with certificate <cert>.crt; it expects the token in <tmpdir>/token. */
static void server_start(const char *bind, const char *cert)
{
        _cleanup_free_ char *portfile = in_tmp("port"), *log = in_tmp("requests.log"),
                            *reply = in_tmp("reply.json"), *tok = in_tmp("token"),
                            *crt = xasprintf("%s/%s.crt", tmpdir, cert),
                            *key = xasprintf("%s/%s.key", tmpdir, cert),
                            *errlog = in_tmp("server.err");
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0)
                        dup2(fd, 2);
                execl(PY, PY, SKIFF_SOURCE_DIR "/test/cli/kube_apiserver.py", "--bind", bind,
                      "--cert", crt, "--key", key, "--token-file", tok, "--portfile", portfile,
                      "--log", log, "--reply", reply, (char *)NULL);
                _exit(127);
        }
        srv_pid = pid;
        for (int i = 0; i < 400; i++) {
                _cleanup_free_ char *buf = NULL;
                if (skiff_fs_read_file(portfile, 64, &buf, NULL, NULL) >= 0 && *buf) {
                        srv_port = (unsigned)atoi(buf);
                        cr_assert_gt(srv_port, 0);
                        return;
                }
                if (waitpid(pid, NULL, WNOHANG) == pid) {
                        srv_pid = -1;
                        _cleanup_free_ char *e = read_tmp("server.err");
                        cr_assert_fail("the test API server exited:\n%s", e);
                }
                usleep(25 * 1000);
        }
        cr_assert_fail("the test API server did not write its port within 10 s");
}

/* What the next request is answered (after the server's own checks pass). */
static void server_reply(int status, const char *body, bool echo_auth)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_i64(g, "status", status);
        if (body)
                skiff_json_gen_kv_string(g, "body", body);
        skiff_json_gen_kv_bool(g, "echo_auth", echo_auth);
        skiff_json_gen_map_close(g);
        _cleanup_free_ char *doc = NULL;
        cr_assert_eq(skiff_json_gen_finish(g, &doc, NULL, NULL), 0);
        write_file("reply.json", doc);
}

/* The server's log: parsed lines, split into requests, connections and TLS handshake failures. */
struct srvlog {
        struct skiff_json *docs[32];
        size_t n_docs;
        skiff_jv *req[32];
        size_t n_req;
        size_t n_conn;
        size_t n_tls;
};

static void srvlog_read(struct srvlog *l)
{
        *l = (struct srvlog){0};
        _cleanup_free_ char *buf = read_tmp("requests.log");
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                cr_assert_lt(l->n_docs, SKIFF_ARRAY_SIZE(l->docs));
                struct skiff_json *d = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_json_parse(line, strlen(line), &d, &err), 0, "%s",
                             skiff_error_msg(err));
                l->docs[l->n_docs++] = d;
                skiff_jv *root = skiff_json_root(d);
                const char *ev = skiff_json_str(skiff_json_get(root, "event"));
                if (ev && strcmp(ev, "connection") == 0)
                        l->n_conn++;
                else if (ev)
                        l->n_tls++;
                else
                        l->req[l->n_req++] = root;
        }
}

static void srvlog_free(struct srvlog *l)
{
        for (size_t i = 0; i < l->n_docs; i++)
                skiff_json_free(l->docs[i]);
        *l = (struct srvlog){0};
}
#define _cleanup_srvlog_ _cleanup_(srvlog_free)

static size_t requests_seen(void)
{
        _cleanup_srvlog_ struct srvlog l;
        srvlog_read(&l);
        return l.n_req;
}

static const char *str_member(skiff_jv *v, const char *key)
{
        const char *s = skiff_json_str(skiff_json_get(v, key));
        cr_assert_not_null(s, "request log entry without `%s`", key);
        return s;
}

/* The value of the one header called name (case-insensitive); fails on none or several. */
static const char *header(skiff_jv *req, const char *name)
{
        skiff_jv *hs = skiff_json_get(req, "headers");
        const char *found = NULL;
        size_t n = 0;
        for (size_t i = 0; i < skiff_json_len(hs); i++) {
                skiff_jv *pair = skiff_json_at(hs, i);
                if (strcasecmp(skiff_json_str(skiff_json_at(pair, 0)), name) == 0) {
                        found = skiff_json_str(skiff_json_at(pair, 1));
                        n++;
                }
        }
        cr_assert_eq(n, 1, "header %s sent %zu times", name, n);
        return found;
}

static struct skiff_kube_target target(const char *host, const char *token_file)
{
        static char *tf, *ca;
        free(tf);
        free(ca);
        tf = in_tmp(token_file);
        ca = in_tmp("ca.crt");
        return (struct skiff_kube_target){
            .host = host, .port = srv_port, .token_file = tf, .ca_file = ca};
}

struct call {
        int r;
        char *msg;
};

static struct call label_at(const struct skiff_kube_target *t, const char *node, const char *value)
{
        skiff_err_t err = NULL;
        struct call c = {.r = skiff_kube_label_node_at(t, node, LABEL, value, &err)};
        c.msg = xstrdup(skiff_error_msg(err));
        cr_assert_eq(c.r < 0, err != NULL, "r=%d but err is %s", c.r, err ? "set" : "NULL");
        skiff_error_free(&err);
        return c;
}

static struct call label(const char *node, const char *value)
{
        struct skiff_kube_target t = target("127.0.0.1", "token");
        return label_at(&t, node, value);
}

/* Not the token, nor its first 8 characters (a token cut short by a length limit). */
static void assert_no_token(const char *msg)
{
        char head[9];
        memcpy(head, token, 8);
        head[8] = '\0';
        cr_assert_null(strstr(msg, head), "the token leaked into the message: %s", msg);
}

/* The one request the server saw: a PATCH of node with the right headers; returns the parsed
 * body's labels object through *doc. */
static skiff_jv *the_patch(const char *node, struct skiff_json **doc)
{
        _cleanup_srvlog_ struct srvlog l;
        srvlog_read(&l);
        cr_assert_eq(l.n_req, 1, "the server saw %zu requests", l.n_req);
        cr_assert_eq(l.n_tls, 0);
        skiff_jv *req = l.req[0];
        cr_assert_str_eq(str_member(req, "method"), "PATCH");
        _cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s", node);
        cr_assert_str_eq(str_member(req, "path"), path);
        cr_assert_str_eq(header(req, "Content-Type"), "application/strategic-merge-patch+json");
        _cleanup_free_ char *bearer = xasprintf("Bearer %s", token);
        cr_assert_str_eq(header(req, "Authorization"), bearer);
        const char *body = str_member(req, "body");
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_json_parse(body, strlen(body), doc, &err), 0, "body %s: %s", body,
                     skiff_error_msg(err));
        skiff_jv *root = skiff_json_root(*doc);
        cr_assert_eq(skiff_json_type(root), SKIFF_JSON_OBJECT);
        cr_assert_eq(skiff_json_len(root), 1, "body %s", body);
        skiff_jv *meta = skiff_json_get(root, "metadata");
        cr_assert_eq(skiff_json_type(meta), SKIFF_JSON_OBJECT, "body %s", body);
        cr_assert_eq(skiff_json_len(meta), 1, "body %s", body);
        skiff_jv *labels = skiff_json_get(meta, "labels");
        cr_assert_eq(skiff_json_type(labels), SKIFF_JSON_OBJECT, "body %s", body);
        cr_assert_eq(skiff_json_len(labels), 1, "body %s", body);
        cr_assert_str_eq(skiff_json_key_at(labels, 0), LABEL);
        return labels;
}

Test(kube, set_label_is_a_strategic_merge_patch_with_the_bearer_token)
{
        server_start("127.0.0.1", "server");
        struct call c = label("worker-1", "true");
        cr_assert_eq(c.r, 0, "%s", c.msg);
        _cleanup_json_ struct skiff_json *doc = NULL;
        skiff_jv *labels = the_patch("worker-1", &doc);
        cr_assert_str_eq(skiff_json_str(skiff_json_get(labels, LABEL)), "true");
        free(c.msg);
}

Test(kube, remove_label_sends_null)
{
        server_start("127.0.0.1", "server");
        struct call c = label("worker-1", NULL);
        cr_assert_eq(c.r, 0, "%s", c.msg);
        _cleanup_json_ struct skiff_json *doc = NULL;
        skiff_jv *labels = the_patch("worker-1", &doc);
        cr_assert_eq(skiff_json_type(skiff_json_get(labels, LABEL)), SKIFF_JSON_NULL);
        free(c.msg);
}

Test(kube, valid_node_names_are_sent_verbatim)
{
        server_start("127.0.0.1", "server");
        char longest[254];
        memset(longest, 'a', 253);
        longest[253] = '\0';
        const char *names[] = {"ip-10-0-0-1.eu-west-1.compute.internal", "0", "n1", longest};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *log = in_tmp("requests.log");
                unlink(log);
                struct call c = label(names[i], "true");
                cr_assert_eq(c.r, 0, "%s: %s", names[i], c.msg);
                _cleanup_json_ struct skiff_json *doc = NULL;
                the_patch(names[i], &doc);
                free(c.msg);
        }
}

Test(kube, odd_node_names_are_refused_before_anything_is_sent)
{
        server_start("127.0.0.1", "server");
        char too_long[255];
        memset(too_long, 'a', 254);
        too_long[254] = '\0';
        const char *names[] = {"",          "Worker", "a/b",  "../../api/v1/secrets",
                               "a b",       "a?b",    "a#b",  "a%2fb",
                               "a_b",       "-a",     "a-",   ".a",
                               "a.",        "a..b",   "a.-b", "a\nb",
                               "a\xc3\xa9", too_long};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++) {
                struct call c = label(names[i], "true");
                cr_assert_eq(c.r, -EINVAL, "`%s`: r=%d %s", names[i], c.r, c.msg);
                cr_assert(strstr(c.msg, "node name"), "%s", c.msg);
                cr_assert_null(strchr(c.msg, '\n'), "%s", c.msg);
                free(c.msg);
        }
        cr_assert_eq(requests_seen(), 0);
}

/* why: expected in the message; server_side: whether the server's handshake fails too (a bad
 * chain is refused inside the handshake, a name mismatch only after it). */
static void assert_tls_refused(const char *cert, const char *why, bool server_side)
{
        server_start("127.0.0.1", cert);
        struct call c = label("worker-1", "true");
        cr_assert_eq(c.r, -EIO, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, why), "expected `%s` in: %s", why, c.msg);
        assert_no_token(c.msg);
        /* The client did reach the server and sent no request. */
        _cleanup_srvlog_ struct srvlog l = {0};
        for (int i = 0; i < 200; i++) {
                srvlog_free(&l);
                srvlog_read(&l);
                if (l.n_conn > 0 && (l.n_tls > 0 || !server_side))
                        break;
                usleep(25 * 1000);
        }
        cr_assert_geq(l.n_conn, 1, "the server saw no connection");
        if (server_side)
                cr_assert_geq(l.n_tls, 1, "the server saw no failed TLS handshake");
        cr_assert_eq(l.n_req, 0, "a request was sent over an untrusted connection");
        free(c.msg);
}

Test(kube, server_certificate_from_another_ca_is_refused)
{
        assert_tls_refused("stranger", "certificate", true);
}

Test(kube, server_certificate_for_another_name_is_refused)
{
        assert_tls_refused("elsewhere", "127.0.0.1", false);
}

Test(kube, forbidden_is_eacces_mentioning_rbac)
{
        server_start("127.0.0.1", "server");
        server_reply(403,
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                     "\"message\":\"nodes \\\"worker-1\\\" is forbidden: User "
                     "\\\"system:serviceaccount:skiff:skiff\\\" cannot patch resource "
                     "\\\"nodes\\\"\",\"reason\":\"Forbidden\",\"code\":403}",
                     false);
        struct call c = label("worker-1", "true");
        cr_assert_eq(c.r, -EACCES, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, "403"), "%s", c.msg);
        cr_assert(strstr(c.msg, "RBAC"), "%s", c.msg);
        cr_assert(strstr(c.msg, "is forbidden"), "%s", c.msg);
        assert_no_token(c.msg);
        cr_assert_eq(requests_seen(), 1);
        free(c.msg);
}

Test(kube, rejected_token_is_eacces)
{
        server_start("127.0.0.1", "server");
        char other[33];
        random_hex(other, 32);
        write_file("other-token", other);
        struct skiff_kube_target t = target("127.0.0.1", "other-token");
        struct call c = label_at(&t, "worker-1", "true");
        cr_assert_eq(c.r, -EACCES, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, "401"), "%s", c.msg);
        cr_assert(strstr(c.msg, "token"), "%s", c.msg);
        cr_assert_null(strstr(c.msg, other), "%s", c.msg);
        cr_assert_eq(requests_seen(), 1);
        free(c.msg);
}

Test(kube, server_error_is_eio_naming_status_and_reply_start)
{
        server_start("127.0.0.1", "server");
        struct skiff_strbuf big = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&big, "etcdserver: request timed out\r\n");
        for (int i = 0; i < 1000; i++)
                skiff_strbuf_puts(&big, "0123456789");
        server_reply(500, big.buf, false);
        skiff_strbuf_free(&big);
        struct call c = label("worker-1", "true");
        cr_assert_eq(c.r, -EIO, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, "HTTP 500"), "%s", c.msg);
        cr_assert(strstr(c.msg, "etcdserver: request timed out"), "%s", c.msg);
        cr_assert_null(strpbrk(c.msg, "\r\n"), "control characters kept: %s", c.msg);
        cr_assert_lt(strlen(c.msg), 400, "the whole reply was quoted: %zu bytes", strlen(c.msg));
        assert_no_token(c.msg);
        free(c.msg);
}

Test(kube, token_echoed_by_the_server_is_masked)
{
        server_start("127.0.0.1", "server");
        /* The echo lands at the start, straddling the quoted length, and past it. */
        size_t pads[] = {0, 160, 185, 400};
        int codes[] = {500, 403, 401, 404};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(pads); i++) {
                char pad[512];
                memset(pad, 'x', pads[i]);
                pad[pads[i]] = '\0';
                server_reply(codes[i], pad, true);
                struct call c = label("worker-1", "true");
                cr_assert_lt(c.r, 0);
                assert_no_token(c.msg);
                if (pads[i] == 0)
                        cr_assert(strstr(c.msg, "Authorization: Bearer ***"), "%s", c.msg);
                free(c.msg);
        }
}

Test(kube, missing_token_file_is_named)
{
        server_start("127.0.0.1", "server");
        struct skiff_kube_target t = target("127.0.0.1", "no-such-token");
        struct call c = label_at(&t, "worker-1", "true");
        cr_assert_eq(c.r, -ENOENT, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, t.token_file), "%s", c.msg);
        cr_assert(strstr(c.msg, "token"), "%s", c.msg);
        cr_assert_eq(requests_seen(), 0);
        free(c.msg);
}

Test(kube, missing_or_unreadable_ca_is_refused)
{
        server_start("127.0.0.1", "server");
        struct skiff_kube_target t = target("127.0.0.1", "token");
        t.ca_file = NULL;
        struct call c = label_at(&t, "worker-1", "true");
        cr_assert_eq(c.r, -EINVAL, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, "CA"), "%s", c.msg);
        free(c.msg);
        _cleanup_free_ char *absent = in_tmp("no-such-ca.crt");
        t.ca_file = absent;
        c = label_at(&t, "worker-1", "true");
        cr_assert_eq(c.r, -EIO, "r=%d %s", c.r, c.msg);
        cr_assert(strstr(c.msg, absent), "%s", c.msg);
        free(c.msg);
        cr_assert_eq(requests_seen(), 0);
}

Test(kube, empty_or_malformed_token_is_refused)
{
        server_start("127.0.0.1", "server");
        const char *bad[] = {"", " \n\t\n", "abc def\n", "abc\r\nX-Injected: 1\n", "tok\x01"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad); i++) {
                write_file("bad-token", bad[i]);
                struct skiff_kube_target t = target("127.0.0.1", "bad-token");
                struct call c = label_at(&t, "worker-1", "true");
                cr_assert_eq(c.r, -EINVAL, "token %zu: r=%d %s", i, c.r, c.msg);
                cr_assert(strstr(c.msg, t.token_file), "%s", c.msg);
                cr_assert_null(strstr(c.msg, "abc"), "%s", c.msg);
                free(c.msg);
        }
        cr_assert_eq(requests_seen(), 0);
}

Test(kube, ipv6_host_is_bracketed_on_the_wire)
{
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
                close(fd);
        if (!ok)
                cr_skip_test("no IPv6 loopback");
        server_start("::1", "server");
        struct skiff_kube_target t = target("::1", "token");
        struct call c = label_at(&t, "worker-1", "true");
        cr_assert_eq(c.r, 0, "%s", c.msg);
        _cleanup_json_ struct skiff_json *doc = NULL;
        the_patch("worker-1", &doc);
        free(c.msg);
}

/* No server needed: these run without python3 or openssl. */
TestSuite(kube_target, .timeout = 10);

Test(kube_target, node_url_brackets_ipv6_and_refuses_odd_hosts)
{
        struct {
                const char *host;
                unsigned port;
                const char *url;
        } ok[] = {
            {"fd00::1", 6443, "https://[fd00::1]:6443/api/v1/nodes/n1"},
            {"2001:db8::10", 0, "https://[2001:db8::10]:443/api/v1/nodes/n1"},
            {"10.96.0.1", 443, "https://10.96.0.1:443/api/v1/nodes/n1"},
            {"kubernetes.default.svc", 8443, "https://kubernetes.default.svc:8443/api/v1/nodes/n1"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(ok); i++) {
                struct skiff_kube_target t = {.host = ok[i].host, .port = ok[i].port};
                _cleanup_free_ char *url = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_kube_node_url(&t, "n1", &url, &err), 0, "%s",
                             skiff_error_msg(err));
                cr_assert_str_eq(url, ok[i].url);
        }
        const char *bad[] = {"",    "[fd00::1]", "10.96.0.1:443", "evil.example/x?",
                             "a b", "user@host", "fd00::1%eth0",  "fd00:::1::2"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad); i++) {
                struct skiff_kube_target t = {.host = bad[i], .port = 443};
                char *url = NULL;
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_kube_node_url(&t, "n1", &url, &err), -EINVAL, "`%s`", bad[i]);
                cr_assert_null(url);
                cr_assert(strstr(skiff_error_msg(err), "host"), "%s", skiff_error_msg(err));
        }
        struct skiff_kube_target t = {.host = "10.0.0.1", .port = 65536};
        char *url = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_kube_node_url(&t, "n1", &url, &err), -EINVAL);
}

Test(kube_target, in_cluster_target_reads_the_documented_sources)
{
        setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
        struct skiff_kube_target t = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_kube_target_in_cluster(&t, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(t.host, "fd00::1");
        cr_assert_eq(t.port, 6443);
        cr_assert_str_eq(t.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
        cr_assert_str_eq(t.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
        _cleanup_free_ char *url = NULL;
        cr_assert_eq(skiff_kube_node_url(&t, "worker-1", &url, NULL), 0);
        cr_assert_str_eq(url, "https://[fd00::1]:6443/api/v1/nodes/worker-1");

        unsetenv("KUBERNETES_SERVICE_PORT");
        cr_assert_eq(skiff_kube_target_in_cluster(&t, NULL), 0);
        cr_assert_eq(t.port, 443);
        setenv("KUBERNETES_SERVICE_PORT", "", 1);
        cr_assert_eq(skiff_kube_target_in_cluster(&t, NULL), 0);
        cr_assert_eq(t.port, 443);

        const char *bad_ports[] = {"https", "0", "65536", "-1", "+443", " 443", "443x"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad_ports); i++) {
                setenv("KUBERNETES_SERVICE_PORT", bad_ports[i], 1);
                _cleanup_error_ skiff_err_t e = NULL;
                cr_assert_eq(skiff_kube_target_in_cluster(&t, &e), -EINVAL, "`%s`", bad_ports[i]);
                cr_assert(strstr(skiff_error_msg(e), "KUBERNETES_SERVICE_PORT"));
        }

        unsetenv("KUBERNETES_SERVICE_HOST");
        cr_assert_eq(skiff_kube_target_in_cluster(&t, NULL), -ENOENT);
        cr_assert_not(skiff_kube_in_cluster());
        _cleanup_error_ skiff_err_t e = NULL;
        cr_assert_eq(skiff_kube_label_node("worker-1", LABEL, "true", &e), -ENOENT);
        cr_assert(strstr(skiff_error_msg(e), "not running in a Kubernetes cluster"));
}
