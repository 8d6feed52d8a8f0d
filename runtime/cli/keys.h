/* Signing keys given to `skiff` verbs: Nix-format `name:base64` strings or files holding one. */
#ifndef SKIFF_CLI_KEYS_H
#define SKIFF_CLI_KEYS_H

#include <stddef.h>

#include "base/error.h"
#include "store/sig.h"

/* A public key given as "name:base64" or as a file holding it (trailing whitespace ignored);
 * errors name the file. */
int skiff_cli_parse_key(const char *arg, struct skiff_sig_pubkey *ret, skiff_err_t *err);
/* Parses arg as skiff_cli_parse_key() does and appends it to the heap array *keys of *n keys
 * (grown here; the caller frees it). On error *keys and *n are unchanged. */
int skiff_cli_add_key(struct skiff_sig_pubkey **keys, size_t *n, const char *arg, skiff_err_t *err);
/* Reads a Nix-format secret key file and wipes the text; errors name the file, never the key. */
int skiff_cli_read_secret_key(const char *file, struct skiff_sig_seckey *sk, skiff_err_t *err);

#endif
