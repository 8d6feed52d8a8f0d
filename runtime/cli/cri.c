/* CRI Status over gRPC: a hand-built request (field 1 `verbose` = true) and a decoder for the one
 * field of the reply that is needed (map<string,string> info = 2). */
#include "cli/cri.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

SKIFF_DEFINE_CLEANUP(CURL *, curl_easy_cleanup)
SKIFF_DEFINE_CLEANUP(struct curl_slist *, curl_slist_free_all)

struct reply {
        struct skiff_strbuf body;
        bool too_big;
        int grpc_status; /* -1: no trailer seen */
        char grpc_message[256];
};

static void reply_done(struct reply *r)
{
        skiff_strbuf_free(&r->body);
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        struct reply *r = userdata;
        if (r->body.len + size * n > SKIFF_CRI_RESPONSE_MAX) {
                r->too_big = true;
                return 0;
        }
        skiff_strbuf_append(&r->body, data, size * n);
        return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
        struct reply *r = userdata;
        size_t len = size * n;
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                len--;
        if (len > 12 && strncasecmp(data, "grpc-status:", 12) == 0) {
                int v = 0;
                for (size_t i = 12; i < len; i++)
                        if (data[i] >= '0' && data[i] <= '9' && v < 1000)
                                v = v * 10 + (data[i] - '0');
                r->grpc_status = v;
        } else if (len > 13 && strncasecmp(data, "grpc-message:", 13) == 0) {
                size_t m =
                    len - 13 < sizeof(r->grpc_message) - 1 ? len - 13 : sizeof(r->grpc_message) - 1;
                memcpy(r->grpc_message, data + 13, m);
                r->grpc_message[m] = '\0';
        }
        return size * n;
}

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
        *v = 0;
        for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
                uint8_t b = *(*p)++;
                *v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return true;
        }
        return false;
}

/* Walks one message; for each length-delimited field calls back. Skips other wire types. */
static bool fields(const uint8_t *p, const uint8_t *end,
                   bool (*cb)(uint64_t field, const uint8_t *v, size_t n, void *ud), void *ud)
{
        while (p < end) {
                uint64_t key, v;
                if (!varint(&p, end, &key))
                        return false;
                switch (key & 7) {
                case 0:
                        if (!varint(&p, end, &v))
                                return false;
                        break;
                case 1:
                        if (end - p < 8)
                                return false;
                        p += 8;
                        break;
                case 5:
                        if (end - p < 4)
                                return false;
                        p += 4;
                        break;
                case 2:
                        if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
                                return false;
                        if (cb && !cb(key >> 3, p, (size_t)v, ud))
                                return false;
                        p += v;
                        break;
                default:
                        return false;
                }
        }
        return true;
}

struct entry {
        const uint8_t *key, *val;
        size_t key_len, val_len;
};

static bool on_entry_field(uint64_t field, const uint8_t *v, size_t n, void *ud)
{
        struct entry *e = ud;
        if (field == 1) {
                e->key = v;
                e->key_len = n;
        } else if (field == 2) {
                e->val = v;
                e->val_len = n;
        }
        return true;
}

struct find {
        char *config;
};

static bool on_status_field(uint64_t field, const uint8_t *v, size_t n, void *ud)
{
        struct find *f = ud;
        if (field != 2)
                return true;
        struct entry e = {0};
        if (!fields(v, v + n, on_entry_field, &e))
                return false;
        if (e.key_len == 6 && memcmp(e.key, "config", 6) == 0 && e.val) {
                free(f->config);
                f->config = xstrndup((const char *)e.val, e.val_len);
        }
        return true;
}

int skiff_cri_status_config(const char *socket_path, long timeout_ms, char **ret, skiff_err_t *err)
{
        static const char req[] = {0, 0, 0, 0, 2, 0x08, 0x01}; /* StatusRequest{verbose: true} */
        _cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
        _cleanup_(curl_slist_free_allp) struct curl_slist *h = NULL;
        if (!c)
                return skiff_error_set(err, ENOMEM, "create a curl handle");
        h = curl_slist_append(h, "Content-Type: application/grpc");
        h = curl_slist_append(h, "TE: trailers");
        _cleanup_(reply_done) struct reply r = {SKIFF_STRBUF_INIT, false, -1, ""};
        curl_easy_setopt(c, CURLOPT_URL, "http://localhost/runtime.v1.RuntimeService/Status");
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(req));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_COULDNT_CONNECT)
                return skiff_error_set(err, ECONNREFUSED, "CRI socket `%s` does not answer",
                                       socket_path);
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return skiff_error_set(err, ETIMEDOUT, "CRI socket `%s`: no reply", socket_path);
        if (cc != CURLE_OK)
                return skiff_error_set(err, r.too_big ? EFBIG : EPROTO, "CRI status on `%s`: %s",
                                       socket_path, curl_easy_strerror(cc));
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200 || r.grpc_status != 0)
                return skiff_error_set(err, EPROTO,
                                       "CRI status on `%s`: HTTP %ld, grpc-status %d %s",
                                       socket_path, code, r.grpc_status, r.grpc_message);
        const uint8_t *p = (const uint8_t *)r.body.buf;
        if (r.body.len < 5 || p[0] != 0)
                return skiff_error_set(err, EPROTO, "CRI status on `%s`: malformed gRPC frame",
                                       socket_path);
        size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        if (n > r.body.len - 5)
                return skiff_error_set(err, EPROTO, "CRI status on `%s`: truncated gRPC frame",
                                       socket_path);
        struct find f = {NULL};
        if (!fields(p + 5, p + 5 + n, on_status_field, &f)) {
                free(f.config);
                return skiff_error_set(err, EPROTO, "CRI status on `%s`: malformed protobuf",
                                       socket_path);
        }
        if (!f.config)
                return skiff_error_set(err, EPROTO,
                                       "CRI status on `%s`: no `config` in the verbose info",
                                       socket_path);
        *ret = f.config;
        return 0;
}

int skiff_cri_config_has_handler(const char *config, const char *handler, skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(config, strlen(config), &doc, err);
        if (r < 0)
                return skiff_error_wrap(err, "CRI config");
        skiff_jv *v = skiff_json_root(doc);
        /* containerd 1.x: {"containerd": {"runtimes": {...}}}; 2.x nests it the same way in the
         * runtime plugin's config. */
        skiff_jv *ctrd = skiff_json_get(v, "containerd");
        skiff_jv *rts = skiff_json_get(ctrd, "runtimes");
        if (!rts)
                rts = skiff_json_get(skiff_json_get(skiff_json_get(v, "config"), "containerd"),
                                     "runtimes");
        return skiff_json_get(rts, handler) != NULL ? 1 : 0;
}
