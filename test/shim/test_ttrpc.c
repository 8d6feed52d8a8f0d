#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "shim/ttrpc.h"
#include "ttrpc-client.h"
#include "ttrpc.pb-c.h"

/* A server on a temp socket in the test's own loop, a blocking client fd, and a test service
 * registered under two names (v2/v3 style) with the same handler table. */
static uv_loop_t loop;
static struct skiff_ttrpc_server *srv;
static char sock_dir[] = "/tmp/skiff-ttrpc-XXXXXX";
static char sock_path[128];
static struct tc_client client = {.fd = -1};
static unsigned echo_calls[2];
static struct skiff_ttrpc_call *held[4];
static size_t n_held;
static int tag_v2 = 0, tag_v3 = 1;

static void h_echo(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *ud)
{
        echo_calls[*(int *)ud]++;
        char *val = strndup((const char *)payload, len);
        Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
        kv.key = (char *)skiff_ttrpc_call_method(call);
        kv.value = val;
        skiff_ttrpc_reply(call, &kv.base);
        free(val);
}

static void h_later(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *ud)
{
        cr_assert_lt(n_held, 4);
        held[n_held++] = call;
}

static void h_fail(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *ud)
{
        skiff_ttrpc_reply_error(call, SKIFF_GRPC_NOT_FOUND, "no task `%.*s`", (int)len,
                                (const char *)payload);
}

static void h_empty(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *ud)
{
        skiff_ttrpc_reply(call, NULL);
}

/* Answers with the method entry's data (a string) as the error message. */
static void h_data(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *ud)
{
        const char *data = skiff_ttrpc_call_data(call);
        skiff_ttrpc_reply_error(call, SKIFF_GRPC_ABORTED, "%s", data ? data : "(none)");
}

static const struct skiff_ttrpc_method methods[] = {
    {"Echo", h_echo},     {"Later", h_later},         {"Fail", h_fail},
    {"Empty", h_empty},   {"DataA", h_data, "first"}, {"DataB", h_data, "second"},
    {"DataNone", h_data},
};

static void pump(void)
{
        tc_pump(&client);
}

static void setup(void)
{
        cr_assert_eq(uv_loop_init(&loop), 0);
        cr_assert_not_null(mkdtemp(sock_dir));
        snprintf(sock_path, sizeof(sock_path), "%s/s", sock_dir);
        int lfd = tc_listen(sock_path);
        cr_assert_eq(skiff_ttrpc_server_new(&loop, lfd, &srv), 0);
        skiff_ttrpc_server_register(srv, "test.v2.Svc", methods, SKIFF_ARRAY_SIZE(methods),
                                    &tag_v2);
        skiff_ttrpc_server_register(srv, "test.v3.Svc", methods, SKIFF_ARRAY_SIZE(methods),
                                    &tag_v3);
        tc_connect(&client, sock_path, &loop);
}

static void teardown(void)
{
        tc_close(&client);
        unlink(sock_path);
        rmdir(sock_dir);
}

TestSuite(ttrpc, .init = setup, .fini = teardown, .timeout = 20);

static void send_frame(uint32_t sid, uint8_t type, const void *body, size_t len)
{
        uint8_t hdr[10];
        struct skiff_ttrpc_header h = {(uint32_t)len, sid, type, 0};
        skiff_ttrpc_header_encode(&h, hdr);
        tc_send_all(&client, hdr, 10);
        tc_send_all(&client, body, len);
}

static void send_request(uint32_t sid, const char *svc, const char *method, const char *payload)
{
        uint8_t *f;
        size_t n;
        cr_assert_eq(skiff_ttrpc_request_frame(sid, svc, method, (const uint8_t *)payload,
                                               payload ? strlen(payload) : 0, &f, &n),
                     0);
        tc_send_all(&client, f, n);
        free(f);
}

struct reply {
        uint32_t sid;
        int32_t code;
        char msg[512];
        char key[64];
        char value[256];
        size_t payload_len;
};

static void recv_reply(struct reply *r)
{
        uint8_t hdr[10];
        cr_assert_eq(tc_recv_exact(&client, hdr, 10, 5000), 0, "connection closed or no reply");
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(hdr, &h);
        cr_assert_eq(h.type, SKIFF_TTRPC_TYPE_RESPONSE);
        uint8_t *body = malloc(h.length + 1);
        cr_assert_eq(tc_recv_exact(&client, body, h.length, 5000), 0);
        memset(r, 0, sizeof(*r));
        r->sid = h.stream_id;
        /* Decode with protobuf-c as an independent check of the encoder. */
        Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, body);
        cr_assert_not_null(resp, "response does not decode");
        if (resp->status) {
                r->code = resp->status->code;
                snprintf(r->msg, sizeof(r->msg), "%s", resp->status->message);
        }
        r->payload_len = resp->payload.len;
        if (resp->payload.len) {
                Ttrpc__KeyValue *kv =
                    ttrpc__key_value__unpack(NULL, resp->payload.len, resp->payload.data);
                cr_assert_not_null(kv);
                snprintf(r->key, sizeof(r->key), "%s", kv->key);
                snprintf(r->value, sizeof(r->value), "%s", kv->value);
                ttrpc__key_value__free_unpacked(kv, NULL);
        }
        /* And with our own zero-copy decoder. */
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(body, h.length, &v, &err), 0);
        cr_assert_eq(v.code, r->code);
        cr_assert_eq(v.payload_len, r->payload_len);
        ttrpc__response__free_unpacked(resp, NULL);
        free(body);
}

