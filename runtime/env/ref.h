/* Environment references (design §3): "[hub/]owner/name@N" and, unpinned, "[hub/]owner/name".
 *   hub    a DNS-ish name with an optional port ("hub.example.com", "hub.local:8080") or a
 *          configured alias ("internal"): dot-separated labels of [a-z0-9-] (no label starts or
 *          ends with '-'), at most 253 characters, port 1..65535. Resolving it to a URL is the
 *          hub client's business (hub.h); absent means the node's default hub.
 *   owner, name  [a-z0-9][a-z0-9._-]*, at most 100 characters each.
 *   N      a positive decimal generation without leading zeros, at most 2^31.
 * Pure functions; no I/O. */
#ifndef SKIFF_ENV_REF_H
#define SKIFF_ENV_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_REF_SEGMENT_MAX    100
#define SKIFF_REF_HUB_MAX        253
#define SKIFF_REF_GENERATION_MAX 2147483648u /* 2^31 */

struct skiff_ref {
        char *hub;           /* owned; NULL: the default hub */
        char *owner;         /* owned */
        char *name;          /* owned */
        uint32_t generation; /* 1..2^31; 0: unpinned */
};

/* Parses s into *ret (caller-allocated; release with skiff_ref_done()). An unpinned reference
 * is -EPERM ("... is unpinned ...") unless allow_unpinned. Any other malformation is -EINVAL
 * with a message quoting s and naming the part that is wrong. *ret is untouched on failure. */
int skiff_ref_parse(const char *s, bool allow_unpinned, struct skiff_ref *ret, skiff_err_t *err);
/* Parses the references of args[0..nargs), each a comma-separated list ("a/b@1,c/d@2"; empty
 * items are skipped), into refs[0..max) in order; *ret_n gets their number. More than max is
 * -E2BIG "too many references"; otherwise as skiff_ref_parse(). On failure no reference is left
 * to release and *ret_n is 0. */
int skiff_ref_parse_list(char *const *args, size_t nargs, bool allow_unpinned,
                         struct skiff_ref *refs, size_t max, size_t *ret_n, skiff_err_t *err);
/* Frees the strings of r and zeroes it. NULL-safe. */
void skiff_ref_done(struct skiff_ref *r);
/* Deep copy into *dst. */
void skiff_ref_copy(const struct skiff_ref *src, struct skiff_ref *dst);
/* The canonical string ("hub/owner/name@N", hub and @N only when set); heap. Parsing the result
 * yields an equal reference. */
char *skiff_ref_format(const struct skiff_ref *r);
/* "owner/name" (heap): the environment's name as written in generation documents. */
char *skiff_ref_env_name(const struct skiff_ref *r);
bool skiff_ref_equal(const struct skiff_ref *a, const struct skiff_ref *b);
static inline bool skiff_ref_is_pinned(const struct skiff_ref *r)
{
        return r->generation != 0;
}

/* Grammar checks shared with the generation document and the hub client. */
bool skiff_ref_valid_segment(const char *s); /* owner or name */
bool skiff_ref_valid_hub(const char *s);
/* Parses a generation number ("7"); -EINVAL naming what is wrong. */
int skiff_ref_parse_generation(const char *s, uint32_t *ret, skiff_err_t *err);

#endif
