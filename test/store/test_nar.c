#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "base/strbuf.h"
#include "store/nar.h"
#include "store_helpers.h"

static int sb_cb(const void *d, size_t n, void *u, skiff_err_t *err)
{
        skiff_strbuf_append(u, d, n);
        return 0;
}

static void dump_to(const char *path, struct skiff_strbuf *sb)
{
        skiff_err_t err = NULL;
        int r = skiff_nar_dump(AT_FDCWD, path, sb_cb, sb, &err);
        cr_assert_eq(r, 0, "dump %s: %s", path, skiff_error_msg(err));
}

/* Feeds buf in chunks of varying size (1, 7, 8, 4096, ...) to exercise the push parser. */
static int restore_chunked(const char *buf, size_t len, int parent, const char *name,
                           bool canonical, struct skiff_nixhash *h, uint64_t *size,
                           skiff_err_t *err)
{
        struct skiff_nar_reader_opts o = {.canonical = canonical};
        _cleanup_nar_reader_ struct skiff_nar_reader *r = NULL;
        int k = skiff_nar_reader_new(parent, name, &o, &r, err);
        if (k < 0)
                return k;
        static const size_t steps[] = {1, 7, 8, 3, 4096, 13, 65536};
        size_t off = 0, i = 0;
        while (off < len) {
                size_t n = steps[i++ % SKIFF_ARRAY_SIZE(steps)];
                if (n > len - off)
                        n = len - off;
                k = skiff_nar_reader_feed(r, buf + off, n, err);
                if (k < 0)
                        return k;
                off += n;
        }
        return skiff_nar_reader_finish(r, h, size, err);
}

Test(nar, dump_equals_nix_store_dump)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("%s/test/fixtures/store/mktree.sh %s/tree", SKIFF_SOURCE_DIR, tmp), 0);
        cr_assert_eq(th_sh("nix-store --dump %s/tree > %s/ref.nar", tmp, tmp), 0);
        _cleanup_free_ char *tree = xasprintf("%s/tree", tmp);
        _cleanup_free_ char *refp = xasprintf("%s/ref.nar", tmp);
        size_t rl = 0;
        _cleanup_free_ char *ref = th_read(refp, &rl);
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        dump_to(tree, &sb);
        cr_assert_eq(sb.len, rl);
        cr_assert(memcmp(sb.buf, ref, rl) == 0, "NAR bytes differ from nix-store --dump");
        /* A single file and a symlink as the root. */
        _cleanup_free_ char *f = xasprintf("%s/tree/run.sh", tmp);
        _cleanup_free_ char *l = xasprintf("%s/tree/rel-link", tmp);
        for (int i = 0; i < 2; i++) {
                const char *p = i ? l : f;
                _cleanup_strbuf_ struct skiff_strbuf one = SKIFF_STRBUF_INIT;
                dump_to(p, &one);
                cr_assert_eq(th_sh("nix-store --dump %s > %s/one.nar", p, tmp), 0);
                _cleanup_free_ char *onep = xasprintf("%s/one.nar", tmp);
                size_t ol = 0;
                _cleanup_free_ char *o = th_read(onep, &ol);
                cr_assert(one.len == ol && memcmp(one.buf, o, ol) == 0, "root %s", p);
        }
        th_sh("rm -rf %s", tmp);
}

Test(nar, restore_of_nix_dump_recreates_the_tree)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("%s/test/fixtures/store/mktree.sh %s/tree", SKIFF_SOURCE_DIR, tmp), 0);
        cr_assert_eq(th_sh("nix-store --dump %s/tree > %s/ref.nar", tmp, tmp), 0);
        _cleanup_free_ char *refp = xasprintf("%s/ref.nar", tmp);
        size_t rl = 0;
        _cleanup_free_ char *ref = th_read(refp, &rl);
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int canonical = 0; canonical < 2; canonical++) {
                const char *name = canonical ? "out-canon" : "out";
                struct skiff_nixhash h;
                uint64_t size = 0;
                skiff_err_t err = NULL;
                int r = restore_chunked(ref, rl, dfd, name, canonical, &h, &size, &err);
                cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
                cr_assert_eq(size, rl);
                uint8_t want[32];
                skiff_sha256_oneshot(ref, rl, want);
                cr_assert_arr_eq(h.d, want, 32);
                _cleanup_free_ char *out = xasprintf("%s/%s", tmp, name);
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                dump_to(out, &sb);
                cr_assert(sb.len == rl && memcmp(sb.buf, ref, rl) == 0, "re-dump differs");
                char target[64] = {0};
                _cleanup_free_ char *abs = xasprintf("%s/bin/abs", out);
                cr_assert_gt(readlink(abs, target, sizeof(target) - 1), 0);
                cr_assert_str_eq(target, "/nix/store/does-not-exist/bin/x");
                struct stat st;
                _cleanup_free_ char *sh = xasprintf("%s/run.sh", out);
                cr_assert_eq(stat(sh, &st), 0);
                cr_assert(st.st_mode & S_IXUSR);
                if (canonical) {
                        cr_assert_eq(st.st_mode & 07777, 0555);
                        cr_assert_eq(st.st_mtime, 1);
                        cr_assert_eq(stat(out, &st), 0);
                        cr_assert_eq(st.st_mode & 07777, 0555);
                }
        }
        th_sh("chmod -R u+w %s; rm -rf %s", tmp, tmp);
}

