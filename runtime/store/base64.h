/* Standard base64 (RFC 4648, with '=' padding), as used by Nix keys, signatures and SRI hashes.
 * Pure functions. */
#ifndef SKIFF_STORE_BASE64_H
#define SKIFF_STORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, not counting the NUL. */
size_t skiff_base64_encoded_len(size_t n);
/* Encodes n bytes into out (skiff_base64_encoded_len(n) + 1 bytes), NUL-terminated. */
void skiff_base64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes len characters of padded base64 into out (capacity cap). Returns the number of
 * bytes written, or -EINVAL on bad characters/padding, -ENOBUFS when cap is too small. */
int skiff_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
