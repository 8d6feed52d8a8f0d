#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/ldcache.h"

#define FIXTURES SKIFF_SOURCE_DIR "/test/fixtures/gpu/"

SKIFF_DEFINE_CLEANUP(struct skiff_ldcache *, skiff_ldcache_free)
#define _cleanup_ldcache_ _cleanup_(skiff_ldcache_freep)

/* Entries of `ldconfig -p` output as "key\tvalue" strings, in order. */
static char **ldconfig_listing(const char *text)
{
        char **out = NULL;
        _cleanup_strv_ char **lines = skiff_strv_split(text, "\n", true);
        for (char **l = lines; *l; l++) {
                if ((*l)[0] != '\t')
                        continue;
                char *key = *l + 1;
                char *sp = strchr(key, ' ');
                char *arrow = strstr(key, " => ");
                cr_assert(sp && arrow, "unexpected ldconfig line `%s`", *l);
                skiff_strv_push_take(&out, xasprintf("%.*s\t%s", (int)(sp - key), key, arrow + 4));
        }
        return out;
}

static char **cache_listing(const struct skiff_ldcache *c)
{
        char **out = NULL;
        for (size_t i = 0; i < c->n_entries; i++)
                skiff_strv_push_take(&out,
                                     xasprintf("%s\t%s", c->entries[i].key, c->entries[i].value));
        return out;
}

static void assert_same_listing(char **a, char **b)
{
        cr_assert_eq(skiff_strv_len(a), skiff_strv_len(b), "%zu entries vs %zu", skiff_strv_len(a),
                     skiff_strv_len(b));
        for (size_t i = 0; a && a[i]; i++)
                cr_assert_str_eq(a[i], b[i], "entry %zu", i);
}

static void check_fixture(const char *fmt, enum skiff_ldcache_format want)
{
        _cleanup_free_ char *path = xasprintf(FIXTURES "ldcache/%s.cache", fmt);
        _cleanup_free_ char *txt_path = xasprintf(FIXTURES "ldcache/%s.txt", fmt);
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_ldcache_load(path, &c, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(c->format, want);
        _cleanup_free_ char *txt = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_fs_read_file(txt_path, 1 << 20, &txt, &len, NULL), 0);
        _cleanup_strv_ char **expect = ldconfig_listing(txt);
        _cleanup_strv_ char **got = cache_listing(c);
        cr_assert_eq(skiff_strv_len(expect), 5);
        assert_same_listing(got, expect);
        for (size_t i = 0; i < c->n_entries; i++)
                cr_assert_eq(c->entries[i].flags, SKIFF_LDCACHE_X86_64);
}

Test(ldcache, reads_new_format_like_ldconfig)
{
        check_fixture("new", SKIFF_LDCACHE_NEW);
}

Test(ldcache, reads_compat_format_through_its_new_part)
{
        check_fixture("compat", SKIFF_LDCACHE_COMPAT);
}

Test(ldcache, reads_old_only_format)
{
        check_fixture("old", SKIFF_LDCACHE_OLD);
}

Test(ldcache, lookup_returns_first_entry_of_matching_abi)
{
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_load(FIXTURES "ldcache/compat.cache", &c, NULL), 0);
        const struct skiff_ldcache_entry *e =
            skiff_ldcache_lookup(c, "libfoo.so.1", SKIFF_LDCACHE_ARCH_X86_64);
        cr_assert_not_null(e);
        cr_assert_str_eq(e->value, "/lib64/libfoo.so.1");
        cr_assert_null(skiff_ldcache_lookup(c, "libfoo.so.1", SKIFF_LDCACHE_ARCH_I386));
        cr_assert_null(skiff_ldcache_lookup(c, "libfoo.so", SKIFF_LDCACHE_ARCH_X86_64));
        cr_assert_not_null(skiff_ldcache_lookup(c, "libfoo.so.10", SKIFF_LDCACHE_ARCH_X86_64));
}

Test(ldcache, missing_file_is_enoent_naming_the_path)
{
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_ldcache_load("/nonexistent/ld.so.cache", &c, &err), -ENOENT);
        cr_assert(strstr(skiff_error_msg(err), "`/nonexistent/ld.so.cache`"));
}

static int parse_buf(const char *buf, size_t len, char **msg)
{
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_ldcache_parse(buf, len, &c, &err);
        if (msg)
                *msg = xstrdup(skiff_error_msg(err));
        return r;
}

