/* ttrpc frame codec: protobuf wire reading and writing for the Request / Response envelopes. */
#include "shim/ttrpc_codec.h"

#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

/* ---- protobuf wire helpers -------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
        uint64_t r = 0;
        for (unsigned shift = 0; shift < 70; shift += 7) {
                if (*p >= end)
                        return -1;
                uint8_t b = *(*p)++;
                if (shift == 63 && b > 1)
                        return -2; /* more than 64 bits, as Go rejects */
                r |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *v = r;
                        return 0;
                }
        }
        return -1;
}

struct field {
        uint32_t num;
        unsigned wt;
        uint64_t varint;    /* WT_VARINT */
        const uint8_t *ptr; /* WT_LEN */
        size_t len;
};

/* Reads the next field at *p; returns 1 on a field, 0 at the end, -1 on malformed input. */
static int next_field(const uint8_t **p, const uint8_t *end, struct field *f, const char **why)
{
        if (*p == end)
                return 0;
        uint64_t tag;
        int r = read_varint(p, end, &tag);
        if (r < 0) {
                *why = r == -2 ? "varint overflow" : "truncated tag";
                return -1;
        }
        if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff) {
                *why = "invalid field number";
                return -1;
        }
        f->num = (uint32_t)(tag >> 3);
        f->wt = (unsigned)(tag & 7);
        switch (f->wt) {
        case WT_VARINT:
                r = read_varint(p, end, &f->varint);
                if (r < 0) {
                        *why = r == -2 ? "varint overflow" : "truncated varint";
                        return -1;
                }
                return 1;
        case WT_I64:
        case WT_I32: {
                size_t n = f->wt == WT_I64 ? 8 : 4;
                if ((size_t)(end - *p) < n) {
                        *why = "truncated fixed-size field";
                        return -1;
                }
                *p += n;
                return 1;
        }
        case WT_LEN: {
                uint64_t n;
                if (read_varint(p, end, &n) != 0 || n > (uint64_t)(end - *p)) {
                        *why = "truncated length-delimited field";
                        return -1;
                }
                f->ptr = *p;
                f->len = (size_t)n;
                *p += n;
                return 1;
        }
        default:
                *why = "unsupported wire type";
                return -1;
        }
}

/* Checks that buf is a well-formed message whose fields 1 and 2 (if present) are
 * length-delimited (KeyValue, google.rpc.Status details' Any). */
static int check_two_strings(const uint8_t *buf, size_t len, const char **why)
{
        const uint8_t *p = buf, *end = buf + len;
        struct field f;
        int r;
        while ((r = next_field(&p, end, &f, why)) > 0)
                if ((f.num == 1 || f.num == 2) && f.wt != WT_LEN) {
                        *why = "bad wire type";
                        return -1;
                }
        return r;
}

int skiff_ttrpc_request_decode(const uint8_t *buf, size_t len, struct skiff_ttrpc_request_view *out,
                               struct skiff_error **err)
{
        struct skiff_ttrpc_request_view v = {.service = "", .method = ""};
        const uint8_t *p = buf, *end = buf + len;
        const char *why = NULL;
        struct field f;
        int r;

        while ((r = next_field(&p, end, &f, &why)) > 0) {
                unsigned want = f.num == 4 ? WT_VARINT : WT_LEN;
                if (f.num > 5)
                        continue;
                if (f.wt != want) {
                        why = "bad wire type";
                        r = -1;
                        break;
                }
                switch (f.num) {
                case 1:
                        v.service = (const char *)f.ptr;
                        v.service_len = f.len;
                        break;
                case 2:
                        v.method = (const char *)f.ptr;
                        v.method_len = f.len;
                        break;
                case 3:
                        v.payload = f.ptr;
                        v.payload_len = f.len;
                        break;
                case 4:
                        v.timeout_nano = (int64_t)f.varint;
                        break;
                case 5:
                        if (check_two_strings(f.ptr, f.len, &why) < 0) {
                                r = -1;
                                goto out;
                        }
                        v.n_metadata++;
                        break;
                }
        }
out:
        if (r < 0)
                return skiff_error_set(err, EBADMSG, "decode ttrpc request: %s", why);
        *out = v;
        return 0;
}

static int decode_status(const uint8_t *buf, size_t len, struct skiff_ttrpc_response_view *v,
                         const char **why)
{
        const uint8_t *p = buf, *end = buf + len;
        struct field f;
        int r;
        while ((r = next_field(&p, end, &f, why)) > 0) {
                if (f.num == 1) {
                        if (f.wt != WT_VARINT)
                                goto bad;
                        v->code = (int32_t)f.varint;
                } else if (f.num == 2) {
                        if (f.wt != WT_LEN)
                                goto bad;
                        v->message = (const char *)f.ptr;
                        v->message_len = f.len;
                } else if (f.num == 3) {
                        if (f.wt != WT_LEN || check_two_strings(f.ptr, f.len, why) < 0)
                                goto bad;
                }
        }
        return r;
bad:
        if (!*why)
                *why = "bad wire type";
        return -1;
}

int skiff_ttrpc_response_decode(const uint8_t *buf, size_t len,
                                struct skiff_ttrpc_response_view *out, struct skiff_error **err)
{
        struct skiff_ttrpc_response_view v = {.message = ""};
        const uint8_t *p = buf, *end = buf + len;
        const char *why = NULL;
        struct field f;
        int r;

