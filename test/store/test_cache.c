#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "store/cache.h"
#include "store/decompress.h"
#include "store/nar.h"
#include "store/narinfo.h"
#include "store/nixbase32.h"
#include "store/sig.h"
#include "store_helpers.h"

#define STORE "/nix/store"

static struct {
        char *tmp, *tree, *cache;
        char *pk_str, *other_pk_str;
        struct skiff_sig_seckey sk;
        struct skiff_sig_pubkey pk, other_pk;
} F;

/* F.tree is mktree.sh's fixture: subdirectories, an executable, an empty file, an empty
 * directory, relative, absolute and dangling symlinks, and a file larger than one I/O buffer. */
static void setup(void)
{
        F.tmp = th_tmpdir();
        F.tree = xasprintf("%s/tree", F.tmp);
        F.cache = xasprintf("%s/cache", F.tmp);
        cr_assert_eq(th_sh("%s/test/fixtures/store/mktree.sh %s", SKIFF_SOURCE_DIR, F.tree), 0);
        _cleanup_free_ char *s = NULL, *s2 = NULL;
        cr_assert_eq(skiff_sig_keygen("test-1", &s, &F.pk_str, NULL), 0);
        /* Same name, another key. */
        cr_assert_eq(skiff_sig_keygen("test-1", &s2, &F.other_pk_str, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(s, &F.sk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(F.pk_str, &F.pk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(F.other_pk_str, &F.other_pk, NULL), 0);
}

static void teardown(void)
{
        th_sh("chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", F.tmp, F.tmp);
        free(F.tmp);
        free(F.tree);
        free(F.cache);
        free(F.pk_str);
        free(F.other_pk_str);
}

TestSuite(cache, .init = setup, .fini = teardown, .timeout = 60);

static char *add(const char *src, enum skiff_compression comp, const struct skiff_sig_seckey *sk,
                 const char *store_dir)
{
        char *path = NULL;
        skiff_err_t err = NULL;
        int r = skiff_cache_add_path(F.cache, src, comp, sk, store_dir, &path, &err);
        cr_assert_eq(r, 0, "add %s: %s", src, skiff_error_msg(err));
        cr_assert_not_null(path);
        return path;
}

/* What `nix-store --add src` returns. A throwaway chroot store under F.tmp computes the same
 * path as the default store without touching /nix/store. */
static char *nix_add(const char *src, const char *store_dir)
{
        return th_out(NIX_ENV
                      "nix-store --store 'local?root=%s/ref&store=%s' --add '%s' 2>/dev/null",
                      F.tmp, store_dir, src);
}

static void hash_part(const char *path, char out[33])
{
        const char *base = strrchr(path, '/');
        cr_assert(base && strlen(base + 1) > 33, "%s", path);
        memcpy(out, base + 1, 32);
        out[32] = '\0';
}

static char *narinfo_path(const char *store_path)
{
        char hp[33];
        hash_part(store_path, hp);
        return xasprintf("%s/%s.narinfo", F.cache, hp);
}

static struct skiff_narinfo *load_narinfo(const char *store_path, const char *store_dir)
{
        _cleanup_free_ char *p = narinfo_path(store_path);
        size_t len = 0;
        _cleanup_free_ char *text = th_read(p, &len);
        struct skiff_narinfo *ni = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_narinfo_parse(text, len, store_dir, &ni, &err), 0, "%s: %s", p,
                     skiff_error_msg(err));
        return ni;
}

static int sb_cb(const void *d, size_t n, void *u, skiff_err_t *err)
{
        (void)err;
        skiff_strbuf_append(u, d, n);
        return 0;
}

static void nar_of(const char *path, struct skiff_strbuf *sb)
{
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_nar_dump(AT_FDCWD, path, sb_cb, sb, &err), 0, "dump %s: %s", path,
                     skiff_error_msg(err));
}

static void nixbase32_of(const uint8_t d[32], char out[53])
{
        skiff_nixbase32_encode(d, 32, out);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names[0..n) sorted bytewise and joined by single spaces (heap); sorts names in place. */
static char *joined(const char **names, size_t n)
{
        qsort(names, n, sizeof(*names), cmp_str);
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                if (i)
                        skiff_strbuf_putc(&sb, ' ');
                skiff_strbuf_puts(&sb, names[i]);
        }
        return skiff_strbuf_take(&sb);
}

/* The entries of dir (hidden ones included), sorted bytewise and joined by spaces (heap). */
static char *listing(const char *dir)
{
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, NULL, NULL);
        cr_assert_geq(n, 0, "scandir %s", dir);
        const char **names = xcalloc((size_t)n + 1, sizeof(*names));
        size_t k = 0;
        for (int i = 0; i < n; i++)
                if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0)
                        names[k++] = ents[i]->d_name;
        char *s = joined(names, k);
        for (int i = 0; i < n; i++)
                free(ents[i]);
        free(ents);
        free(names);
        return s;
}

