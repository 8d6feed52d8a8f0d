/* Downloads over libcurl: http://, https:// and file:// URLs, streamed through a callback, with
 * retries and exponential backoff on connection errors, timeouts, truncated transfers and HTTP
 * 5xx/429/408; connect and low-speed timeouts; per-host credentials from the node config (bearer
 * token or user/password, sent only to that host and never to a host a redirect leads to, never
 * logged or put in an error message); the proxy variables (http_proxy, HTTPS_PROXY, no_proxy,
 * ...) are honoured through libcurl's defaults. Redirects may go to http(s) only.
 *
 * One struct skiff_fetch owns one curl multi handle that drives every transfer started through
 * it (connections are shared and reused). The handle is driven by an I/O thread that the fetcher
 * starts when a transfer is submitted and that exits when no transfer is left, so an idle fetcher
 * owns no thread. The I/O thread receives and copies the body into a bounded per-transfer queue
 * (4 MiB; a full queue pauses that transfer); the calling thread takes the bytes from the queue,
 * feeds them to the body's SHA-256 (base/hashpipe.h: on a helper thread for long bodies, so the
 * hashes of parallel transfers run on parallel cores) and runs the data callback. Several threads
 * may call skiff_fetch_stream()/skiff_fetch_buf() on one fetcher at once: their transfers run in
 * parallel on the one multi handle while each caller does its own CPU work (decompression,
 * hashing, unpacking) in parallel with the network I/O of all of them.
 *
 * skiff_fetch_global_init() must run once before threads start. Calls block the calling thread
 * until the body is delivered or has failed. */
#ifndef SKIFF_STORE_FETCH_H
#define SKIFF_STORE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/hash.h"

struct skiff_config;

/* Receives body bytes in the calling thread; a negative return (with *err set) aborts the
 * transfer without retry. */
typedef int (*skiff_fetch_data_cb)(const void *data, size_t len, void *userdata, skiff_err_t *err);
/* Called before each retry so the consumer can discard what it received; may be NULL when the
 * callback is idempotent over restarts. */
typedef int (*skiff_fetch_reset_cb)(void *userdata, skiff_err_t *err);

struct skiff_fetch;

int skiff_fetch_global_init(skiff_err_t *err);
/* cfg is borrowed (timeouts, retries, credentials) and must outlive the fetcher. */
int skiff_fetch_new(const struct skiff_config *cfg, struct skiff_fetch **ret, skiff_err_t *err);
/* NULL-safe. Must not race with calls still running on f; waits for the I/O thread to exit. */
struct skiff_fetch *skiff_fetch_free(struct skiff_fetch *f);
static inline void skiff_fetch_freep(struct skiff_fetch **p)
{
        skiff_fetch_free(*p);
}
#define _cleanup_fetch_ __attribute__((cleanup(skiff_fetch_freep)))

/* What a successful transfer delivered: the body's SHA-256 (all zero with SKIFF_FETCH_NO_HASH)
 * and size. */
struct skiff_fetch_result {
        uint8_t sha256[SKIFF_SHA256_LEN];
        uint64_t size;
        unsigned attempts;
};

/* skiff_fetch_stream() flags. */
#define SKIFF_FETCH_NO_HASH 1u /* the caller does not need the body's SHA-256 */

/* Streams url's body into cb. Bodies larger than max_size are -EFBIG. A missing resource (HTTP
 * 404/410, missing file) is -ENOENT without retries; 401/403 are -EACCES without retries; other
 * failures after the configured retries are -EIO (-ETIMEDOUT for timeouts). ret may be NULL.
 * Errors name the URL (without any user information it carries). Thread-safe per fetcher. */
int skiff_fetch_stream(struct skiff_fetch *f, const char *url, uint64_t max_size, unsigned flags,
                       skiff_fetch_data_cb cb, skiff_fetch_reset_cb reset, void *userdata,
                       struct skiff_fetch_result *ret, skiff_err_t *err);
/* Fetches a small body into a NUL-terminated heap buffer. */
int skiff_fetch_buf(struct skiff_fetch *f, const char *url, size_t max_size, char **ret,
                    size_t *ret_len, skiff_err_t *err);

#endif
