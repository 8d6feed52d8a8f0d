#include "base/hashpipe.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigbuf.h"
#include "base/xalloc.h"

#define SLOT_SIZE (256 * 1024)
#define NSLOTS    4

struct slot {
        uint8_t *data;
        size_t len;
};

/* Slots [head, head + ready) are full and wait for the helper; slot (head + ready) % NSLOTS is
 * the one the caller fills. The caller owns the slot it fills; everything else is guarded by mu. */
struct skiff_hashpipe_ring {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv; /* signalled when ready grows, a slot is freed, or done is set */
        struct slot slots[NSLOTS];
        size_t head, ready;
        bool done;   /* the caller posted its last slot */
        bool cancel; /* abort(): stop without hashing the rest */
        struct skiff_sha256 *h;
};

static void *helper(void *arg)
{
        struct skiff_hashpipe_ring *r = arg;
        pthread_mutex_lock(&r->mu);
        for (;;) {
                while (r->ready == 0 && !r->done && !r->cancel)
                        pthread_cond_wait(&r->cv, &r->mu);
                if (r->cancel || r->ready == 0)
                        break;
                struct slot *s = &r->slots[r->head];
                pthread_mutex_unlock(&r->mu);
                skiff_sha256_update(r->h, s->data, s->len);
                pthread_mutex_lock(&r->mu);
                s->len = 0;
                r->head = (r->head + 1) % NSLOTS;
                r->ready--;
                pthread_cond_broadcast(&r->cv);
        }
        pthread_mutex_unlock(&r->mu);
        return NULL;
}

/* Helpers running process-wide, and the budget (0: one per usable CPU). */
static atomic_uint helpers_running;
static atomic_uint helpers_max;

static unsigned usable_cpus(void)
{
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
                return (unsigned)CPU_COUNT(&set);
        return 1;
}

void skiff_hashpipe_set_max_helpers(unsigned n)
{
        atomic_store(&helpers_max, n);
}

static bool claim_helper(void)
{
        unsigned max = atomic_load(&helpers_max);
        if (max == 0)
                max = usable_cpus();
        unsigned cur = atomic_load(&helpers_running);
        while (cur < max)
                if (atomic_compare_exchange_weak(&helpers_running, &cur, cur + 1))
                        return true;
        return false;
}

void skiff_hashpipe_init(struct skiff_hashpipe *p)
{
        *p = (struct skiff_hashpipe){0};
        skiff_sha256_init(&p->h);
}

/* Frees the ring and returns its claim on the helper budget. */
static void ring_free(struct skiff_hashpipe_ring *r)
{
        for (size_t i = 0; i < NSLOTS; i++)
                skiff_bigbuf_free(r->slots[i].data);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        atomic_fetch_sub(&helpers_running, 1);
}

/* Starts the helper if the budget allows; otherwise the pipe stays inline for now. */
static void start(struct skiff_hashpipe *p)
{
        if (!claim_helper())
                return;
        struct skiff_hashpipe_ring *r = xcalloc(1, sizeof(*r));
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        for (size_t i = 0; i < NSLOTS; i++)
                r->slots[i].data = skiff_bigbuf_alloc(SLOT_SIZE);
        r->h = &p->h;
        if (pthread_create(&r->thread, NULL, helper, r) != 0) {
                ring_free(r);
                p->inline_only = true;
                return;
        }
        p->ring = r;
}

/* The slot the caller fills; waits while every slot is full or queued. Called with mu held. */
static struct slot *fill_slot(struct skiff_hashpipe_ring *r)
{
        while (r->ready == NSLOTS)
                pthread_cond_wait(&r->cv, &r->mu);
        return &r->slots[(r->head + r->ready) % NSLOTS];
}

void skiff_hashpipe_update(struct skiff_hashpipe *p, const void *data, size_t len)
{
        const uint8_t *d = data;
        if (!p->ring && !p->inline_only) {
                if (p->fed < SKIFF_HASHPIPE_INLINE) {
                        size_t k = SKIFF_HASHPIPE_INLINE - p->fed;
                        if (k > len)
                                k = len;
                        skiff_sha256_update(&p->h, d, k);
                        p->fed += k;
                        d += k;
                        len -= k;
                        if (len == 0)
                                return;
                }
                start(p);
        }
        p->fed += len;
        struct skiff_hashpipe_ring *r = p->ring;
        if (!r) {
                skiff_sha256_update(&p->h, d, len);
                return;
        }
        while (len) {
                pthread_mutex_lock(&r->mu);
                struct slot *s = fill_slot(r);
                pthread_mutex_unlock(&r->mu);
                size_t k = SLOT_SIZE - s->len < len ? SLOT_SIZE - s->len : len;
                memcpy(s->data + s->len, d, k);
                s->len += k;
                d += k;
                len -= k;
                if (s->len == SLOT_SIZE) {
                        pthread_mutex_lock(&r->mu);
                        r->ready++;
                        pthread_cond_broadcast(&r->cv);
                        pthread_mutex_unlock(&r->mu);
                }
        }
}

static void stop(struct skiff_hashpipe *p, bool cancel)
{
        struct skiff_hashpipe_ring *r = p->ring;
        if (!r)
                return;
        pthread_mutex_lock(&r->mu);
        if (!cancel) {
                struct slot *s = fill_slot(r);
                if (s->len)
                        r->ready++;
        }
        r->done = true;
        r->cancel = cancel;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        ring_free(r);
        p->ring = NULL;
}

void skiff_hashpipe_final(struct skiff_hashpipe *p, uint8_t out[SKIFF_SHA256_LEN])
{
        stop(p, false);
        skiff_sha256_final(&p->h, out);
        *p = (struct skiff_hashpipe){0};
}

void skiff_hashpipe_abort(struct skiff_hashpipe *p)
{
        stop(p, true);
        skiff_sha256_abort(&p->h);
        *p = (struct skiff_hashpipe){0};
}