Test(ttrpc, echo_round_trip)
{
        struct reply r;
        send_request(1, "test.v2.Svc", "Echo", "hello");
        recv_reply(&r);
        cr_assert_eq(r.sid, 1);
        cr_assert_eq(r.code, 0);
        cr_assert_str_eq(r.key, "Echo");
        cr_assert_str_eq(r.value, "hello");
}

Test(ttrpc, empty_reply_has_no_status_and_no_payload)
{
        struct reply r;
        send_request(5, "test.v2.Svc", "Empty", NULL);
        recv_reply(&r);
        cr_assert_eq(r.sid, 5);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(r.payload_len, 0);
}

Test(ttrpc, unknown_service_is_unimplemented)
{
        struct reply r;
        send_request(3, "containerd.task.v9.Task", "Create", NULL);
        recv_reply(&r);
        cr_assert_eq(r.sid, 3);
        cr_assert_eq(r.code, SKIFF_GRPC_UNIMPLEMENTED);
        cr_assert_str_eq(r.msg, "service containerd.task.v9.Task");
}

Test(ttrpc, unknown_method_is_unimplemented)
{
        struct reply r;
        send_request(7, "test.v3.Svc", "Nope", NULL);
        recv_reply(&r);
        cr_assert_eq(r.code, SKIFF_GRPC_UNIMPLEMENTED);
        cr_assert_str_eq(r.msg, "method Nope");
}

Test(ttrpc, handler_error_status)
{
        struct reply r;
        send_request(9, "test.v2.Svc", "Fail", "c1");
        recv_reply(&r);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        cr_assert_str_eq(r.msg, "no task `c1`");
}

Test(ttrpc, handlers_see_their_method_entry_data)
{
        struct reply r;
        send_request(1, "test.v2.Svc", "DataB", NULL);
        recv_reply(&r);
        cr_assert_eq(r.code, SKIFF_GRPC_ABORTED);
        cr_assert_str_eq(r.msg, "second");
        send_request(3, "test.v3.Svc", "DataA", NULL);
        recv_reply(&r);
        cr_assert_str_eq(r.msg, "first");
        send_request(5, "test.v2.Svc", "DataNone", NULL);
        recv_reply(&r);
        cr_assert_str_eq(r.msg, "(none)");
}

Test(ttrpc, even_stream_id_is_invalid_argument)
{
        struct reply r;
        send_request(2, "test.v2.Svc", "Echo", "x");
        recv_reply(&r);
        cr_assert_eq(r.sid, 2);
        cr_assert_eq(r.code, SKIFF_GRPC_INVALID_ARGUMENT);
        cr_assert_str_eq(r.msg, "StreamID must be odd for client initiated streams");
        cr_assert_eq(echo_calls[0], 0);
}

Test(ttrpc, undecodable_request_is_invalid_argument)
{
        struct reply r;
        const uint8_t bad[] = {0x0a, 0x05, 'a', 'b'}; /* service: 5 bytes announced, 2 given */
        send_frame(11, SKIFF_TTRPC_TYPE_REQUEST, bad, sizeof(bad));
        recv_reply(&r);
        cr_assert_eq(r.sid, 11);
        cr_assert_eq(r.code, SKIFF_GRPC_INVALID_ARGUMENT);
        cr_assert(strncmp(r.msg, "unmarshal request error: ", 25) == 0, "%s", r.msg);
        const uint8_t badwt[] = {0x0b}; /* field 1, wire type 3 (group) */
        send_frame(13, SKIFF_TTRPC_TYPE_REQUEST, badwt, sizeof(badwt));
        recv_reply(&r);
        cr_assert_eq(r.code, SKIFF_GRPC_INVALID_ARGUMENT);
        /* The connection still works afterwards. */
        send_request(15, "test.v2.Svc", "Echo", "ok");
        recv_reply(&r);
        cr_assert_str_eq(r.value, "ok");
}

Test(ttrpc, oversize_frame_is_discarded_with_resource_exhausted)
{
        size_t len = SKIFF_TTRPC_MAX_FRAME + 1;
        uint8_t *junk = malloc(len);
        memset(junk, 0x0a, len); /* would look like fields if it were parsed */
        send_frame(21, SKIFF_TTRPC_TYPE_REQUEST, junk, len);
        free(junk);
        send_request(23, "test.v2.Svc", "Echo", "after");
        struct reply r;
        recv_reply(&r);
        cr_assert_eq(r.sid, 21);
        cr_assert_eq(r.code, SKIFF_GRPC_RESOURCE_EXHAUSTED);
        cr_assert(strstr(r.msg, "exceed maximum message size") != NULL, "%s", r.msg);
        recv_reply(&r);
        cr_assert_eq(r.sid, 23);
        cr_assert_str_eq(r.value, "after");
}

