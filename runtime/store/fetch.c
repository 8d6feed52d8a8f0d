#include "store/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/bigbuf.h"
#include "base/hashpipe.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/config.h"

SKIFF_DEFINE_CLEANUP(CURLU *, curl_url_cleanup)

#define CHUNK_SIZE (256 * 1024)
#define QUEUE_MAX  4 /* full chunks queued per transfer before it is paused */

struct chunk {
        uint8_t *data;
        size_t len;
        size_t cap;
};

/* One attempt at one URL. Fields marked (io) belong to the I/O thread; the rest are guarded by
 * fetch->mu. */
struct xfer {
        struct skiff_fetch *f;
        struct xfer *next; /* in f->pending or f->active */
        CURL *easy;
        char errbuf[CURL_ERROR_SIZE];
        uint64_t max;
        uint64_t got;                /* (io) */
        bool hash;                   /* compute the body's SHA-256 */
        struct skiff_hashpipe fhash; /* (consumer) the body's SHA-256 */
        struct chunk fill;           /* (io) the chunk being filled */
        struct chunk q[QUEUE_MAX + 1];
        size_t qhead, qlen;
        struct chunk spare[QUEUE_MAX + 1]; /* emptied chunks, for reuse */
        size_t nspare;
        bool paused;  /* the write callback returned CURL_WRITEFUNC_PAUSE */
        bool resume;  /* the consumer made room: unpause */
        bool cancel;  /* the consumer gave up */
        bool done;    /* finished (or cancelled) and removed from the multi handle */
        bool too_big; /* (io) */
        CURLcode code;
        long status;
        uint8_t sha256[SKIFF_SHA256_LEN];
        pthread_cond_t cv; /* signalled when q grows or done is set */
};

struct skiff_fetch {
        const struct skiff_config *cfg; /* borrowed */
        CURLM *multi;
        pthread_mutex_t mu;
        pthread_cond_t idle;  /* signalled when the I/O thread exits */
        struct xfer *pending; /* submitted, not yet added to multi */
        struct xfer *active;  /* added to multi */
        bool running;         /* an I/O thread exists */
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
        CURLM *m = curl_multi_init();
        if (!m)
                return skiff_error_set(err, ENOMEM, "create a libcurl multi handle");
        struct skiff_fetch *f = xcalloc(1, sizeof(*f));
        f->cfg = cfg;
        f->multi = m;
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->idle, NULL);
        *ret = f;
        return 0;
}

struct skiff_fetch *skiff_fetch_free(struct skiff_fetch *f)
{
        if (!f)
                return NULL;
        pthread_mutex_lock(&f->mu);
        while (f->running)
                pthread_cond_wait(&f->idle, &f->mu);
        pthread_mutex_unlock(&f->mu);
        curl_multi_cleanup(f->multi);
        pthread_cond_destroy(&f->idle);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
}

/* ---- the I/O thread -------------------------------------------------------------------- */

static void chunk_get(struct xfer *x, size_t need)
{
        if (x->nspare > 0 && x->spare[x->nspare - 1].cap >= need) {
                x->fill = x->spare[--x->nspare];
        } else {
                size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
                x->fill = (struct chunk){.data = skiff_bigbuf_alloc(cap), .cap = cap};
        }
        x->fill.len = 0;
}

/* Called with f->mu held. */
static void queue_push(struct xfer *x)
{
        x->q[(x->qhead + x->qlen) % (QUEUE_MAX + 1)] = x->fill;
        x->qlen++;
        x->fill = (struct chunk){0};
        pthread_cond_signal(&x->cv);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        struct skiff_fetch *f = x->f;
        size_t n = size * nmemb;
        if (x->got + n > x->max || x->got + n < x->got) {
                x->too_big = true;
                return 0;
        }
        pthread_mutex_lock(&f->mu);
        if (x->cancel) {
                pthread_mutex_unlock(&f->mu);
                return 0;
        }
        if (x->qlen >= QUEUE_MAX) {
                x->paused = true;
                pthread_mutex_unlock(&f->mu);
                return CURL_WRITEFUNC_PAUSE; /* libcurl delivers these bytes again on unpause */
        }
        if (x->fill.data && x->fill.len + n > x->fill.cap)
                queue_push(x);
        if (!x->fill.data)
                chunk_get(x, n);
        pthread_mutex_unlock(&f->mu);
        memcpy(x->fill.data + x->fill.len, ptr, n);
        x->fill.len += n;
        x->got += n;
        return n; /* a full chunk is queued by the next call or by finish() */
}

