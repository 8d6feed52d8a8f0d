/* Prometheus text for `skiff agent` (agent_metrics.h). */
#include "cli/agent_metrics.h"

#include <stdint.h>
#include <string.h>

#include "base/strbuf.h"

static void metric_head(struct skiff_strbuf *b, const char *name, const char *type,
                        const char *help)
{
        skiff_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric with one unlabelled sample. */
static void metric_u64(struct skiff_strbuf *b, const char *name, const char *type, const char *help,
                       uint64_t v)
{
        metric_head(b, name, type, help);
        skiff_strbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A counter with result="success" and result="failure" samples. */
static void metric_results(struct skiff_strbuf *b, const char *name, const char *help,
                           uint64_t success, uint64_t failure)
{
        metric_head(b, name, "counter", help);
        skiff_strbuf_printf(b, "%s{result=\"success\"} %llu\n", name, (unsigned long long)success);
        skiff_strbuf_printf(b, "%s{result=\"failure\"} %llu\n", name, (unsigned long long)failure);
}

void skiff_agent_metrics_render(const struct skiff_agent_metrics *m,
                                const struct skiff_nodestats *stats, const char *const *workers,
                                const char *running, struct skiff_strbuf *b)
{
        static const struct skiff_nodestats none;
        const struct skiff_nodestats s = stats ? *stats : none;
        bool stats_ok = stats != NULL;

        metric_head(b, "skiff_build_info", "gauge", "Version of the skiff agent.");
        skiff_strbuf_printf(b, "skiff_build_info{version=\"%s\"} 1\n", SKIFF_VERSION);
        metric_head(b, "skiff_agent_start_time_seconds", "gauge", "Unix time the agent started.");
        skiff_strbuf_printf(b, "skiff_agent_start_time_seconds %lld\n", (long long)m->started);
        metric_head(b, "skiff_stats_file_ok", "gauge", "1 when the node stats file could be read.");
        skiff_strbuf_printf(b, "skiff_stats_file_ok %d\n", stats_ok ? 1 : 0);

        metric_results(b, "skiff_realizations_total",
                       "Realizations run on this node (by shims and the agent), by result.",
                       s.success, s.failure);
        metric_u64(b, "skiff_paths_fetched_total", "counter",
                   "Store paths downloaded, verified and added.", s.paths_fetched);
        metric_u64(b, "skiff_fetched_bytes_total", "counter",
                   "Bytes downloaded from binary caches.", s.bytes_fetched);
        metric_u64(b, "skiff_cache_hits_total", "counter",
                   "Store paths a realization found already present in the node store.",
                   s.cache_hits);

        metric_head(b, "skiff_realization_duration_seconds", "histogram",
                    "Wall time of realizations.");
        uint64_t cum = 0;
        for (size_t i = 0; i < SKIFF_NODESTATS_NBUCKET; i++) {
                cum += s.buckets[i];
                if (i + 1 < SKIFF_NODESTATS_NBUCKET)
                        skiff_strbuf_printf(b,
                                            "skiff_realization_duration_seconds_bucket{le=\"%g\"} "
                                            "%llu\n",
                                            SKIFF_NODESTATS_BUCKETS[i], (unsigned long long)cum);
                else
                        skiff_strbuf_printf(b,
                                            "skiff_realization_duration_seconds_bucket{le=\"+Inf\"}"
                                            " %llu\n",
                                            (unsigned long long)cum);
        }
        skiff_strbuf_printf(b, "skiff_realization_duration_seconds_sum %.6f\n", s.duration_sum);
        skiff_strbuf_printf(b, "skiff_realization_duration_seconds_count %llu\n",
                            (unsigned long long)cum);

        metric_head(b, "skiff_errors_total", "counter",
                    "Failures by reason: realizations (source=realize) and agent work "
                    "(source=agent).");
        for (size_t i = 0; i < SKIFF_NODESTATS_REASONS; i++) {
                skiff_strbuf_printf(
                    b, "skiff_errors_total{source=\"realize\",reason=\"%s\"} %llu\n",
                    skiff_nodestats_reason_name(i), (unsigned long long)s.errors[i]);
                skiff_strbuf_printf(b, "skiff_errors_total{source=\"agent\",reason=\"%s\"} %llu\n",
                                    skiff_nodestats_reason_name(i),
                                    (unsigned long long)m->agent_errors[i]);
        }

        if (m->have_size) {
                metric_u64(b, "skiff_store_size_bytes", "gauge",
                           "Total NAR size of the paths in the node store.", m->store_bytes);
                metric_u64(b, "skiff_store_paths", "gauge", "Store paths in the node store.",
                           m->store_paths);
        }
        metric_u64(b, "skiff_store_size_budget_bytes", "gauge",
                   "GC size budget (0: none; GC then removes every unreachable path).",
                   m->max_size);
        metric_results(b, "skiff_gc_runs_total", "GC runs by the agent, by result.", m->gc_runs[0],
                       m->gc_runs[1]);
        metric_u64(b, "skiff_gc_deleted_paths_total", "counter", "Store paths deleted by GC.",
                   m->gc_deleted);
        metric_u64(b, "skiff_gc_freed_bytes_total", "counter", "NAR bytes freed by GC.",
                   m->gc_freed);
        metric_head(b, "skiff_gc_last_run_timestamp_seconds", "gauge",
                    "Unix time of the last successful GC (0: none yet).");
        skiff_strbuf_printf(b, "skiff_gc_last_run_timestamp_seconds %lld\n", (long long)m->gc_last);
        metric_head(b, "skiff_gc_last_duration_seconds", "gauge", "Duration of the last GC.");
        skiff_strbuf_printf(b, "skiff_gc_last_duration_seconds %.6f\n", m->gc_last_seconds);
        metric_results(b, "skiff_prefetch_total",
                       "Prefetch attempts of listed references, by result.", m->prefetch[0],
                       m->prefetch[1]);
        metric_head(b, "skiff_agent_worker_running", "gauge",
                    "1 while a worker (gc, scan, prefetch) runs.");
        for (const char *const *w = workers; w && *w; w++)
                skiff_strbuf_printf(b, "skiff_agent_worker_running{job=\"%s\"} %d\n", *w,
                                    running && strcmp(*w, running) == 0 ? 1 : 0);
}
