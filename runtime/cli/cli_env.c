/* skiff env log OWNER/NAME | skiff env live OWNER/NAME N --hub DIR; and the hub helpers shared
 * by the env, sbom and publish verbs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/keys.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/publish.h"
#include "env/ref.h"
#include "store/config.h"
#include "store/sig.h"

#define PROBE_MAX 100000

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: skiff env log [HUB/]OWNER/NAME [--hub URL|DIR] [--json] [--config FILE]\n"
            "                     [--trusted-key KEY]...\n"
            "       skiff env live OWNER/NAME N --hub DIR\n"
            "\n"
            "log   list the generations of an environment from the hub's index.json (or, when\n"
            "      the hub has none, by reading 1.json, 2.json, ... until one is missing):\n"
            "      generation, creation time, `live` marker and description\n"
            "live  point the `live` file of an environment in a hub directory at generation N\n"
            "      (which must exist)\n"
            "\n"
            "  --hub URL|DIR      hub for references without a hub (default: `hub` of the node\n"
            "                     config); a directory means file://DIR\n"
            "  --trusted-key KEY  also trust KEY (`name:base64`, or a file holding it)\n"
            "  --config FILE      node config (default " SKIFF_CONFIG_PATH_DEFAULT "; a missing\n"
            "                     default file means built-in defaults)\n"
            "\n"
            "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

char *skiff_cli_hub_url(const char *arg)
{
        if (strstr(arg, "://"))
                return xstrdup(arg);
        char *abs = realpath(arg, NULL);
        char *u = xasprintf("file://%s", abs ? abs : arg);
        free(abs);
        return u;
}

int skiff_cli_load_config(const char *path, struct skiff_config **ret, bool *ret_from_file,
                          skiff_err_t *err)
{
        bool from_file = path || access(SKIFF_CONFIG_PATH_DEFAULT, F_OK) == 0;
        int r = skiff_config_load(path, ret, err);
        if (r < 0)
                return r;
        if (ret_from_file)
                *ret_from_file = from_file;
        return 0;
}

int skiff_cli_open_hub(const struct skiff_config *cfg, const char *hub_arg,
                       const struct skiff_sig_pubkey *extra, size_t nextra, struct skiff_hub **ret,
                       struct skiff_sig_pubkey **ret_keys, skiff_err_t *err)
{
        _cleanup_free_ struct skiff_sig_pubkey *keys =
            xcalloc(cfg->nkeys + nextra + 1, sizeof(*keys));
        if (cfg->nkeys)
                memcpy(keys, cfg->keys, cfg->nkeys * sizeof(*keys));
        if (nextra)
                memcpy(keys + cfg->nkeys, extra, nextra * sizeof(*keys));
        _cleanup_free_ char *url = hub_arg ? skiff_cli_hub_url(hub_arg) : NULL;
        struct skiff_hub_options ho = {
            .default_url = url ? url : cfg->hub,
            .aliases = cfg->hubs,
            .keys = keys,
            .nkeys = cfg->nkeys + nextra,
            .require_signatures = cfg->require_signatures,
            .cfg = cfg,
        };
        int r = skiff_hub_new(&ho, ret, err);
        if (r < 0)
                return r;
        *ret_keys = TAKE_PTR(keys);
        return 0;
}

struct log_entry {
        uint32_t generation;
        char *created;
        char *description;
};

static void print_log(const struct log_entry *e, size_t n, uint32_t live, bool json)
{
        if (json) {
                _cleanup_json_gen_ struct skiff_json_gen *j = skiff_json_gen_new(true);
                skiff_json_gen_map_open(j);
                if (live)
                        skiff_json_gen_kv_u64(j, "live", live);
                skiff_json_gen_string(j, "generations");
                skiff_json_gen_array_open(j);
                for (size_t i = 0; i < n; i++) {
                        skiff_json_gen_map_open(j);
                        skiff_json_gen_kv_u64(j, "generation", e[i].generation);
                        skiff_json_gen_kv_string(j, "created", e[i].created);
                        if (e[i].description)
                                skiff_json_gen_kv_string(j, "description", e[i].description);
                        skiff_json_gen_kv_bool(j, "live", e[i].generation == live);
                        skiff_json_gen_map_close(j);
                }
                skiff_json_gen_array_close(j);
                skiff_json_gen_map_close(j);
                _cleanup_free_ char *out = NULL;
                if (skiff_json_gen_finish(j, &out, NULL, NULL) >= 0)
                        printf("%s\n", out);
                return;
        }
        printf("%-10s  %-20s  %-6s  %s\n", "GENERATION", "CREATED", "LIVE", "DESCRIPTION");
        for (size_t i = 0; i < n; i++)
                printf("%-10u  %-20s  %-6s  %s\n", e[i].generation, e[i].created,
                       e[i].generation == live ? "live" : "",
                       e[i].description ? e[i].description : "");
}

static int cmd_log(int argc, char **argv)
{
        static const struct option opts[] = {
            {"hub", required_argument, NULL, 'H'},
            {"config", required_argument, NULL, 'c'},
            {"trusted-key", required_argument, NULL, 'k'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *hub_arg = NULL, *config = NULL;
        bool json = false;
        _cleanup_free_ struct skiff_sig_pubkey *extra = NULL;
        size_t nextra = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'H':
                        hub_arg = optarg;
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'k':
                        if (skiff_cli_add_key(&extra, &nextra, optarg, &err) < 0)
                                return skiff_cli_fail("env log", err->msg);
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_(skiff_ref_done) struct skiff_ref ref = {0};
        if (skiff_ref_parse(argv[optind], true, &ref, &err) < 0)
                return skiff_cli_fail("env log", err->msg);
        if (ref.generation) {
                fprintf(stderr, "skiff env log: expected [hub/]owner/name without @N\n");
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_cli_load_config(config, &cfg, NULL, &err) < 0)
                return skiff_cli_fail("env log", err->msg);
        _cleanup_hub_ struct skiff_hub *hub = NULL;
        _cleanup_free_ struct skiff_sig_pubkey *keys = NULL;
        if (skiff_cli_open_hub(cfg, hub_arg, extra, nextra, &hub, &keys, &err) < 0)
                return skiff_cli_fail("env log", err->msg);

        uint32_t live = 0;
        int r = skiff_hub_live(hub, &ref, &live, &err);
        if (r < 0 && r != -ENOENT)
                return skiff_cli_fail("env log", err->msg);
        skiff_error_free(&err);

        _cleanup_free_ struct log_entry *entries = NULL;
        size_t n = 0;
        _cleanup_publish_index_ struct skiff_publish_index *ix = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        r = skiff_hub_index(hub, &ref, &buf, &len, &err);
        if (r >= 0) {
                if (skiff_publish_index_parse(buf, len, &ix, &err) < 0) {
                        skiff_error_wrap(&err, "index.json of `%s/%s`", ref.owner, ref.name);
                        return skiff_cli_fail("env log", err->msg);
                }
                entries = xcalloc(ix->n_entries + 1, sizeof(*entries));
                for (size_t i = 0; i < ix->n_entries; i++)
                        entries[n++] =
                            (struct log_entry){ix->entries[i].generation, ix->entries[i].created,
                                               ix->entries[i].description};
                print_log(entries, n, live, json);
                return SKIFF_EXIT_OK;
        }
        if (r != -ENOENT)
                return skiff_cli_fail("env log", err->msg);
        skiff_error_free(&err);

        /* No index: read the documents themselves (each verified) until one is missing. */
        struct skiff_hub_document *docs = xcalloc(1, sizeof(*docs));
        size_t ndocs = 0;
        int rc = SKIFF_EXIT_OK;
        for (uint32_t g = 1; g <= PROBE_MAX; g++) {
                ref.generation = g;
                struct skiff_hub_document d = {0};
                r = skiff_hub_get(hub, &ref, &d, &err);
                if (r == -ENOENT && g > live) {
                        skiff_error_free(&err);
                        break;
                }
                if (r < 0) {
                        rc = skiff_cli_fail("env log", err->msg);
                        break;
                }
                docs = xrealloc(docs, (ndocs + 1) * sizeof(*docs));
                docs[ndocs++] = d;
        }
        ref.generation = 0;
        if (rc == SKIFF_EXIT_OK && ndocs == 0)
                rc = skiff_cli_fail("env log", "the hub has no generation of this environment");
        if (rc == SKIFF_EXIT_OK) {
                entries = xcalloc(ndocs + 1, sizeof(*entries));
                for (size_t i = 0; i < ndocs; i++)
                        entries[n++] = (struct log_entry){docs[i].generation->generation,
                                                          docs[i].generation->created,
                                                          docs[i].generation->description};
                print_log(entries, n, live, json);
        }
        for (size_t i = 0; i < ndocs; i++)
                skiff_hub_document_done(&docs[i]);
        free(docs);
        return rc;
}

