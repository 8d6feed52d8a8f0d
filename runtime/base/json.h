/* The only JSON implementation in skiff (yajl behind it). Parsing yields an immutable tree of
 * opaque values; decoding into C structs is table-driven (struct skiff_json_field) so every
 * error names the JSON path of the offending value, e.g. "linux.resources.memory.limit: expected
 * an integer". Generation goes through struct skiff_json_gen. */
#ifndef SKIFF_BASE_JSON_H
#define SKIFF_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct skiff_json;                              /* a parsed document (owns the tree) */
typedef const struct skiff_json_value skiff_jv; /* a value inside a document; borrowed */

enum skiff_json_type {
        SKIFF_JSON_NULL,
        SKIFF_JSON_BOOL,
        SKIFF_JSON_NUMBER,
        SKIFF_JSON_STRING,
        SKIFF_JSON_ARRAY,
        SKIFF_JSON_OBJECT,
};

/* Parses buf[0..len) (need not be NUL-terminated). Depth and size are bounded by the caller's
 * max read size; yajl limits nesting. -EBADMSG with yajl's message on syntax errors. */
int skiff_json_parse(const char *buf, size_t len, struct skiff_json **out, skiff_err_t *err);
void skiff_json_free(struct skiff_json *doc); /* NULL-safe */
static inline void skiff_json_freep(struct skiff_json **d)
{
        skiff_json_free(*d);
}
#define _cleanup_json_ __attribute__((cleanup(skiff_json_freep)))

skiff_jv *skiff_json_root(const struct skiff_json *doc);
enum skiff_json_type skiff_json_type(skiff_jv *v);
const char *skiff_json_type_name(enum skiff_json_type t);
/* Object member by key, NULL when absent or when v is not an object. */
skiff_jv *skiff_json_get(skiff_jv *v, const char *key);
size_t skiff_json_len(skiff_jv *v); /* members of an object or elements of an array, else 0 */
const char *skiff_json_key_at(skiff_jv *v, size_t i);
skiff_jv *skiff_json_at(skiff_jv *v, size_t i); /* object member value or array element */
/* Scalar accessors: NULL / -EINVAL when the type does not match. Integers must be integral
 * and in range. */
const char *skiff_json_str(skiff_jv *v);
int skiff_json_bool(skiff_jv *v, bool *out);
int skiff_json_i64(skiff_jv *v, int64_t *out);
int skiff_json_u64(skiff_jv *v, uint64_t *out);
int skiff_json_double(skiff_jv *v, double *out);

/* Table-driven decoding. A decoder stores into (char *)dst + offset. path is the JSON path of
 * v, used in error messages. */
typedef int (*skiff_json_decode_fn)(skiff_jv *v, const char *path, void *field, skiff_err_t *err);

struct skiff_json_field {
        const char *key;
        skiff_json_decode_fn decode;
        size_t offset;
        bool required;
};

/* Decodes each member of object v through fields (terminated by a {NULL} entry). Members not
 * in the table are an error naming the path unless allow_unknown. A JSON null member is treated
 * as absent. A missing required member is an error naming it. Presence of optional scalars is
 * the caller's business (pre-set a sentinel, or decode into a struct with a has_ flag). */
int skiff_json_decode_object(skiff_jv *v, const char *path, const struct skiff_json_field *fields,
                             void *dst, bool allow_unknown, skiff_err_t *err);

/* Standard decoders. field points at: */
int skiff_json_dec_string(skiff_jv *v, const char *path, void *field,
                          skiff_err_t *err); /* char * (heap) */
int skiff_json_dec_bool(skiff_jv *v, const char *path, void *field, skiff_err_t *err); /* bool */
int skiff_json_dec_i64(skiff_jv *v, const char *path, void *field, skiff_err_t *err);  /* int64_t */
int skiff_json_dec_u64(skiff_jv *v, const char *path, void *field, skiff_err_t *err); /* uint64_t */
int skiff_json_dec_u32(skiff_jv *v, const char *path, void *field, skiff_err_t *err); /* uint32_t */
int skiff_json_dec_i32(skiff_jv *v, const char *path, void *field, skiff_err_t *err); /* int32_t */
int skiff_json_dec_strv(skiff_jv *v, const char *path, void *field,
                        skiff_err_t *err); /* char ** (NULL-terminated, heap) */
/* Object of string values -> char ** of alternating key, value, ..., NULL. */
int skiff_json_dec_strmap(skiff_jv *v, const char *path, void *field, skiff_err_t *err);

/* Error helper: "<path>: expected <what>, got <type>". */
int skiff_json_type_error(skiff_jv *v, const char *path, const char *what, skiff_err_t *err);
/* Heap "<path>.<key>" (or "<key>" when path is empty) / "<path>[i]". */
char *skiff_json_path_key(const char *path, const char *key);
char *skiff_json_path_index(const char *path, size_t i);

/* Generation. Calls never fail individually; misuse (unbalanced maps) is reported by
 * skiff_json_gen_finish(). */
struct skiff_json_gen;
struct skiff_json_gen *skiff_json_gen_new(bool pretty);
void skiff_json_gen_free(struct skiff_json_gen *g); /* NULL-safe */
static inline void skiff_json_gen_freep(struct skiff_json_gen **g)
{
        skiff_json_gen_free(*g);
}
#define _cleanup_json_gen_ __attribute__((cleanup(skiff_json_gen_freep)))
void skiff_json_gen_map_open(struct skiff_json_gen *g);
void skiff_json_gen_map_close(struct skiff_json_gen *g);
void skiff_json_gen_array_open(struct skiff_json_gen *g);
void skiff_json_gen_array_close(struct skiff_json_gen *g);
void skiff_json_gen_string(struct skiff_json_gen *g, const char *s); /* NULL -> null */
void skiff_json_gen_stringn(struct skiff_json_gen *g, const char *s, size_t n);
void skiff_json_gen_i64(struct skiff_json_gen *g, int64_t v);
void skiff_json_gen_u64(struct skiff_json_gen *g, uint64_t v);
void skiff_json_gen_double(struct skiff_json_gen *g, double v);
void skiff_json_gen_bool(struct skiff_json_gen *g, bool v);
void skiff_json_gen_null(struct skiff_json_gen *g);
/* Convenience: key + value inside a map. */
void skiff_json_gen_kv_string(struct skiff_json_gen *g, const char *k, const char *v);
void skiff_json_gen_kv_i64(struct skiff_json_gen *g, const char *k, int64_t v);
void skiff_json_gen_kv_u64(struct skiff_json_gen *g, const char *k, uint64_t v);
void skiff_json_gen_kv_bool(struct skiff_json_gen *g, const char *k, bool v);
/* Returns the document as a heap NUL-terminated string (len optional). -EINVAL on misuse. */
int skiff_json_gen_finish(struct skiff_json_gen *g, char **out, size_t *len, skiff_err_t *err);
/* skiff_json_gen_finish() for a text file: a '\n' is appended unless the document already ends
 * with one (*len counts it). */
int skiff_json_gen_finish_line(struct skiff_json_gen *g, char **out, size_t *len, skiff_err_t *err);

#endif
