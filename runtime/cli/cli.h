/* The `skiff` command: one function per verb, dispatched from the table in main.c.
 * Each verb parses its own options, prints `--help`, and returns the process exit code:
 *   0 success, 1 failure (message on stderr), 2 usage error. */
#ifndef SKIFF_CLI_CLI_H
#define SKIFF_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#include "base/error.h"

enum {
        SKIFF_EXIT_OK = 0,
        SKIFF_EXIT_FAILURE = 1,
        SKIFF_EXIT_USAGE = 2,
};

struct skiff_cli_verb {
        const char *name;                  /* "realize", "store", "nar", ... */
        int (*run)(int argc, char **argv); /* argv[0] is the verb name */
        const char *summary;               /* one line for `skiff --help` */
};

/* Verbs, implemented in cli_<verb>.c. */
int skiff_cli_version(int argc, char **argv);
int skiff_cli_nar(int argc, char **argv);      /* cli_nar.c */
int skiff_cli_cache(int argc, char **argv);    /* cli_cache.c */
int skiff_cli_realize(int argc, char **argv);  /* cli_realize.c */
int skiff_cli_store(int argc, char **argv);    /* cli_store.c */
int skiff_cli_gc(int argc, char **argv);       /* cli_store.c */
int skiff_cli_node(int argc, char **argv);     /* cli_node.c */
int skiff_cli_agent(int argc, char **argv);    /* cli_agent.c */
int skiff_cli_gpu(int argc, char **argv);      /* cli_gpu.c */
int skiff_cli_prefetch(int argc, char **argv); /* cli_prefetch.c */
int skiff_cli_run(int argc, char **argv);      /* cli_run.c */
int skiff_cli_publish(int argc, char **argv);  /* cli_publish.c */
int skiff_cli_env(int argc, char **argv);      /* cli_env.c */
int skiff_cli_sbom(int argc, char **argv);     /* cli_sbom.c */

/* Runs the subcommand argv[1] of verb from the table subs (its run() gets argc - 1, argv + 1);
 * no subcommand or an unknown one prints usage to stderr and returns SKIFF_EXIT_USAGE, --help/-h
 * prints it to stdout (dispatch.c). */
int skiff_cli_dispatch(const char *verb, const struct skiff_cli_verb *subs, size_t n, int argc,
                       char **argv, void (*usage)(FILE *));

/* Prints "skiff <verb>: <msg>" to stderr; returns SKIFF_EXIT_FAILURE. */
int skiff_cli_fail(const char *verb, const char *msg);

/* Hub helpers (cli_env.c), shared by the env, sbom and publish verbs. */
struct skiff_config;
struct skiff_hub;
struct skiff_sig_pubkey;
/* "file://<absolute DIR>" for a directory, the argument itself for a URL; heap. */
char *skiff_cli_hub_url(const char *arg);
/* Loads path (NULL: the default path, missing means defaults); *ret_from_file (optional) tells
 * whether a file was read. */
int skiff_cli_load_config(const char *path, struct skiff_config **ret, bool *ret_from_file,
                          skiff_err_t *err);
/* A hub client for cfg (default hub hub_arg, else cfg->hub; aliases cfg->hubs; keys cfg's plus
 * extra, returned in *ret_keys, which must outlive the hub). */
int skiff_cli_open_hub(const struct skiff_config *cfg, const char *hub_arg,
                       const struct skiff_sig_pubkey *extra, size_t nextra, struct skiff_hub **ret,
                       struct skiff_sig_pubkey **ret_keys, skiff_err_t *err);

#endif