static int cmd_live(int argc, char **argv)
{
        static const struct option opts[] = {
            {"hub", required_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *hub_dir = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'H':
                        hub_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind + 2 != argc || !hub_dir) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        if (strncmp(hub_dir, "file://", 7) == 0)
                hub_dir += 7;
        else if (strstr(hub_dir, "://"))
                return skiff_cli_fail("env live", "only a hub directory (file://) can be written");
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_(skiff_ref_done) struct skiff_ref ref = {0};
        uint32_t g = 0;
        if (skiff_ref_parse(argv[optind], true, &ref, &err) < 0 ||
            skiff_ref_parse_generation(argv[optind + 1], &g, &err) < 0)
                return skiff_cli_fail("env live", err->msg);
        if (ref.hub || ref.generation) {
                fprintf(stderr, "skiff env live: expected owner/name and a generation\n");
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_free_ char *doc =
            xasprintf("%s/skiff/v1/%s/%s/%u.json", hub_dir, ref.owner, ref.name, g);
        if (access(doc, F_OK) < 0) {
                _cleanup_free_ char *m = xasprintf("`%s`: %s", doc, strerror(errno));
                return skiff_cli_fail("env live", m);
        }
        _cleanup_free_ char *live =
            xasprintf("%s/skiff/v1/%s/%s/live", hub_dir, ref.owner, ref.name);
        _cleanup_free_ char *text = xasprintf("%u\n", g);
        if (skiff_fs_write_file_atomic(live, text, strlen(text), 0644, true, &err) < 0)
                return skiff_cli_fail("env live", err->msg);
        return SKIFF_EXIT_OK;
}

int skiff_cli_env(int argc, char **argv)
{
        static const struct skiff_cli_verb subs[] = {
            {"log", cmd_log, NULL},
            {"live", cmd_live, NULL},
        };
        return skiff_cli_dispatch("env", subs, SKIFF_ARRAY_SIZE(subs), argc, argv, usage);
}
