#include "gpu/ldcache.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

#define OLD_MAGIC     "ld.so-1.7.0"
#define OLD_MAGIC_LEN 11
#define OLD_HEADER    16 /* magic padded to 12, uint32 nlibs */
#define OLD_ENTRY     12 /* int32 flags, uint32 key, uint32 value */
#define NEW_MAGIC     "glibc-ld.so.cache1.1"
#define NEW_MAGIC_LEN 20
#define NEW_HEADER    48
#define NEW_ENTRY     24 /* int32 flags, uint32 key, value, osversion, uint64 hwcap */
#define NEW_ALIGN     8  /* alignment of the new header after the old entries */

/* Endianness field of the new header (low two bits of the flags byte). */
enum { ENDIAN_UNSET = 0, ENDIAN_INVALID = 1, ENDIAN_LITTLE = 2, ENDIAN_BIG = 3 };

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define HOST_ENDIAN ENDIAN_LITTLE
#else
#define HOST_ENDIAN ENDIAN_BIG
#endif

static uint32_t rd32(const char *p)
{
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static uint64_t rd64(const char *p)
{
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static void wr32(char *p, uint32_t v)
{
        memcpy(p, &v, sizeof(v));
}

struct skiff_ldcache *skiff_ldcache_free(struct skiff_ldcache *c)
{
        if (c) {
                free(c->entries);
                free(c->data);
                free(c);
        }
        return NULL;
}

SKIFF_DEFINE_CLEANUP(struct skiff_ldcache *, skiff_ldcache_free)

/* A string at base + off must start inside the file and end with a NUL inside the file. */
static int get_string(const struct skiff_ldcache *c, uint64_t base, uint32_t off, const char *what,
                      size_t idx, const char **ret, skiff_err_t *err)
{
        uint64_t at = base + off;
        if (at >= c->size)
                return skiff_error_set(err, EBADMSG,
                                       "entry %zu: %s offset %u points past the end of the file",
                                       idx, what, off);
        const char *s = c->data + at;
        if (!memchr(s, '\0', c->size - at))
                return skiff_error_set(err, EBADMSG, "entry %zu: %s string is not terminated", idx,
                                       what);
        *ret = s;
        return 0;
}

static int parse_new(struct skiff_ldcache *c, uint64_t hdr, skiff_err_t *err)
{
        if (c->size < hdr || c->size - hdr < NEW_HEADER)
                return skiff_error_set(err, EBADMSG, "new-format header is truncated");
        const char *h = c->data + hdr;
        if (memcmp(h, NEW_MAGIC, NEW_MAGIC_LEN) != 0)
                return skiff_error_set(err, EBADMSG, "bad new-format magic at offset %llu",
                                       (unsigned long long)hdr);
        uint32_t nlibs = rd32(h + 20);
        uint8_t endian = (uint8_t)h[28] & 3;
        if (endian != ENDIAN_UNSET && endian != HOST_ENDIAN)
                return skiff_error_set(err, EBADMSG, "cache endianness %u is not the host's",
                                       endian);
        uint64_t avail = (c->size - hdr - NEW_HEADER) / NEW_ENTRY;
        if (nlibs > avail)
                return skiff_error_set(err, EBADMSG,
                                       "`nlibs` %u exceeds the %llu entries the file can hold",
                                       nlibs, (unsigned long long)avail);
        c->entries = xcalloc(nlibs ? nlibs : 1, sizeof(*c->entries));
        c->n_entries = nlibs;
        for (size_t i = 0; i < nlibs; i++) {
                const char *e = h + NEW_HEADER + i * NEW_ENTRY;
                struct skiff_ldcache_entry *out = &c->entries[i];
                out->flags = (int32_t)rd32(e);
                out->hwcap = rd64(e + 16);
                int r = get_string(c, hdr, rd32(e + 4), "key", i, &out->key, err);
                if (r < 0)
                        return r;
                r = get_string(c, hdr, rd32(e + 8), "value", i, &out->value, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_old(struct skiff_ldcache *c, skiff_err_t *err)
{
        if (c->size < OLD_HEADER)
                return skiff_error_set(err, EBADMSG, "old-format header is truncated");
        uint32_t nlibs = rd32(c->data + 12);
        uint64_t avail = (c->size - OLD_HEADER) / OLD_ENTRY;
        if (nlibs > avail)
                return skiff_error_set(err, EBADMSG,
                                       "`nlibs` %u exceeds the %llu entries the file can hold",
                                       nlibs, (unsigned long long)avail);
        uint64_t strings = OLD_HEADER + (uint64_t)nlibs * OLD_ENTRY;
        uint64_t hdr = (strings + NEW_ALIGN - 1) & ~(uint64_t)(NEW_ALIGN - 1);
        if (hdr <= c->size && c->size - hdr >= NEW_MAGIC_LEN &&
            memcmp(c->data + hdr, NEW_MAGIC, NEW_MAGIC_LEN) == 0) {
                c->format = SKIFF_LDCACHE_COMPAT;
                return parse_new(c, hdr, err);
        }
        c->format = SKIFF_LDCACHE_OLD;
        c->entries = xcalloc(nlibs ? nlibs : 1, sizeof(*c->entries));
        c->n_entries = nlibs;
        for (size_t i = 0; i < nlibs; i++) {
                const char *e = c->data + OLD_HEADER + i * OLD_ENTRY;
                struct skiff_ldcache_entry *out = &c->entries[i];
                out->flags = (int32_t)rd32(e);
                int r = get_string(c, strings, rd32(e + 4), "key", i, &out->key, err);
                if (r < 0)
                        return r;
                r = get_string(c, strings, rd32(e + 8), "value", i, &out->value, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int skiff_ldcache_parse(const void *buf, size_t len, struct skiff_ldcache **ret, skiff_err_t *err)
{
        if (len > SKIFF_LDCACHE_MAX_SIZE)
                return skiff_error_set(err, EFBIG, "cache is larger than %u bytes",
                                       SKIFF_LDCACHE_MAX_SIZE);
        _cleanup_(skiff_ldcache_freep) struct skiff_ldcache *c = xcalloc(1, sizeof(*c));
        /* One spare NUL so that an empty buffer still has valid storage. */
        c->data = xmalloc(len + 1);
        if (len)
                memcpy(c->data, buf, len);
        c->data[len] = '\0';
        c->size = len;
        int r;
        if (len >= OLD_MAGIC_LEN && memcmp(c->data, OLD_MAGIC, OLD_MAGIC_LEN) == 0) {
                r = parse_old(c, err);
        } else if (len >= NEW_MAGIC_LEN && memcmp(c->data, NEW_MAGIC, NEW_MAGIC_LEN) == 0) {
                c->format = SKIFF_LDCACHE_NEW;
                r = parse_new(c, 0, err);
        } else {
                r = skiff_error_set(err, EBADMSG, "not an ld.so cache (unknown magic)");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int skiff_ldcache_load(const char *path, struct skiff_ldcache **ret, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(path, SKIFF_LDCACHE_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;
        r = skiff_ldcache_parse(buf, len, ret, err);
        if (r < 0)
                return skiff_error_wrap(err, "parse ld.so cache `%s`", path);
        return 0;
}

const struct skiff_ldcache_entry *skiff_ldcache_lookup(const struct skiff_ldcache *c,
                                                       const char *soname, int32_t arch)
{
        for (size_t i = 0; c && i < c->n_entries; i++) {
                const struct skiff_ldcache_entry *e = &c->entries[i];
                int32_t type = e->flags & SKIFF_LDCACHE_TYPE_MASK;
                if ((type == SKIFF_LDCACHE_TYPE_ELF || type == SKIFF_LDCACHE_TYPE_LIBC6) &&
                    (e->flags & SKIFF_LDCACHE_ARCH_MASK) == arch && strcmp(e->key, soname) == 0)
                        return e;
        }
        return NULL;
}

int32_t skiff_ldcache_host_flags(void)
{
#if defined(__x86_64__) && !defined(__ILP32__)
        return SKIFF_LDCACHE_X86_64;
#elif defined(__aarch64__)
        return SKIFF_LDCACHE_AARCH64;
#elif defined(__i386__)
        return SKIFF_LDCACHE_I386;
#else
#error "add this ABI's ld.so.cache flags"
#endif
}

static bool is_digit(char ch)
{
        return ch >= '0' && ch <= '9';
}

int skiff_ldcache_libcmp(const char *a, const char *b)
{
        while (*a) {
                if (is_digit(*a) && is_digit(*b)) {
                        /* Compare the digit runs as numbers: skip leading zeros, then the
                         * longer run is larger, then the first differing digit decides. This
                         * never overflows, unlike accumulating the value. */
                        while (*a == '0' && is_digit(a[1]))
                                a++;
                        while (*b == '0' && is_digit(b[1]))
                                b++;
                        size_t na = 0, nb = 0;
                        while (is_digit(a[na]))
                                na++;
                        while (is_digit(b[nb]))
                                nb++;
                        if (na != nb)
                                return na < nb ? -1 : 1;
                        int c = memcmp(a, b, na);
                        if (c != 0)
                                return c;
                        a += na;
                        b += nb;
                        continue;
                }
                if (is_digit(*a))
                        return 1;
                if (is_digit(*b))
                        return -1;
                if (*a != *b)
                        return (unsigned char)*a - (unsigned char)*b;
                a++;
                b++;
        }
        return -(int)(unsigned char)*b;
}

static int wentry_cmp(const void *pa, const void *pb)
{
        const struct skiff_ldcache_wentry *a = pa, *b = pb;
        int c = skiff_ldcache_libcmp(b->soname, a->soname); /* descending */
        if (c != 0)
                return c;
        if (a->flags != b->flags)
                return a->flags > b->flags ? -1 : 1;
        return 0;
}

int skiff_ldcache_write(const struct skiff_ldcache_wentry *entries, size_t n, char **out,
                        size_t *len, skiff_err_t *err)
{
        uint64_t strings = 0;
        for (size_t i = 0; i < n; i++) {
                const struct skiff_ldcache_wentry *e = &entries[i];
                if (!e->soname || !e->soname[0] || strchr(e->soname, '/'))
                        return skiff_error_set(err, EINVAL, "entry %zu: invalid soname `%s`", i,
                                               e->soname ? e->soname : "");
                if (!e->path || e->path[0] != '/')
                        return skiff_error_set(err, EINVAL,
                                               "entry %zu (`%s`): path `%s` is not absolute", i,
                                               e->soname, e->path ? e->path : "");
                strings += strlen(e->soname) + 1 + strlen(e->path) + 1;
        }
        if (NEW_HEADER + (uint64_t)n * NEW_ENTRY + strings > SKIFF_LDCACHE_MAX_SIZE)
                return skiff_error_set(err, E2BIG, "cache of %zu entries is too large", n);

        /* Stable order for equal keys: sort indexes by (entry, original position). */
        _cleanup_free_ struct skiff_ldcache_wentry *sorted = xcalloc(n ? n : 1, sizeof(*sorted));
        if (n)
                memcpy(sorted, entries, n * sizeof(*sorted));
        /* Drop duplicates (same soname and flags), keeping the first occurrence. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < m && !dup; j++)
                        dup = sorted[j].flags == entries[i].flags &&
                              strcmp(sorted[j].soname, entries[i].soname) == 0;
                if (!dup)
                        sorted[m++] = entries[i];
        }
        qsort(sorted, m, sizeof(*sorted), wentry_cmp);

        uint64_t total = NEW_HEADER + (uint64_t)m * NEW_ENTRY;
        uint64_t str_len = 0;
        for (size_t i = 0; i < m; i++)
                str_len += strlen(sorted[i].soname) + 1 + strlen(sorted[i].path) + 1;
        size_t size = (size_t)(total + str_len);
        _cleanup_free_ char *buf = xcalloc(1, size);
        memcpy(buf, NEW_MAGIC, NEW_MAGIC_LEN);
        wr32(buf + 20, (uint32_t)m);
        wr32(buf + 24, (uint32_t)str_len);
        buf[28] = HOST_ENDIAN;
        /* extension_offset (32) and unused[3] (36..47) stay 0. */
        size_t pos = (size_t)total;
        for (size_t i = 0; i < m; i++) {
                char *e = buf + NEW_HEADER + i * NEW_ENTRY;
                size_t kl = strlen(sorted[i].soname) + 1, vl = strlen(sorted[i].path) + 1;
                wr32(e, (uint32_t)sorted[i].flags);
                wr32(e + 4, (uint32_t)pos);
                memcpy(buf + pos, sorted[i].soname, kl);
                pos += kl;
                wr32(e + 8, (uint32_t)pos);
                memcpy(buf + pos, sorted[i].path, vl);
                pos += vl;
                /* osversion (12) and hwcap (16) stay 0. */
        }
        *out = TAKE_PTR(buf);
        *len = size;
        return 0;
}