/* --- hand-built NARs for the tamper matrix ----------------------------------------------- */

static void s_put(struct skiff_strbuf *sb, const char *s, size_t n)
{
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)((uint64_t)n >> (8 * i));
        skiff_strbuf_append(sb, le, 8);
        skiff_strbuf_append(sb, s, n);
        static const char zero[8];
        if (n % 8)
                skiff_strbuf_append(sb, zero, 8 - n % 8);
}
static void s(struct skiff_strbuf *sb, const char *str)
{
        s_put(sb, str, strlen(str));
}
static void file_node(struct skiff_strbuf *sb, const char *contents)
{
        s(sb, "(");
        s(sb, "type");
        s(sb, "regular");
        s(sb, "contents");
        s(sb, contents);
        s(sb, ")");
}
static void entry_open(struct skiff_strbuf *sb, const char *name, size_t nlen)
{
        s(sb, "entry");
        s(sb, "(");
        s(sb, "name");
        s_put(sb, name, nlen);
        s(sb, "node");
}
static void dir_open(struct skiff_strbuf *sb)
{
        s(sb, "nix-archive-1");
        s(sb, "(");
        s(sb, "type");
        s(sb, "directory");
}

/* Restores sb into a fresh dir and expects failure mentioning every needle. */
static void expect_reject(struct skiff_strbuf *sb, const char *n1, const char *n2)
{
        _cleanup_free_ char *tmp = th_tmpdir();
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        skiff_err_t err = NULL;
        int r = restore_chunked(sb->buf, sb->len, dfd, "out", false, NULL, NULL, &err);
        cr_assert_lt(r, 0, "accepted a bad NAR (want %s)", n1);
        cr_assert(strstr(err->msg, n1), "message `%s` lacks `%s`", err->msg, n1);
        if (n2)
                cr_assert(strstr(err->msg, n2), "message `%s` lacks `%s`", err->msg, n2);
        /* Validate-only mode rejects it too. */
        skiff_error_free(&err);
        cr_assert_lt(restore_chunked(sb->buf, sb->len, -1, NULL, false, NULL, NULL, &err), 0);
        skiff_error_free(&err);
        th_sh("rm -rf %s", tmp);
}

Test(nar, rejects_dotdot_slash_nul_names)
{
        const struct {
                const char *name;
                size_t len;
                const char *needle;
        } cases[] = {
            {"..", 2, "`..`"},
            {".", 1, "`.`"},
            {"a/b", 3, "`a/b` contains `/`"},
            {"a\0b", 3, "NUL"},
            {"", 0, "empty entry name"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                dir_open(&sb);
                entry_open(&sb, cases[i].name, cases[i].len);
                file_node(&sb, "x");
                s(&sb, ")");
                s(&sb, ")");
                expect_reject(&sb, cases[i].needle, NULL);
        }
}

Test(nar, rejects_unsorted_and_duplicate_entries)
{
        const char *orders[][2] = {{"b", "a"}, {"a", "a"}, {"a", "B"}};
        const char *needles[] = {"not sorted", "duplicate entry `a`", "not sorted"};
        for (int i = 0; i < 3; i++) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                dir_open(&sb);
                for (int k = 0; k < 2; k++) {
                        entry_open(&sb, orders[i][k], strlen(orders[i][k]));
                        file_node(&sb, "x");
                        s(&sb, ")");
                }
                s(&sb, ")");
                expect_reject(&sb, needles[i], NULL);
        }
}