/* Offset just past the last string any entry points at. */
static size_t strings_end(const struct skiff_ldcache *c)
{
        size_t end = 0;
        for (size_t i = 0; i < c->n_entries; i++) {
                const char *s[] = {c->entries[i].key, c->entries[i].value};
                for (size_t k = 0; k < 2; k++) {
                        size_t e = (size_t)(s[k] - c->data) + strlen(s[k]) + 1;
                        end = e > end ? e : end;
                }
        }
        return end;
}

Test(ldcache, every_truncation_is_refused_or_consistent)
{
        const char *names[] = {"new", "compat", "old"};
        for (size_t f = 0; f < 3; f++) {
                _cleanup_free_ char *path = xasprintf(FIXTURES "ldcache/%s.cache", names[f]);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                cr_assert_eq(skiff_fs_read_file(path, 1 << 20, &buf, &len, NULL), 0);
                _cleanup_ldcache_ struct skiff_ldcache *full = NULL;
                cr_assert_eq(skiff_ldcache_parse(buf, len, &full, NULL), 0);
                size_t end = strings_end(full);
                cr_assert_leq(end, len);
                for (size_t n = 0; n < len; n++) {
                        int r = parse_buf(buf, n, NULL);
                        /* A prefix that cuts into the header, the entries or the strings must
                         * fail; what follows the strings (ldconfig's extension data) is not
                         * needed. The compat file may parse as old-only once the new part is
                         * cut off. */
                        if (f == 1)
                                cr_assert(r == 0 || r == -EBADMSG);
                        else if (n < end)
                                cr_assert_eq(r, -EBADMSG, "%s cut at %zu parsed", names[f], n);
                        else
                                cr_assert_eq(r, 0, "%s cut at %zu failed", names[f], n);
                }
        }
}

static char *load_fixture(const char *name, size_t *len)
{
        _cleanup_free_ char *path = xasprintf(FIXTURES "ldcache/%s", name);
        char *buf = NULL;
        cr_assert_eq(skiff_fs_read_file(path, 1 << 20, &buf, len, NULL), 0);
        return buf;
}

Test(ldcache, refuses_corrupt_headers_and_offsets)
{
        size_t len = 0;
        _cleanup_free_ char *buf = load_fixture("new.cache", &len);
        _cleanup_free_ char *msg = NULL;
        uint32_t v;

        _cleanup_free_ char *b1 = xmemdup(buf, len);
        v = 0x10000000;
        memcpy(b1 + 20, &v, 4); /* nlibs */
        cr_assert_eq(parse_buf(b1, len, &msg), -EBADMSG);
        cr_assert(strstr(msg, "`nlibs`"), "%s", msg);
        free(TAKE_PTR(msg));

        _cleanup_free_ char *b2 = xmemdup(buf, len);
        v = (uint32_t)len;
        memcpy(b2 + 48 + 4, &v, 4); /* entry 0 key offset = file size */
        cr_assert_eq(parse_buf(b2, len, &msg), -EBADMSG);
        cr_assert(strstr(msg, "entry 0: key offset"), "%s", msg);
        free(TAKE_PTR(msg));

        _cleanup_ldcache_ struct skiff_ldcache *full = NULL;
        cr_assert_eq(skiff_ldcache_parse(buf, len, &full, NULL), 0);
        size_t end = strings_end(full);
        _cleanup_free_ char *b3 = xmemdup(buf, end);
        b3[end - 1] = 'x'; /* the last string loses its NUL */
        cr_assert_eq(parse_buf(b3, end, &msg), -EBADMSG);
        cr_assert(strstr(msg, "not terminated"), "%s", msg);
        free(TAKE_PTR(msg));

        _cleanup_free_ char *b4 = xmemdup(buf, len);
        b4[28] = 3; /* big endian */
        cr_assert_eq(parse_buf(b4, len, &msg), -EBADMSG);
        cr_assert(strstr(msg, "endianness"), "%s", msg);
        free(TAKE_PTR(msg));

        cr_assert_eq(parse_buf("hello world, not a cache", 24, &msg), -EBADMSG);
        cr_assert(strstr(msg, "unknown magic"), "%s", msg);
}

Test(ldcache, libcmp_compares_digit_runs_numerically)
{
        cr_assert_gt(skiff_ldcache_libcmp("libfoo.so.10", "libfoo.so.9"), 0);
        cr_assert_lt(skiff_ldcache_libcmp("libfoo.so.1", "libfoo.so.10"), 0);
        cr_assert_eq(skiff_ldcache_libcmp("libfoo.so.01", "libfoo.so.1"), 0);
        cr_assert_gt(skiff_ldcache_libcmp("libfoo1", "libfoox"), 0); /* digit after non-digit */
        cr_assert_lt(skiff_ldcache_libcmp("libfoo", "libfoo.so"), 0);
        cr_assert_gt(skiff_ldcache_libcmp("libfoo.so", "libfoo"), 0);
        cr_assert_eq(skiff_ldcache_libcmp("a99999999999999999999999", "a99999999999999999999999"),
                     0);
        cr_assert_gt(skiff_ldcache_libcmp("a99999999999999999999999", "a9999999999999999999999"),
                     0);
}

