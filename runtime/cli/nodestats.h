/* Node-wide realization statistics, shared by every `skiff realize` (each shim runs one per pod
 * sandbox) and read by `skiff agent` for /metrics: the JSON file <store_root>/stats.json, updated
 * under an exclusive flock(2) on <store_root>/locks/stats.lock by read-modify-atomic-rename, so
 * concurrent realizers never lose an update and readers never see a torn file.
 *
 *   {"version": 1,
 *    "realizations": {"success": 3, "failure": 1},
 *    "paths_fetched": 12, "bytes_fetched": 123456, "cache_hits": 40,
 *    "duration_seconds": {"sum": 12.5, "buckets": [0, 1, ...]},   counts per bucket, not
 *                                                                  cumulative; one per
 *                                                                  SKIFF_NODESTATS_BUCKETS
 *                                                                  entry plus +Inf
 *    "errors": {"network": 1}}                                     failures by reason
 * Blocking file I/O. */
#ifndef SKIFF_CLI_NODESTATS_H
#define SKIFF_CLI_NODESTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_NODESTATS_FILE    "stats.json"
#define SKIFF_NODESTATS_LOCK    "locks/stats.lock"
#define SKIFF_NODESTATS_NBUCKET 12 /* 11 bounds + +Inf */
#define SKIFF_NODESTATS_REASONS 12

/* Upper bounds (seconds) of the duration histogram buckets, ascending; the last bucket is +Inf. */
extern const double SKIFF_NODESTATS_BUCKETS[SKIFF_NODESTATS_NBUCKET - 1];

struct skiff_nodestats {
        uint64_t success, failure;
        uint64_t paths_fetched, bytes_fetched, cache_hits;
        double duration_sum;
        uint64_t buckets[SKIFF_NODESTATS_NBUCKET];
        uint64_t errors[SKIFF_NODESTATS_REASONS]; /* indexed like skiff_nodestats_reason_name */
};

/* One finished realization. errnum: 0 on success, else the positive errno it failed with. */
struct skiff_nodestats_realization {
        int errnum;
        uint64_t paths_fetched, bytes_fetched, cache_hits;
        double seconds;
};

/* The reason label for a positive errno ("network", "timeout", "verify", ...), and its index. */
size_t skiff_nodestats_reason(int errnum);
const char *skiff_nodestats_reason_name(size_t index); /* NULL past the end */

/* Adds rec to the node's file (creating it and locks/ when missing). */
int skiff_nodestats_record(const char *store_root, const struct skiff_nodestats_realization *rec,
                           skiff_err_t *err);
/* Reads the file; a missing file is all zeros. -EBADMSG naming the file when malformed. */
int skiff_nodestats_load(const char *store_root, struct skiff_nodestats *ret, skiff_err_t *err);

/* Pure (de)serialisation, exposed for tests. */
int skiff_nodestats_parse(const char *buf, size_t len, struct skiff_nodestats *ret,
                          skiff_err_t *err);
char *skiff_nodestats_format(const struct skiff_nodestats *s);
void skiff_nodestats_add(struct skiff_nodestats *s, const struct skiff_nodestats_realization *rec);

#endif
