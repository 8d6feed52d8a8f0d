/* Publishing generations of an environment into a hub directory (design §4, `skiff publish`).
 *
 * skiff_publish_run() writes generation N+1 of owner/name, N being the highest generation in
 * <hub_dir>/skiff/v1/<owner>/<name>/ (0 when none):
 *   1. includes are resolved (unpinned ones through `live`) and fetched through the hub client
 *      (hub.h), verified against the trusted keys; a reference without a hub names hub_dir;
 *   2. packages are merged: the includes' packages in order, then the given ones; a later entry
 *      with the same name or path replaces an earlier one; priorities are kept as given;
 *   3. the closure of every package is resolved: entries the includes' documents describe with
 *      a URL are reused, every other path is looked up as <cache>/<hash>.narinfo in the caches
 *      in order (signatures checked when check_sigs), following References;
 *   4. profile conflicts are checked with profile.h (skiff_profile_check) when there are two or
 *      more packages: against the host's store_dir when every closure path exists there,
 *      otherwise after realizing the closure with store.h into work_store (or a temporary store
 *      removed afterwards); an equal-priority conflict fails naming both store paths;
 *   5. vars merge in order (includes, then vars; later wins), hooks are concatenated in order,
 *      requires of the same name are joined with ',' (all must hold);
 *   6. under an exclusive flock of the environment's directory: N.json is written to a
 *      temporary name, fsynced and hard-linked to its name (link(2) never replaces a file: if
 *      N.json appeared anyway, N+1 is tried), then N.json.sig, then index.json is rebuilt from
 *      the N.json files present, then `live` when asked; those three are written to temporary
 *      names, fsynced and renamed.
 * Blocks on the network and the file system. */
#ifndef SKIFF_ENV_PUBLISH_H
#define SKIFF_ENV_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_config;
struct skiff_fetch;
struct skiff_sig_pubkey;
struct skiff_sig_seckey;
struct skiff_generation_path;

#define SKIFF_PUBLISH_INDEX_SCHEMA "skiff.dev/index/v1"

struct skiff_publish_package {
        const char *path; /* full store path (borrowed) */
        int32_t priority;
};

struct skiff_publish_options {
        const char *hub_dir;     /* the hub's root directory (created when missing) */
        const char *environment; /* "owner/name" */
        const char *system;      /* NULL: skiff_generation_host_system() */
        const char *store_dir;   /* NULL: /nix/store */
        char *const *caches;     /* binary cache base URLs, NULL-terminated (may be NULL) */
        const struct skiff_publish_package *packages;
        size_t n_packages;
        /* When set, packages is ignored: these paths are a closure listing (e.g. `nix-store -qR`)
         * and the packages are those of them no other listed path references, at
         * closure_priority. */
        char *const *closure_list;
        int32_t closure_priority;
        char *const *includes; /* references as written ("acme/base@3"), in order */
        char *const *vars;     /* alternating name, value */
        const char *on_activate;
        char *const *requires; /* alternating name, constraint */
        const char *description;
        bool live;                              /* also move `live` to the new generation */
        const struct skiff_sig_seckey *key;     /* signs N.json; its public half is trusted */
        const struct skiff_sig_pubkey *trusted; /* for includes and narinfo signatures */
        size_t ntrusted;
        bool check_sigs;                /* verify narinfo signatures (trusted + the key) */
        const struct skiff_config *cfg; /* timeouts, credentials, hub aliases; NULL: defaults */
        const char *work_store;         /* store root for the conflict check; NULL: temporary */
        int64_t now;                    /* `created` (seconds since the epoch); 0: now */
};

enum skiff_publish_check {
        SKIFF_PUBLISH_CHECK_SKIPPED,  /* fewer than two packages */
        SKIFF_PUBLISH_CHECK_LOCAL,    /* against the host's store_dir */
        SKIFF_PUBLISH_CHECK_REALIZED, /* against a realized copy of the closure */
        _SKIFF_PUBLISH_CHECK_MAX,
};

struct skiff_publish_result {
        uint32_t generation;
        char *doc_path;   /* heap: <env dir>/<N>.json */
        char *doc_sha256; /* heap: hex */
        size_t n_packages;
        size_t n_closure;
        uint64_t nar_size; /* sum over the closure */
        enum skiff_publish_check check;
};
void skiff_publish_result_done(struct skiff_publish_result *r); /* NULL-safe */

/* Publishes as described above. Errors name the include, store path, cache or file. -EEXIST
 * for a profile conflict; -ENOENT for a path no cache has; -EPERM for a bad signature. */
int skiff_publish_run(const struct skiff_publish_options *o, struct skiff_publish_result *ret,
                      skiff_err_t *err);

/* publish-closure.c: resolves the closure of roots (full store paths in store_dir): entries of
 * known (may be NULL) that carry a URL are taken as they are, any other path from the first cache
 * serving its narinfo; with nkeys > 0 each narinfo needs a valid signature by one of keys. Every
 * entry of *ret (heap, sorted by path) carries narHash, narSize and references, and url,
 * compression, fileHash, fileSize when the narinfo has FileHash and FileSize. url is relative to
 * the cache root (an absolute narinfo URL under the cache is made relative; elsewhere it is
 * -EINVAL). Free the entries with skiff_publish_closure_free(). */
int skiff_publish_resolve_closure(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                                  const struct skiff_sig_pubkey *keys, size_t nkeys,
                                  char *const *roots, const struct skiff_generation_path *known,
                                  size_t nknown, struct skiff_generation_path **ret, size_t *ret_n,
                                  skiff_err_t *err);
void skiff_publish_closure_free(struct skiff_generation_path *c, size_t n);

/* index.json (publish-index.c): {"schema": SKIFF_PUBLISH_INDEX_SCHEMA, "environment":
 * "owner/name", "generations": [{"generation": N, "created": RFC 3339, "sha256": hex of the
 * exact N.json bytes, "description": optional}]}, sorted by generation. Unknown keys are
 * errors. */
struct skiff_publish_index_entry {
        uint32_t generation;
        char *created;
        char *sha256;
        char *description; /* or NULL */
};
struct skiff_publish_index {
        char *environment;
        struct skiff_publish_index_entry *entries;
        size_t n_entries;
};
int skiff_publish_index_parse(const char *buf, size_t len, struct skiff_publish_index **ret,
                              skiff_err_t *err);
int skiff_publish_index_write(const struct skiff_publish_index *ix, char **ret, size_t *ret_len,
                              skiff_err_t *err);
/* Rebuilds the index of the environment directory env_dir from its <N>.json files (each one
 * parsed; a malformed one is an error naming it). */
int skiff_publish_index_scan(const char *env_dir, const char *environment,
                             struct skiff_publish_index **ret, skiff_err_t *err);
/* Highest N with <N>.json or <N>.json.sig in env_dir (0 when none or env_dir is missing). */
int skiff_publish_index_highest(const char *env_dir, uint32_t *ret, skiff_err_t *err);
struct skiff_publish_index *skiff_publish_index_free(struct skiff_publish_index *ix);
static inline void skiff_publish_index_freep(struct skiff_publish_index **p)
{
        skiff_publish_index_free(*p);
}
#define _cleanup_publish_index_ __attribute__((cleanup(skiff_publish_index_freep)))

#endif
