/* containerd-shim-skiff-v2: dispatches to -v, -info, start, delete and the hidden serve mode. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "shim/bootstrap.h"
#include "shim/shim.h"

static int fail(const char *what, skiff_err_t err)
{
        fprintf(stderr, "%s: %s\n", what, skiff_error_msg(err));
        return 1;
}

int main(int argc, char **argv)
{
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_shim_args args;
        if (skiff_bootstrap_parse_args(argc, argv, &args, &err) < 0)
                return fail("containerd-shim-skiff-v2", err);

        if (args.version)
                return skiff_bootstrap_version(STDOUT_FILENO, &err) < 0 ? fail("version", err) : 0;
        /* 2.2+ runs `-info` without any other flag (§18.22). */
        if (args.info)
                return skiff_bootstrap_info(STDOUT_FILENO, &err) < 0 ? fail("info", err) : 0;
        if (!args.ns || !*args.ns) {
                fputs("shim namespace cannot be empty\n", stderr);
                return 1;
        }
        if (!args.action) {
                fputs("containerd-shim-skiff-v2: missing action (start or delete)\n", stderr);
                return 1;
        }

        if (strcmp(args.action, "start") == 0) {
                if (skiff_bootstrap_start(&args, STDOUT_FILENO, &err) < 0)
                        return fail("start", err);
                return 0;
        }
        if (strcmp(args.action, "delete") == 0) {
                _cleanup_error_ skiff_err_t warning = NULL;
                int r = skiff_bootstrap_delete(&args, STDOUT_FILENO, &warning, &err);
                if (warning)
                        fprintf(stderr, "%s\n", skiff_error_msg(warning));
                return r < 0 ? fail("delete", err) : 0;
        }
        if (strcmp(args.action, "serve") == 0)
                return skiff_shim_serve(&args, SKIFF_SHIM_LISTEN_FD);

        fprintf(stderr, "containerd-shim-skiff-v2: unknown action `%s`\n", args.action);
        return 1;
}
