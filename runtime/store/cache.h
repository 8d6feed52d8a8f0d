/* Writing a Nix binary cache in a local directory (the `file://` layout): nix-cache-info,
 * <hash>.narinfo and nar/<filehash>.nar[.zst]. Used by `skiff cache add`. Blocking file I/O. */
#ifndef SKIFF_STORE_CACHE_H
#define SKIFF_STORE_CACHE_H

#include "base/error.h"
#include "store/decompress.h"

struct skiff_sig_seckey;

/* Adds the tree at src (a directory, file or symlink) to the cache directory cache_dir as the
 * store path `nix-store --add src` would create: a content-addressed "source" path named after
 * src's basename, with no references. The NAR is compressed with comp (none or zstd), the
 * narinfo carries CA and, when sk is not NULL, a signature. Creates cache_dir when missing.
 * Returns the store path in *ret_path (heap). */
int skiff_cache_add_path(const char *cache_dir, const char *src, enum skiff_compression comp,
                         const struct skiff_sig_seckey *sk, const char *store_dir, char **ret_path,
                         skiff_err_t *err);

/* Writes cache_dir/nix-cache-info (StoreDir, WantMassQuery, Priority) unless it exists. */
int skiff_cache_init(const char *cache_dir, const char *store_dir, skiff_err_t *err);

#endif
