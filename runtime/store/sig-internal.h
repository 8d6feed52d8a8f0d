/* Private to sig.c / sigkey.c. */
#ifndef SKIFF_STORE_SIG_INTERNAL_H
#define SKIFF_STORE_SIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/sig.h"

/* Splits "<name>:<base64>" and decodes exactly want bytes into out; what names the key kind in
 * errors. Scratch copies are wiped. */
int skiff_sig_split_key(const char *s, const char *what, char name[SKIFF_SIG_NAME_MAX + 1],
                        uint8_t *out, size_t want, skiff_err_t *err);

#endif