Test(nar, symlink_followed_by_entry_below_it_writes_nothing_outside)
{
        _cleanup_free_ char *outside = th_tmpdir();
        /* "a" -> outside, then a directory "a" with "b" inside: must not land in outside/b. */
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        dir_open(&sb);
        entry_open(&sb, "a", 1);
        s(&sb, "(");
        s(&sb, "type");
        s(&sb, "symlink");
        s(&sb, "target");
        s(&sb, outside);
        s(&sb, ")");
        s(&sb, ")");
        entry_open(&sb, "a", 1);
        s(&sb, "(");
        s(&sb, "type");
        s(&sb, "directory");
        entry_open(&sb, "b", 1);
        file_node(&sb, "pwned");
        s(&sb, ")");
        s(&sb, ")");
        s(&sb, ")");
        s(&sb, ")");
        expect_reject(&sb, "duplicate entry `a`", NULL);
        _cleanup_free_ char *b = xasprintf("%s/b", outside);
        cr_assert_neq(access(b, F_OK), 0, "wrote through a symlink");

        /* The same with the entry spelled "a/b". */
        _cleanup_strbuf_ struct skiff_strbuf sb2 = SKIFF_STRBUF_INIT;
        dir_open(&sb2);
        entry_open(&sb2, "a", 1);
        s(&sb2, "(");
        s(&sb2, "type");
        s(&sb2, "symlink");
        s(&sb2, "target");
        s(&sb2, outside);
        s(&sb2, ")");
        s(&sb2, ")");
        entry_open(&sb2, "a/b", 3);
        file_node(&sb2, "pwned");
        s(&sb2, ")");
        s(&sb2, ")");
        expect_reject(&sb2, "`a/b` contains `/`", NULL);
        cr_assert_neq(access(b, F_OK), 0, "wrote through a symlink");
        th_sh("rm -rf %s", outside);
}

Test(nar, rejects_oversize_lengths_without_allocating)
{
        /* A name claiming 2^40 bytes. */
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        dir_open(&sb);
        s(&sb, "entry");
        s(&sb, "(");
        s(&sb, "name");
        uint8_t huge[8] = {0, 0, 0, 0, 0, 1, 0, 0};
        skiff_strbuf_append(&sb, huge, 8);
        expect_reject(&sb, "exceeds the limit", NULL);

        /* A file larger than max_file. */
        _cleanup_strbuf_ struct skiff_strbuf f = SKIFF_STRBUF_INIT;
        dir_open(&f);
        entry_open(&f, "big", 3);
        file_node(&f, "0123456789");
        s(&f, ")");
        s(&f, ")");
        struct skiff_nar_reader_opts o = {.limits = {.max_file = 9}};
        _cleanup_nar_reader_ struct skiff_nar_reader *r = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_nar_reader_new(-1, NULL, &o, &r, &err), 0);
        cr_assert_eq(skiff_nar_reader_feed(r, f.buf, f.len, &err), -EFBIG);
        cr_assert(strstr(err->msg, "`big`"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(nar, rejects_truncated_bad_magic_trailing_and_deep)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("%s/test/fixtures/store/mktree.sh %s/tree", SKIFF_SOURCE_DIR, tmp), 0);
        _cleanup_strbuf_ struct skiff_strbuf nar = SKIFF_STRBUF_INIT;
        _cleanup_free_ char *tree = xasprintf("%s/tree", tmp);
        dump_to(tree, &nar);
        /* Every prefix at a few dozen cut points is rejected as truncated. */
        for (size_t cut = 0; cut < nar.len; cut += nar.len / 37 + 1) {
                _cleanup_nar_reader_ struct skiff_nar_reader *r = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_nar_reader_new(-1, NULL, NULL, &r, &err), 0);
                cr_assert_eq(skiff_nar_reader_feed(r, nar.buf, cut, &err), 0, "cut %zu: %s", cut,
                             skiff_error_msg(err));
                cr_assert_eq(skiff_nar_reader_finish(r, NULL, NULL, &err), -EBADMSG);
                cr_assert(strstr(err->msg, "truncated"));
                skiff_error_free(&err);
        }
        _cleanup_strbuf_ struct skiff_strbuf bad = SKIFF_STRBUF_INIT;
        s(&bad, "nix-archive-2");
        expect_reject(&bad, "bad magic", NULL);
        _cleanup_strbuf_ struct skiff_strbuf trail = SKIFF_STRBUF_INIT;
        skiff_strbuf_append(&trail, nar.buf, nar.len);
        s(&trail, "(");
        expect_reject(&trail, "trailing data", NULL);
        _cleanup_strbuf_ struct skiff_strbuf deep = SKIFF_STRBUF_INIT;
        dir_open(&deep);
        for (int i = 0; i < 300; i++) {
                entry_open(&deep, "d", 1);
                s(&deep, "(");
                s(&deep, "type");
                s(&deep, "directory");
        }
        expect_reject(&deep, "nested deeper", NULL);
        th_sh("rm -rf %s", tmp);
}