static void list_remove(struct xfer **head, struct xfer *x)
{
        for (struct xfer **p = head; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        x->next = NULL;
                        return;
                }
}

/* Removes x from the multi handle and hands its outcome to the consumer. */
static void finish(struct skiff_fetch *f, struct xfer *x, CURLcode code)
{
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(f->multi, x->easy);
        pthread_mutex_lock(&f->mu);
        list_remove(&f->active, x);
        if (x->fill.data)
                queue_push(x);
        x->code = code;
        x->status = status;
        x->done = true;
        pthread_cond_signal(&x->cv);
        pthread_mutex_unlock(&f->mu);
}

static void *io_thread(void *arg)
{
        struct skiff_fetch *f = arg;
        pthread_mutex_lock(&f->mu);
        for (;;) {
                /* curl_multi_add_handle() calls none of our callbacks: safe under f->mu. */
                while (f->pending) {
                        struct xfer *x = f->pending;
                        f->pending = x->next;
                        x->next = f->active;
                        f->active = x;
                        CURLMcode mc = curl_multi_add_handle(f->multi, x->easy);
                        if (mc != CURLM_OK) {
                                snprintf(x->errbuf, sizeof(x->errbuf), "%s",
                                         curl_multi_strerror(mc));
                                x->cancel = true;
                        }
                }
                if (!f->active) {
                        f->running = false;
                        pthread_cond_broadcast(&f->idle);
                        pthread_mutex_unlock(&f->mu);
                        return NULL;
                }
                struct xfer *resume[64], *cancel[64];
                size_t nres = 0, ncan = 0;
                for (struct xfer *x = f->active; x; x = x->next) {
                        if (x->cancel && ncan < SKIFF_ARRAY_SIZE(cancel)) {
                                cancel[ncan++] = x;
                        } else if (x->resume && nres < SKIFF_ARRAY_SIZE(resume)) {
                                x->resume = x->paused = false;
                                resume[nres++] = x;
                        }
                }
                pthread_mutex_unlock(&f->mu);

                for (size_t i = 0; i < ncan; i++)
                        finish(f, cancel[i], CURLE_ABORTED_BY_CALLBACK);
                /* May call write_cb, which takes f->mu. */
                for (size_t i = 0; i < nres; i++)
                        curl_easy_pause(resume[i]->easy, CURLPAUSE_CONT);
                int running = 0;
                curl_multi_perform(f->multi, &running);
                CURLMsg *msg;
                int left = 0;
                while ((msg = curl_multi_info_read(f->multi, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        char *priv = NULL;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                        finish(f, (struct xfer *)(void *)priv, msg->data.result);
                }
                pthread_mutex_lock(&f->mu);
                if (!f->active && !f->pending)
                        continue; /* exits above without waiting in poll */
                pthread_mutex_unlock(&f->mu);
                curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
                pthread_mutex_lock(&f->mu);
        }
}

/* ---- transfers -------------------------------------------------------------------------- */

/* url with any user information removed (heap), for messages. */
static char *redact(const char *url)
{
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        char *s = NULL;
        if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
                char *out = xstrdup(s);
                curl_free(s);
                return out;
        }
        return xstrdup(strchr(url, '@') ? "<unparsable URL>" : url);
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

static void setup(struct skiff_fetch *f, const char *url, struct xfer *x)
{
        CURL *c = x->easy;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)x);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "skiff/" SKIFF_VERSION);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)f->cfg->connect_timeout);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)f->cfg->low_speed_timeout);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
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

static void xfer_free(struct xfer *x)
{
        if (!x)
                return;
        curl_easy_cleanup(x->easy);
        skiff_bigbuf_free(x->fill.data);
        for (size_t i = 0; i < x->qlen; i++)
                skiff_bigbuf_free(x->q[(x->qhead + i) % (QUEUE_MAX + 1)].data);
        for (size_t i = 0; i < x->nspare; i++)
                skiff_bigbuf_free(x->spare[i].data);
        skiff_hashpipe_abort(&x->fhash);
        pthread_cond_destroy(&x->cv);
        free(x);
}

