#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <brotli/encode.h>

#include "base/strbuf.h"
#include "store/decompress.h"
#include "store_helpers.h"

TestSuite(decompress, .timeout = 60); /* a decoder that stops making progress fails, not hangs */

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

/* Compresses with a tool (stdin to stdout), or returns NULL when the tool is missing. */
static char *compress_with(const char *tmp, const char *tool, const char *ext, size_t *len)
{
        _cleanup_free_ char *bin = xstrdup(tool);
        *strchrnul(bin, ' ') = '\0';
        if (th_sh("command -v %s >/dev/null", bin) != 0)
                return NULL;
        cr_assert_eq(th_sh("%s <%s/in >%s/in.%s", tool, tmp, tmp, ext), 0, "%s", tool);
        _cleanup_free_ char *p = xasprintf("%s/in.%s", tmp, ext);
        return th_read(p, len);
}

/* brotli has no tool in Debian 12's base: libbrotlienc (the test links it) writes the stream. */
static char *brotli_of(const char *in, size_t il, size_t *len)
{
        size_t cap = BrotliEncoderMaxCompressedSize(il);
        uint8_t *out = xmalloc(cap);
        *len = cap;
        cr_assert(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, il,
                                        (const uint8_t *)in, len, out));
        return (char *)out;
}

/* Streaming decompression of every codec in odd chunk sizes, truncation and corruption, and
 * concatenated streams where the format has them. */
Test(decompress, roundtrip_truncation_corruption_of_every_codec)
{
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("(seq 1 200000; head -c 300000 /dev/urandom) > %s/in", tmp), 0);
        _cleanup_free_ char *inp = xasprintf("%s/in", tmp);
        size_t il = 0;
        _cleanup_free_ char *in = th_read(inp, &il);
        const struct {
                enum skiff_compression c;
                const char *tool, *ext;
        } cases[] = {
            {SKIFF_COMPRESSION_XZ, "xz -T1 -c", "xz"},
            {SKIFF_COMPRESSION_ZSTD, "zstd -q -c", "zst"},
            {SKIFF_COMPRESSION_BZIP2, "bzip2 -c", "bz2"},
            {SKIFF_COMPRESSION_GZIP, "gzip -c", "gz"},
            {SKIFF_COMPRESSION_BR, NULL, "br"},
        };
        size_t tested = 0;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                size_t cl = 0;
                _cleanup_free_ char *c = cases[i].tool
                                             ? compress_with(tmp, cases[i].tool, cases[i].ext, &cl)
                                             : brotli_of(in, il, &cl);
                if (!c)
                        continue;
                tested++;
                const char *name = skiff_compression_name(cases[i].c);
                for (size_t step = 1; step < 100000; step *= 37) {
                        if (step == 1 && cl > 200000)
                                step = 3;
                        _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                        skiff_err_t err = NULL;
                        cr_assert_eq(run(cases[i].c, c, cl, step, &out, &err), 0, "%s step %zu: %s",
                                     name, step, skiff_error_msg(err));
                        cr_assert(out.len == il && memcmp(out.buf, in, il) == 0, "%s step %zu",
                                  name, step);
                }
                /* One feed of everything: output far larger than one chunk per call. */
                _cleanup_strbuf_ struct skiff_strbuf whole = SKIFF_STRBUF_INIT;
                cr_assert_eq(run(cases[i].c, c, cl, cl, &whole, NULL), 0, "%s whole", name);
                cr_assert(whole.len == il && memcmp(whole.buf, in, il) == 0, "%s whole", name);

                _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                skiff_err_t err = NULL;
                cr_assert_eq(run(cases[i].c, c, cl - 10, 4096, &out, &err), -EBADMSG,
                             "truncated %s accepted", name);
                cr_assert(strstr(err->msg, name), "%s", err->msg);
                skiff_error_free(&err);
                skiff_strbuf_reset(&out);
                cr_assert_eq(run(cases[i].c, c, 0, 4096, &out, &err), -EBADMSG, "empty %s", name);
                skiff_error_free(&err);
                /* Trailing garbage after a complete stream is refused. */
                _cleanup_free_ char *tail = xmalloc(cl + 16);
                memcpy(tail, c, cl);
                memset(tail + cl, 'Z', 16);
                skiff_strbuf_reset(&out);
                cr_assert_lt(run(cases[i].c, tail, cl + 16, 4096, &out, &err), 0,
                             "%s with trailing garbage accepted", name);
                skiff_error_free(&err);
                c[cl / 2] ^= 0x55;
                c[cl / 2 + 1] ^= 0x55;
                skiff_strbuf_reset(&out);
                int r = run(cases[i].c, c, cl, 4096, &out, &err);
                /* gzip and bzip2 check a CRC, xz and zstd a checksum, br its structure: a flip in
                 * the middle of random data either fails or changes the output. */
                cr_assert(r < 0 || out.len != il || memcmp(out.buf, in, il) != 0,
                          "corrupt %s gave the original", name);
                skiff_error_free(&err);
        }
        cr_assert_geq(tested, 4, "xz, zstd, bzip2, gzip and br: only %zu ran", tested);
        th_sh("rm -rf %s", tmp);
}

/* Two streams back to back (pbzip2, `cat a.gz b.gz`, zstd frames, xz streams) decode as one. */
Test(decompress, concatenated_streams)
{
        _cleanup_free_ char *tmp = th_tmpdir();
        const struct {
                enum skiff_compression c;
                const char *tool;
        } cases[] = {
            {SKIFF_COMPRESSION_XZ, "xz -c"},
            {SKIFF_COMPRESSION_ZSTD, "zstd -q -c"},
            {SKIFF_COMPRESSION_BZIP2, "bzip2 -c"},
            {SKIFF_COMPRESSION_GZIP, "gzip -c"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                cr_assert_eq(th_sh("cd %s && seq 1 70000 >a && seq 5 90000 >b && %s <a >ca && %s "
                                   "<b >cb && cat ca cb >cat && cat a b >ab",
                                   tmp, cases[i].tool, cases[i].tool),
                             0);
                _cleanup_free_ char *catp = xasprintf("%s/cat", tmp),
                                    *abp = xasprintf("%s/ab", tmp);
                size_t cl = 0, al = 0;
                _cleanup_free_ char *c = th_read(catp, &cl), *ab = th_read(abp, &al);
                for (size_t step = 7; step < 1000000; step *= 31) {
                        _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                        skiff_err_t err = NULL;
                        cr_assert_eq(run(cases[i].c, c, cl, step, &out, &err), 0, "%s: %s",
                                     cases[i].tool, skiff_error_msg(err));
                        cr_assert(out.len == al && memcmp(out.buf, ab, al) == 0, "%s step %zu",
                                  cases[i].tool, step);
                }
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
        cr_assert_eq(skiff_compression_from_name("bzip2", &c, NULL), 0);
        cr_assert_eq(c, SKIFF_COMPRESSION_BZIP2);
        cr_assert_str_eq(skiff_compression_name(SKIFF_COMPRESSION_BR), "br");
        cr_assert_str_eq(skiff_compression_name(SKIFF_COMPRESSION_GZIP), "gzip");
        cr_assert_eq(skiff_compression_from_name("lz4", &c, &err), -ENOTSUP);
        cr_assert(strstr(err->msg, "`lz4`"));
        skiff_error_free(&err);
}
