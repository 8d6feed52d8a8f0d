/* skiff cache keygen NAME | skiff cache add DIR... --to file://CACHE --key SKFILE |
 * skiff cache sign FILE --key SKFILE */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "cli/keys.h"
#include "store/cache.h"
#include "store/sig.h"
#include "store/storepath.h"

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: skiff cache keygen NAME [--secret-file FILE] [--public-file FILE]\n"
            "       skiff cache add DIR... --to file://CACHE [--key SECRET_KEY_FILE]\n"
            "                       [--compression zstd|none] [--store-dir DIR]\n"
            "       skiff cache sign FILE --key SECRET_KEY_FILE\n"
            "\n"
            "keygen  create an ed25519 signing key pair in Nix's `name:base64` format; without\n"
            "        files, prints the secret key and then the public key, one per line\n"
            "add     add each DIR as the store path `nix-store --add DIR` computes (named after\n"
            "        its basename), writing the NAR (zstd by default) and a narinfo signed\n"
            "        with the key to a file:// binary cache; prints the store paths\n"
            "sign    print the signature `name:base64` of FILE's bytes (e.g. a hub's N.json\n"
            "        written by another tool; the hub verifies N.json.sig against it)\n"
            "\n"
            "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static int keygen(int argc, char **argv)
{
        static const struct option opts[] = {
            {"secret-file", required_argument, NULL, 's'},
            {"public-file", required_argument, NULL, 'p'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *sf = NULL, *pf = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        sf = optarg;
                        break;
                case 'p':
                        pf = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc || (!sf) != (!pf)) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_free_ char *sk = NULL, *pk = NULL;
        if (skiff_sig_keygen(argv[optind], &sk, &pk, &err) < 0)
                return skiff_cli_fail("cache keygen", err->msg);
        if (!sf) {
                printf("%s\n%s\n", sk, pk);
                return SKIFF_EXIT_OK;
        }
        if (skiff_fs_write_file_atomic(sf, sk, strlen(sk), 0600, true, &err) < 0 ||
            skiff_fs_write_file_atomic(pf, pk, strlen(pk), 0644, true, &err) < 0)
                return skiff_cli_fail("cache keygen", err->msg);
        return SKIFF_EXIT_OK;
}

static int sign(int argc, char **argv)
{
        static const struct option opts[] = {
            {"key", required_argument, NULL, 'k'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *keyfile = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'k':
                        keyfile = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc || !keyfile) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_sig_seckey sk;
        if (skiff_cli_read_secret_key(keyfile, &sk, &err) < 0)
                return skiff_cli_fail("cache sign", err->msg);
        _cleanup_free_ char *data = NULL, *sig = NULL;
        size_t len = 0;
        if (skiff_fs_read_file(argv[optind], 64u << 20, &data, &len, &err) < 0 ||
            skiff_sig_sign(&sk, data, len, &sig, &err) < 0)
                return skiff_cli_fail("cache sign", err->msg);
        printf("%s\n", sig);
        return SKIFF_EXIT_OK;
}

static int add(int argc, char **argv)
{
        static const struct option opts[] = {
            {"to", required_argument, NULL, 't'},
            {"key", required_argument, NULL, 'k'},
            {"compression", required_argument, NULL, 'c'},
            {"store-dir", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *to = NULL, *keyfile = NULL, *comp_name = "zstd";
        const char *store_dir = SKIFF_STORE_DIR_DEFAULT;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 't':
                        to = optarg;
                        break;
                case 'k':
                        keyfile = optarg;
                        break;
                case 'c':
                        comp_name = optarg;
                        break;
                case 'S':
                        store_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (!to || optind >= argc) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        const char *cache = to;
        if (strncmp(cache, "file://", 7) == 0)
                cache += 7;
        else if (strstr(cache, "://"))
                return skiff_cli_fail("cache add", "only file:// caches can be written");
        _cleanup_error_ skiff_err_t err = NULL;
        enum skiff_compression comp;
        if (skiff_compression_from_name(comp_name, &comp, &err) < 0)
                return skiff_cli_fail("cache add", err->msg);
        struct skiff_sig_seckey sk;
        if (keyfile && skiff_cli_read_secret_key(keyfile, &sk, &err) < 0)
                return skiff_cli_fail("cache add", err->msg);
        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *path = NULL;
                if (skiff_cache_add_path(cache, argv[i], comp, keyfile ? &sk : NULL, store_dir,
                                         &path, &err) < 0)
                        return skiff_cli_fail("cache add", err->msg);
                printf("%s\n", path);
        }
        return SKIFF_EXIT_OK;
}

int skiff_cli_cache(int argc, char **argv)
{
        static const struct skiff_cli_verb subs[] = {
            {"keygen", keygen, NULL},
            {"add", add, NULL},
            {"sign", sign, NULL},
        };
        return skiff_cli_dispatch("cache", subs, SKIFF_ARRAY_SIZE(subs), argc, argv, usage);
}
