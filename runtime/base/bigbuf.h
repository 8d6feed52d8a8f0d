/* Large transfer buffers (receive chunks, hash slots, decompressor windows).
 *
 * Buffers of SKIFF_BIGBUF_MIN bytes or more are mapped with MAP_POPULATE: one system call maps
 * and zero-fills them, instead of one page fault per 4 KiB on first touch (several microseconds
 * each in a VM, and faults of parallel threads serialise on the address space). Freed ones go to
 * a process-wide cache of at most SKIFF_BIGBUF_CACHE bytes and are handed out again for the same
 * size, so the next transfer reuses memory that is already mapped. Cached buffers stay resident
 * until the process exits or calls skiff_bigbuf_trim(): every user today is a short-lived
 * realizer process (`skiff realize|prefetch|publish`, the shim's and the agent's children;
 * `skiff run` execs its workload). Smaller requests are served by
 * malloc, so one pair of functions can be any library's allocator (zstd's ZSTD_customMem).
 *
 * Under AddressSanitizer every buffer comes from malloc and nothing is cached
 * (SKIFF_BIGBUF_CACHING is 0), so overflows of these buffers stay detectable.
 *
 * Thread-safe. Contents of a new or recycled buffer are unspecified. Allocation failure aborts
 * (as in xalloc.h). */
#ifndef SKIFF_BASE_BIGBUF_H
#define SKIFF_BASE_BIGBUF_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define SKIFF_BIGBUF_CACHING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIFF_BIGBUF_CACHING 0
#endif
#endif
#ifndef SKIFF_BIGBUF_CACHING
#define SKIFF_BIGBUF_CACHING 1
#endif

#define SKIFF_BIGBUF_MIN   (64u * 1024)
#define SKIFF_BIGBUF_CACHE (64u << 20)

void *skiff_bigbuf_alloc(size_t size);
void skiff_bigbuf_free(void *p); /* NULL-safe */
static inline void skiff_bigbuf_freep(void *pp)
{
        skiff_bigbuf_free(*(void **)pp);
}
#define _cleanup_bigbuf_ __attribute__((cleanup(skiff_bigbuf_freep)))

/* Bytes held by the cache now (for tests and diagnostics). */
size_t skiff_bigbuf_cached(void);
/* Unmaps every cached buffer (tests; a process may also call it after a realization). */
void skiff_bigbuf_trim(void);

/* The same pair in the shape of zstd's ZSTD_allocFunction / ZSTD_freeFunction. */
void *skiff_bigbuf_zalloc(void *opaque, size_t size);
void skiff_bigbuf_zfree(void *opaque, void *p);

#endif