/* Checks every field of the narinfo of store_path against the NAR of src and the file on disk,
 * and the cache's layout. Returns the narinfo. */
static struct skiff_narinfo *check_entry(const char *store_path, const char *src,
                                         enum skiff_compression comp, const char *store_dir)
{
        struct skiff_narinfo *ni = load_narinfo(store_path, store_dir);
        cr_assert_str_eq(ni->store_path, store_path);
        cr_assert_null(ni->references[0], "references: %s", ni->references[0]);
        cr_assert_null(ni->deriver);

        _cleanup_strbuf_ struct skiff_strbuf nar = SKIFF_STRBUF_INIT;
        nar_of(src, &nar);
        uint8_t nh[32];
        skiff_sha256_oneshot(nar.buf, nar.len, nh);
        cr_assert_arr_eq(ni->nar_hash.d, nh, 32, "NarHash is not the NAR's SHA-256");
        cr_assert_eq(ni->nar_size, nar.len);
        char nh32[53];
        nixbase32_of(nh, nh32);
        _cleanup_free_ char *want_ca = xasprintf("fixed:r:sha256:%s", nh32);
        cr_assert_not_null(ni->ca);
        cr_assert_str_eq(ni->ca, want_ca);

        _cleanup_free_ char *file = xasprintf("%s/%s", F.cache, ni->url);
        size_t flen = 0;
        _cleanup_free_ char *fbuf = th_read(file, &flen);
        uint8_t fh[32];
        skiff_sha256_oneshot(fbuf, flen, fh);
        cr_assert(ni->has_file_hash, "no FileHash");
        cr_assert_arr_eq(ni->file_hash.d, fh, 32, "FileHash is not the SHA-256 of %s", file);
        cr_assert_eq(ni->file_size, flen);
        char fh32[53];
        nixbase32_of(fh, fh32);
        bool zstd = comp == SKIFF_COMPRESSION_ZSTD;
        _cleanup_free_ char *want_url = xasprintf("nar/%s.nar%s", fh32, zstd ? ".zst" : "");
        cr_assert_str_eq(ni->url, want_url);
        cr_assert_str_eq(ni->compression, zstd ? "zstd" : "none");

