/* The hub client (design §4). A hub is a static tree, reached over http://, https:// or file://:
 *   <hub>/skiff/v1/<owner>/<name>/live          text: the live generation number
 *   <hub>/skiff/v1/<owner>/<name>/<N>.json      generation document (generation.h)
 *   <hub>/skiff/v1/<owner>/<name>/<N>.json.sig  signature file (skiff_generation_verify)
 *   <hub>/skiff/v1/<owner>/<name>/index.json    list of generations (written by publish)
 * Hub names in references resolve to base URLs: no hub → the default hub; a configured alias →
 * its URL; any other name → https://<name>.
 *
 * Verified documents are cached under <store_root>/envs/<hub-name>/<owner>/<name>/<N>.json(+.sig)
 * (the default hub's name is SKIFF_HUB_DEFAULT_NAME unless configured). Documents are immutable,
 * so a cached document that still verifies is used without any request; the hub is contacted
 * only for documents not cached yet and for `live`. A cached document that no longer verifies
 * (tampered, or its key is no longer trusted) is ignored and fetched again.
 *
 * Every call blocks on the network: run it in the realizer process, never on the shim's loop. */
#ifndef SKIFF_ENV_HUB_H
#define SKIFF_ENV_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_HUB_DEFAULT_NAME "default"
#define SKIFF_HUB_INDEX_MAX    (16 * 1024 * 1024)

struct skiff_config;
struct skiff_ref;
struct skiff_sig_pubkey;
struct skiff_generation;

struct skiff_hub_options {
        const char *default_url;  /* base URL of the default hub, or NULL (then refs need a hub) */
        const char *default_name; /* cache name of the default hub; NULL: SKIFF_HUB_DEFAULT_NAME */
        char *const *aliases;     /* alternating alias, base URL; NULL-terminated; may be NULL */
        const char *store_root;   /* node store root; NULL disables the document cache */
        const struct skiff_sig_pubkey *keys; /* trusted keys (borrowed) */
        size_t nkeys;
        bool require_signatures;        /* false: an absent .sig is accepted (local experiments) */
        const struct skiff_config *cfg; /* timeouts, retries, credentials; NULL: defaults */
};

struct skiff_hub;

/* Copies opts (keys and cfg stay borrowed and must outlive the hub). -EINVAL naming a bad alias
 * or URL. */
int skiff_hub_new(const struct skiff_hub_options *opts, struct skiff_hub **ret, skiff_err_t *err);
struct skiff_hub *skiff_hub_free(struct skiff_hub *h); /* NULL-safe */
static inline void skiff_hub_freep(struct skiff_hub **p)
{
        skiff_hub_free(*p);
}
#define _cleanup_hub_ __attribute__((cleanup(skiff_hub_freep)))

/* Base URL (no trailing '/') and cache name of ref's hub; heap strings. */
int skiff_hub_locate(const struct skiff_hub *h, const struct skiff_ref *ref, char **ret_url,
                     char **ret_name, skiff_err_t *err);

/* The live generation of ref's environment (always asks the hub). -ENOENT for an unknown
 * environment, -EIO (or the fetch error) when the hub is unreachable, -EBADMSG for a malformed
 * `live` file. */
int skiff_hub_live(struct skiff_hub *h, const struct skiff_ref *ref, uint32_t *ret,
                   skiff_err_t *err);
/* Pins an unpinned ref in place through `live`; a pinned ref is left alone. */
int skiff_hub_resolve(struct skiff_hub *h, struct skiff_ref *ref, skiff_err_t *err);

struct skiff_hub_document {
        struct skiff_generation *generation; /* owned */
        char *json;                          /* owned: the exact signed bytes */
        size_t len;
        char *key_name; /* owned: the trusted key that signed it, or NULL */
        bool from_cache;
};
void skiff_hub_document_done(struct skiff_hub_document *d); /* NULL-safe; zeroes *d */

/* The verified document of a pinned ref, from the cache or the hub (then cached). Errors start
 * with "environment `<ref>`: " and say what failed: unknown environment (-ENOENT), unknown
 * generation (-ENOENT, naming the live generation when known), hub unreachable with no cached
 * document, bad or missing signature (-EPERM), malformed document (-EINVAL), or a document that
 * names another environment or generation (-EINVAL). */
int skiff_hub_get(struct skiff_hub *h, const struct skiff_ref *ref, struct skiff_hub_document *ret,
                  skiff_err_t *err);

/* index.json of ref's environment (raw JSON, heap). -ENOENT when the hub has none. */
int skiff_hub_index(struct skiff_hub *h, const struct skiff_ref *ref, char **ret, size_t *ret_len,
                    skiff_err_t *err);

#endif
