#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/strv.h"
#include "store/narinfo.h"
#include "store/sig.h"
#include "store_helpers.h"

static const char sample[] =
    "StorePath: /nix/store/r9vrskqzja5n4ibqnkr041hw65n0rvhw-skiff-fixture-app-0\n"
    "URL: nar/0dwlpd7z6ldwdawby866q2zjhfg71vmv6qlhdql1mi3ig2y3ci5n.nar.zst\n"
    "Compression: zstd\n"
    "FileHash: sha256:0dwlpd7z6ldwdawby866q2zjhfg71vmv6qlhdql1mi3ig2y3ci5n\n"
    "FileSize: 329\n"
    "NarHash: sha256:0mvn17b90cs893p77k39diy3dsisishmgfvwkyvwfzppbag4975g\n"
    "NarSize: 896\n"
    "References: 1k33vj3vvwmigj7l3arb3l4mrnw8vvwl-busybox-static "
    "dfpzgfnmfw7mbzidnyigmrsjdqs8ihii-skiff-fixture-lib-0\n"
    "Deriver: xcv4yqbi3pvspc7372dn3za7p49gmhfc-skiff-fixture-app-0.drv\n"
    "Sig: "
    "k1:VVMzxTac132Zn9WU/GTUDSzP5OYg/rlSsjx+63kG6+uvIxWJnM9uME3BE23ErY/7N+GYPEhnEf3GBNn85xirBQ==\n"
    "Sig: "
    "k2:VVMzxTac132Zn9WU/GTUDSzP5OYg/rlSsjx+63kG6+uvIxWJnM9uME3BE23ErY/7N+GYPEhnEf3GBNn85xirBQ==\n";

Test(narinfo, parses_all_fields_and_roundtrips)
{
        _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_narinfo_parse(sample, strlen(sample), "/nix/store", &ni, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_str_eq(ni->compression, "zstd");
        cr_assert_eq(ni->file_size, 329);
        cr_assert_eq(ni->nar_size, 896);
        cr_assert(ni->has_file_hash);
        cr_assert_eq(skiff_strv_len(ni->references), 2);
        cr_assert_eq(skiff_strv_len(ni->sigs), 2);
        cr_assert_str_eq(ni->deriver, "xcv4yqbi3pvspc7372dn3za7p49gmhfc-skiff-fixture-app-0.drv");
        _cleanup_free_ char *out = skiff_narinfo_format(ni);
        cr_assert_str_eq(out, sample);
        _cleanup_free_ char *fp = skiff_narinfo_fingerprint(ni, "/nix/store");
        cr_assert_str_eq(fp, "1;/nix/store/r9vrskqzja5n4ibqnkr041hw65n0rvhw-skiff-fixture-app-0;"
                             "sha256:0mvn17b90cs893p77k39diy3dsisishmgfvwkyvwfzppbag4975g;896;"
                             "/nix/store/1k33vj3vvwmigj7l3arb3l4mrnw8vvwl-busybox-static,"
                             "/nix/store/dfpzgfnmfw7mbzidnyigmrsjdqs8ihii-skiff-fixture-lib-0");
}

static void expect_error(const char *doc, const char *needle)
{
        _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_narinfo_parse(doc, strlen(doc), "/nix/store", &ni, &err), 0,
                     "accepted: %s", doc);
        cr_assert(strstr(err->msg, needle), "`%s` lacks `%s`", err->msg, needle);
        skiff_error_free(&err);
}

static char *replace(const char *key, const char *line)
{
        /* Replaces the line starting with key (or drops it when line is NULL). */
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        const char *p = sample;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = (size_t)(nl - p) + 1;
                if (strncmp(p, key, strlen(key)) == 0) {
                        if (line)
                                skiff_strbuf_printf(&sb, "%s\n", line);
                } else {
                        skiff_strbuf_append(&sb, p, n);
                }
                p += n;
        }
        return skiff_strbuf_take(&sb);
}

