#include "store/narinfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "store/storepath.h"

enum key {
        K_STORE_PATH,
        K_URL,
        K_COMPRESSION,
        K_FILE_HASH,
        K_FILE_SIZE,
        K_NAR_HASH,
        K_NAR_SIZE,
        K_REFERENCES,
        K_DERIVER,
        K_SIG,
        K_CA,
        _K_MAX,
};

static const char *const key_names[_K_MAX] = {
    [K_STORE_PATH] = "StorePath",
    [K_URL] = "URL",
    [K_COMPRESSION] = "Compression",
    [K_FILE_HASH] = "FileHash",
    [K_FILE_SIZE] = "FileSize",
    [K_NAR_HASH] = "NarHash",
    [K_NAR_SIZE] = "NarSize",
    [K_REFERENCES] = "References",
    [K_DERIVER] = "Deriver",
    [K_SIG] = "Sig",
    [K_CA] = "CA",
};

struct skiff_narinfo *skiff_narinfo_free(struct skiff_narinfo *ni)
{
        if (!ni)
                return NULL;
        free(ni->store_path);
        free(ni->url);
        free(ni->compression);
        skiff_strv_free(ni->references);
        free(ni->deriver);
        skiff_strv_free(ni->sigs);
        free(ni->ca);
        free(ni);
        return NULL;
}

static int parse_size(const char *v, const char *key, uint64_t *out, skiff_err_t *err)
{
        if (skiff_parse_u64(v, out) < 0)
                return skiff_error_set(err, EINVAL, "narinfo: `%s`: invalid size `%s`", key, v);
        return 0;
}

static int set_value(struct skiff_narinfo *ni, enum key k, const char *v, const char *store_dir,
                     skiff_err_t *err)
{
        int r;
        switch (k) {
        case K_STORE_PATH:
                r = skiff_storepath_parse(v, store_dir, NULL, err);
                if (r < 0)
                        return skiff_error_wrap(err, "narinfo: `StorePath`");
                ni->store_path = xstrdup(v);
                return 0;
        case K_URL:
                if (!*v)
                        return skiff_error_set(err, EINVAL, "narinfo: `URL`: empty");
                ni->url = xstrdup(v);
                return 0;
        case K_COMPRESSION:
                ni->compression = xstrdup(v);
                return 0;
        case K_FILE_HASH:
                r = skiff_nixhash_parse(v, &ni->file_hash, err);
                if (r < 0)
                        return skiff_error_wrap(err, "narinfo: `FileHash`");
                ni->has_file_hash = true;
                return 0;
        case K_FILE_SIZE:
                return parse_size(v, "FileSize", &ni->file_size, err);
        case K_NAR_HASH:
                r = skiff_nixhash_parse(v, &ni->nar_hash, err);
                if (r < 0)
                        return skiff_error_wrap(err, "narinfo: `NarHash`");
                return 0;
        case K_NAR_SIZE:
                r = parse_size(v, "NarSize", &ni->nar_size, err);
                if (r < 0)
                        return r;
                if (ni->nar_size == 0)
                        return skiff_error_set(err, EINVAL, "narinfo: `NarSize`: must not be 0");
                return 0;
        case K_REFERENCES: {
                _cleanup_strv_ char **refs = skiff_strv_split(v, " ", true);
                for (char **p = refs; *p; p++) {
                        r = skiff_storepath_check_basename(*p, err);
                        if (r < 0)
                                return skiff_error_wrap(err, "narinfo: `References`");
                }
                skiff_strv_free(ni->references);
                ni->references = TAKE_PTR(refs);
                return 0;
        }
        case K_DERIVER:
                if (strcmp(v, "unknown-deriver") == 0)
                        return 0;
                r = skiff_storepath_check_basename(v, err);
                if (r < 0)
                        return skiff_error_wrap(err, "narinfo: `Deriver`");
                ni->deriver = xstrdup(v);
                return 0;
        case K_SIG:
                if (!strchr(v, ':'))
                        return skiff_error_set(err, EINVAL,
                                               "narinfo: `Sig`: expected `<key name>:<base64>`");
                skiff_strv_push(&ni->sigs, v);
                return 0;
        case K_CA:
                ni->ca = xstrdup(v);
                return 0;
        case _K_MAX:
                break;
        }
        return skiff_error_set(err, EINVAL, "narinfo: internal error");
}

