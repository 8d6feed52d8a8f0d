/* <store_root>/stats.json: node-wide realization counters. */
#include "cli/nodestats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/path.h"
#include "base/xalloc.h"

const double SKIFF_NODESTATS_BUCKETS[SKIFF_NODESTATS_NBUCKET - 1] = {
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
};

static const char *const reasons[SKIFF_NODESTATS_REASONS] = {
    "other", "network", "timeout",   "not_found",  "verify",    "no_space",
    "io",    "invalid", "too_large", "permission", "cancelled", "unsupported",
};

static const struct {
        int errnum;
        size_t reason;
} reason_map[] = {
    {ECONNREFUSED, 1}, {EHOSTUNREACH, 1}, {ENETUNREACH, 1}, {ECONNRESET, 1}, {EPROTO, 1},
    {ETIMEDOUT, 2},    {ENOENT, 3},       {EBADMSG, 4},     {EPERM, 4},      {ENOSPC, 5},
    {EDQUOT, 5},       {EIO, 6},          {EINVAL, 7},      {EFBIG, 8},      {EACCES, 9},
    {EROFS, 9},        {ECANCELED, 10},   {EINTR, 10},      {ENOTSUP, 11},   {ENOSYS, 11},
};

size_t skiff_nodestats_reason(int errnum)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(reason_map); i++)
                if (reason_map[i].errnum == errnum)
                        return reason_map[i].reason;
        return 0;
}

const char *skiff_nodestats_reason_name(size_t index)
{
        return index < SKIFF_NODESTATS_REASONS ? reasons[index] : NULL;
}

void skiff_nodestats_add(struct skiff_nodestats *s, const struct skiff_nodestats_realization *rec)
{
        if (rec->errnum) {
                s->failure++;
                s->errors[skiff_nodestats_reason(rec->errnum)]++;
        } else {
                s->success++;
        }
        s->paths_fetched += rec->paths_fetched;
        s->bytes_fetched += rec->bytes_fetched;
        s->cache_hits += rec->cache_hits;
        s->duration_sum += rec->seconds;
        size_t b = 0;
        while (b < SKIFF_NODESTATS_NBUCKET - 1 && rec->seconds > SKIFF_NODESTATS_BUCKETS[b])
                b++;
        s->buckets[b]++;
}

static int get_u64(skiff_jv *obj, const char *key, uint64_t *out, skiff_err_t *err)
{
        skiff_jv *v = skiff_json_get(obj, key);
        if (!v)
                return 0;
        if (skiff_json_u64(v, out) < 0)
                return skiff_json_type_error(v, key, "a non-negative integer", err);
        return 0;
}

int skiff_nodestats_parse(const char *buf, size_t len, struct skiff_nodestats *ret,
                          skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(buf, len, &doc, err);
        if (r < 0)
                return r;
        struct skiff_nodestats s = {0};
        skiff_jv *root = skiff_json_root(doc);
        if (skiff_json_type(root) != SKIFF_JSON_OBJECT)
                return skiff_json_type_error(root, "(root)", "an object", err);
        skiff_jv *rz = skiff_json_get(root, "realizations");
        if ((r = get_u64(rz, "success", &s.success, err)) < 0 ||
            (r = get_u64(rz, "failure", &s.failure, err)) < 0 ||
            (r = get_u64(root, "paths_fetched", &s.paths_fetched, err)) < 0 ||
            (r = get_u64(root, "bytes_fetched", &s.bytes_fetched, err)) < 0 ||
            (r = get_u64(root, "cache_hits", &s.cache_hits, err)) < 0)
                return r;
        skiff_jv *d = skiff_json_get(root, "duration_seconds");
        skiff_jv *sum = skiff_json_get(d, "sum");
        if (sum && skiff_json_double(sum, &s.duration_sum) < 0)
                return skiff_json_type_error(sum, "duration_seconds.sum", "a number", err);
        skiff_jv *b = skiff_json_get(d, "buckets");
        if (b && (skiff_json_type(b) != SKIFF_JSON_ARRAY ||
                  skiff_json_len(b) != SKIFF_NODESTATS_NBUCKET))
                return skiff_error_set(err, EBADMSG, "duration_seconds.buckets: expected %d counts",
                                       SKIFF_NODESTATS_NBUCKET);
        for (size_t i = 0; b && i < SKIFF_NODESTATS_NBUCKET; i++)
                if (skiff_json_u64(skiff_json_at(b, i), &s.buckets[i]) < 0)
                        return skiff_error_set(err, EBADMSG,
                                               "duration_seconds.buckets[%zu]: "
                                               "expected a count",
                                               i);
        skiff_jv *e = skiff_json_get(root, "errors");
        for (size_t i = 0; i < SKIFF_NODESTATS_REASONS; i++)
                if ((r = get_u64(e, reasons[i], &s.errors[i], err)) < 0)
                        return r;
        *ret = s;
        return 0;
}

