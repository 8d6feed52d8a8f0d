/* Table dispatch of a verb's subcommands (`skiff cache add`, `skiff env log`, ...). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int skiff_cli_dispatch(const char *verb, const struct skiff_cli_verb *subs, size_t n, int argc,
                       char **argv, void (*usage)(FILE *))
{
        if (argc < 2) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return SKIFF_EXIT_OK;
        }
        for (size_t i = 0; i < n; i++)
                if (strcmp(argv[1], subs[i].name) == 0)
                        return subs[i].run(argc - 1, argv + 1);
        fprintf(stderr, "skiff %s: unknown subcommand `%s`\n", verb, argv[1]);
        usage(stderr);
        return SKIFF_EXIT_USAGE;
}
