/* SHA-256 hashes in the textual forms Nix accepts: "sha256:<nixbase32>" (52 chars),
 * "sha256:<hex>" (64 chars), "sha256:<base64>" (44 chars) and SRI "sha256-<base64>". The
 * canonical form written by skiff (and used in narinfo signatures) is "sha256:<nixbase32>".
 * Pure functions. */
#ifndef SKIFF_STORE_NIXHASH_H
#define SKIFF_STORE_NIXHASH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_NIXHASH_LEN 32
/* "sha256:" + 52 base32 chars + NUL. */
#define SKIFF_NIXHASH_STR_MAX 60

struct skiff_nixhash {
        uint8_t d[SKIFF_NIXHASH_LEN];
};

/* Parses s in any accepted form. -EINVAL with a message quoting s on failure; algorithms other
 * than sha256 are -ENOTSUP. */
int skiff_nixhash_parse(const char *s, struct skiff_nixhash *ret, skiff_err_t *err);
/* Writes "sha256:<nixbase32>" into out (SKIFF_NIXHASH_STR_MAX bytes). */
void skiff_nixhash_format(const struct skiff_nixhash *h, char out[SKIFF_NIXHASH_STR_MAX]);
bool skiff_nixhash_equal(const struct skiff_nixhash *a, const struct skiff_nixhash *b);

#endif
