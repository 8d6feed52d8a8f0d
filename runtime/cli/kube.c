/* Node labels through the Kubernetes API (strategic-merge PATCH). */
#include "cli/kube.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

SKIFF_DEFINE_CLEANUP(CURL *, curl_easy_cleanup)
SKIFF_DEFINE_CLEANUP(struct curl_slist *, curl_slist_free_all)

#define REPLY_SHOWN 200 /* bytes of an error reply quoted in the message */

bool skiff_kube_in_cluster(void)
{
        const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
        return host && *host && access(SKIFF_KUBE_SA_DIR "/token", R_OK) == 0;
}

int skiff_kube_target_in_cluster(struct skiff_kube_target *t, skiff_err_t *err)
{
        const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
        const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
        if (!host || !*host)
                return skiff_error_set(err, ENOENT,
                                       "not running in a Kubernetes cluster "
                                       "($KUBERNETES_SERVICE_HOST is not set)");
        unsigned long p = 443;
        if (port && *port) {
                char *end = NULL;
                errno = 0;
                p = strtoul(port, &end, 10);
                if (errno || *end || port[0] < '0' || port[0] > '9' || p == 0 || p > 65535)
                        return skiff_error_set(err, EINVAL,
                                               "$KUBERNETES_SERVICE_PORT `%s` is not a port number",
                                               port);
        }
        *t = (struct skiff_kube_target){
            .host = host,
            .port = (unsigned)p,
            .token_file = SKIFF_KUBE_SA_DIR "/token",
            .ca_file = SKIFF_KUBE_SA_DIR "/ca.crt",
        };
        return 0;
}

/* At most max bytes of s fit for a message: control characters blanked and, when secret is set,
 * each occurrence of it masked (before cutting, so that no part of it shows). */
static char *printable(const char *s, const char *secret, size_t max)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        size_t slen = secret ? strlen(secret) : 0;
        for (const char *p = s; *p && sb.len < max;) {
                if (slen && strncmp(p, secret, slen) == 0) {
                        skiff_strbuf_puts(&sb, "***");
                        p += slen;
                        continue;
                }
                unsigned char c = (unsigned char)*p++;
                skiff_strbuf_putc(&sb, c < 0x20 || c == 0x7f ? ' ' : (char)c);
        }
        return sb.buf ? skiff_strbuf_take(&sb) : xstrdup("");
}

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123 subdomain, as Kubernetes validates object names such as nodes. */
static bool valid_node_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool label_edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
                if (is_lower_alnum(c))
                        continue;
                if ((c != '-' && c != '.') || label_edge)
                        return false;
        }
        return true;
}

static bool valid_host(const char *s)
{
        if (!*s || strlen(s) > 253)
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:",
                            *p))
                        return false;
        struct in6_addr a6;
        return !strchr(s, ':') || inet_pton(AF_INET6, s, &a6) == 1;
}

int skiff_kube_node_url(const struct skiff_kube_target *t, const char *node, char **out,
                        skiff_err_t *err)
{
        if (!t->host || !valid_host(t->host)) {
                _cleanup_free_ char *shown = printable(t->host ? t->host : "", NULL, 253);
                return skiff_error_set(
                    err, EINVAL, "Kubernetes API host `%s` is not a DNS name or an IP address",
                    shown);
        }
        if (t->port > 65535)
                return skiff_error_set(err, EINVAL, "Kubernetes API port %u is out of range",
                                       t->port);
        if (!valid_node_name(node)) {
                _cleanup_free_ char *shown = printable(node, NULL, 253);
                return skiff_error_set(err, EINVAL,
                                       "node name `%s` is not a valid Kubernetes node name (RFC "
                                       "1123 subdomain)",
                                       shown);
        }
        bool v6 = strchr(t->host, ':') != NULL;
        *out = xasprintf("https://%s%s%s:%u/api/v1/nodes/%s", v6 ? "[" : "", t->host, v6 ? "]" : "",
                         t->port ? t->port : 443, node);
        return 0;
}