        if (zstd) {
                static const uint8_t magic[] = {0x28, 0xb5, 0x2f, 0xfd};
                cr_assert(flen > 4 && memcmp(fbuf, magic, 4) == 0, "%s is not zstd", file);
                _cleanup_strbuf_ struct skiff_strbuf out = SKIFF_STRBUF_INIT;
                _cleanup_decompress_ struct skiff_decompress *d = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_decompress_new(SKIFF_COMPRESSION_ZSTD, sb_cb, &out, &d, &err),
                             0);
                cr_assert_eq(skiff_decompress_feed(d, fbuf, flen, &err), 0, "%s",
                             skiff_error_msg(err));
                cr_assert_eq(skiff_decompress_finish(d, &err), 0, "%s", skiff_error_msg(err));
                cr_assert(out.len == nar.len && memcmp(out.buf, nar.buf, nar.len) == 0,
                          "decompressed file differs from the NAR");
        } else {
                cr_assert(flen == nar.len && memcmp(fbuf, nar.buf, nar.len) == 0,
                          "%s differs from the NAR", file);
        }

        /* Served as is by a web server: world-readable. */
        struct stat st;
        _cleanup_free_ char *nip = narinfo_path(store_path);
        cr_assert_eq(stat(file, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0644, "%s mode %o", file, st.st_mode & 0777);
        cr_assert_eq(stat(nip, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0644, "%s mode %o", nip, st.st_mode & 0777);
        return ni;
}

static char *read_cache_file(const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", F.cache, name);
        return th_read(p, NULL);
}

/* --- store paths against nix ------------------------------------------------------------- */

Test(cache, store_path_of_a_tree_equals_nix_store_add)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        _cleanup_free_ char *ref = nix_add(F.tree, STORE);
        cr_assert(strncmp(ref, STORE "/", strlen(STORE) + 1) == 0, "nix-store --add: `%s`", ref);
        _cleanup_free_ char *p1 = add(F.tree, SKIFF_COMPRESSION_NONE, NULL, STORE);
        cr_assert_str_eq(p1, ref);
        _cleanup_free_ char *p2 = add(F.tree, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE);
        cr_assert_str_eq(p2, ref);
        cr_assert(strlen(p1) > strlen("-tree") &&
                  strcmp(p1 + strlen(p1) - strlen("-tree"), "-tree") == 0);
        /* The NAR in the cache is the one nix would serialise. */
        _cleanup_free_ char *ref_nar = xasprintf("%s/ref.nar", F.tmp);
        cr_assert_eq(th_sh("nix-store --dump '%s' > '%s'", F.tree, ref_nar), 0);
        size_t rl = 0;
        _cleanup_free_ char *rbuf = th_read(ref_nar, &rl);
        _cleanup_narinfo_ struct skiff_narinfo *ni = load_narinfo(p1, STORE);
        uint8_t rh[32];
        skiff_sha256_oneshot(rbuf, rl, rh);
        cr_assert_eq(ni->nar_size, rl);
        cr_assert_arr_eq(ni->nar_hash.d, rh, 32, "NarHash differs from nix-store --dump");
}

Test(cache, store_path_of_a_file_or_symlink_equals_nix_store_add)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        static const char *const srcs[] = {"run.sh",   "hello.txt", "empty",
                                           "rel-link", "bin/abs",   "big.bin"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(srcs); i++) {
                _cleanup_free_ char *src = xasprintf("%s/%s", F.tree, srcs[i]);
                _cleanup_free_ char *ref = nix_add(src, STORE);
                cr_assert_neq(ref[0], '\0', "nix-store --add %s failed", src);
                _cleanup_free_ char *p = add(src, SKIFF_COMPRESSION_ZSTD, NULL, STORE);
                cr_assert_str_eq(p, ref, "%s", srcs[i]);
                skiff_narinfo_free(check_entry(p, src, SKIFF_COMPRESSION_ZSTD, STORE));
        }
}

Test(cache, relative_src_and_trailing_slash_name_the_same_path)
{
        _cleanup_free_ char *abs = add(F.tree, SKIFF_COMPRESSION_NONE, NULL, STORE);
        cr_assert_eq(chdir(F.tmp), 0);
        _cleanup_free_ char *rel = add("tree", SKIFF_COMPRESSION_NONE, NULL, STORE);
        _cleanup_free_ char *slash = add("./tree/", SKIFF_COMPRESSION_NONE, NULL, STORE);
        _cleanup_free_ char *dotdot = add("tree/lib/../", SKIFF_COMPRESSION_NONE, NULL, STORE);
        cr_assert_str_eq(rel, abs);
        cr_assert_str_eq(slash, abs);
        cr_assert_str_eq(dotdot, abs);
}

