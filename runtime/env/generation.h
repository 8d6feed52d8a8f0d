/* Generation documents (design §4), schema `skiff.dev/generation/v1`: the immutable, signed
 * description of one generation of an environment. Layout (every key is checked; unknown keys are
 * errors naming their JSON path):
 *
 *   {
 *     "schema": "skiff.dev/generation/v1",          required
 *     "environment": "acme/app",                    required, owner/name (ref.h grammar)
 *     "generation": 7,                              required, 1..2^31
 *     "created": "2024-05-01T12:00:00Z",            required, RFC 3339
 *     "description": "...",                         optional
 *     "includes": ["acme/base@3", ...],             optional, pinned references, resolved at
 *                                                   publish time (informational for nodes)
 *     "systems": {                                  required, at least one
 *       "x86_64-linux": {                           <arch>-<os>
 *         "store_dir": "/nix/store",                optional, default /nix/store
 *         "packages": [{"name": "hello",            required (may be empty): profile members;
 *                       "path": "/nix/store/...",   name is a store-path name, path a store
 *                       "priority": 5}],            path; priority int32, default 5, lower wins
 *         "closure": [{"path": "/nix/store/...",    optional; when absent the closure is resolved
 *                      "narHash": "sha256:...",     from narinfo files. Each entry: path,
 *                      "narSize": 123,              narHash, narSize (> 0) and references (full
 *                      "references": [...],         store paths) required; url (cache-relative),
 *                      "url": "nar/x.nar.zst",      compression (none, xz, zstd), fileHash and
 *                      "compression": "zstd",       fileSize come all together or not at all.
 *                      "fileHash": "sha256:...",
 *                      "fileSize": 100}],
 *         "substituters": ["https://..."]           optional hints
 *       }
 *     },
 *     "vars": {"NAME": "value"},                    optional; names [A-Za-z_][A-Za-z0-9_]*, not
 *                                                   SKIFF_*
 *     "hook": {"on_activate": "shell script"},      optional
 *     "requires": {"cuda": ">=12.4"}                optional; names [a-z0-9_-]+, values
 *   }                                               constraints (constraint.h)
 *
 * Semantic checks: store paths are valid for their store_dir (storepath.h), hashes parse
 * (nixhash.h); closure paths are unique and the closure is closed (every reference is a closure
 * path); packages are unique by name and by path and, when a closure is given, every package is
 * in it. Errors are -EINVAL (-EFBIG for oversized input) and name the JSON path and the
 * offending store path. Pure functions, no I/O. */
#ifndef SKIFF_ENV_GENERATION_H
#define SKIFF_ENV_GENERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "env/constraint.h"
#include "env/ref.h"
#include "store/nixhash.h"

#define SKIFF_GENERATION_SCHEMA           "skiff.dev/generation/v1"
#define SKIFF_GENERATION_MAX              (32 * 1024 * 1024)
#define SKIFF_GENERATION_SIG_MAX          (64 * 1024)
#define SKIFF_GENERATION_PRIORITY_DEFAULT 5

struct skiff_sig_pubkey;
struct skiff_sig_seckey;

struct skiff_generation_package {
        char *name;
        char *path;
        int32_t priority;
};

struct skiff_generation_path {
        char *path;
        struct skiff_nixhash nar_hash;
        uint64_t nar_size;
        char **references; /* full store paths, NULL-terminated, never NULL after parse */
        bool has_file;     /* url, compression, file_hash and file_size are set */
        char *url;         /* relative to the binary cache root */
        char *compression; /* "none", "xz", "zstd" */
        struct skiff_nixhash file_hash;
        uint64_t file_size;
};

struct skiff_generation_system {
        char *system; /* "x86_64-linux" */
        char *store_dir;
        struct skiff_generation_package *packages;
        size_t n_packages;
        bool has_closure;
        struct skiff_generation_path *closure;
        size_t n_closure;
        char **substituters; /* NULL-terminated, never NULL after parse */
};

struct skiff_generation_require {
        char *name;       /* "cuda" */
        char *constraint; /* as written */
        struct skiff_constraint parsed;
};

struct skiff_generation {
        char *environment; /* "owner/name" */
        uint32_t generation;
        char *created;        /* RFC 3339 as written */
        int64_t created_unix; /* seconds since the epoch */
        char *description;    /* or NULL */
        struct skiff_ref *includes;
        size_t n_includes;
        struct skiff_generation_system *systems;
        size_t n_systems;
        char **vars;       /* alternating name, value; NULL-terminated, never NULL */
        char *on_activate; /* hook.on_activate, or NULL */
        struct skiff_generation_require *requires;
        size_t n_requires;
};

/* Parses and validates buf[0..len). *ret is a new object owned by the caller. */
int skiff_generation_parse(const char *buf, size_t len, struct skiff_generation **ret,
                           skiff_err_t *err);
/* Validates an in-memory document (what parse checks after decoding); used by the writer. */
int skiff_generation_validate(const struct skiff_generation *g, skiff_err_t *err);
struct skiff_generation *skiff_generation_free(struct skiff_generation *g); /* NULL-safe */
static inline void skiff_generation_freep(struct skiff_generation **p)
{
        skiff_generation_free(*p);
}
#define _cleanup_generation_ __attribute__((cleanup(skiff_generation_freep)))

/* Validates g and renders it as deterministic JSON: fixed key order, systems, vars and requires
 * sorted by name, closure sorted by path, references sorted; 2-space indentation, trailing
 * newline. Parsing the result yields an equal document. Heap string in *ret. */
int skiff_generation_write(const struct skiff_generation *g, char **ret, size_t *ret_len,
                           skiff_err_t *err);

/* The entry for system, or NULL (borrowed). */
const struct skiff_generation_system *skiff_generation_system(const struct skiff_generation *g,
                                                              const char *system);
/* The Nix system name of this build ("x86_64-linux", "aarch64-linux"). */
const char *skiff_generation_host_system(void);
/* The closure entry for a full store path, or NULL (linear search; borrowed). */
const struct skiff_generation_path *
skiff_generation_closure_find(const struct skiff_generation_system *s, const char *path);

/* Parses an RFC 3339 timestamp ("2024-05-01T12:00:00Z", "...T12:00:00.5+02:00") into seconds
 * since the epoch. -EINVAL quoting s. */
int skiff_generation_parse_time(const char *s, int64_t *ret, skiff_err_t *err);

/* Signatures: the `<N>.json.sig` file is one or more lines "<key-name>:<base64 ed25519 signature
 * of the exact bytes of N.json>" (blank lines ignored). Succeeds when one line verifies with a
 * trusted key of the same name; *ret_key (optional) gets that key's index. -EPERM naming the key
 * names seen otherwise, -EINVAL when the file is malformed. */
int skiff_generation_verify(const char *doc, size_t doc_len, const char *sig, size_t sig_len,
                            const struct skiff_sig_pubkey *trusted, size_t ntrusted,
                            size_t *ret_key, skiff_err_t *err);
/* Signs doc with sk; *ret is the content of `<N>.json.sig` (one line with '\n'); heap. */
int skiff_generation_sign(const char *doc, size_t doc_len, const struct skiff_sig_seckey *sk,
                          char **ret, skiff_err_t *err);

#endif
