/* The ttrpc frame codec: header, Request / Response decoding, and the frames the shim builds,
 * each checked against protobuf-c's generated ttrpc messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "shim/ttrpc_codec.h"
#include "ttrpc.pb-c.h"

Test(ttrpc_codec, header_round_trip)
{
        struct skiff_ttrpc_header h = {0x00123456, 0x89abcdef, 2, 1}, g;
        uint8_t b[10];
        skiff_ttrpc_header_encode(&h, b);
        cr_assert_eq(b[0], 0x00);
        cr_assert_eq(b[3], 0x56);
        cr_assert_eq(b[4], 0x89);
        skiff_ttrpc_header_decode(b, &g);
        cr_assert_eq(g.length, h.length);
        cr_assert_eq(g.stream_id, h.stream_id);
        cr_assert_eq(g.type, 2);
        cr_assert_eq(g.flags, 1);
}

Test(ttrpc_codec, request_decode_matches_protobuf_c)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvs[] = {&kv, &kv};
        kv.key = "containerd-namespace-ttrpc";
        kv.value = "default";
        req.service = "containerd.task.v2.Task";
        req.method = "Connect";
        req.payload.data = (uint8_t *)"\x0a\x02id";
        req.payload.len = 4;
        req.timeout_nano = 5000000000;
        req.n_metadata = 2;
        req.metadata = kvs;
        uint8_t buf[256];
        size_t n = ttrpc__request__pack(&req, buf);
        struct skiff_ttrpc_request_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_request_decode(buf, n, &v, &err), 0);
        cr_assert_eq(v.service_len, strlen(req.service));
        cr_assert(memcmp(v.service, req.service, v.service_len) == 0);
        cr_assert(memcmp(v.method, "Connect", 7) == 0);
        cr_assert_eq(v.payload_len, 4);
        cr_assert_eq(v.timeout_nano, 5000000000);
        cr_assert_eq(v.n_metadata, 2);
        /* Truncating anywhere inside breaks it. */
        for (size_t cut = 1; cut < n; cut++) {
                int r = skiff_ttrpc_request_decode(buf, cut, &v, &err);
                Ttrpc__Request *pc = ttrpc__request__unpack(NULL, cut, buf);
                cr_assert_eq(r == 0, pc != NULL, "cut %zu: ours %d, protobuf-c %p", cut, r,
                             (void *)pc);
                if (pc)
                        ttrpc__request__free_unpacked(pc, NULL);
                skiff_error_free(&err);
        }
}

Test(ttrpc_codec, request_frame_round_trips_through_protobuf_c)
{
        uint8_t *f = NULL;
        size_t n = 0;
        cr_assert_eq(skiff_ttrpc_request_frame(7, "containerd.task.v2.Task", "State",
                                               (const uint8_t *)"\x0a\x01x", 3, &f, &n),
                     0);
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(f, &h);
        cr_assert_eq(h.length, n - SKIFF_TTRPC_HEADER_LEN);
        cr_assert_eq(h.stream_id, 7);
        cr_assert_eq(h.type, SKIFF_TTRPC_TYPE_REQUEST);
        Ttrpc__Request *req = ttrpc__request__unpack(NULL, h.length, f + SKIFF_TTRPC_HEADER_LEN);
        cr_assert_not_null(req);
        cr_assert_str_eq(req->service, "containerd.task.v2.Task");
        cr_assert_str_eq(req->method, "State");
        cr_assert_eq(req->payload.len, 3);
        cr_assert(memcmp(req->payload.data, "\x0a\x01x", 3) == 0);
        ttrpc__request__free_unpacked(req, NULL);
        free(f);
}

Test(ttrpc_codec, request_frame_over_the_limit_is_emsgsize)
{
        size_t n = SKIFF_TTRPC_MAX_FRAME;
        uint8_t *payload = calloc(1, n);
        uint8_t *f = NULL;
        size_t flen = 0;
        cr_assert_eq(skiff_ttrpc_request_frame(1, "s", "m", payload, n, &f, &flen), -EMSGSIZE);
        cr_assert_null(f);
        free(payload);
}

/* Decodes a Response frame with protobuf-c and with our decoder; both must agree. */
static Ttrpc__Response *unpack_response(const uint8_t *f, size_t n, uint32_t sid)
{
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(f, &h);
        cr_assert_eq(h.length, n - SKIFF_TTRPC_HEADER_LEN);
        cr_assert_eq(h.stream_id, sid);
        cr_assert_eq(h.type, SKIFF_TTRPC_TYPE_RESPONSE);
        cr_assert_eq(h.flags, 0);
        Ttrpc__Response *r = ttrpc__response__unpack(NULL, h.length, f + SKIFF_TTRPC_HEADER_LEN);
        cr_assert_not_null(r, "response does not decode");
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(f + SKIFF_TTRPC_HEADER_LEN, h.length, &v, &err),
                     0);
        cr_assert_eq(v.code, r->status ? r->status->code : 0);
        cr_assert_eq(v.message_len, r->status ? strlen(r->status->message) : 0);
        cr_assert_eq(v.payload_len, r->payload.len);
        return r;
}

