/* Node labels through the Kubernetes API (strategic-merge PATCH). */
#include "cli/kube.h"

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
SKIFF_DEFINE_CLEANUP(char *, curl_free)

bool skiff_kube_in_cluster(void)
{
        return secure_getenv("KUBERNETES_SERVICE_HOST") &&
               access(SKIFF_KUBE_SA_DIR "/token", R_OK) == 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        struct skiff_strbuf *sb = userdata;
        if (sb->len < 4096)
                skiff_strbuf_append(sb, data, size * n);
        return size * n;
}

int skiff_kube_label_node(const char *node, const char *key, const char *value, skiff_err_t *err)
{
        const char *hostname = secure_getenv("KUBERNETES_SERVICE_HOST");
        const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
        if (!hostname || !skiff_kube_in_cluster())
                return skiff_error_set(err, ENOENT, "not running in a Kubernetes cluster");
        _cleanup_free_ char *token = NULL;
        int r = skiff_fs_read_file(SKIFF_KUBE_SA_DIR "/token", 64 * 1024, &token, NULL, err);
        if (r < 0)
                return r;
        token[strcspn(token, "\r\n")] = '\0';
        _cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
        if (!c)
                return skiff_error_set(err, ENOMEM, "create a curl handle");
        _cleanup_(curl_freep) char *enode = curl_easy_escape(c, node, 0);
        _cleanup_free_ char *url =
            xasprintf(strchr(hostname, ':') ? "https://[%s]:%s/api/v1/nodes/%s"
                                            : "https://%s:%s/api/v1/nodes/%s",
                      hostname, port && *port ? port : "443", enode);
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", token);
        _cleanup_(curl_slist_free_allp) struct curl_slist *h = NULL;
        h = curl_slist_append(h, "Content-Type: application/strategic-merge-patch+json");
        h = curl_slist_append(h, "Accept: application/json");
        h = curl_slist_append(h, auth);
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
        _cleanup_free_ char *body = NULL;
        r = skiff_json_gen_finish(g, &body, NULL, err);
        if (r < 0)
                return r;
        _cleanup_strbuf_ struct skiff_strbuf reply = SKIFF_STRBUF_INIT;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_CAINFO, SKIFF_KUBE_SA_DIR "/ca.crt");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        if (cc != CURLE_OK)
                return skiff_error_set(err, EIO, "PATCH node `%s`: %s", node,
                                       curl_easy_strerror(cc));
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200)
                return 0;
        return skiff_error_set(err, code == 401 || code == 403 ? EACCES : EIO,
                               "PATCH node `%s`: HTTP %ld: %.200s", node, code,
                               reply.buf ? reply.buf : "");
}
