/* Private to spec.c / spec-linux.c: shared decoding helpers for the OCI spec. Every decoder
 * writes straight into the (zero-initialised) output struct, so a failed decode leaves a
 * partially filled struct that the matching clear function releases. */
#ifndef SKIFF_OCI_SPEC_INTERNAL_H
#define SKIFF_OCI_SPEC_INTERNAL_H

#include <stddef.h>

#include "base/error.h"
#include "base/json.h"
#include "oci/spec.h"

/* Defines a decoder for an optional scalar that sets a has_ flag in the same struct. The table
 * entry uses offset 0 (field points at the whole struct of type T). */
#define SKIFF_SPEC_OPT_DECODER(name, T, field, flag, dec)                                          \
        static int name(skiff_jv *v, const char *path, void *f, skiff_err_t *err)                  \
        {                                                                                          \
                T *s_ = f;                                                                         \
                int r_ = dec(v, path, &s_->field, err);                                            \
                if (r_ < 0)                                                                        \
                        return r_;                                                                 \
                s_->flag = true;                                                                   \
                return 0;                                                                          \
        }

/* Decodes a JSON array into a heap array of elem_size elements (stored in *(void **)arrp, count
 * in *n), calling elem for each with the path "<path>[i]". *n counts every element that was
 * started, so a failure leaves all touched elements for the clear function. */
int skiff_spec_dec_array(skiff_jv *v, const char *path, void *arrp, size_t *n, size_t elem_size,
                         skiff_json_decode_fn elem, skiff_err_t *err);

/* Index of s in names[0..n) (NULL entries skipped), or -1. */
int skiff_spec_lookup(const char *const *names, size_t n, const char *s);

/* Error unless s is an absolute path: "<path>: must be an absolute path, got `s`". */
int skiff_spec_check_absolute(const char *s, const char *path, skiff_err_t *err);

/* The "linux" object. */
int skiff_spec_linux_decode(skiff_jv *v, const char *path, struct skiff_spec_linux *l,
                            skiff_err_t *err);
void skiff_spec_linux_clear(struct skiff_spec_linux *l);

/* A LinuxResources object. */
int skiff_spec_resources_decode(skiff_jv *v, const char *path, struct skiff_spec_resources *r,
                                skiff_err_t *err);
void skiff_spec_resources_clear(struct skiff_spec_resources *r);

#endif