Test(cache, another_store_dir_is_used_everywhere)
{
        const char *sd = "/custom/store";
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_NONE, &F.sk, sd);
        cr_assert(strncmp(p, "/custom/store/", 14) == 0, "%s", p);
        _cleanup_free_ char *info = read_cache_file("nix-cache-info");
        cr_assert(strstr(info, "StoreDir: /custom/store\n"), "%s", info);
        _cleanup_narinfo_ struct skiff_narinfo *ni =
            check_entry(p, F.tree, SKIFF_COMPRESSION_NONE, sd);
        char nh32[53];
        nixbase32_of(ni->nar_hash.d, nh32);
        _cleanup_free_ char *fp =
            xasprintf("1;%s;sha256:%s;%llu;", p, nh32, (unsigned long long)ni->nar_size);
        cr_assert_eq(skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &F.pk, 1, NULL, NULL), 0);
        if (!th_have_nix())
                return;
        _cleanup_free_ char *ref = nix_add(F.tree, sd);
        cr_assert_str_eq(p, ref);
        /* Nix checks the cache's StoreDir against the store it copies for. */
        cr_assert_eq(th_sh(NIX_ENV "nix copy --from 'file://%s?store=%s' "
                                   "--to 'local?root=%s/dst&store=%s&real=%s/dst-real' "
                                   "--option trusted-public-keys '%s' '%s' 2>%s/dst.log",
                           F.cache, sd, F.tmp, sd, F.tmp, F.pk_str, p, F.tmp),
                     0, "see %s/dst.log", F.tmp);
        _cleanup_free_ char *copied = xasprintf("%s/dst-real/%s", F.tmp, strrchr(p, '/') + 1);
        _cleanup_strbuf_ struct skiff_strbuf a = SKIFF_STRBUF_INIT;
        _cleanup_strbuf_ struct skiff_strbuf b = SKIFF_STRBUF_INIT;
        nar_of(copied, &a);
        nar_of(F.tree, &b);
        cr_assert(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0, "%s is not the tree", copied);
}

/* --- layout ------------------------------------------------------------------------------ */

Test(cache, uncompressed_layout)
{
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_NONE, NULL, STORE);
        _cleanup_narinfo_ struct skiff_narinfo *ni =
            check_entry(p, F.tree, SKIFF_COMPRESSION_NONE, STORE);
        /* Uncompressed: the file is the NAR. */
        cr_assert_arr_eq(ni->file_hash.d, ni->nar_hash.d, 32);
        cr_assert_eq(ni->file_size, ni->nar_size);

        _cleanup_free_ char *info = read_cache_file("nix-cache-info");
        cr_assert_str_eq(info, "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n");
        char hp[33];
        hash_part(p, hp);
        _cleanup_free_ char *top = listing(F.cache);
        _cleanup_free_ char *ni_name = xasprintf("%s.narinfo", hp);
        _cleanup_free_ char *want_top =
            joined((const char *[]){ni_name, "nar", "nix-cache-info"}, 3);
        cr_assert_str_eq(top, want_top);
        _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
        _cleanup_free_ char *nars = listing(nardir);
        cr_assert_str_eq(nars, ni->url + strlen("nar/"));
}

Test(cache, zstd_layout)
{
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_ZSTD, NULL, STORE);
        _cleanup_narinfo_ struct skiff_narinfo *ni =
            check_entry(p, F.tree, SKIFF_COMPRESSION_ZSTD, STORE);
        cr_assert(memcmp(ni->file_hash.d, ni->nar_hash.d, 32) != 0);
        _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
        _cleanup_free_ char *nars = listing(nardir);
        cr_assert_str_eq(nars, ni->url + strlen("nar/"));
        /* The zstd tool decodes it too. */
        if (th_sh("command -v zstd >/dev/null") != 0)
                return;
        _cleanup_free_ char *out = xasprintf("%s/out.nar", F.tmp);
        cr_assert_eq(th_sh("zstd -q -d -c '%s/%s' > '%s'", F.cache, ni->url, out), 0);
        size_t ol = 0;
        _cleanup_free_ char *obuf = th_read(out, &ol);
        _cleanup_strbuf_ struct skiff_strbuf nar = SKIFF_STRBUF_INIT;
        nar_of(F.tree, &nar);
        cr_assert(ol == nar.len && memcmp(obuf, nar.buf, ol) == 0, "zstd -d output differs");
}

Test(cache, empty_file_and_empty_directory)
{
        static const char *const srcs[] = {"empty", "emptydir"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(srcs); i++) {
                _cleanup_free_ char *src = xasprintf("%s/%s", F.tree, srcs[i]);
                for (int z = 0; z < 2; z++) {
                        enum skiff_compression c =
                            z ? SKIFF_COMPRESSION_ZSTD : SKIFF_COMPRESSION_NONE;
                        _cleanup_free_ char *p = add(src, c, NULL, STORE);
                        skiff_narinfo_free(check_entry(p, src, c, STORE));
                }
        }
}

