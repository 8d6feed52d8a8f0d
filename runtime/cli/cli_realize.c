/* skiff realize PATH... | --closure FILE */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strv.h"
#include "cli/cli.h"
#include "cli/nodestats.h"
#include "store/config.h"
#include "store/store.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: skiff realize [--config FILE] [--json] [--root NAME] PATH...\n"
                "       skiff realize [--config FILE] [--json] [--root NAME] --closure FILE\n"
                "\n"
                "Substitutes store paths and everything they reference from the binary caches of\n"
                "the node config into the node store, verifying signatures and hashes.\n"
                "  --closure FILE  FILE lists the complete closure, one store path per line\n"
                "                  (references are not followed)\n"
                "  --root NAME     afterwards, record the paths as GC root roots/NAME\n"
                "  --json          progress as JSON lines on stdout (default when stdout is not a\n"
                "                  terminal: none; on a terminal: a progress bar on stderr)\n"
                "  --config FILE   node config (default " SKIFF_CONFIG_PATH_DEFAULT ")\n"
                "\n"
                "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

struct progress {
        bool json;
        bool bar;
        size_t fetched;
        size_t present; /* cache hits */
        uint64_t bytes;
};

static void on_event(const struct skiff_store_event *ev, void *userdata)
{
        struct progress *p = userdata;
        if (ev->kind == SKIFF_STORE_EVENT_FETCHED) {
                p->fetched++;
                p->bytes += ev->file_size;
        } else {
                p->present++;
        }
        if (p->json) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "event", "path");
                skiff_json_gen_kv_string(
                    g, "state", ev->kind == SKIFF_STORE_EVENT_FETCHED ? "fetched" : "present");
                skiff_json_gen_kv_string(g, "path", ev->path);
                skiff_json_gen_kv_u64(g, "nar_size", ev->nar_size);
                skiff_json_gen_kv_u64(g, "file_size", ev->file_size);
                skiff_json_gen_kv_u64(g, "done", ev->done);
                skiff_json_gen_kv_u64(g, "known", ev->known);
                skiff_json_gen_map_close(g);
                _cleanup_free_ char *line = NULL;
                if (skiff_json_gen_finish(g, &line, NULL, NULL) >= 0) {
                        printf("%s\n", line);
                        fflush(stdout);
                }
        }
        if (p->bar) {
                size_t width = 30, fill = ev->known ? width * ev->done / ev->known : 0;
                char bar[31];
                memset(bar, '=', fill);
                memset(bar + fill, ' ', width - fill);
                bar[width] = '\0';
                fprintf(stderr, "\r[%s] %zu/%zu paths, %.1f MiB downloaded", bar, ev->done,
                        ev->known, (double)p->bytes / 1048576.0);
        }
}

int skiff_cli_realize(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'}, {"closure", required_argument, NULL, 'C'},
            {"root", required_argument, NULL, 'r'},   {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},         {},
        };
        const char *config = NULL, *closure = NULL, *root = NULL;
        struct progress p = {0};
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'C':
                        closure = optarg;
                        break;
                case 'r':
                        root = optarg;
                        break;
                case 'j':
                        p.json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if ((closure != NULL) == (optind < argc)) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        p.bar = !p.json && isatty(STDERR_FILENO);
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_strv_ char **paths = NULL;
        if (closure) {
                _cleanup_free_ char *buf = NULL;
                if (skiff_fs_read_file(closure, 64 << 20, &buf, NULL, &err) < 0)
                        return skiff_cli_fail("realize", err->msg);
                paths = skiff_strv_split(buf, "\n", true);
        } else {
                for (int i = optind; i < argc; i++)
                        skiff_strv_push(&paths, argv[i]);
        }
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_config_load(config, &cfg, &err) < 0)
                return skiff_cli_fail("realize", err->msg);
        _cleanup_store_ struct skiff_store *s = NULL;
        if (skiff_store_open(cfg, &s, &err) < 0)
                return skiff_cli_fail("realize", err->msg);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = skiff_store_realize(s, paths, closure == NULL, on_event, &p, &err);
        if (r >= 0 && root)
                r = skiff_store_root_add(s, root, paths, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (p.bar)
                fputc('\n', stderr);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        /* Node-wide counters for `skiff agent`'s /metrics; losing one update is not an error. */
        struct skiff_nodestats_realization rec = {r < 0 ? err->errnum : 0, p.fetched, p.bytes,
                                                  p.present, secs};
        _cleanup_error_ skiff_err_t stats_err = NULL;
        (void)skiff_nodestats_record(cfg->store_root, &rec, &stats_err);
        if (p.json) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "event", r < 0 ? "error" : "done");
                if (r < 0)
                        skiff_json_gen_kv_string(g, "message", err->msg);
                skiff_json_gen_kv_u64(g, "fetched", p.fetched);
                skiff_json_gen_kv_u64(g, "bytes", p.bytes);
                skiff_json_gen_string(g, "seconds");
                skiff_json_gen_double(g, secs);
                skiff_json_gen_map_close(g);
                _cleanup_free_ char *line = NULL;
                if (skiff_json_gen_finish(g, &line, NULL, NULL) >= 0)
                        printf("%s\n", line);
        }
        if (r < 0)
                return skiff_cli_fail("realize", err->msg);
        return SKIFF_EXIT_OK;
}