Test(ttrpc_codec, response_frame_carries_the_packed_message)
{
        Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
        kv.key = "k";
        kv.value = "v";
        size_t plen = protobuf_c_message_get_packed_size(&kv.base);
        size_t n = skiff_ttrpc_response_frame_len(plen);
        uint8_t *f = malloc(n);
        skiff_ttrpc_response_frame_write(9, &kv.base, plen, f);
        Ttrpc__Response *r = unpack_response(f, n, 9);
        cr_assert_null(r->status);
        Ttrpc__KeyValue *back = ttrpc__key_value__unpack(NULL, r->payload.len, r->payload.data);
        cr_assert_not_null(back);
        cr_assert_str_eq(back->key, kv.key);
        cr_assert_str_eq(back->value, kv.value);
        ttrpc__key_value__free_unpacked(back, NULL);
        ttrpc__response__free_unpacked(r, NULL);
        free(f);
}

Test(ttrpc_codec, empty_response_frame_has_an_empty_body)
{
        cr_assert_eq(skiff_ttrpc_response_frame_len(0), SKIFF_TTRPC_HEADER_LEN);
        uint8_t f[SKIFF_TTRPC_HEADER_LEN];
        skiff_ttrpc_response_frame_write(3, NULL, 0, f);
        Ttrpc__Response *r = unpack_response(f, sizeof(f), 3);
        cr_assert_null(r->status);
        cr_assert_eq(r->payload.len, 0);
        ttrpc__response__free_unpacked(r, NULL);
}

Test(ttrpc_codec, status_frame_round_trips_code_and_message)
{
        static const struct {
                enum skiff_grpc_code code;
                const char *msg;
        } cases[] = {
            {SKIFF_GRPC_NOT_FOUND, "task `c1` not found"},
            {SKIFF_GRPC_UNAVAILABLE, ""},
            {SKIFF_GRPC_OK, "only a message"},
            {(enum skiff_grpc_code)300, "a code that needs a two-byte varint"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = skiff_ttrpc_status_frame_len(cases[i].code, cases[i].msg);
                uint8_t *f = malloc(n);
                skiff_ttrpc_status_frame_write(11, cases[i].code, cases[i].msg, f);
                Ttrpc__Response *r = unpack_response(f, n, 11);
                cr_assert_not_null(r->status, "case %zu", i);
                cr_assert_eq(r->status->code, (int32_t)cases[i].code, "case %zu", i);
                cr_assert_str_eq(r->status->message, cases[i].msg, "case %zu", i);
                cr_assert_eq(r->payload.len, 0);
                ttrpc__response__free_unpacked(r, NULL);
                free(f);
        }
}

Test(ttrpc_codec, status_frame_without_code_or_message_is_an_empty_status)
{
        /* Response{status: {}}: the status field is present, and empty. */
        size_t n = skiff_ttrpc_status_frame_len(SKIFF_GRPC_OK, "");
        cr_assert_eq(n, SKIFF_TTRPC_HEADER_LEN + 2);
        uint8_t f[SKIFF_TTRPC_HEADER_LEN + 2];
        skiff_ttrpc_status_frame_write(1, SKIFF_GRPC_OK, "", f);
        cr_assert_eq(f[SKIFF_TTRPC_HEADER_LEN], 0x0a);
        cr_assert_eq(f[SKIFF_TTRPC_HEADER_LEN + 1], 0x00);
}

Test(ttrpc_codec, response_decode_rejects_what_protobuf_c_rejects)
{
        Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
        Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
        st.code = 5;
        st.message = "nope";
        resp.status = &st;
        resp.payload.data = (uint8_t *)"\x0a\x02id";
        resp.payload.len = 4;
        uint8_t buf[128];
        size_t n = ttrpc__response__pack(&resp, buf);
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(buf, n, &v, &err), 0);
        cr_assert_eq(v.code, 5);
        cr_assert_eq(v.message_len, 4);
        cr_assert(memcmp(v.message, "nope", 4) == 0);
        cr_assert_eq(v.payload_len, 4);
        for (size_t cut = 1; cut < n; cut++) {
                int r = skiff_ttrpc_response_decode(buf, cut, &v, &err);
                Ttrpc__Response *pc = ttrpc__response__unpack(NULL, cut, buf);
                cr_assert_eq(r == 0, pc != NULL, "cut %zu: ours %d, protobuf-c %p", cut, r,
                             (void *)pc);
                if (pc)
                        ttrpc__response__free_unpacked(pc, NULL);
                skiff_error_free(&err);
        }
}
