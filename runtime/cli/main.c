/* skiff: the node CLI. Dispatches argv[1] through the verb table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct skiff_cli_verb verbs[] = {
    {"version", skiff_cli_version, "print the version"},
    {"nar", skiff_cli_nar, "dump or restore a NAR (Nix archive)"},
    {"cache", skiff_cli_cache, "create signing keys; add directories to a file:// binary cache"},
    {"realize", skiff_cli_realize, "substitute store paths and their closure into the node store"},
    {"store", skiff_cli_store, "list, verify and repair the node store; manage GC roots"},
    {"gc", skiff_cli_gc, "delete unreachable store paths"},
    {"node", skiff_cli_node, "install or uninstall skiff on a Kubernetes node"},
    {"agent", skiff_cli_agent, "node agent: metrics, scheduled GC, prefetch"},
    {"gpu", skiff_cli_gpu, "inspect NVIDIA driver discovery and GPU plans"},
    {"prefetch", skiff_cli_prefetch, "realize environments (closure, profile) without running"},
    {"run", skiff_cli_run, "run a command in environments, without containerd"},
    {"publish", skiff_cli_publish, "publish the next generation of an environment to a hub"},
    {"env", skiff_cli_env, "list the generations of an environment; move its live pointer"},
    {"sbom", skiff_cli_sbom, "print a CycloneDX SBOM of a generation's closure"},
};

static void usage(FILE *f)
{
        fprintf(f, "usage: skiff <command> [options]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nRun `skiff <command> --help` for a command's options.\n"
                   "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0)
                return skiff_cli_version(argc - 1, argv + 1);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        fprintf(stderr, "skiff: unknown command `%s`\n", argv[1]);
        usage(stderr);
        return 2;
}
