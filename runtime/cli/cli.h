/* The `skiff` command: one function per verb, dispatched from the table in main.c.
 * Each verb parses its own options, prints `--help`, and returns the process exit code:
 *   0 success, 1 failure (message on stderr), 2 usage error. */
#ifndef SKIFF_CLI_CLI_H
#define SKIFF_CLI_CLI_H

enum {
        SKIFF_EXIT_OK = 0,
        SKIFF_EXIT_FAILURE = 1,
        SKIFF_EXIT_USAGE = 2,
};

struct skiff_cli_verb {
        const char *name;    /* "realize", "store", "nar", ... */
        int (*run)(int argc, char **argv); /* argv[0] is the verb name */
        const char *summary; /* one line for `skiff --help` */
};

/* Verbs, implemented in cli_<verb>.c. */
int skiff_cli_version(int argc, char **argv);
int skiff_cli_nar(int argc, char **argv);   /* cli_nar.c */
int skiff_cli_cache(int argc, char **argv); /* cli_cache.c */
int skiff_cli_realize(int argc, char **argv); /* cli_realize.c */
int skiff_cli_store(int argc, char **argv);   /* cli_store.c */
int skiff_cli_gc(int argc, char **argv);      /* cli_store.c */
int skiff_cli_node(int argc, char **argv);    /* cli_node.c */
int skiff_cli_agent(int argc, char **argv);   /* cli_agent.c */
int skiff_cli_gpu(int argc, char **argv);     /* cli_gpu.c */

/* Prints "skiff <verb>: <msg>" to stderr; returns SKIFF_EXIT_FAILURE. */
int skiff_cli_fail(const char *verb, const char *msg);

#endif
