/* The realizer: from environment references to a verified closure in the node store, a merged
 * profile and the container assembly plan (design §4-§6). Steps, for the layers in order:
 *   1. pin each reference (an unpinned one only when the node config allows it: its hub's
 *      `live` generation, asked once);
 *   2. get each generation document through the hub client (verified against the trusted keys;
 *      a cached, still valid document is used without any request);
 *   3. realize the union of the layers' closures for the host system with the store module:
 *      closure entries that carry url/fileHash are fetched without narinfo requests and checked
 *      against the signed document; entries without them through narinfo; a layer without a
 *      closure list through a narinfo walk from its packages;
 *   4. build (or reuse) the merged profile of the layer set under <store_root>/profiles;
 *   5. GC roots: roots/<root_name> (optional) with the closure, and
 *      roots/generations/<hub>/<owner>/<name>/<N> per layer, pruned to the newest
 *      keep_generations realized generations of each environment.
 * Errors read "environment acme/app@7: <what failed>" (the layer at fault, or all layers
 * comma-separated), so that "skiff: " + the message is what `kubectl describe pod` shows.
 * Blocks on the network and the disk: run it in a CLI process, never on the shim's loop. */
#ifndef SKIFF_ENV_REALIZE_H
#define SKIFF_ENV_REALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_config;
struct skiff_ref;
struct skiff_hub_document;
struct skiff_assemble_plan;

enum skiff_realize_event_kind {
        SKIFF_REALIZE_EVENT_RESOLVED, /* ref pinned (ref) */
        SKIFF_REALIZE_EVENT_DOCUMENT, /* document verified (ref, from_cache) */
        SKIFF_REALIZE_EVENT_CLOSURE,  /* closure known: total paths, total bytes (0 unknown) */
        SKIFF_REALIZE_EVENT_PATH,     /* one store path present or fetched (path, fetched) */
        SKIFF_REALIZE_EVENT_PROFILE,  /* profile built (path) */
        _SKIFF_REALIZE_EVENT_MAX,
};

struct skiff_realize_event {
        enum skiff_realize_event_kind kind;
        const char *ref;                  /* RESOLVED, DOCUMENT: the layer's canonical reference */
        const char *path;                 /* PATH: store path; PROFILE: profile directory */
        bool from_cache;                  /* DOCUMENT */
        bool fetched;                     /* PATH */
        size_t done, total;               /* paths finished / known */
        uint64_t bytes_done, bytes_total; /* downloaded NAR file bytes; expected (0 unknown) */
};

typedef void (*skiff_realize_progress_cb)(const struct skiff_realize_event *ev, void *userdata);

struct skiff_realize_opts {
        const struct skiff_config *cfg; /* borrowed */
        const char *system;             /* NULL: the host's */
        const char *root_name;          /* GC root roots/<root_name>, or NULL */
        skiff_realize_progress_cb cb;   /* may be NULL; called from worker threads, serialised */
        void *userdata;
};

struct skiff_realize_result {
        struct skiff_ref *refs; /* pinned layer references, n_refs, in order */
        size_t n_refs;
        struct skiff_hub_document *docs; /* n_refs verified documents */
        char *store_dir;                 /* the documents' store dir */
        char *real_store;                /* <store_root>/store */
        char *profile;                   /* the merged profile */
        char **closure;                  /* full store paths, sorted */
        uint64_t bytes_fetched;
};

/* Realizes refs[0..n) (layers; later wins). *ret is caller-allocated, release with
 * skiff_realize_result_done(). */
int skiff_realize_run(const struct skiff_realize_opts *opts, const struct skiff_ref *refs, size_t n,
                      struct skiff_realize_result *ret, skiff_err_t *err);
void skiff_realize_result_done(struct skiff_realize_result *r); /* NULL-safe; zeroes *r */

/* The assembly plan of a realization: activation variables (steps 1-2), the hook argv prefix,
 * the host files that provide /bin/sh and /usr/bin/env in the profile (symlinks resolved
 * through the real store), the layers' `requires.cuda` and the closure's glibc loader (for the
 * GPU layer). *ret is caller-allocated (skiff_assemble_plan_done()). */
int skiff_realize_plan(const struct skiff_realize_result *r, struct skiff_assemble_plan *ret,
                       skiff_err_t *err);

/* "acme/app@7,acme/base@1": canonical references joined with ','. Heap. */
char *skiff_realize_refs_string(const struct skiff_ref *refs, size_t n);

/* Resolves rel inside a profile to a host path, following symlinks component by component
 * (absolute targets under store_dir are read under real_store); NULL when missing or when a
 * link leaves the profile and the store. Heap. */
char *skiff_realize_resolve(const char *profile, const char *rel, const char *store_dir,
                            const char *real_store);

#endif
