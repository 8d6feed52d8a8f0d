/* skiff prefetch REF... [--json] [--timeout S] [--root NAME] [--plan FILE] */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strv.h"
#include "cli/cli.h"
#include "env/assemble.h"
#include "env/realize.h"
#include "env/ref.h"
#include "store/config.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: skiff prefetch [--config FILE] [--json] [--timeout SECONDS] [--root NAME]\n"
                "                      [--plan FILE] REF...\n"
                "\n"
                "Realizes environments into the node store without running anything: pins each\n"
                "reference ([hub/]owner/name@N; an unpinned one only with `allow_unpinned`),\n"
                "verifies its generation document, substitutes the closure for this system,\n"
                "builds the merged profile of the layers (REFs in order, later wins) and keeps\n"
                "the last `keep_generations` generations of each environment as GC roots.\n"
                "  --json           progress as JSON lines on stdout\n"
                "  --timeout S      give up after S seconds (realization resumes on the next run)\n"
                "  --root NAME      record the closure as GC root roots/NAME\n"
                "  --plan FILE      write the container assembly plan (JSON) to FILE\n"
                "  --config FILE    node config (default " SKIFF_CONFIG_PATH_DEFAULT ")\n"
                "\n"
                "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

struct state {
        bool json;
        pthread_mutex_t mu;
        size_t done, total;
        uint64_t bytes;
        char *refs;
        unsigned timeout;
        struct timespec t0;
};

static struct state st = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void print_json(struct skiff_json_gen *g)
{
        _cleanup_free_ char *line = NULL;
        if (skiff_json_gen_finish(g, &line, NULL, NULL) >= 0) {
                printf("%s\n", line);
                fflush(stdout);
        }
}

static void on_event(const struct skiff_realize_event *ev, void *userdata)
{
        pthread_mutex_lock(&st.mu);
        if (ev->kind == SKIFF_REALIZE_EVENT_PATH || ev->kind == SKIFF_REALIZE_EVENT_CLOSURE) {
                st.done = ev->done;
                st.total = ev->total;
                st.bytes = ev->bytes_done;
        }
        pthread_mutex_unlock(&st.mu);
        if (!st.json)
                return;
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        switch (ev->kind) {
        case SKIFF_REALIZE_EVENT_RESOLVED:
                skiff_json_gen_kv_string(g, "event", "resolved");
                skiff_json_gen_kv_string(g, "ref", ev->ref);
                break;
        case SKIFF_REALIZE_EVENT_DOCUMENT:
                skiff_json_gen_kv_string(g, "event", "document");
                skiff_json_gen_kv_string(g, "ref", ev->ref);
                skiff_json_gen_kv_bool(g, "cached", ev->from_cache);
                break;
        case SKIFF_REALIZE_EVENT_CLOSURE:
                skiff_json_gen_kv_string(g, "event", "closure");
                skiff_json_gen_kv_u64(g, "total", ev->total);
                skiff_json_gen_kv_u64(g, "bytes_total", ev->bytes_total);
                break;
        case SKIFF_REALIZE_EVENT_PATH:
                skiff_json_gen_kv_string(g, "event", "path");
                skiff_json_gen_kv_string(g, "state", ev->fetched ? "fetched" : "present");
                skiff_json_gen_kv_string(g, "path", ev->path);
                skiff_json_gen_kv_u64(g, "done", ev->done);
                skiff_json_gen_kv_u64(g, "total", ev->total);
                skiff_json_gen_kv_u64(g, "bytes", ev->bytes_done);
                break;
        case SKIFF_REALIZE_EVENT_PROFILE:
                skiff_json_gen_kv_string(g, "event", "profile");
                skiff_json_gen_kv_string(g, "path", ev->path);
                break;
        default:
                return;
        }
        skiff_json_gen_map_close(g);
        print_json(g);
}

static void *watchdog(void *arg)
{
        struct timespec ts = {.tv_sec = st.timeout};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&st.mu);
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "environment %s: still realizing (%zu/%zu paths, %.0f MiB) after %us", st.refs,
                 st.done, st.total, (double)st.bytes / 1048576.0, st.timeout);
        if (st.json) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "event", "error");
                skiff_json_gen_kv_string(g, "message", msg);
                skiff_json_gen_map_close(g);
                print_json(g);
        }
        fprintf(stderr, "skiff prefetch: %s\n", msg);
        fflush(stderr);
        _exit(SKIFF_EXIT_FAILURE);
        return NULL;
}