Test(cache, unsupported_compression_is_enotsup)
{
        char *p = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_cache_add_path(F.cache, F.tree, SKIFF_COMPRESSION_XZ, NULL, STORE, &p, &err),
            -ENOTSUP);
        cr_assert(strstr(err->msg, "xz"), "%s", err->msg);
        cr_assert_null(p);
        skiff_error_free(&err);
}

/* --- signatures -------------------------------------------------------------------------- */

Test(cache, signature_verifies_with_the_public_key)
{
        for (int z = 0; z < 2; z++) {
                enum skiff_compression c = z ? SKIFF_COMPRESSION_ZSTD : SKIFF_COMPRESSION_NONE;
                _cleanup_free_ char *p = add(F.tree, c, &F.sk, STORE);
                _cleanup_narinfo_ struct skiff_narinfo *ni = check_entry(p, F.tree, c, STORE);
                cr_assert_not_null(ni->sigs[0]);
                cr_assert_null(ni->sigs[1], "more than one signature");
                cr_assert(strncmp(ni->sigs[0], "test-1:", 7) == 0, "%s", ni->sigs[0]);
                /* The fingerprint written out by hand, not by skiff_narinfo_fingerprint. */
                char nh32[53];
                nixbase32_of(ni->nar_hash.d, nh32);
                _cleanup_free_ char *fp =
                    xasprintf("1;%s;sha256:%s;%llu;", p, nh32, (unsigned long long)ni->nar_size);
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &F.pk, 1, NULL, &err),
                             0, "%s", skiff_error_msg(err));
                cr_assert_eq(
                    skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &F.other_pk, 1, NULL, NULL),
                    -EPERM);
                fp[strlen(fp) - 2]++; /* another NarSize */
                cr_assert_eq(skiff_sig_verify_any(fp, strlen(fp), ni->sigs, &F.pk, 1, NULL, NULL),
                             -EPERM);
        }
}

Test(cache, unsigned_without_a_secret_key)
{
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_ZSTD, NULL, STORE);
        _cleanup_narinfo_ struct skiff_narinfo *ni = load_narinfo(p, STORE);
        cr_assert_null(ni->sigs[0], "signed: %s", ni->sigs[0]);
        _cleanup_free_ char *nip = narinfo_path(p);
        _cleanup_free_ char *text = th_read(nip, NULL);
        cr_assert_null(strstr(text, "Sig:"), "%s", text);
}

/* --- nix reads the cache ----------------------------------------------------------------- */

/* Copies p from the cache into a fresh chroot store F.tmp/dst (this works offline; th_have_nix()
 * also means root) and checks the copy is src. Returns nix copy's exit status. */
static int nix_copy(const char *p, const char *src, const char *pubkey, const char *dst)
{
        int rc = th_sh(NIX_ENV "nix copy --from 'file://%s' --to '%s/%s' "
                               "--option trusted-public-keys '%s' '%s' 2>%s/%s.log",
                       F.cache, F.tmp, dst, pubkey, p, F.tmp, dst);
        if (rc != 0)
                return rc;
        _cleanup_free_ char *copied = xasprintf("%s/%s%s", F.tmp, dst, p);
        _cleanup_strbuf_ struct skiff_strbuf a = SKIFF_STRBUF_INIT;
        _cleanup_strbuf_ struct skiff_strbuf b = SKIFF_STRBUF_INIT;
        nar_of(copied, &a);
        nar_of(src, &b);
        cr_assert(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0, "%s is not %s", copied, src);
        return 0;
}