        while ((r = next_field(&p, end, &f, &why)) > 0) {
                if (f.num != 1 && f.num != 2)
                        continue;
                if (f.wt != WT_LEN) {
                        why = "bad wire type";
                        r = -1;
                        break;
                }
                if (f.num == 1) {
                        if (decode_status(f.ptr, f.len, &v, &why) < 0) {
                                r = -1;
                                break;
                        }
                } else {
                        v.payload = f.ptr;
                        v.payload_len = f.len;
                }
        }
        if (r < 0)
                return skiff_error_set(err, EBADMSG, "decode ttrpc response: %s", why);
        *out = v;
        return 0;
}

static size_t varint_len(uint64_t v)
{
        size_t n = 1;
        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
        while (v >= 0x80) {
                *p++ = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        *p++ = (uint8_t)v;
        return p;
}

static size_t len_field_size(size_t n)
{
        return 1 + varint_len(n) + n;
}

static uint8_t *put_len_field(uint8_t *p, unsigned num, const void *data, size_t n)
{
        *p++ = (uint8_t)(num << 3 | WT_LEN);
        p = put_varint(p, n);
        if (n)
                memcpy(p, data, n);
        return p + n;
}

void skiff_ttrpc_header_decode(const uint8_t in[10], struct skiff_ttrpc_header *h)
{
        h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
        h->stream_id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
        h->type = in[8];
        h->flags = in[9];
}

void skiff_ttrpc_header_encode(const struct skiff_ttrpc_header *h, uint8_t out[10])
{
        out[0] = (uint8_t)(h->length >> 24);
        out[1] = (uint8_t)(h->length >> 16);
        out[2] = (uint8_t)(h->length >> 8);
        out[3] = (uint8_t)h->length;
        out[4] = (uint8_t)(h->stream_id >> 24);
        out[5] = (uint8_t)(h->stream_id >> 16);
        out[6] = (uint8_t)(h->stream_id >> 8);
        out[7] = (uint8_t)h->stream_id;
        out[8] = h->type;
        out[9] = h->flags;
}

int skiff_ttrpc_request_frame(uint32_t stream_id, const char *service, const char *method,
                              const uint8_t *payload, size_t payload_len, uint8_t **frame,
                              size_t *frame_len)
{
        size_t sl = strlen(service), ml = strlen(method);
        size_t body = len_field_size(sl) + len_field_size(ml) +
                      (payload_len ? len_field_size(payload_len) : 0);
        if (body > SKIFF_TTRPC_MAX_FRAME)
                return -EMSGSIZE;
        uint8_t *buf = xmalloc(SKIFF_TTRPC_HEADER_LEN + body);
        struct skiff_ttrpc_header h = {(uint32_t)body, stream_id, SKIFF_TTRPC_TYPE_REQUEST, 0};
        skiff_ttrpc_header_encode(&h, buf);
        uint8_t *p = buf + SKIFF_TTRPC_HEADER_LEN;
        p = put_len_field(p, 1, service, sl);
        p = put_len_field(p, 2, method, ml);
        if (payload_len)
                put_len_field(p, 3, payload, payload_len);
        *frame = buf;
        *frame_len = SKIFF_TTRPC_HEADER_LEN + body;
        return 0;
}

size_t skiff_ttrpc_response_frame_len(size_t payload_len)
{
        return SKIFF_TTRPC_HEADER_LEN + (payload_len ? len_field_size(payload_len) : 0);
}

void skiff_ttrpc_response_frame_write(uint32_t stream_id, const ProtobufCMessage *msg,
                                      size_t payload_len, uint8_t *out)
{
        size_t body = payload_len ? len_field_size(payload_len) : 0;
        struct skiff_ttrpc_header h = {(uint32_t)body, stream_id, SKIFF_TTRPC_TYPE_RESPONSE, 0};
        skiff_ttrpc_header_encode(&h, out);
        if (!payload_len)
                return;
        uint8_t *p = out + SKIFF_TTRPC_HEADER_LEN;
        *p++ = 2 << 3 | WT_LEN;
        p = put_varint(p, payload_len);
        protobuf_c_message_pack(msg, p);
}

/* Size of the google.rpc.Status message {code, message}. */
static size_t status_len(enum skiff_grpc_code code, size_t message_len)
{
        return (code ? 1 + varint_len((uint64_t)code) : 0) +
               (message_len ? len_field_size(message_len) : 0);
}

size_t skiff_ttrpc_status_frame_len(enum skiff_grpc_code code, const char *message)
{
        return SKIFF_TTRPC_HEADER_LEN + len_field_size(status_len(code, strlen(message)));
}

void skiff_ttrpc_status_frame_write(uint32_t stream_id, enum skiff_grpc_code code,
                                    const char *message, uint8_t *out)
{
        size_t ml = strlen(message);
        size_t st = status_len(code, ml);
        struct skiff_ttrpc_header h = {(uint32_t)len_field_size(st), stream_id,
                                       SKIFF_TTRPC_TYPE_RESPONSE, 0};
        skiff_ttrpc_header_encode(&h, out);
        uint8_t *p = out + SKIFF_TTRPC_HEADER_LEN;
        *p++ = 1 << 3 | WT_LEN;
        p = put_varint(p, st);
        if (code) {
                *p++ = 1 << 3 | WT_VARINT;
                p = put_varint(p, (uint64_t)code);
        }
        if (ml)
                put_len_field(p, 2, message, ml);
}
