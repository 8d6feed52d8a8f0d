#include "store/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/config.h"

SKIFF_DEFINE_CLEANUP(CURLU *, curl_url_cleanup)

struct skiff_fetch {
        const struct skiff_config *cfg; /* borrowed */
        CURL *curl;
};

struct transfer {
        skiff_fetch_data_cb cb;
        void *userdata;
        uint64_t max;
        uint64_t got;
        int cb_error; /* negative errno from the callback */
        skiff_err_t *err;
        bool too_big;
};

int skiff_fetch_global_init(skiff_err_t *err)
{
        CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (c != CURLE_OK)
                return skiff_error_set(err, EIO, "initialise libcurl: %s", curl_easy_strerror(c));
        return 0;
}

int skiff_fetch_new(const struct skiff_config *cfg, struct skiff_fetch **ret, skiff_err_t *err)
{
        CURL *c = curl_easy_init();
        if (!c)
                return skiff_error_set(err, ENOMEM, "create a libcurl handle");
        struct skiff_fetch *f = xcalloc(1, sizeof(*f));
        f->cfg = cfg;
        f->curl = c;
        *ret = f;
        return 0;
}

struct skiff_fetch *skiff_fetch_free(struct skiff_fetch *f)
{
        if (!f)
                return NULL;
        curl_easy_cleanup(f->curl);
        free(f);
        return NULL;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct transfer *t = userdata;
        size_t n = size * nmemb;
        if (t->got + n > t->max) {
                t->too_big = true;
                return 0;
        }
        t->got += n;
        int r = t->cb(ptr, n, t->userdata, t->err);
        if (r < 0) {
                t->cb_error = r;
                return 0;
        }
        return n;
}

/* Host of url (heap) or NULL for file:// and unparsable URLs. */
static char *host_of(const char *url)
{
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                return NULL;
        char *h = NULL;
        if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
                return NULL;
        char *out = xstrdup(h);
        curl_free(h);
        return out;
}

static void setup(struct skiff_fetch *f, const char *url, struct transfer *t, char *errbuf)
{
        CURL *c = f->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "skiff/" SKIFF_VERSION);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)f->cfg->connect_timeout);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)f->cfg->low_speed_timeout);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
        _cleanup_free_ char *host = host_of(url);
        const struct skiff_config_cred *cr = host ? skiff_config_cred_for(f->cfg, host) : NULL;
        if (cr && cr->bearer_token) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
                curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, cr->bearer_token);
        } else if (cr) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERNAME, cr->username);
                curl_easy_setopt(c, CURLOPT_PASSWORD, cr->password);
        }
}

static bool retryable_curl(CURLcode c)
{
        switch (c) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
                return true;
        default:
                return false;
        }
}

static void backoff(unsigned attempt)
{
        long ms = 100L << (attempt < 6 ? attempt : 6);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int skiff_fetch_stream(struct skiff_fetch *f, const char *url, uint64_t max_size,
                       skiff_fetch_data_cb cb, skiff_fetch_reset_cb reset, void *userdata,
                       skiff_err_t *err)
{
        unsigned retries = f->cfg->retries;
        for (unsigned attempt = 0;; attempt++) {
                if (attempt > 0) {
                        backoff(attempt - 1);
                        if (reset) {
                                int r = reset(userdata, err);
                                if (r < 0)
                                        return r;
                        }
                }
                char errbuf[CURL_ERROR_SIZE] = "";
                struct transfer t = {.cb = cb, .userdata = userdata, .max = max_size, .err = err};
                setup(f, url, &t, errbuf);
                CURLcode c = curl_easy_perform(f->curl);
                long status = 0;
                curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
                bool is_http = strncmp(url, "http", 4) == 0;
                if (t.cb_error < 0)
                        return t.cb_error;
                if (t.too_big)
                        return skiff_error_set(err, EFBIG, "download `%s`: larger than %llu bytes",
                                               url, (unsigned long long)max_size);
                if (c == CURLE_OK && (!is_http || (status >= 200 && status < 300)))
                        return 0;
                if (c == CURLE_FILE_COULDNT_READ_FILE ||
                    (c == CURLE_OK && (status == 404 || status == 410)))
                        return skiff_error_set(err, ENOENT, "download `%s`: not found", url);
                bool again = c != CURLE_OK ? retryable_curl(c)
                                           : (status >= 500 || status == 429 || status == 408);
                if (!again || attempt >= retries) {
                        if (c != CURLE_OK)
                                return skiff_error_set(err, EIO, "download `%s`: %s%s%s", url,
                                                       curl_easy_strerror(c), *errbuf ? ": " : "",
                                                       errbuf);
                        return skiff_error_set(err, status == 401 || status == 403 ? EACCES : EIO,
                                               "download `%s`: HTTP status %ld", url, status);
                }
        }
}

static int buf_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        skiff_strbuf_append(userdata, data, len);
        return 0;
}

static int buf_reset(void *userdata, skiff_err_t *err)
{
        skiff_strbuf_reset(userdata);
        return 0;
}

int skiff_fetch_buf(struct skiff_fetch *f, const char *url, size_t max_size, char **ret,
                    size_t *ret_len, skiff_err_t *err)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        int r = skiff_fetch_stream(f, url, max_size, buf_cb, buf_reset, &sb, err);
        if (r < 0)
                return r;
        if (ret_len)
                *ret_len = sb.len;
        *ret = skiff_strbuf_take(&sb);
        return 0;
}