static int submit(struct skiff_fetch *f, const char *url, uint64_t max, bool hash,
                  struct xfer **ret, skiff_err_t *err)
{
        struct xfer *x = xcalloc(1, sizeof(*x));
        x->f = f;
        x->max = max;
        pthread_cond_init(&x->cv, NULL);
        x->easy = curl_easy_init();
        if (!x->easy) {
                xfer_free(x);
                return skiff_error_set(err, ENOMEM, "create a libcurl handle");
        }
        setup(f, url, x);
        x->hash = hash;
        if (hash)
                skiff_hashpipe_init(&x->fhash);
        pthread_mutex_lock(&f->mu);
        x->next = f->pending;
        f->pending = x;
        if (!f->running) {
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                int e = pthread_create(&t, &a, io_thread, f);
                pthread_attr_destroy(&a);
                if (e != 0) {
                        f->pending = x->next;
                        pthread_mutex_unlock(&f->mu);
                        xfer_free(x);
                        return skiff_error_set_errno(err, e, "start the download thread");
                }
                f->running = true;
        }
        pthread_mutex_unlock(&f->mu);
        curl_multi_wakeup(f->multi);
        *ret = x;
        return 0;
}

/* Delivers x's body to cb until the transfer is done. On a callback error the transfer is
 * cancelled and waited for. */
static int consume(struct skiff_fetch *f, struct xfer *x, skiff_fetch_data_cb cb, void *userdata,
                   skiff_err_t *err)
{
        pthread_mutex_lock(&f->mu);
        for (;;) {
                while (x->qlen == 0 && !x->done)
                        pthread_cond_wait(&x->cv, &f->mu);
                if (x->qlen == 0)
                        break;
                struct chunk c = x->q[x->qhead];
                x->qhead = (x->qhead + 1) % (QUEUE_MAX + 1);
                x->qlen--;
                bool wake = false;
                if (x->paused && !x->resume && !x->done) {
                        x->resume = true;
                        wake = true;
                }
                pthread_mutex_unlock(&f->mu);
                if (wake)
                        curl_multi_wakeup(f->multi);
                if (x->hash)
                        skiff_hashpipe_update(&x->fhash, c.data, c.len);
                int r = cb(c.data, c.len, userdata, err);
                pthread_mutex_lock(&f->mu);
                if (x->nspare < SKIFF_ARRAY_SIZE(x->spare))
                        x->spare[x->nspare++] = c;
                else
                        skiff_bigbuf_free(c.data);
                if (r < 0) {
                        if (!x->done) {
                                x->cancel = true;
                                pthread_mutex_unlock(&f->mu);
                                curl_multi_wakeup(f->multi);
                                pthread_mutex_lock(&f->mu);
                                while (!x->done)
                                        pthread_cond_wait(&x->cv, &f->mu);
                        }
                        pthread_mutex_unlock(&f->mu);
                        return r;
                }
        }
        pthread_mutex_unlock(&f->mu);
        if (x->hash)
                skiff_hashpipe_final(&x->fhash, x->sha256);
        return 0;
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

/* file:// is read directly in the calling thread: no transfer machinery, no pausing. */
static int file_stream(const char *url, uint64_t max_size, bool hash, skiff_fetch_data_cb cb,
                       void *userdata, struct skiff_fetch_result *ret, skiff_err_t *err)
{
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        char *p = NULL;
        if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLDECODE) != CURLUE_OK)
                return skiff_error_set(err, EINVAL, "invalid URL `%s`", url);
        _cleanup_free_ char *path = xstrdup(p);
        curl_free(p);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return skiff_error_set(err, ENOENT, "download `%s`: not found", url);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "download `%s`", url);
        /* Hashed on a helper thread for long files, in parallel with the caller's callback. */
        struct skiff_hashpipe h = {0};
        if (hash)
                skiff_hashpipe_init(&h);
        _cleanup_bigbuf_ uint8_t *buf = skiff_bigbuf_alloc(CHUNK_SIZE);
        uint64_t got = 0;
        for (;;) {
                ssize_t n = read(fd, buf, CHUNK_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        skiff_hashpipe_abort(&h);
                        return skiff_error_set_errno(err, errno, "download `%s`", url);
                }
                if (n == 0)
                        break;
                if (got + (uint64_t)n > max_size) {
                        skiff_hashpipe_abort(&h);
                        return skiff_error_set(err, EFBIG, "download `%s`: larger than %llu bytes",
                                               url, (unsigned long long)max_size);
                }
                got += (uint64_t)n;
                if (hash)
                        skiff_hashpipe_update(&h, buf, (size_t)n);
                int r = cb(buf, (size_t)n, userdata, err);
                if (r < 0) {
                        skiff_hashpipe_abort(&h);
                        return r;
                }
        }
        uint8_t d[SKIFF_SHA256_LEN] = {0};
        if (hash)
                skiff_hashpipe_final(&h, d);
        if (ret) {
                memcpy(ret->sha256, d, sizeof(d));
                ret->size = got;
                ret->attempts = 1;
        }
        return 0;
}

