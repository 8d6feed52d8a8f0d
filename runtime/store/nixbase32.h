/* Nix's base32: alphabet "0123456789abcdfghijklmnpqrsvwxyz" (no e, o, u, t) and Nix's own bit
 * order (the last character carries the lowest 5 bits of the first byte). Pure functions. */
#ifndef SKIFF_STORE_NIXBASE32_H
#define SKIFF_STORE_NIXBASE32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of characters encoding n bytes: ceil(8n / 5). */
size_t skiff_nixbase32_encoded_len(size_t n);

/* Encodes n bytes into out, which must hold skiff_nixbase32_encoded_len(n) + 1 bytes; the
 * result is NUL-terminated. */
void skiff_nixbase32_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly len characters (len must equal skiff_nixbase32_encoded_len(n)) into n
 * bytes. Returns 0, or -EINVAL on a wrong length, a character outside the alphabet, or
 * non-zero bits beyond the last byte. */
int skiff_nixbase32_decode(const char *in, size_t len, uint8_t *out, size_t n);

/* True when c is in the alphabet. */
bool skiff_nixbase32_is_char(char c);

#endif
