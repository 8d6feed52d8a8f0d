/* skiff sbom REF: a CycloneDX 1.5 SBOM of a generation's closure. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/keys.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/publish.h"
#include "env/ref.h"
#include "env/sbom.h"
#include "store/config.h"
#include "store/fetch.h"
#include "store/sig.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: skiff sbom [HUB/]OWNER/NAME[@N] [--hub URL|DIR] [--system SYSTEM]\n"
                   "                  [--output FILE] [--config FILE] [--trusted-key KEY]...\n"
                   "\n"
                   "Prints a CycloneDX 1.5 JSON SBOM of the closure of a generation, fetched and\n"
                   "verified through the hub client (an unpinned reference means the live\n"
                   "generation): one component per store path, named and versioned after the\n"
                   "store-path name, with the NAR's SHA-256. A document without a closure is\n"
                   "resolved through its substituters and the node config's.\n"
                   "\n"
                   "  --hub URL|DIR      hub for references without a hub (default: node config)\n"
                   "  --system SYSTEM    which system of the document (default: this host's)\n"
                   "  --output FILE      write the SBOM to FILE instead of stdout\n"
                   "  --trusted-key KEY  also trust KEY (`name:base64`, or a file holding it)\n"
                   "  --config FILE      node config (default " SKIFF_CONFIG_PATH_DEFAULT ")\n"
                   "\n"
                   "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

/* Fills a missing closure from narinfo files. */
static int fill_closure(struct skiff_generation_system *s, const struct skiff_config *cfg,
                        const struct skiff_sig_pubkey *keys, size_t nkeys, skiff_err_t *err)
{
        _cleanup_strv_ char **caches = skiff_strv_copy(s->substituters);
        for (char **c = cfg->substituters; c && *c; c++)
                if (!skiff_strv_contains(caches, *c))
                        skiff_strv_push(&caches, *c);
        _cleanup_strv_ char **roots = NULL;
        for (size_t i = 0; i < s->n_packages; i++)
                skiff_strv_push(&roots, s->packages[i].path);
        if (!roots)
                roots = xcalloc(1, sizeof(char *));
        _cleanup_fetch_ struct skiff_fetch *f = NULL;
        int r = skiff_fetch_new(cfg, &f, err);
        if (r < 0)
                return r;
        r = skiff_publish_resolve_closure(f, caches, s->store_dir, keys,
                                          cfg->require_signatures ? nkeys : 0, roots, NULL, 0,
                                          &s->closure, &s->n_closure, err);
        if (r < 0)
                return skiff_error_wrap(err, "resolve the closure");
        s->has_closure = true;
        return 0;
}

int skiff_cli_sbom(int argc, char **argv)
{
        static const struct option opts[] = {
            {"hub", required_argument, NULL, 'H'},
            {"system", required_argument, NULL, 's'},
            {"output", required_argument, NULL, 'o'},
            {"config", required_argument, NULL, 'c'},
            {"trusted-key", required_argument, NULL, 'k'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *hub_arg = NULL, *config = NULL, *output = NULL;
        const char *system = skiff_generation_host_system();
        _cleanup_free_ struct skiff_sig_pubkey *extra = NULL;
        size_t nextra = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
                switch (c) {
                case 'H':
                        hub_arg = optarg;
                        break;
                case 's':
                        system = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'k':
                        if (skiff_cli_add_key(&extra, &nextra, optarg, &err) < 0)
                                return skiff_cli_fail("sbom", err->msg);
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
                return skiff_cli_fail("sbom", err->msg);
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_cli_load_config(config, &cfg, NULL, &err) < 0)
                return skiff_cli_fail("sbom", err->msg);
        _cleanup_hub_ struct skiff_hub *hub = NULL;
        _cleanup_free_ struct skiff_sig_pubkey *keys = NULL;
        if (skiff_cli_open_hub(cfg, hub_arg, extra, nextra, &hub, &keys, &err) < 0)
                return skiff_cli_fail("sbom", err->msg);
        struct skiff_hub_document doc = {0};
        if (skiff_hub_resolve(hub, &ref, &err) < 0 || skiff_hub_get(hub, &ref, &doc, &err) < 0)
                return skiff_cli_fail("sbom", err->msg);
        int rc = SKIFF_EXIT_OK;
        struct skiff_generation_system *s =
            (struct skiff_generation_system *)skiff_generation_system(doc.generation, system);
        if (s && !s->has_closure && fill_closure(s, cfg, keys, cfg->nkeys + nextra, &err) < 0)
                rc = skiff_cli_fail("sbom", err->msg);
        uint8_t h[SKIFF_SHA256_LEN];
        char hex[2 * SKIFF_SHA256_LEN + 1];
        skiff_sha256_oneshot(doc.json, doc.len, h);
        skiff_hex_encode(h, sizeof(h), hex);
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        if (rc == SKIFF_EXIT_OK &&
            skiff_sbom_render(doc.generation, system, hex, &out, &len, &err) < 0)
                rc = skiff_cli_fail("sbom", err->msg);
        skiff_hub_document_done(&doc);
        if (rc != SKIFF_EXIT_OK)
                return rc;
        if (output) {
                if (skiff_fs_write_file_atomic(output, out, len, 0644, false, &err) < 0)
                        return skiff_cli_fail("sbom", err->msg);
                return SKIFF_EXIT_OK;
        }
        if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
                return skiff_cli_fail("sbom", "write to stdout failed");
        return SKIFF_EXIT_OK;
}
