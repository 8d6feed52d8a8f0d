/* Merged profile trees (design §5, §6): one directory of symlinks into the store per realized
 * layer set, like a Nix profile. Packages are merged recursively: an entry provided by one
 * package is a symlink to it; a directory provided by several packages becomes a real directory
 * whose entries are merged the same way. Symlinks inside packages count as what they point to
 * (absolute targets under store_dir are looked up under real_store).
 *
 * Conflicts (the same relative path provided by two packages, not both directories, with
 * different targets) go to the package with the lower priority number; at equal priority, the
 * later layer wins; at equal priority in the same layer the build fails naming both store paths.
 * Entries named `nix-support` and `propagated-build-inputs` are not linked (build metadata).
 *
 * Trees are written to <profiles_dir>/.tmp-<digest>-<pid> and renamed to <profiles_dir>/<digest>,
 * where digest is the sha256 (hex) of the canonical layer set; an existing <digest> is reused,
 * so building is idempotent and safe to race. Blocks on file I/O. */
#ifndef SKIFF_ENV_PROFILE_H
#define SKIFF_ENV_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_PROFILE_DIGEST_LEN 64

struct skiff_generation;

struct skiff_profile_package {
        char *name;
        char *path; /* full store path under store_dir */
        int32_t priority;
        size_t layer; /* 0-based; later layers win ties */
};

struct skiff_profile_input {
        char *store_dir;  /* symlink targets are "<store_dir>/<hash>-<name>/..." */
        char *real_store; /* where store paths are readable here; NULL: store_dir */
        struct skiff_profile_package *packages;
        size_t n_packages;
};

/* Collects the packages of system from the layers (in order) into *ret (caller-allocated;
 * release with skiff_profile_input_done()). The same store path in several layers is linked
 * once, from its last layer. -ENOENT naming the environment when a layer lacks system; -EINVAL
 * when layers disagree on store_dir. real_store is copied (may be NULL). */
int skiff_profile_input_from_layers(const struct skiff_generation *const *layers, size_t n,
                                    const char *system, const char *real_store,
                                    struct skiff_profile_input *ret, skiff_err_t *err);
void skiff_profile_input_done(struct skiff_profile_input *in); /* NULL-safe */

/* Hex sha256 of the canonical layer set (store_dir and, per layer, the packages sorted by path
 * with their priorities) into out. */
void skiff_profile_digest(const struct skiff_profile_input *in,
                          char out[SKIFF_PROFILE_DIGEST_LEN + 1]);

/* Merges the tree in memory only: reports conflicts and unreadable packages without writing. */
int skiff_profile_check(const struct skiff_profile_input *in, skiff_err_t *err);

/* Builds (or reuses) <profiles_dir>/<digest>; *ret_path (optional) gets its path (heap).
 * profiles_dir is created when missing. */
int skiff_profile_build(const struct skiff_profile_input *in, const char *profiles_dir,
                        char **ret_path, skiff_err_t *err);

/* Looks up rel (e.g. "etc/ssl/certs/ca-bundle.crt") in a built profile, following symlinks
 * component by component, with absolute targets under store_dir read under real_store (NULL:
 * store_dir) and links leaving the profile and the store treated as missing. Returns 1 for a
 * directory, 2 for any other existing file, 0 when missing. */
int skiff_profile_lookup(const char *profile_dir, const char *rel, const char *store_dir,
                         const char *real_store);

#endif
