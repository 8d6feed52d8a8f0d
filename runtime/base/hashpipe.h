/* Streaming SHA-256 that moves the hashing of long streams onto a helper thread, so a caller
 * that also decompresses and writes (the NAR reader) does not serialise on SHA-256.
 *
 * The first SKIFF_HASHPIPE_INLINE bytes are hashed inline on the caller's thread (small inputs
 * never start a thread). After that, update() copies the bytes into a bounded ring (4 × 1 MiB)
 * and the helper thread hashes them in order; update() blocks only while the ring is full. If the
 * thread cannot be created the pipe keeps hashing inline: results never depend on the thread.
 *
 * Helper threads are a process-wide budget of one per CPU the process may run on: a pipe past
 * its inline prefix while the budget is spent hashes inline and tries again on its next update,
 * so many parallel pipes on few cores do not add threads, copies and ring memory that only
 * compete for the same cores.
 *
 * One pipe is used by one caller thread at a time. A pipe must be ended by exactly one of
 * final() or abort(), both of which join the helper thread. Allocation failure aborts (as in
 * xalloc.h). */
#ifndef SKIFF_BASE_HASHPIPE_H
#define SKIFF_BASE_HASHPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

#define SKIFF_HASHPIPE_INLINE (2u << 20)

struct skiff_hashpipe_ring;

struct skiff_hashpipe {
        struct skiff_sha256 h;            /* owned by the helper thread while ring != NULL */
        uint64_t fed;                     /* bytes fed so far */
        struct skiff_hashpipe_ring *ring; /* NULL while hashing inline */
        bool inline_only;                 /* the helper thread could not be started */
};

void skiff_hashpipe_init(struct skiff_hashpipe *p);
void skiff_hashpipe_update(struct skiff_hashpipe *p, const void *data, size_t len);
/* Writes the digest of everything fed and releases the pipe; it may be re-initialised. */
void skiff_hashpipe_final(struct skiff_hashpipe *p, uint8_t out[SKIFF_SHA256_LEN]);
/* Releases a pipe that was initialised but not finalised. Safe on a zeroed or ended pipe. */
void skiff_hashpipe_abort(struct skiff_hashpipe *p);

/* Sets the helper-thread budget (0: the default, the number of usable CPUs). For tests and
 * benchmarks; takes effect for helpers started afterwards. */
void skiff_hashpipe_set_max_helpers(unsigned n);

#endif
