/* skiff store ls | verify [--repair] | root add|remove ; skiff gc */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "cli/cli.h"
#include "store/config.h"
#include "store/gc.h"
#include "store/store.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: skiff store ls [--config FILE]\n"
                   "       skiff store verify [--repair] [--config FILE]\n"
                   "       skiff store root add NAME PATH... [--config FILE]\n"
                   "       skiff store root remove NAME [--config FILE]\n"
                   "\n"
                   "ls      list the store paths in the node store\n"
                   "verify  re-hash every path against its narinfo; --repair removes and\n"
                   "        re-substitutes damaged paths. Exit 1 when something is bad.\n"
                   "root    add or remove a GC root (roots/NAME)\n"
                   "\n"
                   "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static void print_line(const char *line)
{
        printf("%s\n", line);
}

int skiff_cli_store(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"repair", no_argument, NULL, 'R'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = NULL;
        bool repair = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'R':
                        repair = true;
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
        const char *sub = argv[optind];
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_config_load(config, &cfg, &err) < 0)
                return skiff_cli_fail("store", err->msg);
        _cleanup_store_ struct skiff_store *s = NULL;
        if (skiff_store_open(cfg, &s, &err) < 0)
                return skiff_cli_fail("store", err->msg);
        if (strcmp(sub, "ls") == 0 && optind + 1 == argc) {
                _cleanup_strv_ char **paths = NULL;
                if (skiff_store_list(s, &paths, &err) < 0)
                        return skiff_cli_fail("store ls", err->msg);
                for (char **p = paths; *p; p++)
                        printf("%s\n", *p);
                return SKIFF_EXIT_OK;
        }
        if (strcmp(sub, "verify") == 0 && optind + 1 == argc) {
                struct skiff_store_verify_result res;
                if (skiff_store_verify(s, repair, print_line, &res, &err) < 0)
                        return skiff_cli_fail("store verify", err->msg);
                printf("checked %zu paths: %zu bad, %zu repaired, %zu partial\n", res.checked,
                       res.bad, res.repaired, res.partials);
                bool clean = (res.bad == res.repaired) && res.partials == 0;
                return clean ? SKIFF_EXIT_OK : SKIFF_EXIT_FAILURE;
        }
        if (strcmp(sub, "root") == 0 && optind + 2 < argc) {
                const char *op = argv[optind + 1], *name = argv[optind + 2];
                int r;
                if (strcmp(op, "add") == 0 && optind + 3 < argc)
                        r = skiff_store_root_add(s, name, argv + optind + 3, &err);
                else if (strcmp(op, "remove") == 0 && optind + 3 == argc)
                        r = skiff_store_root_remove(s, name, &err);
                else {
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
                return r < 0 ? skiff_cli_fail("store root", err->msg) : SKIFF_EXIT_OK;
        }
        usage(stderr);
        return SKIFF_EXIT_USAGE;
}

static void gc_usage(FILE *f)
{
        fprintf(f,
                "usage: skiff gc [--dry-run] [--max-size SIZE] [--keep PATH]... [--config FILE]\n"
                "\n"
                "Deletes store paths not reachable from a GC root (roots/) or a --keep path.\n"
                "With --max-size (e.g. 20G), deletes unreachable paths, least recently used\n"
                "first (ties by name), only until the store is at most SIZE (default:\n"
                "gc_max_size of the node config, else all).\n"
                "Waits for running realizations and blocks new ones while it runs.\n"
                "\n"
                "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static void gc_report(const char *path, uint64_t size, void *userdata)
{
        printf("%s %s (%llu bytes)\n", *(bool *)userdata ? "would delete" : "deleted", path,
               (unsigned long long)size);
}

int skiff_cli_gc(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},   {"dry-run", no_argument, NULL, 'n'},
            {"max-size", required_argument, NULL, 'm'}, {"keep", required_argument, NULL, 'k'},
            {"help", no_argument, NULL, 'h'},           {},
        };
        const char *config = NULL, *max = NULL;
        _cleanup_strv_ char **keep = NULL;
        bool dry = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'n':
                        dry = true;
                        break;
                case 'm':
                        max = optarg;
                        break;
                case 'k':
                        skiff_strv_push(&keep, optarg);
                        break;
                case 'h':
                        gc_usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        gc_usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind != argc) {
                gc_usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_config_load(config, &cfg, &err) < 0)
                return skiff_cli_fail("gc", err->msg);
        struct skiff_gc_opts o = {.dry_run = dry,
                                  .max_size = cfg->gc_max_size,
                                  .keep = keep,
                                  .report = gc_report,
                                  .userdata = &dry};
        if (max && skiff_config_parse_size(max, &o.max_size) < 0) {
                fprintf(stderr, "skiff gc: invalid size `%s`\n", max);
                return SKIFF_EXIT_USAGE;
        }
        struct skiff_gc_result res;
        if (skiff_gc_run(cfg, &o, &res, &err) < 0)
                return skiff_cli_fail("gc", err->msg);
        printf("%zu paths, %zu live, %zu %s, %llu bytes freed, %llu bytes remain\n", res.total,
               res.live, res.deleted, dry ? "would be deleted" : "deleted",
               (unsigned long long)res.freed, (unsigned long long)res.size_after);
        return SKIFF_EXIT_OK;
}
