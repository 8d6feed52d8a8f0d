#include "env/ref.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"

bool skiff_ref_valid_segment(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > SKIFF_REF_SEGMENT_MAX)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

static bool valid_label(const char *s, size_t n)
{
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                        return false;
        }
        return true;
}

bool skiff_ref_valid_hub(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > SKIFF_REF_HUB_MAX)
                return false;
        const char *colon = strchr(s, ':');
        size_t host_len = colon ? (size_t)(colon - s) : n;
        if (colon) {
                const char *p = colon + 1;
                size_t pl = strlen(p);
                if (pl == 0 || pl > 5 || p[0] == '0')
                        return false;
                unsigned long port = 0;
                for (size_t i = 0; i < pl; i++) {
                        if (p[i] < '0' || p[i] > '9')
                                return false;
                        port = port * 10 + (unsigned long)(p[i] - '0');
                }
                if (port == 0 || port > 65535)
                        return false;
        }
        size_t start = 0;
        for (size_t i = 0; i <= host_len; i++) {
                if (i == host_len || s[i] == '.') {
                        if (!valid_label(s + start, i - start))
                                return false;
                        start = i + 1;
                }
        }
        return true;
}

int skiff_ref_parse_generation(const char *s, uint32_t *ret, skiff_err_t *err)
{
        size_t n = strlen(s);
        if (n == 0)
                return skiff_error_set(err, EINVAL, "empty generation");
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return skiff_error_set(
                            err, EINVAL, "generation `%s` is not a positive decimal number", s);
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > SKIFF_REF_GENERATION_MAX)
                        return skiff_error_set(err, ERANGE, "generation `%s` is larger than %u", s,
                                               SKIFF_REF_GENERATION_MAX);
        }
        if (v == 0)
                return skiff_error_set(err, EINVAL, "generation `%s` must be positive", s);
        if (s[0] == '0')
                return skiff_error_set(err, EINVAL, "generation `%s` has a leading zero", s);
        *ret = (uint32_t)v;
        return 0;
}

int skiff_ref_parse(const char *s, bool allow_unpinned, struct skiff_ref *ret, skiff_err_t *err)
{
        if (!*s)
                return skiff_error_set(err, EINVAL, "empty environment reference");
        if (strlen(s) > SKIFF_REF_HUB_MAX + 2 * SKIFF_REF_SEGMENT_MAX + 16)
                return skiff_error_set(err, EINVAL, "environment reference is too long");
        _cleanup_free_ char *copy = xstrdup(s);
        uint32_t gen = 0;
        char *at = strchr(copy, '@');
        if (at) {
                *at = '\0';
                skiff_err_t gerr = NULL;
                int r = skiff_ref_parse_generation(at + 1, &gen, &gerr);
                if (r < 0) {
                        r = skiff_error_set(err, -r, "environment reference `%s`: %s", s,
                                            skiff_error_msg(gerr));
                        skiff_error_free(&gerr);
                        return r;
                }
        }
        char *parts[4] = {NULL};
        size_t np = 0;
        for (char *p = copy;;) {
                if (np == 3)
                        return skiff_error_set(err, EINVAL,
                                               "environment reference `%s`: too many `/` (expected "
                                               "[hub/]owner/name@generation)",
                                               s);
                parts[np++] = p;
                char *sl = strchr(p, '/');
                if (!sl)
                        break;
                *sl = '\0';
                p = sl + 1;
        }
        if (np < 2)
                return skiff_error_set(err, EINVAL,
                                       "environment reference `%s`: expected "
                                       "[hub/]owner/name@generation",
                                       s);
        const char *hub = np == 3 ? parts[0] : NULL;
        const char *owner = parts[np - 2], *name = parts[np - 1];
        if (hub && !skiff_ref_valid_hub(hub))
                return skiff_error_set(err, EINVAL,
                                       "environment reference `%s`: invalid hub `%s` (expected a "
                                       "lower-case DNS name or alias, optionally with :port)",
                                       s, hub);
        if (!skiff_ref_valid_segment(owner))
                return skiff_error_set(err, EINVAL,
                                       "environment reference `%s`: invalid owner `%s` (expected "
                                       "[a-z0-9][a-z0-9._-]*, at most %d characters)",
                                       s, owner, SKIFF_REF_SEGMENT_MAX);
        if (!skiff_ref_valid_segment(name))
                return skiff_error_set(err, EINVAL,
                                       "environment reference `%s`: invalid name `%s` (expected "
                                       "[a-z0-9][a-z0-9._-]*, at most %d characters)",
                                       s, name, SKIFF_REF_SEGMENT_MAX);
        if (gen == 0 && !allow_unpinned)
                return skiff_error_set(err, EPERM,
                                       "environment reference `%s` is unpinned (write `%s@N`; "
                                       "unpinned references need allow_unpinned in the node "
                                       "config)",
                                       s, s);
        ret->hub = xstrdup(hub);
        ret->owner = xstrdup(owner);
        ret->name = xstrdup(name);
        ret->generation = gen;
        return 0;
}

int skiff_ref_parse_list(char *const *args, size_t nargs, bool allow_unpinned,
                         struct skiff_ref *refs, size_t max, size_t *ret_n, skiff_err_t *err)
{
        size_t n = 0;
        int r = 0;
        for (size_t i = 0; i < nargs && r >= 0; i++) {
                _cleanup_strv_ char **items = skiff_strv_split(args[i], ",", true);
                for (char **it = items; it && *it && r >= 0; it++) {
                        if (n == max) {
                                r = skiff_error_set(err, E2BIG, "too many references");
                                break;
                        }
                        r = skiff_ref_parse(*it, allow_unpinned, &refs[n], err);
                        if (r >= 0)
                                n++;
                }
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        skiff_ref_done(&refs[i]);
                n = 0;
        }
        *ret_n = n;
        return r < 0 ? r : 0;
}

void skiff_ref_done(struct skiff_ref *r)
{
        if (!r)
                return;
        free(r->hub);
        free(r->owner);
        free(r->name);
        *r = (struct skiff_ref){0};
}

void skiff_ref_copy(const struct skiff_ref *src, struct skiff_ref *dst)
{
        dst->hub = xstrdup(src->hub);
        dst->owner = xstrdup(src->owner);
        dst->name = xstrdup(src->name);
        dst->generation = src->generation;
}

char *skiff_ref_format(const struct skiff_ref *r)
{
        _cleanup_free_ char *gen = r->generation ? xasprintf("@%u", r->generation) : xstrdup("");
        return xasprintf("%s%s%s/%s%s", r->hub ? r->hub : "", r->hub ? "/" : "", r->owner, r->name,
                         gen);
}

char *skiff_ref_env_name(const struct skiff_ref *r)
{
        return xasprintf("%s/%s", r->owner, r->name);
}

static bool str_eq_null(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool skiff_ref_equal(const struct skiff_ref *a, const struct skiff_ref *b)
{
        return str_eq_null(a->hub, b->hub) && strcmp(a->owner, b->owner) == 0 &&
               strcmp(a->name, b->name) == 0 && a->generation == b->generation;
}