Test(ttrpc, large_frame_below_limit_is_reassembled)
{
        size_t n = 3u << 20;
        char *big = malloc(n + 1);
        memset(big, 'z', n);
        big[n] = 0;
        send_request(25, "test.v2.Svc", "Empty", big);
        free(big);
        struct reply r;
        recv_reply(&r);
        cr_assert_eq(r.sid, 25);
        cr_assert_eq(r.code, 0);
}

Test(ttrpc, v2_and_v3_dispatch_to_the_same_handler)
{
        struct reply r;
        send_request(1, "test.v2.Svc", "Echo", "a");
        send_request(3, "test.v3.Svc", "Echo", "b");
        recv_reply(&r);
        cr_assert_str_eq(r.value, "a");
        recv_reply(&r);
        cr_assert_str_eq(r.value, "b");
        cr_assert_eq(echo_calls[0], 1);
        cr_assert_eq(echo_calls[1], 1);
}

Test(ttrpc, answers_out_of_order_by_stream_id)
{
        struct reply r;
        send_request(1, "test.v2.Svc", "Later", NULL);
        send_request(3, "test.v2.Svc", "Later", NULL);
        send_request(5, "test.v2.Svc", "Echo", "now");
        recv_reply(&r);
        cr_assert_eq(r.sid, 5);
        cr_assert_eq(n_held, 2);
        cr_assert_str_eq(skiff_ttrpc_call_method(held[1]), "Later");
        skiff_ttrpc_reply_error(held[1], SKIFF_GRPC_ABORTED, "second");
        skiff_ttrpc_reply(held[0], NULL);
        recv_reply(&r);
        cr_assert_eq(r.sid, 3);
        cr_assert_eq(r.code, SKIFF_GRPC_ABORTED);
        recv_reply(&r);
        cr_assert_eq(r.sid, 1);
        cr_assert_eq(r.code, 0);
}

Test(ttrpc, data_and_unknown_frames_are_ignored)
{
        send_frame(1, SKIFF_TTRPC_TYPE_DATA, "xyz", 3);
        send_frame(3, 0x7f, "", 0);
        send_request(5, "test.v2.Svc", "Echo", "e");
        struct reply r;
        recv_reply(&r);
        cr_assert_eq(r.sid, 5);
        cr_assert_str_eq(r.value, "e");
}

Test(ttrpc, byte_by_byte_and_batched_frames)
{
        uint8_t *f1, *f2;
        size_t n1, n2;
        cr_assert_eq(skiff_ttrpc_request_frame(1, "test.v2.Svc", "Echo", (const uint8_t *)"one", 3,
                                               &f1, &n1),
                     0);
        cr_assert_eq(skiff_ttrpc_request_frame(3, "test.v2.Svc", "Echo", (const uint8_t *)"two", 3,
                                               &f2, &n2),
                     0);
        for (size_t i = 0; i < n1; i++)
                tc_send_all(&client, f1 + i, 1);
        struct reply r;
        recv_reply(&r);
        cr_assert_str_eq(r.value, "one");
        uint8_t *both = malloc(n1 + n2);
        memcpy(both, f1, n1);
        memcpy(both + n1, f2, n2);
        tc_send_all(&client, both, n1 + n2);
        recv_reply(&r);
        cr_assert_str_eq(r.value, "one");
        recv_reply(&r);
        cr_assert_str_eq(r.value, "two");
        free(both);
        free(f1);
        free(f2);
}

Test(ttrpc, reply_after_connection_close_is_dropped)
{
        send_request(1, "test.v2.Svc", "Later", NULL);
        for (int i = 0; i < 200 && n_held == 0; i++) {
                pump();
                usleep(1000);
        }
        cr_assert_eq(n_held, 1);
        cr_assert(skiff_ttrpc_call_alive(held[0]));
        tc_close(&client);
        for (int i = 0; i < 200 && skiff_ttrpc_call_alive(held[0]); i++) {
                pump();
                usleep(1000);
        }
        cr_assert_not(skiff_ttrpc_call_alive(held[0]));
        skiff_ttrpc_reply(held[0], NULL); /* must not crash or leak */
        skiff_ttrpc_server_close(srv);
        cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(ttrpc, server_close_flushes_and_leaves_loop_closable)
{
        struct reply r;
        send_request(1, "test.v2.Svc", "Later", NULL);
        send_request(3, "test.v2.Svc", "Echo", "x");
        recv_reply(&r);
        cr_assert_eq(n_held, 1);
        skiff_ttrpc_reply(held[0], NULL);
        skiff_ttrpc_server_close(srv);
        recv_reply(&r); /* the queued reply still goes out */
        cr_assert_eq(r.sid, 1);
        uint8_t b;
        cr_assert_eq(tc_recv_exact(&client, &b, 1, 2000), -EPIPE, "connection should be closed");
        cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        cr_assert_eq(uv_loop_close(&loop), 0);
}