/* Reads and checks the bearer token; never quotes it. */
static int read_token(const char *path, char **out, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(path, 64 * 1024, &buf, &len, err);
        if (r < 0)
                return skiff_error_wrap(err, "service account token");
        size_t start = 0;
        while (start < len && strchr(" \t\r\n", buf[start]))
                start++;
        while (len > start && strchr(" \t\r\n", buf[len - 1]))
                len--;
        if (len == start)
                return skiff_error_set(err, EINVAL, "service account token `%s` is empty", path);
        for (size_t i = start; i < len; i++)
                if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] > 0x7e)
                        return skiff_error_set(err, EINVAL,
                                               "service account token `%s` has a character not "
                                               "allowed in an HTTP header",
                                               path);
        *out = xstrndup(buf + start, len - start);
        return 0;
}

struct reply {
        struct skiff_strbuf sb;
        size_t max; /* bytes kept; the rest is read and dropped */
};

static void reply_freep(struct reply *rp)
{
        skiff_strbuf_free(&rp->sb);
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        struct reply *rp = userdata;
        size_t len = size * n;
        if (rp->sb.len < rp->max)
                skiff_strbuf_append(&rp->sb, data,
                                    len < rp->max - rp->sb.len ? len : rp->max - rp->sb.len);
        return len;
}

static char *patch_body(const char *key, const char *value, skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_string(g, "metadata");
        skiff_json_gen_map_open(g);
        skiff_json_gen_string(g, "labels");
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, key, value); /* NULL -> null: removes the label */
        skiff_json_gen_map_close(g);
        skiff_json_gen_map_close(g);
        skiff_json_gen_map_close(g);
        char *body = NULL;
        return skiff_json_gen_finish(g, &body, NULL, err) < 0 ? NULL : body;
}

int skiff_kube_label_node_at(const struct skiff_kube_target *t, const char *node, const char *key,
                             const char *value, skiff_err_t *err)
{
        /* Without a CA file curl would fall back to the system CAs. */
        if (!t->ca_file || !*t->ca_file || !t->token_file || !*t->token_file)
                return skiff_error_set(err, EINVAL, "Kubernetes API target without %s file",
                                       !t->ca_file || !*t->ca_file ? "a CA" : "a token");
        _cleanup_free_ char *url = NULL;
        int r = skiff_kube_node_url(t, node, &url, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *token = NULL;
        r = read_token(t->token_file, &token, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *body = patch_body(key, value, err);
        if (!body)
                return -EINVAL;
        _cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
        if (!c)
                return skiff_error_set(err, ENOMEM, "create a curl handle");
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", token);
        _cleanup_(curl_slist_free_allp) struct curl_slist *h = NULL;
        h = curl_slist_append(h, "Content-Type: application/strategic-merge-patch+json");
        h = curl_slist_append(h, "Accept: application/json");
        h = curl_slist_append(h, auth);
        if (!h)
                return skiff_error_set(err, ENOMEM, "build the request headers");
        /* Room for a whole echoed token past the shown start, so that it can be masked. */
        _cleanup_(reply_freep) struct reply reply = {SKIFF_STRBUF_INIT, 4096 + strlen(token)};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        /* Only the cluster's CA: no system bundle, no CA directory. */
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        if (cc != CURLE_OK) {
                _cleanup_free_ char *why =
                    printable(*errbuf ? errbuf : curl_easy_strerror(cc), token, 2 * REPLY_SHOWN);
                return skiff_error_set(err, EIO, "PATCH node `%s` at %s: %s", node, url, why);
        }
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200)
                return 0;
        _cleanup_free_ char *excerpt =
            printable(reply.sb.buf ? reply.sb.buf : "", token, REPLY_SHOWN);
        const char *hint = code == 401   ? " (the service account token was rejected)"
                           : code == 403 ? " (RBAC: the service account needs get and patch on "
                                           "nodes)"
                                         : "";
        return skiff_error_set(err, code == 401 || code == 403 ? EACCES : EIO,
                               "PATCH node `%s`: HTTP %ld%s: %s", node, code, hint, excerpt);
}

int skiff_kube_label_node(const char *node, const char *key, const char *value, skiff_err_t *err)
{
        if (!skiff_kube_in_cluster())
                return skiff_error_set(err, ENOENT,
                                       "not running in a Kubernetes cluster "
                                       "($KUBERNETES_SERVICE_HOST or `%s` missing)",
                                       SKIFF_KUBE_SA_DIR "/token");
        struct skiff_kube_target t;
        int r = skiff_kube_target_in_cluster(&t, err);
        if (r < 0)
                return r;
        return skiff_kube_label_node_at(&t, node, key, value, err);
}