Test(narinfo, strict_errors_name_the_key)
{
        const char *req[] = {"StorePath", "URL", "NarHash", "NarSize"};
        for (int i = 0; i < 4; i++) {
                _cleanup_free_ char *d = replace(req[i], NULL);
                _cleanup_free_ char *needle = xasprintf("`%s`: required key is missing", req[i]);
                expect_error(d, needle);
        }
        _cleanup_free_ char *dup = xasprintf("%sNarSize: 896\n", sample);
        expect_error(dup, "`NarSize`: duplicate key");
        _cleanup_free_ char *h1 = replace("NarHash", "NarHash: sha256:zzz");
        expect_error(h1, "`NarHash`");
        _cleanup_free_ char *h2 = replace("FileHash", "FileHash: md5:0123");
        expect_error(h2, "`FileHash`");
        _cleanup_free_ char *sz = replace("NarSize", "NarSize: 12x");
        expect_error(sz, "`NarSize`");
        _cleanup_free_ char *z = replace("NarSize", "NarSize: 0");
        expect_error(z, "`NarSize`");
        _cleanup_free_ char *ref = replace("References", "References: ../../etc");
        expect_error(ref, "`References`");
        _cleanup_free_ char *sp = replace("StorePath", "StorePath: /tmp/x");
        expect_error(sp, "`StorePath`");
        expect_error("garbage without colon\n", "line 1");
        char *big = xmalloc(SKIFF_NARINFO_MAX + 2);
        memset(big, 'a', SKIFF_NARINFO_MAX + 1);
        big[SKIFF_NARINFO_MAX + 1] = '\0';
        expect_error(big, "larger than");
        free(big);
}

Test(narinfo, unknown_keys_ignored_and_compression_defaults_to_bzip2)
{
        _cleanup_free_ char *d = replace("Compression", "System: x86_64-linux");
        _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
        cr_assert_eq(skiff_narinfo_parse(d, strlen(d), "/nix/store", &ni, NULL), 0);
        cr_assert_str_eq(ni->compression, "bzip2");
}

/* Every narinfo nix copy wrote (zstd, xz, none) parses, and its signature verifies with the
 * cache's public key and fails with another key. */
Test(narinfo, nix_copy_output_parses_and_verifies)
{
        const char *fx = th_fixture();
        _cleanup_free_ char *pkp = xasprintf("%s/pk", fx);
        _cleanup_free_ char *pk = th_read(pkp, NULL);
        struct skiff_sig_pubkey key, other;
        cr_assert_eq(skiff_sig_parse_public(pk, &key, NULL), 0);
        _cleanup_free_ char *sk2 = NULL, *pk2 = NULL;
        cr_assert_eq(skiff_sig_keygen(key.name, &sk2, &pk2, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk2, &other, NULL), 0);
        _cleanup_free_ char *pat = xasprintf("%s/cache-*/*.narinfo", fx);
        glob_t g;
        cr_assert_eq(glob(pat, 0, NULL, &g), 0);
        cr_assert_geq(g.gl_pathc, 12);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                size_t len = 0;
                _cleanup_free_ char *doc = th_read(g.gl_pathv[i], &len);
                _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_narinfo_parse(doc, len, "/nix/store", &ni, &err), 0, "%s: %s",
                             g.gl_pathv[i], skiff_error_msg(err));
                _cleanup_free_ char *fp = skiff_narinfo_fingerprint(ni, "/nix/store");
                cr_assert_eq(skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &key, 1, NULL, &err), 0,
                             "%s: %s", g.gl_pathv[i], skiff_error_msg(err));
                cr_assert_eq(skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &other, 1, NULL, &err),
                             -EPERM);
                skiff_error_free(&err);
                /* Our writer reproduces nix's file exactly. */
                _cleanup_free_ char *again = skiff_narinfo_format(ni);
                cr_assert_str_eq(again, doc);
        }
        globfree(&g);
}
