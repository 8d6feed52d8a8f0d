/* ttrpc server over AF_UNIX on the shim's libuv loop (shim-protocol.md §2). Frames are parsed
 * and answered by stream id; handlers may answer later (Wait), so many calls on one connection
 * are in flight at once. Requests for unknown services/methods, oversize frames, even stream
 * ids and undecodable requests are answered here with the status codes of §2.3.
 *
 * Single-threaded: every function must be called on the loop thread. */
#ifndef SKIFF_SHIM_TTRPC_H
#define SKIFF_SHIM_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SKIFF_TTRPC_MAX_FRAME (4u << 20)

/* google.rpc.Code values used by the shim. */
enum skiff_grpc_code {
        SKIFF_GRPC_OK = 0,
        SKIFF_GRPC_CANCELLED = 1,
        SKIFF_GRPC_UNKNOWN = 2,
        SKIFF_GRPC_INVALID_ARGUMENT = 3,
        SKIFF_GRPC_DEADLINE_EXCEEDED = 4,
        SKIFF_GRPC_NOT_FOUND = 5,
        SKIFF_GRPC_ALREADY_EXISTS = 6,
        SKIFF_GRPC_PERMISSION_DENIED = 7,
        SKIFF_GRPC_RESOURCE_EXHAUSTED = 8,
        SKIFF_GRPC_FAILED_PRECONDITION = 9,
        SKIFF_GRPC_ABORTED = 10,
        SKIFF_GRPC_OUT_OF_RANGE = 11,
        SKIFF_GRPC_UNIMPLEMENTED = 12,
        SKIFF_GRPC_INTERNAL = 13,
        SKIFF_GRPC_UNAVAILABLE = 14,
};

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
/* True while the connection that sent the call is still open. */
int skiff_ttrpc_call_alive(const struct skiff_ttrpc_call *call);

/* Frame codec, exposed for tests and fuzzing: parses a 10-byte header. */
struct skiff_ttrpc_header {
        uint32_t length;
        uint32_t stream_id;
        uint8_t type;
        uint8_t flags;
};
void skiff_ttrpc_header_decode(const uint8_t in[10], struct skiff_ttrpc_header *h);
void skiff_ttrpc_header_encode(const struct skiff_ttrpc_header *h, uint8_t out[10]);

#define SKIFF_TTRPC_HEADER_LEN 10
enum {
        SKIFF_TTRPC_TYPE_REQUEST = 1,
        SKIFF_TTRPC_TYPE_RESPONSE = 2,
        SKIFF_TTRPC_TYPE_DATA = 3,
};

/* Zero-copy views of the ttrpc Request / Response messages (shim-protocol.md §2.2). Every
 * pointer points into the decoded buffer; strings are not NUL-terminated. */
struct skiff_ttrpc_request_view {
        const char *service;
        size_t service_len;
        const char *method;
        size_t method_len;
        const uint8_t *payload;
        size_t payload_len;
        int64_t timeout_nano;
        size_t n_metadata;
};
struct skiff_ttrpc_response_view {
        int32_t code; /* 0 when the status is absent */
        const char *message;
        size_t message_len;
        const uint8_t *payload;
        size_t payload_len;
};

/* Decode a serialized Request / Response. Unknown fields are skipped; truncated data, bad wire
 * types and malformed nested messages give -EBADMSG with a reason in *err. No allocation on
 * success. */
struct skiff_error;
int skiff_ttrpc_request_decode(const uint8_t *buf, size_t len, struct skiff_ttrpc_request_view *out,
                               struct skiff_error **err);
int skiff_ttrpc_response_decode(const uint8_t *buf, size_t len,
                                struct skiff_ttrpc_response_view *out, struct skiff_error **err);
/* Builds one complete Request frame (header + Request{service, method, payload}) in a heap
 * buffer the caller frees; *frame_len gets its size. -EMSGSIZE when it would exceed
 * SKIFF_TTRPC_MAX_FRAME. */
int skiff_ttrpc_request_frame(uint32_t stream_id, const char *service, const char *method,
                              const uint8_t *payload, size_t payload_len, uint8_t **frame,
                              size_t *frame_len);

#endif
