/* What the task service needs from the shim process (implemented in main.c/serve code). */
#ifndef SKIFF_SHIM_SHIM_H
#define SKIFF_SHIM_SHIM_H

#include <stdbool.h>

struct skiff_events;
struct skiff_ttrpc_server;

/* Process-wide facts from the command line and the bootstrap (read-only after startup). */
struct skiff_shim_ctx {
        const char *ns;                 /* -namespace */
        const char *id;                 /* -id (the group's first task) */
        const char *containerd_address; /* -address (gRPC) */
        const char *ttrpc_address;      /* $TTRPC_ADDRESS */
        const char *socket_path;        /* our own socket path (removed on exit) */
        bool debug;
        const char *config_path; /* runtime options config_path, or NULL */
        struct skiff_events *events;
        struct skiff_ttrpc_server *server;
};

/* Asks the shim to exit after pending events are flushed and replies sent. Used by Shutdown
 * when no task remains, and on SIGTERM. */
void skiff_shim_request_exit(void);

struct skiff_shim_args;
/* The daemon (`serve`): sets itself up (subreaper, log FIFO, SIGPIPE ignored, SIGTERM/SIGINT
 * handled), serves ttrpc on listen_fd (owned) until skiff_shim_request_exit() ran, removes the
 * socket file and returns the process exit code. Called once, from main. */
int skiff_shim_serve(const struct skiff_shim_args *args, int listen_fd);

#endif
