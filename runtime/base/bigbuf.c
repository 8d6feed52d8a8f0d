#include "base/bigbuf.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/xalloc.h"

/* Every buffer starts HDR bytes before the pointer handed out. */
#define HDR        64
#define MAGIC_MMAP 0x736b6966626d6170ull /* "skifbmap" */
#define MAGIC_HEAP 0x736b696662686570ull /* "skifbhep" */

struct hdr {
        uint64_t magic;
        size_t maplen;    /* length of the mapping (MAGIC_MMAP) */
        struct hdr *next; /* in the cache */
};
_Static_assert(sizeof(struct hdr) <= HDR, "header fits");

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct hdr *cache; /* guarded by mu */
static size_t cached;     /* guarded by mu */

static size_t page_round(size_t n)
{
        long p = sysconf(_SC_PAGESIZE);
        size_t page = p > 0 ? (size_t)p : 4096;
        if (n > SIZE_MAX - page)
                abort();
        return (n + page - 1) / page * page;
}

void *skiff_bigbuf_alloc(size_t size)
{
        if (size > SIZE_MAX - HDR)
                abort();
        if (size < SKIFF_BIGBUF_MIN || !SKIFF_BIGBUF_CACHING) {
                struct hdr *h = xmalloc(HDR + size);
                h->magic = MAGIC_HEAP;
                return (char *)h + HDR;
        }
        size_t len = page_round(HDR + size);
        pthread_mutex_lock(&mu);
        for (struct hdr **pp = &cache; *pp; pp = &(*pp)->next) {
                if ((*pp)->maplen == len) {
                        struct hdr *h = *pp;
                        *pp = h->next;
                        cached -= len;
                        pthread_mutex_unlock(&mu);
                        h->next = NULL;
                        return (char *)h + HDR;
                }
        }
        pthread_mutex_unlock(&mu);
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED)
                abort();
        struct hdr *h = m;
        *h = (struct hdr){.magic = MAGIC_MMAP, .maplen = len};
        return (char *)h + HDR;
}

void skiff_bigbuf_free(void *p)
{
        if (!p)
                return;
        struct hdr *h = (struct hdr *)(void *)((char *)p - HDR);
        if (h->magic == MAGIC_HEAP) {
                free(h);
                return;
        }
        if (h->magic != MAGIC_MMAP)
                abort(); /* not ours: a caller bug that must not become memory corruption */
        pthread_mutex_lock(&mu);
        if (cached + h->maplen <= SKIFF_BIGBUF_CACHE) {
                h->next = cache;
                cache = h;
                cached += h->maplen;
                pthread_mutex_unlock(&mu);
                return;
        }
        pthread_mutex_unlock(&mu);
        munmap(h, h->maplen);
}

size_t skiff_bigbuf_cached(void)
{
        pthread_mutex_lock(&mu);
        size_t n = cached;
        pthread_mutex_unlock(&mu);
        return n;
}

void skiff_bigbuf_trim(void)
{
        pthread_mutex_lock(&mu);
        struct hdr *h = cache;
        cache = NULL;
        cached = 0;
        pthread_mutex_unlock(&mu);
        while (h) {
                struct hdr *next = h->next;
                munmap(h, h->maplen);
                h = next;
        }
}

void *skiff_bigbuf_zalloc(void *opaque, size_t size)
{
        (void)opaque;
        return skiff_bigbuf_alloc(size);
}

void skiff_bigbuf_zfree(void *opaque, void *p)
{
        (void)opaque;
        skiff_bigbuf_free(p);
}
