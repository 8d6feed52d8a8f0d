/* Finding a store path in binary caches (substituters): the first cache that serves its narinfo.
 * Used by realization (store.c) and by `skiff publish` (env/publish-closure.c). */
#ifndef SKIFF_STORE_SUBSTITUTER_H
#define SKIFF_STORE_SUBSTITUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "store/fetch.h"
#include "store/narinfo.h"
#include "store/sig.h"

struct skiff_substituter_hit {
        struct skiff_narinfo *ni; /* owned */
        char *cache;              /* the cache that served it, without trailing slashes */
        char *url;                /* the narinfo's URL */
};

/* Fetches <cache>/<first 32 characters of base>.narinfo from each of caches in turn until one
 * has it, checks that it describes store_dir/base and, when verify is set, that one of keys
 * signed its fingerprint (with no keys nothing verifies). A missing file or HTTP 404/410 means
 * "not here"; a cache that fails otherwise (unreachable, 5xx after the retries, 401/403 as S3
 * answers for a missing object without list permission) does not stop the search either, as in
 * Nix. A narinfo that is served but wrong (unparsable, for another path, badly signed) is an
 * error at once. Errors name the narinfo's URL. When no cache has it: the first failure if a
 * cache failed (an unreachable cache is not reported as a missing path), else -ENOENT naming
 * the caches. Blocks on the network. On success *ret is filled and must be released with
 * skiff_substituter_hit_done(). */
int skiff_substituter_find(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                           const char *base, bool verify, const struct skiff_sig_pubkey *keys,
                           size_t nkeys, struct skiff_substituter_hit *ret, skiff_err_t *err);
void skiff_substituter_hit_done(struct skiff_substituter_hit *h); /* safe on a zeroed hit */

/* What a search over caches keeps of the caches it skipped: one that does not answer (-EIO:
 * unreachable or 5xx after the retries; -ETIMEDOUT; -EACCES: 401/403) is skipped, and the first
 * such failure is reported when no cache has the path. Zero-initialise. */
struct skiff_substituter_skipped {
        int r;     /* the first failure's return value; 0 while no cache failed */
        char *msg; /* its message, owned */
};
/* When r is such a failure: records it if it is the first, frees *err and returns true. */
bool skiff_substituter_skip(struct skiff_substituter_skipped *s, int r, skiff_err_t *err);
/* Sets err to the first failure, with suffix appended, and returns it; 0 when none was skipped.
 * Releases s either way. */
int skiff_substituter_skipped_finish(struct skiff_substituter_skipped *s, const char *suffix,
                                     skiff_err_t *err);

#endif
