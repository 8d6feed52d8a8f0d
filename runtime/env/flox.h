/* Flox environment lockfiles (`.flox/env/manifest.lock`, JSON) as input for `skiff publish`.
 * Accepted subset (lockfile-version 1, as written by Flox 1.x; every other key is ignored so
 * newer Flox releases keep working):
 *
 *   {
 *     "lockfile-version": 1,                        required; anything else is -ENOTSUP
 *     "manifest": {                                 optional
 *       "vars": {"NAME": "value"},                  optional -> generation vars
 *       "hook": {"on-activate": "script"}           optional -> hook.on_activate
 *     },
 *     "packages": [                                 required (may be empty); one entry per
 *       {                                           package and system:
 *         "install_id": "hello",                    required
 *         "system": "x86_64-linux",                 required; other systems are skipped
 *         "priority": 5,                            optional, default 5, 0..2^31-1; lower wins
 *         "outputs": {"out": "/nix/store/...",      catalog and flake packages: output name ->
 *                     "man": "/nix/store/..."},     store path
 *         "outputs_to_install": ["out"],            catalog packages (flake packages spell it
 *                                                   "outputs-to-install"); absent or null: "out"
 *                                                   when there is one, else every output
 *         "store_path": "/nix/store/..."            store-path packages (instead of outputs)
 *       }
 *     ]
 *   }
 *
 * The older pkgdb lockfile (lockfile-version 0, packages keyed by system) has no store paths
 * and is refused. Pure functions, no I/O. Errors are -EINVAL naming the JSON path. */
#ifndef SKIFF_ENV_FLOX_H
#define SKIFF_ENV_FLOX_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_FLOX_LOCK_MAX (16 * 1024 * 1024)

struct skiff_flox_package {
        char *install_id; /* the Flox install id it came from */
        char *path;       /* one installed output: a full store path */
        int32_t priority;
};

struct skiff_flox_lock {
        struct skiff_flox_package *packages; /* in lockfile order; one entry per output */
        size_t n_packages;
        char **vars;       /* manifest.vars: alternating name, value; NULL-terminated, never NULL */
        char *on_activate; /* manifest.hook.on-activate, or NULL */
};

/* Parses buf[0..len) and keeps the packages of system whose outputs lie in store_dir (checked
 * with storepath.h). The same store path installed twice is kept once, with the lower priority.
 * A lockfile that has packages but none for system is -ENOENT naming the systems it has. *ret is
 * a new object owned by the caller. */
int skiff_flox_parse(const char *buf, size_t len, const char *system, const char *store_dir,
                     struct skiff_flox_lock **ret, skiff_err_t *err);
struct skiff_flox_lock *skiff_flox_free(struct skiff_flox_lock *l); /* NULL-safe */
static inline void skiff_flox_freep(struct skiff_flox_lock **p)
{
        skiff_flox_free(*p);
}
#define _cleanup_flox_ __attribute__((cleanup(skiff_flox_freep)))

#endif
