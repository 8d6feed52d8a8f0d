/* Downloads over libcurl: http://, https:// and file:// URLs, streamed through a callback, with
 * retries and exponential backoff on connection errors, timeouts, truncated transfers and HTTP
 * 5xx/429; connect and low-speed timeouts; per-host credentials from the node config (bearer
 * token or user/password, sent only to that host, never logged); proxy variables are honoured by
 * libcurl's defaults. Redirects may go to http(s) only.
 *
 * One struct skiff_fetch per thread (it owns a curl easy handle and reuses connections); calls
 * block. Parallelism comes from the caller running several fetchers in worker threads: each
 * transfer's callback does CPU work (decompression, hashing, unpacking), which a single
 * curl-multi loop would serialise onto one core. skiff_fetch_global_init() must run once before
 * threads start. */
#ifndef SKIFF_STORE_FETCH_H
#define SKIFF_STORE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_config;

/* Receives body bytes; a negative return (with *err set) aborts the transfer without retry. */
typedef int (*skiff_fetch_data_cb)(const void *data, size_t len, void *userdata, skiff_err_t *err);
/* Called before each retry so the consumer can discard what it received; may be NULL when the
 * callback is idempotent over restarts. */
typedef int (*skiff_fetch_reset_cb)(void *userdata, skiff_err_t *err);

struct skiff_fetch;

int skiff_fetch_global_init(skiff_err_t *err);
/* cfg is borrowed (timeouts, retries, credentials) and must outlive the fetcher. */
int skiff_fetch_new(const struct skiff_config *cfg, struct skiff_fetch **ret, skiff_err_t *err);
struct skiff_fetch *skiff_fetch_free(struct skiff_fetch *f); /* NULL-safe */
static inline void skiff_fetch_freep(struct skiff_fetch **p)
{
        skiff_fetch_free(*p);
}
#define _cleanup_fetch_ __attribute__((cleanup(skiff_fetch_freep)))

/* Streams url's body into cb. Bodies larger than max_size are -EFBIG. A missing resource (HTTP
 * 404/410, missing file) is -ENOENT without retries. Returns the number of attempts made in
 * *ret_attempts when not NULL. Errors name the URL (without credentials). */
int skiff_fetch_stream(struct skiff_fetch *f, const char *url, uint64_t max_size,
                       skiff_fetch_data_cb cb, skiff_fetch_reset_cb reset, void *userdata,
                       skiff_err_t *err);
/* Fetches a small body into a NUL-terminated heap buffer. */
int skiff_fetch_buf(struct skiff_fetch *f, const char *url, size_t max_size, char **ret,
                    size_t *ret_len, skiff_err_t *err);

#endif
