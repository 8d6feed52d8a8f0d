/* The agent's Prometheus exposition: every family has its HELP/TYPE lines, node stats and the
 * agent's counters land in the right series, the histogram is cumulative, and the series that
 * depend on state (store size, running worker, stats file) follow it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "cli/agent_metrics.h"
#include "cli/nodestats.h"

static const char *const workers[] = {"scan", "gc", "prefetch", NULL};

static char *render(const struct skiff_agent_metrics *m, const struct skiff_nodestats *s,
                    const char *running)
{
        struct skiff_strbuf b = SKIFF_STRBUF_INIT;
        skiff_agent_metrics_render(m, s, workers, running, &b);
        return skiff_strbuf_take(&b);
}

/* Asserts that text has line as one whole line. */
static void has_line(const char *text, const char *line)
{
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return;
        cr_assert_fail("missing line `%s` in:\n%s", line, text);
}

Test(agent_metrics, node_stats_and_agent_counters_land_in_their_series)
{
        struct skiff_nodestats s = {.success = 3,
                                    .failure = 1,
                                    .cache_hits = 40,
                                    .paths_fetched = 12,
                                    .bytes_fetched = 123456,
                                    .duration_sum = 12.5};
        s.buckets[0] = 2;
        s.buckets[3] = 1;
        s.buckets[SKIFF_NODESTATS_NBUCKET - 1] = 1;
        s.errors[skiff_nodestats_reason(ETIMEDOUT)] = 1;
        struct skiff_agent_metrics m = {.started = 1700000000,
                                        .max_size = 1000,
                                        .gc_runs = {2, 1},
                                        .gc_deleted = 5,
                                        .gc_freed = 4096,
                                        .gc_last = 1700000100,
                                        .gc_last_seconds = 0.25,
                                        .prefetch = {7, 2}};
        m.agent_errors[skiff_nodestats_reason(EIO)] = 3;
        char *t = render(&m, &s, NULL);

        has_line(t, "# HELP skiff_build_info Version of the skiff agent.");
        has_line(t, "# TYPE skiff_build_info gauge");
        has_line(t, "skiff_build_info{version=\"" SKIFF_VERSION "\"} 1");
        has_line(t, "skiff_agent_start_time_seconds 1700000000");
        has_line(t, "skiff_stats_file_ok 1");
        has_line(t, "skiff_realizations_total{result=\"success\"} 3");
        has_line(t, "skiff_realizations_total{result=\"failure\"} 1");
        has_line(t, "skiff_paths_fetched_total 12");
        has_line(t, "skiff_fetched_bytes_total 123456");
        has_line(t, "skiff_cache_hits_total 40");
        has_line(t, "# TYPE skiff_realization_duration_seconds histogram");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"0.1\"} 2");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"0.5\"} 2");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"1\"} 3");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"300\"} 3");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"+Inf\"} 4");
        has_line(t, "skiff_realization_duration_seconds_sum 12.500000");
        has_line(t, "skiff_realization_duration_seconds_count 4");
        has_line(t, "skiff_errors_total{source=\"realize\",reason=\"timeout\"} 1");
        has_line(t, "skiff_errors_total{source=\"realize\",reason=\"io\"} 0");
        has_line(t, "skiff_errors_total{source=\"agent\",reason=\"io\"} 3");
        has_line(t, "skiff_errors_total{source=\"agent\",reason=\"timeout\"} 0");
        has_line(t, "skiff_store_size_budget_bytes 1000");
        has_line(t, "skiff_gc_runs_total{result=\"success\"} 2");
        has_line(t, "skiff_gc_runs_total{result=\"failure\"} 1");
        has_line(t, "skiff_gc_deleted_paths_total 5");
        has_line(t, "skiff_gc_freed_bytes_total 4096");
        has_line(t, "skiff_gc_last_run_timestamp_seconds 1700000100");
        has_line(t, "skiff_gc_last_duration_seconds 0.250000");
        has_line(t, "skiff_prefetch_total{result=\"success\"} 7");
        has_line(t, "skiff_prefetch_total{result=\"failure\"} 2");
        for (const char *const *w = workers; *w; w++) {
                char line[128];
                snprintf(line, sizeof(line), "skiff_agent_worker_running{job=\"%s\"} 0", *w);
                has_line(t, line);
        }
        cr_assert_null(strstr(t, "skiff_store_size_bytes"), "no scan yet: %s", t);
        free(t);
}

Test(agent_metrics, every_sample_belongs_to_a_family_declared_before_it)
{
        struct skiff_agent_metrics m = {.have_size = true};
        char *t = render(&m, NULL, "gc");
        char declared[64][96];
        size_t n = 0;
        char *save = NULL;
        for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char name[96];
                if (sscanf(l, "# TYPE %95s", name) == 1) {
                        cr_assert_lt(n, 64);
                        snprintf(declared[n++], sizeof(declared[0]), "%s", name);
                        continue;
                }
                if (l[0] == '#')
                        continue;
                size_t k = strcspn(l, "{ ");
                bool ok = false;
                for (size_t i = 0; i < n && !ok; i++) {
                        size_t dl = strlen(declared[i]);
                        ok = strncmp(l, declared[i], dl) == 0 &&
                             (k == dl || (k > dl && l[dl] == '_')); /* _bucket, _sum, _count */
                }
                cr_assert(ok, "sample without a family: `%s`", l);
        }
        cr_assert_geq(n, 18);
        free(t);
}

Test(agent_metrics, state_dependent_series_follow_the_state)
{
        struct skiff_agent_metrics m = {.have_size = true, .store_paths = 9, .store_bytes = 77};
        char *t = render(&m, NULL, "gc");
        has_line(t, "skiff_stats_file_ok 0");
        has_line(t, "skiff_realizations_total{result=\"success\"} 0");
        has_line(t, "skiff_realization_duration_seconds_bucket{le=\"+Inf\"} 0");
        has_line(t, "skiff_store_size_bytes 77");
        has_line(t, "skiff_store_paths 9");
        has_line(t, "skiff_agent_worker_running{job=\"gc\"} 1");
        has_line(t, "skiff_agent_worker_running{job=\"scan\"} 0");
        has_line(t, "skiff_agent_worker_running{job=\"prefetch\"} 0");
        free(t);
}
