/* libFuzzer target for the shim's outside inputs: ttrpc frames through a live server (frame
 * reassembly, oversize/even-id/unknown-service paths, replies after close), the zero-copy
 * Request/Response decoders (checked against protobuf-c), and `start`'s stdin decoding.
 * The first input byte picks the mode. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "base/error.h"
#include "shim/bootstrap.h"
#include "shim/ttrpc.h"
#include "ttrpc.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
        do {                                                                                       \
                if (!(c)) {                                                                        \
                        fprintf(stderr, "check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);     \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

static bool same(const char *a, size_t alen, const char *b)
{
        size_t blen = b ? strlen(b) : 0;
        return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool go_rejects_too(const struct skiff_error *err)
{
        const char *m = skiff_error_msg(err);
        return strstr(m, "invalid field number") || strstr(m, "varint overflow");
}

static void fuzz_request(const uint8_t *d, size_t n)
{
        struct skiff_ttrpc_request_view v;
        skiff_err_t err = NULL;
        int r = skiff_ttrpc_request_decode(d, n, &v, &err);
        Ttrpc__Request *pc = ttrpc__request__unpack(NULL, n, d);
        /* Every input protobuf-c accepts, we accept with the same fields, except field numbers
         * beyond 2^29-1 and varints beyond 64 bits, which protobuf-c truncates and Go
         * (containerd) rejects. */
        if (pc && r < 0)
                CHECK(go_rejects_too(err));
        if (pc && r == 0) {
                /* protobuf-c stops strings at an embedded NUL; compare only NUL-free ones. */
                if (!memchr(v.service, 0, v.service_len))
                        CHECK(same(v.service, v.service_len, pc->service));
                if (!memchr(v.method, 0, v.method_len))
                        CHECK(same(v.method, v.method_len, pc->method));
                CHECK(v.payload_len == pc->payload.len);
                CHECK(v.payload_len == 0 ||
                      memcmp(v.payload, pc->payload.data, v.payload_len) == 0);
                CHECK(v.timeout_nano == pc->timeout_nano);
                CHECK(v.n_metadata == pc->n_metadata);
        }
        if (pc)
                ttrpc__request__free_unpacked(pc, NULL);
        skiff_error_free(&err);
}

static void fuzz_response(const uint8_t *d, size_t n)
{
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        int r = skiff_ttrpc_response_decode(d, n, &v, &err);
        Ttrpc__Response *pc = ttrpc__response__unpack(NULL, n, d);
        if (pc && r < 0)
                CHECK(go_rejects_too(err));
        if (pc && r == 0) {
                CHECK(v.payload_len == pc->payload.len);
                /* Status codes are not compared: for a status field that occurs several
                 * times, Go merges the occurrences (as we do) while protobuf-c keeps the last. */
        }
        if (pc)
                ttrpc__response__free_unpacked(pc, NULL);
        skiff_error_free(&err);
}

static void fuzz_stdin(const uint8_t *d, size_t n)
{
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        if (skiff_bootstrap_decode_stdin(d, n, "c1", "default", &in, &err) == 0)
                skiff_bootstrap_input_done(&in);
        else
                CHECK(strstr(skiff_error_msg(err), "stdin") != NULL);
        skiff_error_free(&err);
}

/* ---- a live server -------------------------------------------------------------------------- */

static uv_loop_t loop;
static struct skiff_ttrpc_server *srv;
static struct sockaddr_un addr;
static struct skiff_ttrpc_call *held[64];
static size_t n_held;

static void h_echo(struct skiff_ttrpc_call *call, const uint8_t *p, size_t len, void *ud)
{
        Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
        kv.key = "k";
        kv.value = "v";
        skiff_ttrpc_reply(call, &kv.base);
}

static void h_later(struct skiff_ttrpc_call *call, const uint8_t *p, size_t len, void *ud)
{
        if (n_held < 64)
                held[n_held++] = call;
        else
                skiff_ttrpc_reply_error(call, SKIFF_GRPC_UNAVAILABLE, "busy");
}

static const struct skiff_ttrpc_method methods[] = {{"Echo", h_echo}, {"Later", h_later}};

static void init_server(void)
{
        if (srv)
                return;
        CHECK(uv_loop_init(&loop) == 0);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        addr.sun_family = AF_UNIX;
        /* Abstract name: nothing to clean up. */
        snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "skiff-fuzz-ttrpc-%d", getpid());
        CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
        CHECK(listen(fd, 8) == 0);
        CHECK(skiff_ttrpc_server_new(&loop, fd, &srv) == 0);
        skiff_ttrpc_server_register(srv, "s", methods, 2, NULL);
        skiff_ttrpc_server_register(srv, "containerd.task.v2.Task", methods, 2, NULL);
}

static void drain(int fd)
{
        uint8_t buf[65536];
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

static void fuzz_stream(const uint8_t *d, size_t n)
{
        init_server();
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(connect(c, (struct sockaddr *)&addr, sizeof(addr)) == 0);
        /* The first byte sets a chunk size so frames get split at varying points. */
        size_t chunk = n ? (size_t)d[0] % 64 + 1 : 1;
        size_t off = n ? 1 : 0;
        while (off < n) {
                size_t k = n - off < chunk ? n - off : chunk;
                ssize_t w = send(c, d + off, k, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0)
                        off += (size_t)w;
                uv_run(&loop, UV_RUN_NOWAIT);
                drain(c);
                if (w < 0 && errno != EAGAIN)
                        break;
        }
        for (int i = 0; i < 4; i++) {
                uv_run(&loop, UV_RUN_NOWAIT);
                drain(c);
        }
        /* Answer half of the held calls while connected, the rest after close. */
        size_t half = n_held / 2;
        for (size_t i = 0; i < half; i++)
                skiff_ttrpc_reply(held[i], NULL);
        close(c);
        for (int i = 0; i < 4; i++)
                uv_run(&loop, UV_RUN_NOWAIT);
        for (size_t i = half; i < n_held; i++)
                skiff_ttrpc_reply_error(held[i], SKIFF_GRPC_CANCELLED, "late %zu", i);
        n_held = 0;
        uv_run(&loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        const uint8_t *d = data + 1;
        size_t n = size - 1;
        switch (data[0] & 3) {
        case 0:
                fuzz_request(d, n);
                break;
        case 1:
                fuzz_response(d, n);
                break;
        case 2:
                fuzz_stdin(d, n);
                break;
        default:
                fuzz_stream(d, n);
                break;
        }
        return 0;
}
