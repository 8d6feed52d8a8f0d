/* skiff nar dump PATH | skiff nar restore PATH */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "cli/cli.h"
#include "store/nar.h"
#include "store/nixhash.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: skiff nar dump PATH > FILE.nar\n"
                   "       skiff nar restore PATH < FILE.nar\n"
                   "\n"
                   "dump     write the NAR serialisation of PATH to stdout (identical to\n"
                   "         `nix-store --dump PATH`)\n"
                   "restore  unpack a NAR from stdin into PATH (which must not exist), validating\n"
                   "         it strictly; prints `sha256:<nixbase32> <size>` of the NAR\n"
                   "\n"
                   "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

static int out_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        int r = skiff_fs_write_all(STDOUT_FILENO, data, len);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "write to stdout");
        return 0;
}

int skiff_cli_nar(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? SKIFF_EXIT_USAGE : SKIFF_EXIT_OK;
        }
        if (argc != 3) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        _cleanup_error_ skiff_err_t err = NULL;
        if (strcmp(argv[1], "dump") == 0) {
                if (isatty(STDOUT_FILENO))
                        return skiff_cli_fail("nar dump", "refusing to write a NAR to a terminal");
                if (skiff_nar_dump(AT_FDCWD, argv[2], out_cb, NULL, &err) < 0)
                        return skiff_cli_fail("nar dump", err->msg);
                return SKIFF_EXIT_OK;
        }
        if (strcmp(argv[1], "restore") == 0) {
                _cleanup_free_ char *clean = skiff_path_clean(argv[2]);
                _cleanup_free_ char *dir = skiff_path_dirname(clean);
                const char *name = skiff_path_basename(clean);
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0) {
                        skiff_error_set_errno(&err, errno, "open `%s`", dir);
                        return skiff_cli_fail("nar restore", err->msg);
                }
                struct skiff_nixhash h;
                uint64_t size = 0;
                if (skiff_nar_restore_fd(STDIN_FILENO, dfd, name, NULL, &h, &size, &err) < 0)
                        return skiff_cli_fail("nar restore", err->msg);
                char hs[SKIFF_NIXHASH_STR_MAX];
                skiff_nixhash_format(&h, hs);
                printf("%s %llu\n", hs, (unsigned long long)size);
                return SKIFF_EXIT_OK;
        }
        fprintf(stderr, "skiff nar: unknown subcommand `%s`\n", argv[1]);
        usage(stderr);
        return SKIFF_EXIT_USAGE;
}
