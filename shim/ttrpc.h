/* ttrpc server over AF_UNIX on the shim's libuv loop (shim-protocol.md §2). Frames are parsed
 * and answered by stream id; handlers may answer later (Wait), so many calls on one connection
 * are in flight at once. Requests for unknown services/methods, oversize frames, even stream
 * ids and undecodable requests are answered here with the status codes of §2.3. Frames are
 * parsed and built with ttrpc_codec.h.
 *
 * Single-threaded: every function must be called on the loop thread. */
#ifndef SKIFF_SHIM_TTRPC_H
#define SKIFF_SHIM_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "shim/ttrpc_codec.h"

struct skiff_ttrpc_server;
struct skiff_ttrpc_call; /* one in-flight request; owned by the server until answered */

/* A handler gets the raw request payload (valid only during the call) and must eventually
 * answer exactly once with skiff_ttrpc_reply() or skiff_ttrpc_reply_error(), now or later.
 * userdata is what was registered with the service. */
typedef void (*skiff_ttrpc_handler)(struct skiff_ttrpc_call *call, const uint8_t *payload,
                                    size_t len, void *userdata);

struct skiff_ttrpc_method {
        const char *name; /* bare method name, e.g. "Create" */
        skiff_ttrpc_handler fn;
        const void *data; /* per-method data for fn (skiff_ttrpc_call_data); may be NULL */
};

/* Creates a server that accepts on listen_fd (already bound and listening; ownership moves to
 * the server). */
int skiff_ttrpc_server_new(uv_loop_t *loop, int listen_fd, struct skiff_ttrpc_server **out);
/* Registers a service (fully-qualified name, e.g. "containerd.task.v2.Task"); the method table
 * and names must outlive the server. The same table may be registered under several names. */
void skiff_ttrpc_server_register(struct skiff_ttrpc_server *s, const char *service,
                                 const struct skiff_ttrpc_method *methods, size_t n_methods,
                                 void *userdata);
/* Stops accepting, closes all connections (pending calls are dropped without reply), and frees
 * the server once libuv has closed every handle. */
void skiff_ttrpc_server_close(struct skiff_ttrpc_server *s);

/* Answers with a serialized message (NULL = empty payload). Frees the call. If the connection
 * is gone meanwhile, the answer is dropped silently. */
void skiff_ttrpc_reply(struct skiff_ttrpc_call *call, const ProtobufCMessage *msg);
/* Answers with a google.rpc.Status{code, message}. Frees the call. */
void skiff_ttrpc_reply_error(struct skiff_ttrpc_call *call, enum skiff_grpc_code code,
                             const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Method name of the call (for logging). */
const char *skiff_ttrpc_call_method(const struct skiff_ttrpc_call *call);
/* The data of the method entry the call was dispatched to (NULL when it has none). */
const void *skiff_ttrpc_call_data(const struct skiff_ttrpc_call *call);
/* True while the connection that sent the call is still open. */
int skiff_ttrpc_call_alive(const struct skiff_ttrpc_call *call);

#endif