static const struct skiff_ldcache_wentry driver_entries[] = {
    {"libcuda.so.1", "/run/opengl-driver/lib/libcuda.so.1", SKIFF_LDCACHE_X86_64},
    {"libcuda.so", "/run/opengl-driver/lib/libcuda.so", SKIFF_LDCACHE_X86_64},
    {"libnvidia-ml.so.1", "/run/opengl-driver/lib/libnvidia-ml.so.1", SKIFF_LDCACHE_X86_64},
    {"libnvidia-ptxjitcompiler.so.1", "/run/opengl-driver/lib/libnvidia-ptxjitcompiler.so.1",
     SKIFF_LDCACHE_X86_64},
    {"libnvidia-gpucomp.so.580.159.04", "/run/opengl-driver/lib/libnvidia-gpucomp.so.580.159.04",
     SKIFF_LDCACHE_X86_64},
    {"libnvidia-nvvm.so.4", "/run/opengl-driver/lib/libnvidia-nvvm.so.4", SKIFF_LDCACHE_X86_64},
    {"libcuda.so.1", "/run/opengl-driver-32/lib/libcuda.so.1", SKIFF_LDCACHE_I386},
    {"libcuda.so.1", "/elsewhere/libcuda.so.1", SKIFF_LDCACHE_X86_64}, /* duplicate: dropped */
};

Test(ldcache, writer_output_reads_back_sorted_descending)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_ldcache_write(driver_entries, SKIFF_ARRAY_SIZE(driver_entries), &buf, &len, &err),
            0, "%s", skiff_error_msg(err));
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_parse(buf, len, &c, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(c->format, SKIFF_LDCACHE_NEW);
        cr_assert_eq(c->n_entries, 7);
        for (size_t i = 1; i < c->n_entries; i++) {
                int cmp = skiff_ldcache_libcmp(c->entries[i - 1].key, c->entries[i].key);
                cr_assert(cmp > 0 || (cmp == 0 && c->entries[i - 1].flags > c->entries[i].flags),
                          "entries %zu/%zu out of order", i - 1, i);
        }
        const struct skiff_ldcache_entry *e =
            skiff_ldcache_lookup(c, "libcuda.so.1", SKIFF_LDCACHE_ARCH_X86_64);
        cr_assert_str_eq(e->value, "/run/opengl-driver/lib/libcuda.so.1");
        e = skiff_ldcache_lookup(c, "libcuda.so.1", SKIFF_LDCACHE_ARCH_I386);
        cr_assert_str_eq(e->value, "/run/opengl-driver-32/lib/libcuda.so.1");
}

Test(ldcache, writer_rejects_invalid_entries)
{
        struct skiff_ldcache_wentry bad1 = {"lib/x.so", "/a/x.so", SKIFF_LDCACHE_X86_64};
        struct skiff_ldcache_wentry bad2 = {"libx.so.1", "relative/x.so", SKIFF_LDCACHE_X86_64};
        char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_ldcache_write(&bad1, 1, &buf, &len, &err), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "invalid soname `lib/x.so`"));
        cr_assert_eq(skiff_ldcache_write(&bad2, 1, &buf, &len, &err), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "`relative/x.so` is not absolute"));
        cr_assert_null(buf);
}

static bool have_ldconfig(void)
{
        return access("/sbin/ldconfig", X_OK) == 0;
}

static char *run(const char *cmd)
{
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char *b = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&b, &n);
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0)
                fwrite(chunk, 1, k, m);
        fclose(m);
        cr_assert_eq(pclose(p), 0, "`%s` failed: %s", cmd, b);
        return b;
}