Test(cache, nix_copy_accepts_the_cache)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        _cleanup_free_ char *run = xasprintf("%s/run.sh", F.tree);
        _cleanup_free_ char *link = xasprintf("%s/rel-link", F.tree);
        const struct {
                const char *src;
                enum skiff_compression c;
        } cases[] = {{F.tree, SKIFF_COMPRESSION_NONE},
                     {F.tree, SKIFF_COMPRESSION_ZSTD},
                     {run, SKIFF_COMPRESSION_ZSTD},
                     {link, SKIFF_COMPRESSION_NONE}};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *p = add(cases[i].src, cases[i].c, &F.sk, STORE);
                _cleanup_free_ char *dst = xasprintf("dst%zu", i);
                cr_assert_eq(nix_copy(p, cases[i].src, F.pk_str, dst), 0,
                             "nix copy of %s failed, see %s/%s.log", p, F.tmp, dst);
        }
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE);
        _cleanup_free_ char *json =
            th_out(NIX_ENV "nix path-info --json --store 'file://%s' '%s'", F.cache, p);
        _cleanup_free_ char *want = xasprintf("\"path\":\"%s\"", p);
        cr_assert(strstr(json, want) && strstr(json, "\"references\":[]") &&
                      strstr(json, "\"ca\":\"fixed:r:sha256:"),
                  "%s", json);
}

/* Nix accepts a content-addressed path without a signature, so nix_copy_accepts_the_cache does
 * not show that nix accepts our signatures. Without its CA line the narinfo needs one. */
Test(cache, nix_verifies_the_signature)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE);
        _cleanup_free_ char *nip = narinfo_path(p);
        cr_assert_eq(th_sh("sed -i '/^CA:/d' '%s'", nip), 0);
        cr_assert_neq(nix_copy(p, F.tree, F.other_pk_str, "wrong"), 0,
                      "nix accepted a signature by another key");
        cr_assert_eq(nix_copy(p, F.tree, F.pk_str, "right"), 0, "see %s/right.log", F.tmp);
}

/* --- init, errors, idempotence ----------------------------------------------------------- */

Test(cache, init_writes_nix_cache_info_once)
{
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_cache_init(F.cache, STORE, &err), 0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *info = read_cache_file("nix-cache-info");
        cr_assert_str_eq(info, "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n");
        _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
        struct stat st;
        cr_assert_eq(stat(nardir, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));

        const char *mine = "StoreDir: /nix/store\nPriority: 10\n";
        _cleanup_free_ char *ip = xasprintf("%s/nix-cache-info", F.cache);
        cr_assert_eq(skiff_fs_write_file_atomic(ip, mine, strlen(mine), 0600, false, NULL), 0);
        cr_assert_eq(skiff_cache_init(F.cache, "/other/store", &err), 0, "%s",
                     skiff_error_msg(err));
        _cleanup_free_ char *p = add(F.tree, SKIFF_COMPRESSION_NONE, NULL, STORE);
        _cleanup_free_ char *after = th_read(ip, NULL);
        cr_assert_str_eq(after, mine);
        cr_assert_eq(stat(ip, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(cache, missing_src_is_enoent_naming_it)
{
        _cleanup_free_ char *src = xasprintf("%s/no-such-dir", F.tmp);
        char *p = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_cache_add_path(F.cache, src, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE, &p, &err),
            -ENOENT, "%s", skiff_error_msg(err));
        cr_assert(strstr(err->msg, src), "%s", err->msg);
        cr_assert_null(p);
        skiff_error_free(&err);
        /* No NAR, temporary or not, and no narinfo. */
        _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
        _cleanup_free_ char *nars = listing(nardir);
        cr_assert_str_eq(nars, "");
        _cleanup_free_ char *top = listing(F.cache);
        cr_assert_str_eq(top, "nar nix-cache-info");
}

Test(cache, unserialisable_src_leaves_no_temporary_file)
{
        _cleanup_free_ char *src = xasprintf("%s/with-fifo", F.tmp);
        cr_assert_eq(th_sh("mkdir '%s' && echo x > '%s/a' && mkfifo '%s/fifo'", src, src, src), 0);
        for (int z = 0; z < 2; z++) {
                enum skiff_compression c = z ? SKIFF_COMPRESSION_ZSTD : SKIFF_COMPRESSION_NONE;
                char *p = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_cache_add_path(F.cache, src, c, NULL, STORE, &p, &err), -EINVAL,
                             "%s", skiff_error_msg(err));
                cr_assert(strstr(err->msg, src), "%s", err->msg);
                cr_assert_null(p);
                skiff_error_free(&err);
                _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
                _cleanup_free_ char *nars = listing(nardir);
                cr_assert_str_eq(nars, "");
        }
}

/* Store path names follow Nix's rule (storepath.h): a leading `.` is fine, `.-x` is not. */
Test(cache, a_name_with_a_leading_period_equals_nix_store_add)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        _cleanup_free_ char *src = xasprintf("%s/.dotdir", F.tmp);
        cr_assert_eq(th_sh("mkdir '%s' && echo x >'%s/f'", src, src), 0);
        _cleanup_free_ char *ref = nix_add(src, STORE);
        cr_assert_neq(ref[0], '\0', "nix-store --add %s failed", src);
        _cleanup_free_ char *p = add(src, SKIFF_COMPRESSION_NONE, NULL, STORE);
        cr_assert_str_eq(p, ref);
        cr_assert(strstr(p, "-.dotdir"), "%s", p);
}

