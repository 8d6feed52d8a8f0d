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
 * has it (a missing file or HTTP 404 moves on; any other failure is returned), checks that it
 * describes store_dir/base and, when verify is set, that one of keys signed its fingerprint (with
 * no keys nothing verifies).
 * Errors name the narinfo's URL; -ENOENT (naming the caches) when no cache has it. Blocks on
 * the network. On success *ret is filled and must be released with
 * skiff_substituter_hit_done(). */
int skiff_substituter_find(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                           const char *base, bool verify, const struct skiff_sig_pubkey *keys,
                           size_t nkeys, struct skiff_substituter_hit *ret, skiff_err_t *err);
void skiff_substituter_hit_done(struct skiff_substituter_hit *h); /* safe on a zeroed hit */

#endif
