#include <stdio.h>

#include "cli/cli.h"

int skiff_cli_version(int argc, char **argv)
{
        printf("skiff %s\n", SKIFF_VERSION);
        return SKIFF_EXIT_OK;
}

int skiff_cli_fail(const char *verb, const char *msg)
{
        fprintf(stderr, "skiff %s: %s\n", verb, msg);
        return SKIFF_EXIT_FAILURE;
}