static int fail(const char *msg)
{
        if (st.json) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "event", "error");
                skiff_json_gen_kv_string(g, "message", msg);
                skiff_json_gen_map_close(g);
                print_json(g);
        }
        return skiff_cli_fail("prefetch", msg);
}

int skiff_cli_prefetch(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
            {"timeout", required_argument, NULL, 't'}, {"root", required_argument, NULL, 'r'},
            {"plan", required_argument, NULL, 'p'},    {"system", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},          {},
        };
        const char *config = NULL, *root = NULL, *plan_file = NULL, *system = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'j':
                        st.json = true;
                        break;
                case 't': {
                        uint64_t v = 0;
                        if (skiff_parse_u64(optarg, &v) < 0 || v == 0 || v > 86400) {
                                fprintf(stderr, "skiff prefetch: invalid --timeout `%s`\n", optarg);
                                return SKIFF_EXIT_USAGE;
                        }
                        st.timeout = (unsigned)v;
                        break;
                }
                case 'r':
                        root = optarg;
                        break;
                case 'p':
                        plan_file = optarg;
                        break;
                case 's':
                        system = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_ref refs[64] = {0};
        size_t n = 0;
        int r = skiff_ref_parse_list(argv + optind, (size_t)(argc - optind), true, refs,
                                     SKIFF_ARRAY_SIZE(refs), &n, &err);
        if (r < 0) {
                fprintf(stderr, "skiff prefetch: %s\n", err->msg);
                return SKIFF_EXIT_USAGE;
        }
        st.refs = skiff_realize_refs_string(refs, n);
        clock_gettime(CLOCK_MONOTONIC, &st.t0);
        if (st.timeout) {
                pthread_t t;
                if (pthread_create(&t, NULL, watchdog, NULL) == 0)
                        pthread_detach(t);
        }

        _cleanup_config_ struct skiff_config *cfg = NULL;
        struct skiff_realize_result res = {0};
        struct skiff_assemble_plan plan = {0};
        r = skiff_config_load(config, &cfg, &err);
        if (r >= 0) {
                struct skiff_realize_opts o = {
                    .cfg = cfg, .system = system, .root_name = root, .cb = on_event};
                r = skiff_realize_run(&o, refs, n, &res, &err);
        }
        for (size_t i = 0; i < n; i++)
                skiff_ref_done(&refs[i]);
        if (r >= 0 && plan_file) {
                r = skiff_realize_plan(&res, &plan, &err);
                _cleanup_free_ char *doc = NULL;
                size_t len = 0;
                if (r >= 0)
                        r = skiff_assemble_plan_encode(&plan, &doc, &len, &err);
                if (r >= 0)
                        r = skiff_fs_write_file_atomic(plan_file, doc, len, 0644, false, &err);
        }
        skiff_assemble_plan_done(&plan);
        pthread_mutex_lock(&st.mu); /* the watchdog must not report a finished run */
        if (r < 0) {
                skiff_realize_result_done(&res);
                int rc = fail(err->msg);
                free(st.refs);
                return rc;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs =
            (double)(t1.tv_sec - st.t0.tv_sec) + (double)(t1.tv_nsec - st.t0.tv_nsec) / 1e9;
        _cleanup_free_ char *resolved = skiff_realize_refs_string(res.refs, res.n_refs);
        if (st.json) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "event", "done");
                skiff_json_gen_kv_string(g, "refs", resolved);
                skiff_json_gen_kv_string(g, "profile", res.profile);
                skiff_json_gen_kv_u64(g, "paths", skiff_strv_len(res.closure));
                skiff_json_gen_kv_u64(g, "bytes", res.bytes_fetched);
                skiff_json_gen_string(g, "seconds");
                skiff_json_gen_double(g, secs);
                skiff_json_gen_map_close(g);
                print_json(g);
        } else {
                printf("%s: %zu paths (%.1f MiB fetched), profile %s\n", resolved,
                       skiff_strv_len(res.closure), (double)res.bytes_fetched / 1048576.0,
                       res.profile);
        }
        skiff_realize_result_done(&res);
        free(st.refs);
        return SKIFF_EXIT_OK;
}
