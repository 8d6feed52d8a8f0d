#include "store/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "store/nar.h"
#include "store/narinfo.h"
#include "store/nixbase32.h"
#include "store/sig.h"
#include "store/storepath.h"

SKIFF_DEFINE_CLEANUP(ZSTD_CCtx *, ZSTD_freeCCtx)

struct sink {
        struct skiff_sha256 nar_hash;
        uint64_t nar_size;
        struct skiff_sha256 file_hash;
        uint64_t file_size;
        ZSTD_CCtx *zc; /* NULL: no compression */
        uint8_t *zbuf;
        size_t zcap;
        int fd;
        const char *tmp_path;
};

static int sink_write(struct sink *s, const void *data, size_t len, skiff_err_t *err)
{
        skiff_sha256_update(&s->file_hash, data, len);
        s->file_size += len;
        int r = skiff_fs_write_all(s->fd, data, len);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "write `%s`", s->tmp_path);
        return 0;
}

static int zstd_push(struct sink *s, const void *data, size_t len, ZSTD_EndDirective mode,
                     skiff_err_t *err)
{
        ZSTD_inBuffer in = {data, len, 0};
        for (;;) {
                ZSTD_outBuffer out = {s->zbuf, s->zcap, 0};
                size_t left = ZSTD_compressStream2(s->zc, &out, &in, mode);
                if (ZSTD_isError(left))
                        return skiff_error_set(err, EIO, "zstd: %s", ZSTD_getErrorName(left));
                if (out.pos) {
                        int r = sink_write(s, s->zbuf, out.pos, err);
                        if (r < 0)
                                return r;
                }
                if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
                        return 0;
        }
}

static int nar_cb(const void *data, size_t len, void *userdata, skiff_err_t *err)
{
        struct sink *s = userdata;
        skiff_sha256_update(&s->nar_hash, data, len);
        s->nar_size += len;
        if (s->zc)
                return zstd_push(s, data, len, ZSTD_e_continue, err);
        return sink_write(s, data, len, err);
}

int skiff_cache_init(const char *cache_dir, const char *store_dir, skiff_err_t *err)
{
        int r = skiff_fs_mkdir_p(cache_dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *nar = skiff_path_join(cache_dir, "nar");
        r = skiff_fs_mkdir_p(nar, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *info = skiff_path_join(cache_dir, "nix-cache-info");
        if (access(info, F_OK) == 0)
                return 0;
        _cleanup_free_ char *doc =
            xasprintf("StoreDir: %s\nWantMassQuery: 1\nPriority: 40\n", store_dir);
        return skiff_fs_write_file_atomic(info, doc, strlen(doc), 0644, false, err);
}

int skiff_cache_add_path(const char *cache_dir, const char *src, enum skiff_compression comp,
                         const struct skiff_sig_seckey *sk, const char *store_dir, char **ret_path,
                         skiff_err_t *err)
{
        if (comp != SKIFF_COMPRESSION_NONE && comp != SKIFF_COMPRESSION_ZSTD)
                return skiff_error_set(err, ENOTSUP, "cache add: compression `%s` not supported",
                                       skiff_compression_name(comp));
        _cleanup_free_ char *clean = skiff_path_clean(src);
        const char *name = skiff_path_basename(clean);
        int r = skiff_storepath_check_name(name, err);
        if (r < 0)
                return skiff_error_wrap(err, "cache add `%s`", src);
        r = skiff_cache_init(cache_dir, store_dir, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = xasprintf("%s/nar/.tmp-%d-XXXXXX", cache_dir, (int)getpid());
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "create `%s`", tmp);
        _cleanup_(ZSTD_freeCCtxp) ZSTD_CCtx *zc = NULL;
        _cleanup_free_ uint8_t *zbuf = NULL;
        struct sink s = {.fd = fd, .tmp_path = tmp};
        if (comp == SKIFF_COMPRESSION_ZSTD) {
                zc = ZSTD_createCCtx();
                if (!zc) {
                        (void)unlink(tmp); /* best effort */
                        return skiff_error_set(err, ENOMEM, "zstd: create context");
                }
                (void)ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, 3); /* default anyway */
                s.zcap = ZSTD_CStreamOutSize();
                zbuf = xmalloc(s.zcap);
                s.zc = zc;
                s.zbuf = zbuf;
        }
        skiff_sha256_init(&s.nar_hash);
        skiff_sha256_init(&s.file_hash);
        r = skiff_nar_dump(AT_FDCWD, clean, nar_cb, &s, err);
        if (r >= 0 && s.zc)
                r = zstd_push(&s, NULL, 0, ZSTD_e_end, err);
        if (r < 0) {
                skiff_sha256_abort(&s.nar_hash);
                skiff_sha256_abort(&s.file_hash);
                (void)unlink(tmp); /* best effort */
                return skiff_error_wrap(err, "cache add `%s`", src);
        }
        _cleanup_narinfo_ struct skiff_narinfo *ni = xcalloc(1, sizeof(*ni));
        skiff_sha256_final(&s.nar_hash, ni->nar_hash.d);
        skiff_sha256_final(&s.file_hash, ni->file_hash.d);
        ni->has_file_hash = true;
        ni->nar_size = s.nar_size;
        ni->file_size = s.file_size;
        ni->store_path = skiff_storepath_make_source(&ni->nar_hash, name, store_dir);
        ni->compression = xstrdup(skiff_compression_name(comp));
        char fh[53], nh[53];
        skiff_nixbase32_encode(ni->file_hash.d, 32, fh);
        skiff_nixbase32_encode(ni->nar_hash.d, 32, nh);
        ni->url = xasprintf("nar/%s.nar%s", fh, comp == SKIFF_COMPRESSION_ZSTD ? ".zst" : "");
        ni->ca = xasprintf("fixed:r:sha256:%s", nh);
        ni->references = xcalloc(1, sizeof(char *));
        ni->sigs = xcalloc(2, sizeof(char *));
        if (sk) {
                _cleanup_free_ char *fp = skiff_narinfo_fingerprint(ni, store_dir);
                r = skiff_sig_sign(sk, fp, strlen(fp), &ni->sigs[0], err);
                if (r < 0) {
                        (void)unlink(tmp); /* best effort */
                        return r;
                }
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
                r = skiff_error_set_errno(err, errno, "write `%s`", tmp);
                (void)unlink(tmp); /* best effort */
                return r;
        }
        _cleanup_free_ char *nar_path = skiff_path_join(cache_dir, ni->url);
        if (rename(tmp, nar_path) < 0) {
                r = skiff_error_set_errno(err, errno, "rename `%s` to `%s`", tmp, nar_path);
                (void)unlink(tmp); /* best effort */
                return r;
        }
        char hp[33];
        skiff_narinfo_hash_part(ni, hp);
        _cleanup_free_ char *ni_path = xasprintf("%s/%s.narinfo", cache_dir, hp);
        _cleanup_free_ char *doc = skiff_narinfo_format(ni);
        r = skiff_fs_write_file_atomic(ni_path, doc, strlen(doc), 0644, true, err);
        if (r < 0)
                return r;
        *ret_path = TAKE_PTR(ni->store_path);
        return 0;
}
