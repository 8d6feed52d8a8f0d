#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/strbuf.h"
#include "store/decompress.h"
#include "store_helpers.h"

static int sb_cb(const void *d, size_t n, void *u, skiff_err_t *err)
{
        skiff_strbuf_append(u, d, n);
        return 0;
}

static int run(enum skiff_compression c, const char *buf, size_t len, size_t step,
               struct skiff_strbuf *out, skiff_err_t *err)
{
        _cleanup_decompress_ struct skiff_decompress *d = NULL;
        int r = skiff_decompress_new(c, sb_cb, out, &d, err);
        for (size_t off = 0; r >= 0 && off < len; off += step)
                r = skiff_decompress_feed(d, buf + off, len - off < step ? len - off : step, err);
        if (r >= 0)
                r = skiff_decompress_finish(d, err);
        return r;
}

/* Compresses a generated input with the xz and zstd tools and checks streaming decompression in
 * odd chunk sizes, truncation and corruption. */
Test(decompress, xz_and_zstd_roundtrip_truncation_corruption)
{
        if (th_sh("command -v xz >/dev/null && command -v zstd >/dev/null") != 0)
                cr_skip_test("xz or zstd tool missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("(seq 1 200000; head -c 300000 /dev/urandom) > %s/in", tmp), 0);
        cr_assert_eq(th_sh("xz -k -T1 %s/in && zstd -q -k %s/in", tmp, tmp), 0);
        _cleanup_free_ char *inp = xasprintf("%s/in", tmp);
        size_t il = 0;
        _cleanup_free_ char *in = th_read(inp, &il);
        const struct {
                enum skiff_compression c;
                const char *ext;
        } cases[] = {{SKIFF_COMPRESSION_XZ, "xz"}, {SKIFF_COMPRESSION_ZSTD, "zst"}};
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *p = xasprintf("%s/in.%s", tmp, cases[i].ext);
                size_t cl = 0;
                _cleanup_free_ char *c = th_read(p, &cl);
                for (size_t step = 1; step < 100000; step *= 37) {
                        if (step == 1 && cl > 200000)
                                step = 3;
                        _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                        skiff_err_t err = NULL;
                        cr_assert_eq(run(cases[i].c, c, cl, step, &out, &err), 0, "%s",
                                     skiff_error_msg(err));
                        cr_assert(out.len == il && memcmp(out.buf, in, il) == 0);
                }
                _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                skiff_err_t err = NULL;
                cr_assert_eq(run(cases[i].c, c, cl - 10, 4096, &out, &err), -EBADMSG,
                             "truncated %s accepted", cases[i].ext);
                cr_assert(strstr(err->msg, cases[i].c == SKIFF_COMPRESSION_XZ ? "xz" : "zstd"));
                skiff_error_free(&err);
                c[cl / 2] ^= 0x55;
                c[cl / 2 + 1] ^= 0x55;
                skiff_strbuf_reset(&out);
                cr_assert_lt(run(cases[i].c, c, cl, 4096, &out, &err), 0, "corrupt %s accepted",
                             cases[i].ext);
                skiff_error_free(&err);
        }
        th_sh("rm -rf %s", tmp);
}

Test(decompress, names)
{
        enum skiff_compression c;
        cr_assert_eq(skiff_compression_from_name("zstd", &c, NULL), 0);
        cr_assert_eq(c, SKIFF_COMPRESSION_ZSTD);
        cr_assert_eq(skiff_compression_from_name("none", &c, NULL), 0);
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_compression_from_name("bzip2", &c, &err), -ENOTSUP);
        cr_assert(strstr(err->msg, "`bzip2`"));
        skiff_error_free(&err);
}
