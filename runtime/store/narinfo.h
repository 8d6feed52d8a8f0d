/* narinfo documents of a Nix binary cache ("<hash>.narinfo"): a strict parser, a writer, and the
 * signature fingerprint. Pure functions, no I/O.
 *
 * Parsing rules: lines are "Key: value" terminated by '\n' (the final '\n' may be missing);
 * StorePath, URL, NarHash and NarSize (> 0) are required; every key except Sig may appear at
 * most once; hashes must parse (see nixhash.h); References and Deriver must be valid store path
 * basenames; Compression defaults to "bzip2" when absent (as in Nix); unknown keys are ignored
 * (as in Nix, for forward compatibility). Errors are -EINVAL/-EBADMSG and name the key; input
 * larger than SKIFF_NARINFO_MAX is -EFBIG. */
#ifndef SKIFF_STORE_NARINFO_H
#define SKIFF_STORE_NARINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/nixhash.h"

#define SKIFF_NARINFO_MAX (1024 * 1024)

struct skiff_narinfo {
        char *store_path;  /* full path, e.g. /nix/store/<hash>-<name> */
        char *url;         /* relative to the cache root, e.g. nar/<filehash>.nar.zst */
        char *compression; /* "none", "xz", "zstd", "bzip2", ... */
        bool has_file_hash;
        struct skiff_nixhash file_hash;
        uint64_t file_size; /* 0 when absent */
        struct skiff_nixhash nar_hash;
        uint64_t nar_size;
        char **references; /* basenames, NULL-terminated; never NULL after parse */
        char *deriver;     /* basename or NULL */
        char **sigs;       /* "<key name>:<base64>", NULL-terminated; never NULL after parse */
        char *ca;          /* content address or NULL */
};

/* Parses buf[0..len) with paths in store_dir. *ret is a new object owned by the caller. */
int skiff_narinfo_parse(const char *buf, size_t len, const char *store_dir,
                        struct skiff_narinfo **ret, skiff_err_t *err);
struct skiff_narinfo *skiff_narinfo_free(struct skiff_narinfo *ni); /* NULL-safe, returns NULL */
static inline void skiff_narinfo_freep(struct skiff_narinfo **p)
{
        skiff_narinfo_free(*p);
}
#define _cleanup_narinfo_ __attribute__((cleanup(skiff_narinfo_freep)))

/* Renders ni in Nix's key order; hashes in canonical "sha256:<nixbase32>" form. Heap string. */
char *skiff_narinfo_format(const struct skiff_narinfo *ni);

/* The string Nix signs: "1;<StorePath>;<NarHash>;<NarSize>;<full paths of References, sorted,
 * comma-joined>". Heap string. */
char *skiff_narinfo_fingerprint(const struct skiff_narinfo *ni, const char *store_dir);

/* The hash part (first 32 characters of the basename) of ni->store_path, into out[33]. */
void skiff_narinfo_hash_part(const struct skiff_narinfo *ni, char out[33]);

#endif