int skiff_fetch_stream(struct skiff_fetch *f, const char *url, uint64_t max_size, unsigned flags,
                       skiff_fetch_data_cb cb, skiff_fetch_reset_cb reset, void *userdata,
                       struct skiff_fetch_result *ret, skiff_err_t *err)
{
        bool hash = !(flags & SKIFF_FETCH_NO_HASH);
        if (strncasecmp(url, "file://", 7) == 0)
                return file_stream(url, max_size, hash, cb, userdata, ret, err);
        unsigned retries = f->cfg->retries;
        bool is_http = strncmp(url, "http", 4) == 0;
        for (unsigned attempt = 0;; attempt++) {
                if (attempt > 0) {
                        backoff(attempt - 1);
                        if (reset) {
                                int r = reset(userdata, err);
                                if (r < 0)
                                        return r;
                        }
                }
                struct xfer *x = NULL;
                int r = submit(f, url, max_size, hash, &x, err);
                if (r < 0)
                        return r;
                r = consume(f, x, cb, userdata, err);
                CURLcode c = x->code;
                long status = x->status;
                bool too_big = x->too_big;
                char errbuf[CURL_ERROR_SIZE];
                memcpy(errbuf, x->errbuf, sizeof(errbuf));
                errbuf[sizeof(errbuf) - 1] = '\0';
                if (r >= 0 && ret) {
                        memcpy(ret->sha256, x->sha256, sizeof(ret->sha256));
                        ret->size = x->got;
                        ret->attempts = attempt + 1;
                }
                xfer_free(x);
                if (r < 0)
                        return r;
                _cleanup_free_ char *shown = redact(url);
                if (too_big)
                        return skiff_error_set(err, EFBIG, "download `%s`: larger than %llu bytes",
                                               shown, (unsigned long long)max_size);
                if (c == CURLE_OK && (!is_http || (status >= 200 && status < 300)))
                        return 0;
                if (c == CURLE_FILE_COULDNT_READ_FILE ||
                    (c == CURLE_OK && (status == 404 || status == 410)))
                        return skiff_error_set(err, ENOENT, "download `%s`: not found", shown);
                bool again = c != CURLE_OK ? retryable_curl(c)
                                           : (status >= 500 || status == 429 || status == 408);
                if (!again || attempt >= retries) {
                        if (c != CURLE_OK)
                                return skiff_error_set(
                                    err, c == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EIO,
                                    "download `%s`: %s%s%s (%u attempts)", shown,
                                    curl_easy_strerror(c), *errbuf ? ": " : "", errbuf,
                                    attempt + 1);
                        return skiff_error_set(err, status == 401 || status == 403 ? EACCES : EIO,
                                               "download `%s`: HTTP status %ld (%u attempts)",
                                               shown, status, attempt + 1);
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
        int r = skiff_fetch_stream(f, url, max_size, SKIFF_FETCH_NO_HASH, buf_cb, buf_reset, &sb,
                                   NULL, err);
        if (r < 0)
                return r;
        if (ret_len)
                *ret_len = sb.len;
        *ret = skiff_strbuf_take(&sb);
        if (!*ret)
                *ret = xstrdup("");
        return 0;
}
