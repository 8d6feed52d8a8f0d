/* The node store (design §5) under cfg->store_root:
 *   store/<hash>-<name>/   verified, read-only store paths
 *   store/.partial/        staging: <basename>.<pid> while a path is being unpacked
 *   narinfo/<hash>.narinfo verified narinfo of every path in store/ (references, NarHash)
 *   roots/<name>           GC roots: one store path per line
 *   locks/store.lock       shared by realizers, exclusive for GC
 *   locks/<basename>.lock  per-path lock: one download per path node-wide
 * A path appears in store/ only by an atomic rename after its FileHash, NarHash and NarSize were
 * verified (and its narinfo signature, when require_signatures). Every call blocks. */
#ifndef SKIFF_STORE_STORE_H
#define SKIFF_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_config;

enum skiff_store_event_kind {
        SKIFF_STORE_EVENT_PRESENT, /* already in the store (or finished by another process) */
        SKIFF_STORE_EVENT_FETCHED, /* downloaded, verified and added */
        _SKIFF_STORE_EVENT_MAX,
};

struct skiff_store_event {
        enum skiff_store_event_kind kind;
        const char *path; /* full store path */
        uint64_t nar_size;
        uint64_t file_size; /* bytes downloaded (0 when present) */
        size_t done;        /* paths finished so far */
        size_t known;       /* paths discovered so far */
};

/* Called from worker threads, serialised by the store (never concurrently). */
typedef void (*skiff_store_progress_cb)(const struct skiff_store_event *ev, void *userdata);

struct skiff_store;

/* Creates the layout when missing, takes the shared store lock (waiting while a GC runs) and
 * removes stale partials nobody is writing. cfg is borrowed. */
int skiff_store_open(const struct skiff_config *cfg, struct skiff_store **ret, skiff_err_t *err);
struct skiff_store *skiff_store_close(struct skiff_store *s); /* NULL-safe */
static inline void skiff_store_closep(struct skiff_store **p)
{
        skiff_store_close(*p);
}
#define _cleanup_store_ __attribute__((cleanup(skiff_store_closep)))

/* Realizes paths (full store paths) and, when expand, everything they reference; with expand
 * false, paths is taken as the complete closure. Runs cfg->parallelism workers. The first error
 * stops the run and is returned (naming the path); paths finished before stay. */
int skiff_store_realize(struct skiff_store *s, char *const *paths, bool expand,
                        skiff_store_progress_cb cb, void *userdata, skiff_err_t *err);

struct skiff_narinfo;
/* Realizes a complete closure (references are not followed): the paths described by known
 * (borrowed; each with store_path, url relative to a substituter, compression, nar_hash,
 * nar_size and, optionally, file_hash/file_size, e.g. from a signed generation document) are
 * fetched without any narinfo request, from the first substituter that serves their URL, and
 * verified against the description; the plain paths are substituted as by skiff_store_realize
 * with expand false. -EINVAL for a description without a URL. */
int skiff_store_realize_described(struct skiff_store *s, const struct skiff_narinfo *const *known,
                                  size_t nknown, char *const *paths, skiff_store_progress_cb cb,
                                  void *userdata, skiff_err_t *err);

/* Writes roots/<name> listing paths (atomic replace). name is a relative path without "..";
 * subdirectories are created. */
int skiff_store_root_add(struct skiff_store *s, const char *name, char *const *paths,
                         skiff_err_t *err);
int skiff_store_root_remove(struct skiff_store *s, const char *name, skiff_err_t *err);

/* Lists the store paths (full) in store/, sorted. */
int skiff_store_list(struct skiff_store *s, char ***ret, skiff_err_t *err);

struct skiff_store_verify_result {
        size_t checked;
        size_t bad; /* hash mismatch, or no narinfo */
        size_t repaired;
        size_t partials; /* stale entries left in store/.partial */
};
/* Re-hashes every path against its narinfo. Bad paths are reported through report (one line
 * each) and, with repair, removed and realized again. */
int skiff_store_verify(struct skiff_store *s, bool repair, void (*report)(const char *line),
                       struct skiff_store_verify_result *ret, skiff_err_t *err);

/* Internal accessors for gc.c. */
const struct skiff_config *skiff_store_config(const struct skiff_store *s);
int skiff_store_root_fd(const struct skiff_store *s);

#endif