char *skiff_nodestats_format(const struct skiff_nodestats *s)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_u64(g, "version", 1);
        skiff_json_gen_string(g, "realizations");
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_u64(g, "success", s->success);
        skiff_json_gen_kv_u64(g, "failure", s->failure);
        skiff_json_gen_map_close(g);
        skiff_json_gen_kv_u64(g, "paths_fetched", s->paths_fetched);
        skiff_json_gen_kv_u64(g, "bytes_fetched", s->bytes_fetched);
        skiff_json_gen_kv_u64(g, "cache_hits", s->cache_hits);
        skiff_json_gen_string(g, "duration_seconds");
        skiff_json_gen_map_open(g);
        skiff_json_gen_string(g, "sum");
        skiff_json_gen_double(g, s->duration_sum);
        skiff_json_gen_string(g, "buckets");
        skiff_json_gen_array_open(g);
        for (size_t i = 0; i < SKIFF_NODESTATS_NBUCKET; i++)
                skiff_json_gen_u64(g, s->buckets[i]);
        skiff_json_gen_array_close(g);
        skiff_json_gen_map_close(g);
        skiff_json_gen_string(g, "errors");
        skiff_json_gen_map_open(g);
        for (size_t i = 0; i < SKIFF_NODESTATS_REASONS; i++)
                if (s->errors[i])
                        skiff_json_gen_kv_u64(g, reasons[i], s->errors[i]);
        skiff_json_gen_map_close(g);
        skiff_json_gen_map_close(g);
        char *out = NULL;
        if (skiff_json_gen_finish(g, &out, NULL, NULL) < 0)
                abort(); /* balanced by construction */
        return out;
}

static int load_path(const char *path, struct skiff_nodestats *ret, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(path, 1 << 20, &buf, &len, err);
        if (r == -ENOENT) {
                skiff_error_free(err);
                *ret = (struct skiff_nodestats){0};
                return 0;
        }
        if (r < 0)
                return r;
        r = skiff_nodestats_parse(buf, len, ret, err);
        return r < 0 ? skiff_error_wrap(err, "`%s`", path) : 0;
}

int skiff_nodestats_load(const char *store_root, struct skiff_nodestats *ret, skiff_err_t *err)
{
        _cleanup_free_ char *path = skiff_path_join(store_root, SKIFF_NODESTATS_FILE);
        return load_path(path, ret, err);
}

int skiff_nodestats_record(const char *store_root, const struct skiff_nodestats_realization *rec,
                           skiff_err_t *err)
{
        _cleanup_free_ char *lock = skiff_path_join(store_root, SKIFF_NODESTATS_LOCK);
        _cleanup_free_ char *path = skiff_path_join(store_root, SKIFF_NODESTATS_FILE);
        _cleanup_free_ char *dir = skiff_path_dirname(lock);
        int r = skiff_fs_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", lock);
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return skiff_error_set_errno(err, errno, "lock `%s`", lock);
        struct skiff_nodestats s;
        _cleanup_error_ skiff_err_t e2 = NULL;
        if (load_path(path, &s, &e2) < 0)
                s = (struct skiff_nodestats){0}; /* a damaged file restarts from zero */
        skiff_nodestats_add(&s, rec);
        _cleanup_free_ char *out = skiff_nodestats_format(&s);
        return skiff_fs_write_file_atomic(path, out, strlen(out), 0644, false, err);
}
