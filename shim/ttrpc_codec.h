/* ttrpc frame codec (shim-protocol.md §2): the 10-byte frame header, zero-copy views of the
 * ttrpc Request / Response messages, and the encoders for the frames the shim sends (Requests as
 * an events client, Responses as a server). Pure: no I/O, no loop; safe to call from anywhere.
 * The server (ttrpc.h) and the events client (events.h) both frame through this module. */
#ifndef SKIFF_SHIM_TTRPC_CODEC_H
#define SKIFF_SHIM_TTRPC_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

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

/* The 10-byte frame header: big-endian length and stream id, then type and flags. */
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

/* Size of a complete Response frame (header included) whose payload is payload_len bytes; a
 * payload of 0 bytes is left out of the Response. No limit is checked: the caller keeps frames
 * within SKIFF_TTRPC_MAX_FRAME. */
size_t skiff_ttrpc_response_frame_len(size_t payload_len);
/* Writes that frame for stream_id into out (skiff_ttrpc_response_frame_len(payload_len) bytes):
 * header, then Response{payload = msg packed}. payload_len must be
 * protobuf_c_message_get_packed_size(msg); msg is not read when payload_len is 0. */
void skiff_ttrpc_response_frame_write(uint32_t stream_id, const ProtobufCMessage *msg,
                                      size_t payload_len, uint8_t *out);
/* Size of a complete Response frame carrying only google.rpc.Status{code, message}; a zero code
 * and an empty message are left out, as proto3 encoders do. */
size_t skiff_ttrpc_status_frame_len(enum skiff_grpc_code code, const char *message);
/* Writes that frame for stream_id into out (skiff_ttrpc_status_frame_len() bytes). */
void skiff_ttrpc_status_frame_write(uint32_t stream_id, enum skiff_grpc_code code,
                                    const char *message, uint8_t *out);

#endif
