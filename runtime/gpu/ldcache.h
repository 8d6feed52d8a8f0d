/* glibc's /etc/ld.so.cache: a strict reader of the three layouts (old "ld.so-1.7.0" alone, old
 * followed by the new "glibc-ld.so.cache1.1" part, new alone) and a writer of the new layout.
 * Pure: no I/O besides skiff_ldcache_load(). Format facts: gpu.md §3.
 *
 * The reader copies the input; every key/value offset is checked against the file size and
 * every string must be NUL-terminated inside the file. When both parts are present the new part
 * is used (as glibc's ld.so does). Multi-byte fields are host-endian; a new header that declares
 * the other endianness is refused. */
#ifndef SKIFF_GPU_LDCACHE_H
#define SKIFF_GPU_LDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_LDCACHE_MAX_SIZE (64u << 20) /* larger cache files are refused */

/* flags & 0x00ff: the library type. */
#define SKIFF_LDCACHE_TYPE_MASK  0x00ff
#define SKIFF_LDCACHE_TYPE_ELF   0x0001
#define SKIFF_LDCACHE_TYPE_LIBC6 0x0003
/* flags & 0xff00: the ABI. */
#define SKIFF_LDCACHE_ARCH_MASK    0xff00
#define SKIFF_LDCACHE_ARCH_I386    0x0000
#define SKIFF_LDCACHE_ARCH_X86_64  0x0300
#define SKIFF_LDCACHE_ARCH_AARCH64 0x0a00
/* Complete flags of a libc6 entry per ABI (what ld.so on that ABI accepts). */
#define SKIFF_LDCACHE_X86_64  (SKIFF_LDCACHE_ARCH_X86_64 | SKIFF_LDCACHE_TYPE_LIBC6)
#define SKIFF_LDCACHE_I386    (SKIFF_LDCACHE_ARCH_I386 | SKIFF_LDCACHE_TYPE_LIBC6)
#define SKIFF_LDCACHE_AARCH64 (SKIFF_LDCACHE_ARCH_AARCH64 | SKIFF_LDCACHE_TYPE_LIBC6)

enum skiff_ldcache_format {
        SKIFF_LDCACHE_OLD,    /* "ld.so-1.7.0" only */
        SKIFF_LDCACHE_COMPAT, /* old part followed by a new part */
        SKIFF_LDCACHE_NEW,    /* "glibc-ld.so.cache1.1" only */
        _SKIFF_LDCACHE_FORMAT_MAX,
};

struct skiff_ldcache_entry {
        int32_t flags;
        const char *key;   /* SONAME or link name; points into the cache's copy of the file */
        const char *value; /* path of the library */
        uint64_t hwcap;    /* 0 in the old format */
};

struct skiff_ldcache {
        enum skiff_ldcache_format format;
        struct skiff_ldcache_entry *entries; /* in file order (the loader's preference order) */
        size_t n_entries;
        char *data; /* owned copy of the file */
        size_t size;
};

/* Parses buf[0..len). -EBADMSG with a message naming the offending field or entry. */
int skiff_ldcache_parse(const void *buf, size_t len, struct skiff_ldcache **ret, skiff_err_t *err);
/* Reads and parses a cache file (errors name the file). -ENOENT when it does not exist. */
int skiff_ldcache_load(const char *path, struct skiff_ldcache **ret, skiff_err_t *err);
struct skiff_ldcache *skiff_ldcache_free(struct skiff_ldcache *c); /* NULL-safe, returns NULL */

/* The first entry whose key equals soname and whose ABI bits (flags & 0xff00) equal arch and
 * whose type is ELF or libc6 ELF; NULL when there is none. Borrowed from c. */
const struct skiff_ldcache_entry *skiff_ldcache_lookup(const struct skiff_ldcache *c,
                                                       const char *soname, int32_t arch);

/* The complete libc6 flags of the ABI this code was compiled for (e.g. 0x0303 on x86-64). */
int32_t skiff_ldcache_host_flags(void);

/* glibc's ordering of cache keys: like strcmp, but runs of decimal digits compare as numbers
 * and a digit sorts after any non-digit. Negative, zero or positive. */
int skiff_ldcache_libcmp(const char *a, const char *b);

struct skiff_ldcache_wentry {
        const char *soname; /* key; non-empty, no '/' */
        const char *path;   /* absolute path */
        int32_t flags;      /* e.g. SKIFF_LDCACHE_X86_64 */
};

/* Serialises entries as a new-format cache (no old part, no extensions, hwcap 0), sorted the
 * way ld.so's binary search needs (keys descending per skiff_ldcache_libcmp, then flags
 * descending). Duplicate (soname, flags) pairs keep the first given. *out is a heap buffer of
 * *len bytes. -EINVAL for an invalid entry (named), -E2BIG when the result would exceed
 * SKIFF_LDCACHE_MAX_SIZE. */
int skiff_ldcache_write(const struct skiff_ldcache_wentry *entries, size_t n, char **out,
                        size_t *len, skiff_err_t *err);

#endif
