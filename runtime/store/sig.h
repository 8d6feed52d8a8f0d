/* ed25519 signatures in Nix's formats (libcrypto EVP_PKEY_ED25519):
 *   public key  "<name>:<base64 of 32 bytes>"
 *   secret key  "<name>:<base64 of 64 bytes>" (32-byte seed followed by the public key)
 *   signature   "<name>:<base64 of 64 bytes>"
 * Keys are small value objects; nothing here does I/O. */
#ifndef SKIFF_STORE_SIG_H
#define SKIFF_STORE_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_SIG_NAME_MAX 128

struct skiff_sig_pubkey {
        char name[SKIFF_SIG_NAME_MAX + 1];
        uint8_t key[32];
};

struct skiff_sig_seckey {
        char name[SKIFF_SIG_NAME_MAX + 1];
        uint8_t seed[32];
        uint8_t pub[32];
};

/* Parse "<name>:<base64>"; -EINVAL naming what is wrong (never echoing secret material). */
int skiff_sig_parse_public(const char *s, struct skiff_sig_pubkey *ret, skiff_err_t *err);
int skiff_sig_parse_secret(const char *s, struct skiff_sig_seckey *ret, skiff_err_t *err);

/* Generates a key pair named name. Returns heap strings in Nix format. */
int skiff_sig_keygen(const char *name, char **ret_secret, char **ret_public, skiff_err_t *err);
/* The public half of a secret key, in Nix format (heap). */
char *skiff_sig_public_of(const struct skiff_sig_seckey *sk);

/* Signs msg; returns "<name>:<base64 signature>" in *ret (heap). */
int skiff_sig_sign(const struct skiff_sig_seckey *sk, const char *msg, size_t len, char **ret,
                   skiff_err_t *err);

/* Succeeds when at least one of sigs (NULL-terminated "<name>:<base64>" strings) is a valid
 * signature of msg by the trusted key with the same name. Returns 0 and sets *ret_key (when not
 * NULL) to the name's index in trusted; -EPERM when none verifies ("no valid signature by a
 * trusted key"), naming the signature key names seen. */
int skiff_sig_verify_any(const char *msg, size_t len, char *const *sigs,
                         const struct skiff_sig_pubkey *trusted, size_t ntrusted, size_t *ret_key,
                         skiff_err_t *err);

#endif