Test(ldcache, real_ldconfig_reads_our_cache)
{
        if (!have_ldconfig())
                cr_skip_test("no /sbin/ldconfig");
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        cr_assert_eq(
            skiff_ldcache_write(driver_entries, SKIFF_ARRAY_SIZE(driver_entries), &buf, &len, NULL),
            0);
        char path[] = "/tmp/skiff-test-ldcache-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        cr_assert_eq(skiff_fs_write_all(fd, buf, len), 0);
        close(fd);
        _cleanup_free_ char *cmd = xasprintf("/sbin/ldconfig -p -C %s 2>&1", path);
        _cleanup_free_ char *out = run(cmd);
        unlink(path);
        cr_assert(strstr(out, "7 libs found in cache"), "%s", out);
        cr_assert(
            strstr(out, "\tlibcuda.so.1 (libc6,x86-64) => /run/opengl-driver/lib/libcuda.so.1\n"),
            "%s", out);
        cr_assert(strstr(out, "\tlibcuda.so.1 (libc6) => /run/opengl-driver-32/lib/libcuda.so.1\n"),
                  "%s", out);
        cr_assert(strstr(out, "\tlibnvidia-gpucomp.so.580.159.04 (libc6,x86-64) => "
                              "/run/opengl-driver/lib/libnvidia-gpucomp.so.580.159.04\n"),
                  "%s", out);
        /* Our parser agrees with ldconfig entry by entry, in order. */
        _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_parse(buf, len, &c, NULL), 0);
        _cleanup_strv_ char **expect = ldconfig_listing(out);
        _cleanup_strv_ char **got = cache_listing(c);
        assert_same_listing(got, expect);
}

/* Builds caches with the real ldconfig at test time over a copy of the fake driver libraries,
 * in both the new and the compat layout, and checks that we read what ldconfig prints. Then
 * writes the same entries with our writer and checks that ldconfig's order is ours. */
Test(ldcache, agrees_with_caches_built_now_by_ldconfig)
{
        if (!have_ldconfig())
                cr_skip_test("no /sbin/ldconfig");
        char dir[] = "/tmp/skiff-test-ldcfg-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        _cleanup_free_ char *setup =
            xasprintf("set -e; mkdir %s/lib; cp -P " FIXTURES "driver/lib64/*.so.* %s/lib/; "
                      "echo %s/lib > %s/ld.so.conf",
                      dir, dir, dir, dir);
        cr_assert_eq(system(setup), 0);
        const char *fmts[] = {"new", "compat"};
        enum skiff_ldcache_format want[] = {SKIFF_LDCACHE_NEW, SKIFF_LDCACHE_COMPAT};
        for (size_t f = 0; f < 2; f++) {
                _cleanup_free_ char *cmd =
                    xasprintf("/sbin/ldconfig -X -c %s -f %s/ld.so.conf -C %s/%s.cache 2>&1 && "
                              "/sbin/ldconfig -p -C %s/%s.cache",
                              fmts[f], dir, dir, fmts[f], dir, fmts[f]);
                _cleanup_free_ char *out = run(cmd);
                _cleanup_free_ char *path = xasprintf("%s/%s.cache", dir, fmts[f]);
                _cleanup_ldcache_ struct skiff_ldcache *c = NULL;
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_ldcache_load(path, &c, &err), 0, "%s", skiff_error_msg(err));
                cr_assert_eq(c->format, want[f]);
                _cleanup_strv_ char **expect = ldconfig_listing(out);
                _cleanup_strv_ char **got = cache_listing(c);
                cr_assert_geq(skiff_strv_len(got), 10);
                assert_same_listing(got, expect);

                /* Our writer, fed the entries in reverse, reproduces ldconfig's order. It keeps
                 * one entry per (key, flags) - the first given, i.e. ldconfig's last - where
                 * ldconfig lists a library found in two directories twice (usrmerge hosts). */
                size_t n = c->n_entries;
                _cleanup_free_ struct skiff_ldcache_wentry *w = xcalloc(n, sizeof(*w));
                for (size_t i = 0; i < n; i++)
                        w[i] = (struct skiff_ldcache_wentry){c->entries[n - 1 - i].key,
                                                             c->entries[n - 1 - i].value,
                                                             c->entries[n - 1 - i].flags};
                _cleanup_strv_ char **dedup = NULL;
                for (size_t i = 0; i < n; i++) {
                        bool later = false;
                        for (size_t j = i + 1; j < n && !later; j++)
                                later = c->entries[j].flags == c->entries[i].flags &&
                                        strcmp(c->entries[j].key, c->entries[i].key) == 0;
                        if (!later)
                                skiff_strv_push_take(&dedup, xasprintf("%s\t%s", c->entries[i].key,
                                                                       c->entries[i].value));
                }
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                cr_assert_eq(skiff_ldcache_write(w, n, &buf, &len, NULL), 0);
                _cleanup_ldcache_ struct skiff_ldcache *mine = NULL;
                cr_assert_eq(skiff_ldcache_parse(buf, len, &mine, NULL), 0);
                _cleanup_strv_ char **mine_list = cache_listing(mine);
                assert_same_listing(mine_list, dedup);
        }
        _cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
        cr_assert_eq(system(rm), 0);
}