Test(cache, invalid_name_is_einval_naming_src)
{
        static const char *const names[] = {"bad name", ".-hidden", "..-x", "ümlaut"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *src = xasprintf("%s/%s", F.tmp, names[i]);
                cr_assert_eq(mkdir(src, 0755), 0);
                char *p = NULL;
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_cache_add_path(F.cache, src, SKIFF_COMPRESSION_NONE, NULL, STORE,
                                                  &p, &err),
                             -EINVAL, "%s", names[i]);
                cr_assert(strstr(err->msg, src), "%s", err->msg);
                cr_assert_null(p);
                skiff_error_free(&err);
        }
}

Test(cache, cache_dir_under_a_regular_file_is_an_error_naming_it)
{
        _cleanup_free_ char *file = xasprintf("%s/file", F.tmp);
        cr_assert_eq(th_sh("echo x > '%s'", file), 0);
        _cleanup_free_ char *cache = xasprintf("%s/cache", file);
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_cache_init(cache, STORE, &err), -ENOTDIR, "%s", skiff_error_msg(err));
        cr_assert(strstr(err->msg, file), "%s", err->msg);
        skiff_error_free(&err);
        char *p = NULL;
        cr_assert_eq(
            skiff_cache_add_path(cache, F.tree, SKIFF_COMPRESSION_NONE, NULL, STORE, &p, &err),
            -ENOTDIR);
        cr_assert(strstr(err->msg, file), "%s", err->msg);
        cr_assert_null(p);
        skiff_error_free(&err);
        /* cache_dir itself a regular file. */
        cr_assert_lt(skiff_cache_init(file, STORE, &err), 0);
        cr_assert(strstr(err->msg, file), "%s", err->msg);
        skiff_error_free(&err);
}

Test(cache, adding_twice_is_idempotent)
{
        _cleanup_free_ char *p1 = add(F.tree, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE);
        _cleanup_free_ char *nip = narinfo_path(p1);
        _cleanup_free_ char *ni1 = th_read(nip, NULL);
        _cleanup_free_ char *top1 = listing(F.cache);
        _cleanup_free_ char *nardir = xasprintf("%s/nar", F.cache);
        _cleanup_free_ char *nars1 = listing(nardir);

        _cleanup_free_ char *p2 = add(F.tree, SKIFF_COMPRESSION_ZSTD, &F.sk, STORE);
        cr_assert_str_eq(p2, p1);
        _cleanup_free_ char *ni2 = th_read(nip, NULL);
        cr_assert_str_eq(ni2, ni1);
        _cleanup_free_ char *top2 = listing(F.cache);
        _cleanup_free_ char *nars2 = listing(nardir);
        cr_assert_str_eq(top2, top1);
        cr_assert_str_eq(nars2, nars1);
        /* Exactly one narinfo and one NAR: no temporary files. */
        _cleanup_narinfo_ struct skiff_narinfo *ni =
            check_entry(p2, F.tree, SKIFF_COMPRESSION_ZSTD, STORE);
        char hp[33];
        hash_part(p2, hp);
        _cleanup_free_ char *ni_name = xasprintf("%s.narinfo", hp);
        _cleanup_free_ char *want_top =
            joined((const char *[]){ni_name, "nar", "nix-cache-info"}, 3);
        cr_assert_str_eq(top2, want_top);
        cr_assert_str_eq(nars2, ni->url + strlen("nar/"));
}
