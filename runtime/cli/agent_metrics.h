/* `skiff agent`'s /metrics: the Prometheus text exposition (format 0.0.4) of the node's
 * realization statistics (nodestats.h) and of the counters the agent keeps about its own work.
 * Pure: no I/O, no clock. */
#ifndef SKIFF_CLI_AGENT_METRICS_H
#define SKIFF_CLI_AGENT_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cli/nodestats.h"

struct skiff_strbuf;

/* What the agent counts itself. Index 0 of each [2] pair counts successes, index 1 failures. */
struct skiff_agent_metrics {
        time_t started;    /* Unix time the agent started */
        uint64_t max_size; /* the GC size budget in bytes (0: none) */
        uint64_t gc_runs[2];
        uint64_t gc_deleted, gc_freed; /* paths and NAR bytes, over all runs */
        double gc_last_seconds;        /* duration of the last GC */
        time_t gc_last;                /* Unix time of the last successful GC (0: none) */
        bool have_size;                /* store_paths and store_bytes are known */
        uint64_t store_paths, store_bytes;
        uint64_t prefetch[2];
        uint64_t agent_errors[SKIFF_NODESTATS_REASONS]; /* indexed like nodestats reasons */
};

/* Appends every metric family, each with its # HELP and # TYPE lines, to b. stats is the node
 * stats file as read (NULL: it could not be read; skiff_stats_file_ok is 0 and its counters are
 * 0). workers (NULL-terminated) names the agent's workers, one skiff_agent_worker_running series
 * each; running is the one running now (NULL: none). The store size metrics appear only when
 * m->have_size. */
void skiff_agent_metrics_render(const struct skiff_agent_metrics *m,
                                const struct skiff_nodestats *stats, const char *const *workers,
                                const char *running, struct skiff_strbuf *b);

#endif
