/* A blocking ttrpc client for the shim suites (compiled into every test/shim suite). When the
 * server runs on the test process's own libuv loop, every wait runs that loop (UV_RUN_NOWAIT) so
 * the server makes progress; with no loop the server is another process. Failures of the
 * transport are criterion assertions; a missing answer is reported to the caller. */
#ifndef SKIFF_TEST_SHIM_TTRPC_CLIENT_H
#define SKIFF_TEST_SHIM_TTRPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct tc_client {
        int fd;            /* -1 when closed */
        uv_loop_t *loop;   /* run while waiting; NULL: none */
        uint32_t next_sid; /* the next (odd) stream id tc_send() uses */
};

struct tc_resp {
        uint32_t sid;
        int32_t code; /* google.rpc.Code, 0 on success */
        char msg[512];
        size_t payload_len;
        void *m; /* the unpacked payload (code 0 and a descriptor given), else NULL */
};

/* A bound, listening AF_UNIX stream socket at path (CLOEXEC). */
int tc_listen(const char *path);
/* Connects c to the socket at path; stream ids start at 1. */
void tc_connect(struct tc_client *c, const char *path, uv_loop_t *loop);
void tc_close(struct tc_client *c);
/* Runs c's loop once without blocking (nothing without a loop). */
void tc_pump(const struct tc_client *c);

/* Writes all of data, running the loop after each chunk and while the socket buffer is full. */
void tc_send_all(struct tc_client *c, const void *data, size_t len);
/* Reads exactly len bytes, running the loop meanwhile: 0, -EPIPE at EOF, -ETIMEDOUT when they
 * did not come within timeout_ms. */
int tc_recv_exact(struct tc_client *c, void *buf, size_t len, int timeout_ms);

/* Sends a Request for service/method with m packed as payload (NULL: empty) on the next stream
 * id, and returns that id. */
uint32_t tc_send(struct tc_client *c, const char *service, const char *method,
                 const ProtobufCMessage *m);
/* The same with the payload as raw bytes (they need not be a valid message). */
uint32_t tc_send_raw(struct tc_client *c, const char *service, const char *method,
                     const void *payload, size_t len);
/* Receives the next Response frame, which must be for stream sid, into *r; with d, a successful
 * answer's payload is unpacked into r->m (tc_resp_free). False when no complete answer came
 * within timeout_ms or the connection closed. */
bool tc_recv(struct tc_client *c, uint32_t sid, const ProtobufCMessageDescriptor *d,
             struct tc_resp *r, int timeout_ms);
/* tc_send() then tc_recv(), asserting that an answer comes within 10 s. */
struct tc_resp tc_call(struct tc_client *c, const char *service, const char *method,
                       const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d);
void tc_resp_free(struct tc_resp *r);

#endif
