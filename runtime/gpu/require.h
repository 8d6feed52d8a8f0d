/* Driver requirements: the NVIDIA_REQUIRE_* expression language (gpu.md §4.4) and the
 * generation document's `requires.cuda` (design.md §4, pixi-style). Pure.
 *
 *   requirement := or-term (" " or-term)*        SPACE = OR
 *   or-term     := condition ("," condition)*    COMMA = AND (binds tighter)
 *   condition   := property op value             property: cuda | driver | arch | brand
 *   op          := = | != | < | <= | > | >=       (brand: = and != only, case-insensitive)
 *
 * Versions compare numerically component by component, missing components are 0 ("12" ==
 * "12.0"), only digits and dots are allowed. Strict like libnvidia-container: an unknown
 * property or a malformed condition is an error, not a pass.
 *
 * Facts that discovery cannot know without NVML (a GPU's compute capability `arch` and its
 * `brand`) may be NULL; a condition on an unknown fact is treated as satisfied, which is also
 * libnvidia-container's rule when no GPU is selected. */
#ifndef SKIFF_GPU_REQUIRE_H
#define SKIFF_GPU_REQUIRE_H

#include "base/error.h"

struct skiff_require_facts {
        const char *cuda;   /* driver's maximum CUDA version, "13.0"; NULL = unknown */
        const char *driver; /* "580.159.04" */
        const char *arch;   /* "9.0" or NULL */
        const char *brand;  /* "tesla", "unknown", ... or NULL */
};

/* Compares dotted decimal versions; *ret is <0, 0, >0. -EINVAL when either is not a version. */
int skiff_require_version_cmp(const char *a, const char *b, int *ret);

/* Checks one NVIDIA_REQUIRE_* value. 0 when satisfied; -EINVAL for a malformed expression
 * ("requirement `NVIDIA_REQUIRE_CUDA`: invalid expression `cuda>>1`"); -ERANGE when unsatisfied,
 * with libnvidia-container's wording plus the facts: "requirement `NVIDIA_REQUIRE_CUDA`:
 * unsatisfied condition: cuda>=14.0, please update your driver to a newer version, or use an
 * earlier cuda container (driver 580.159.04, CUDA 13.0)". A condition on `cuda` while the CUDA
 * version is unknown is -ERANGE saying so. */
int skiff_require_check(const char *name, const char *expr, const struct skiff_require_facts *f,
                        skiff_err_t *err);

/* Checks a `requires.cuda` value: an optional operator (>=, >, <=, <, =, ==, !=) and a version;
 * a bare version means >= (pixi's `cuda = "12"`: at least 12). -EINVAL for a malformed value,
 * -ERANGE when unsatisfied: "environment requires CUDA >=99.0, but the driver 580.159.04
 * supports CUDA 13.0". */
int skiff_require_check_cuda(const char *spec, const struct skiff_require_facts *f,
                             skiff_err_t *err);

#endif