int skiff_narinfo_parse(const char *buf, size_t len, const char *store_dir,
                        struct skiff_narinfo **ret, skiff_err_t *err)
{
        if (len > SKIFF_NARINFO_MAX)
                return skiff_error_set(err, EFBIG, "narinfo: larger than %d bytes",
                                       SKIFF_NARINFO_MAX);
        if (memchr(buf, '\0', len))
                return skiff_error_set(err, EBADMSG, "narinfo: contains a NUL byte");
        _cleanup_(skiff_narinfo_freep) struct skiff_narinfo *ni = xcalloc(1, sizeof(*ni));
        ni->references = xcalloc(1, sizeof(char *));
        ni->sigs = xcalloc(1, sizeof(char *));
        bool seen[_K_MAX] = {false};
        size_t pos = 0, lineno = 0;
        while (pos < len) {
                lineno++;
                const char *line = buf + pos;
                const char *nl = memchr(line, '\n', len - pos);
                size_t ll = nl ? (size_t)(nl - line) : len - pos;
                pos += ll + (nl ? 1 : 0);
                const char *colon = memchr(line, ':', ll);
                if (!colon || (size_t)(colon - line) + 1 >= ll || colon[1] != ' ')
                        return skiff_error_set(err, EBADMSG,
                                               "narinfo: line %zu: expected `Key: value`", lineno);
                _cleanup_free_ char *key = xstrndup(line, (size_t)(colon - line));
                _cleanup_free_ char *val = xstrndup(colon + 2, ll - (size_t)(colon - line) - 2);
                enum key k = 0;
                while (k < _K_MAX && strcmp(key_names[k], key) != 0)
                        k++;
                if (k == _K_MAX)
                        continue;
                if (seen[k] && k != K_SIG)
                        return skiff_error_set(err, EBADMSG, "narinfo: `%s`: duplicate key", key);
                seen[k] = true;
                int r = set_value(ni, k, val, store_dir, err);
                if (r < 0)
                        return r;
        }
        static const enum key required[] = {K_STORE_PATH, K_URL, K_NAR_HASH, K_NAR_SIZE};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(required); i++)
                if (!seen[required[i]])
                        return skiff_error_set(err, EBADMSG,
                                               "narinfo: `%s`: required key is missing",
                                               key_names[required[i]]);
        if (!ni->compression)
                ni->compression = xstrdup("bzip2");
        *ret = TAKE_PTR(ni);
        return 0;
}

char *skiff_narinfo_format(const struct skiff_narinfo *ni)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char h[SKIFF_NIXHASH_STR_MAX];
        skiff_strbuf_printf(&sb, "StorePath: %s\nURL: %s\nCompression: %s\n", ni->store_path,
                            ni->url, ni->compression ? ni->compression : "none");
        if (ni->has_file_hash) {
                skiff_nixhash_format(&ni->file_hash, h);
                skiff_strbuf_printf(&sb, "FileHash: %s\n", h);
        }
        if (ni->file_size)
                skiff_strbuf_printf(&sb, "FileSize: %" PRIu64 "\n", ni->file_size);
        skiff_nixhash_format(&ni->nar_hash, h);
        skiff_strbuf_printf(&sb, "NarHash: %s\nNarSize: %" PRIu64 "\nReferences: ", h,
                            ni->nar_size);
        for (char **p = ni->references; p && *p; p++)
                skiff_strbuf_printf(&sb, "%s%s", p == ni->references ? "" : " ", *p);
        skiff_strbuf_putc(&sb, '\n');
        if (ni->deriver)
                skiff_strbuf_printf(&sb, "Deriver: %s\n", ni->deriver);
        for (char **p = ni->sigs; p && *p; p++)
                skiff_strbuf_printf(&sb, "Sig: %s\n", *p);
        if (ni->ca)
                skiff_strbuf_printf(&sb, "CA: %s\n", ni->ca);
        return skiff_strbuf_take(&sb);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

char *skiff_narinfo_fingerprint(const struct skiff_narinfo *ni, const char *store_dir)
{
        size_t n = skiff_strv_len(ni->references);
        _cleanup_free_ char **sorted = xcalloc(n + 1, sizeof(char *));
        if (n)
                memcpy(sorted, ni->references, n * sizeof(char *));
        qsort(sorted, n, sizeof(char *), cmp_str);
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char h[SKIFF_NIXHASH_STR_MAX];
        skiff_nixhash_format(&ni->nar_hash, h);
        skiff_strbuf_printf(&sb, "1;%s;%s;%" PRIu64 ";", ni->store_path, h, ni->nar_size);
        for (size_t i = 0; i < n; i++)
                skiff_strbuf_printf(&sb, "%s%s/%s", i ? "," : "", store_dir, sorted[i]);
        return skiff_strbuf_take(&sb);
}

void skiff_narinfo_hash_part(const struct skiff_narinfo *ni, char out[33])
{
        const char *base = strrchr(ni->store_path, '/');
        base = base ? base + 1 : ni->store_path;
        memcpy(out, base, 32);
        out[32] = '\0';
}
