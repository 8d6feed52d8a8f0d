#include "store/storepath.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/xalloc.h"
#include "store/nixbase32.h"
#include "store/nixhash.h"

static bool name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("+-._?=", c) != NULL;
}

int skiff_storepath_check_name(const char *name, skiff_err_t *err)
{
        size_t len = strlen(name);
        if (len == 0)
                return skiff_error_set(err, EINVAL, "invalid store path name: empty");
        if (len > SKIFF_STOREPATH_NAME_MAX)
                return skiff_error_set(err, EINVAL,
                                       "invalid store path name `%.32s...`: longer than %d bytes",
                                       name, SKIFF_STOREPATH_NAME_MAX);
        /* Leading periods are allowed (as Nix does since 2.20), except `.`, `..` and a first
         * dash-separated component of `.` or `..`. */
        size_t dots = name[0] == '.' ? (name[1] == '.' ? 2 : 1) : 0;
        if (dots && (name[dots] == '\0' || name[dots] == '-'))
                return skiff_error_set(
                    err, EINVAL, "invalid store path name `%s`: its first component is `%.*s`",
                    name, (int)dots, name);
        for (size_t i = 0; i < len; i++)
                if (!name_char_ok(name[i]))
                        return skiff_error_set(err, EINVAL,
                                               "invalid store path name `%s`: bad character at "
                                               "offset %zu",
                                               name, i);
        return 0;
}

int skiff_storepath_check_basename(const char *base, skiff_err_t *err)
{
        size_t len = strlen(base);
        if (len < SKIFF_STOREPATH_HASH_LEN + 2 || base[SKIFF_STOREPATH_HASH_LEN] != '-')
                return skiff_error_set(
                    err, EINVAL, "invalid store path `%s`: expected `<32-char hash>-<name>`", base);
        for (size_t i = 0; i < SKIFF_STOREPATH_HASH_LEN; i++)
                if (!skiff_nixbase32_is_char(base[i]))
                        return skiff_error_set(err, EINVAL,
                                               "invalid store path `%s`: bad hash character", base);
        int r = skiff_storepath_check_name(base + SKIFF_STOREPATH_HASH_LEN + 1, err);
        if (r < 0)
                return skiff_error_wrap(err, "invalid store path `%s`", base);
        return 0;
}

int skiff_storepath_parse(const char *path, const char *store_dir, const char **ret_base,
                          skiff_err_t *err)
{
        size_t dl = strlen(store_dir);
        if (strncmp(path, store_dir, dl) != 0 || path[dl] != '/')
                return skiff_error_set(err, EINVAL, "store path `%s` is not in `%s`", path,
                                       store_dir);
        int r = skiff_storepath_check_basename(path + dl + 1, err);
        if (r < 0)
                return r;
        if (ret_base)
                *ret_base = path + dl + 1;
        return 0;
}

char *skiff_storepath_make(const char *type, const struct skiff_nixhash *hash, const char *name,
                           const char *store_dir)
{
        char hex[2 * SKIFF_NIXHASH_LEN + 1];
        skiff_hex_encode(hash->d, SKIFF_NIXHASH_LEN, hex);
        char *fp = xasprintf("%s:sha256:%s:%s:%s", type, hex, store_dir, name);
        uint8_t full[SKIFF_SHA256_LEN], folded[20] = {0};
        skiff_sha256_oneshot(fp, strlen(fp), full);
        free(fp);
        for (size_t i = 0; i < sizeof(full); i++)
                folded[i % sizeof(folded)] ^= full[i];
        char b32[SKIFF_STOREPATH_HASH_LEN + 1];
        skiff_nixbase32_encode(folded, sizeof(folded), b32);
        return xasprintf("%s/%s-%s", store_dir, b32, name);
}

char *skiff_storepath_make_source(const struct skiff_nixhash *nar_hash, const char *name,
                                  const char *store_dir)
{
        return skiff_storepath_make("source", nar_hash, name, store_dir);
}
