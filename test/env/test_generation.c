#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "env/generation.h"
#include "env_helpers.h"
#include "store/sig.h"

static struct skiff_generation *parse_ok(const char *doc)
{
        struct skiff_generation *g = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_parse(doc, strlen(doc), &g, &err), 0, "%s",
                     skiff_error_msg(err));
        return g;
}

static void parse_fails(const char *doc, int rc, const char *needle)
{
        struct skiff_generation *g = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_parse(doc, strlen(doc), &g, &err), rc, "accepted: %s (%s)",
                     needle, doc);
        cr_assert_null(g);
        cr_assert(strstr(err->msg, needle), "expected `%s` in: %s", needle, err->msg);
        skiff_error_free(&err);
}

Test(generation, parses_every_field)
{
        _cleanup_free_ char *doc = th_doc(7, "g7");
        _cleanup_generation_ struct skiff_generation *g = parse_ok(doc);
        cr_assert_str_eq(g->environment, "acme/app");
        cr_assert_eq(g->generation, 7);
        cr_assert_str_eq(g->created, "2024-05-01T12:00:00Z");
        cr_assert_eq(g->created_unix, 1714564800);
        cr_assert_str_eq(g->description, "test g7");
        cr_assert_eq(g->n_includes, 1);
        cr_assert_str_eq(g->includes[0].name, "base");
        cr_assert_eq(g->includes[0].generation, 3);
        cr_assert_eq(g->n_systems, 1);
        const struct skiff_generation_system *s = skiff_generation_system(g, "x86_64-linux");
        cr_assert_not_null(s);
        cr_assert_null(skiff_generation_system(g, "aarch64-linux"));
        cr_assert_str_eq(s->store_dir, "/nix/store");
        cr_assert_eq(s->n_packages, 2);
        cr_assert_str_eq(s->packages[1].name, "extra");
        cr_assert_eq(s->packages[1].priority, 3);
        cr_assert(s->has_closure);
        cr_assert_eq(s->n_closure, 3);
        const struct skiff_generation_path *p =
            skiff_generation_closure_find(s, s->packages[0].path);
        cr_assert_not_null(p);
        cr_assert(p->has_file);
        cr_assert_str_eq(p->url, "nar/a.nar.zst");
        cr_assert_str_eq(p->compression, "zstd");
        cr_assert_eq(p->file_size, 500);
        cr_assert_eq(p->nar_size, 1000);
        cr_assert_not(s->closure[1].has_file);
        cr_assert_str_eq(s->substituters[0], "https://cache.example.org");
        cr_assert_str_eq(g->vars[0], "GREETING");
        cr_assert_str_eq(g->vars[1], "hi g7");
        cr_assert_str_eq(g->on_activate, "echo activated");
        cr_assert_eq(g->n_requires, 1);
        cr_assert_str_eq(g->requires[0].name, "cuda");
        struct skiff_constraint_version v;
        cr_assert_eq(skiff_constraint_parse_version("12.4", &v, NULL), 0);
        cr_assert(skiff_constraint_match(&g->requires[0].parsed, &v));
}

Test(generation, minimal_document_defaults)
{
        const char *doc = "{\"schema\":\"skiff.dev/generation/v1\",\"environment\":\"a/b\","
                          "\"generation\":1,\"created\":\"2024-01-01T00:00:00+01:00\","
                          "\"systems\":{\"aarch64-linux\":{\"packages\":[]}}}";
        _cleanup_generation_ struct skiff_generation *g = parse_ok(doc);
        cr_assert_eq(g->created_unix, 1704063600);
        cr_assert_str_eq(g->systems[0].store_dir, "/nix/store");
        cr_assert_not(g->systems[0].has_closure);
        cr_assert_not_null(g->systems[0].substituters);
        cr_assert_not_null(g->vars);
        cr_assert_null(g->vars[0]);
        cr_assert_null(g->on_activate);
        cr_assert_null(g->description);
}

Test(generation, writer_round_trips_deterministically)
{
        _cleanup_free_ char *doc = th_doc(3, "rt");
        _cleanup_generation_ struct skiff_generation *g = parse_ok(doc);
        _cleanup_free_ char *out1 = NULL, *out2 = NULL;
        size_t l1 = 0, l2 = 0;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_write(g, &out1, &l1, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(strlen(out1), l1);
        cr_assert_eq(out1[l1 - 1], '\n');
        _cleanup_generation_ struct skiff_generation *g2 = parse_ok(out1);
        cr_assert_eq(skiff_generation_write(g2, &out2, &l2, NULL), 0);
        cr_assert_str_eq(out1, out2);
        /* Canonical order: closure sorted by path, keys in fixed order. */
        const struct skiff_generation_system *s = &g2->systems[0];
        for (size_t i = 1; i < s->n_closure; i++)
                cr_assert_lt(strcmp(s->closure[i - 1].path, s->closure[i].path), 0);
        cr_assert_lt(strstr(out1, "\"schema\""), strstr(out1, "\"environment\""));
        cr_assert_lt(strstr(out1, "\"GREETING\""), strstr(out1, "\"LANG\""));
        cr_assert_eq(g2->created_unix, g->created_unix);
}

Test(generation, writer_refuses_invalid)
{
        _cleanup_free_ char *doc = th_doc(3, "inv");
        _cleanup_generation_ struct skiff_generation *g = parse_ok(doc);
        free(g->systems[0].packages[0].path);
        g->systems[0].packages[0].path = xstrdup("/nix/store/not-a-store-path");
        char *out = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_write(g, &out, NULL, &err), -EINVAL);
        cr_assert_null(out);
        cr_assert(strstr(err->msg, "packages[0].path"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(generation, closure_must_be_closed)
{
        _cleanup_free_ char *doc = th_doc(1, "cl");
        _cleanup_free_ char *glibc = th_store_path("/nix/store", "cl-glibc", "glibc-2.36");
        _cleanup_free_ char *missing = th_store_path("/nix/store", "nope", "missing-1");
        /* Drop glibc's own entry by renaming its path; hello still references glibc. */
        _cleanup_free_ char *needle = xasprintf("{\"path\": \"%s\"", glibc);
        _cleanup_free_ char *repl = xasprintf("{\"path\": \"%s\"", missing);
        _cleanup_free_ char *bad = th_replace(doc, needle, repl);
        struct skiff_generation *g = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_parse(bad, strlen(bad), &g, &err), -EINVAL);
        cr_assert(strstr(err->msg, "not closed"), "%s", err->msg);
        cr_assert(strstr(err->msg, glibc), "%s", err->msg);
        skiff_error_free(&err);
}

Test(generation, packages_must_be_in_closure)
{
        _cleanup_free_ char *doc = th_doc(1, "pk");
        _cleanup_free_ char *extra = th_store_path("/nix/store", "pk-extra", "extra-1.0");
        _cleanup_free_ char *other = th_store_path("/nix/store", "other", "other-1.0");
        _cleanup_free_ char *needle = xasprintf("\"name\": \"extra\", \"path\": \"%s\"", extra);
        _cleanup_free_ char *repl = xasprintf("\"name\": \"extra\", \"path\": \"%s\"", other);
        _cleanup_free_ char *bad = th_replace(doc, needle, repl);
        parse_fails(bad, -EINVAL, other);
        parse_fails(bad, -EINVAL, "not in the closure");
}

Test(generation, field_errors_name_the_path)
{
        _cleanup_free_ char *doc = th_doc(5, "fe");
        static const struct {
                const char *from, *to, *needle;
        } cases[] = {
            {"skiff.dev/generation/v1", "skiff.dev/generation/v2", "unsupported schema"},
            {"\"acme/app\"", "\"acme\"", "`environment`"},
            {"\"acme/app\"", "\"Acme/app\"", "`environment`"},
            {"\"generation\": 5", "\"generation\": 0", "`generation`"},
            {"\"generation\": 5", "\"generation\": 2147483649", "`generation`"},
            {"\"generation\": 5", "\"generation\": \"5\"", "`generation`"},
            {"2024-05-01T12:00:00Z", "2024-02-30T12:00:00Z", "`created`"},
            {"2024-05-01T12:00:00Z", "2024-05-01 12:00:00", "RFC 3339"},
            {"\"acme/base@3\"", "\"acme/base\"", "includes[0]"},
            {"\"x86_64-linux\"", "\"x86_64\"", "invalid system `x86_64`"},
            {"\"store_dir\": \"/nix/store\"", "\"store_dir\": \"/nix/store/\"", "store_dir"},
            {"\"priority\": 5", "\"priority\": \"high\"", "packages[0].priority"},
            {"\"name\": \"hello\"", "\"name\": \".-hello\"", "packages[0].name"},
            {"\"narSize\": 2000", "\"narSize\": 0", "narSize must be positive"},
            {"\"narSize\": 2000", "\"narSize\": -1", "closure[1].narSize"},
            {"\"compression\": \"zstd\"", "\"compression\": \"lz4\"",
             "unsupported compression `lz4`"},
            {"\"url\": \"nar/a.nar.zst\"", "\"url\": \"../a.nar.zst\"", "not a relative path"},
            {"\"url\": \"nar/a.nar.zst\"", "\"url\": \"http://x/a.nar\"", "not a relative"},
            {"\"fileSize\": 500", "\"fileSize\": 0", "fileSize must be positive"},
            {", \"fileSize\": 500", "", "given together"},
            {"\"narHash\": \"sha256:", "\"narHash\": \"md5:", "narHash"},
            {"\"substituters\": [\"https://", "\"substituters\": [\"ftp://", "substituters[0]"},
            {"\"GREETING\"", "\"1GREETING\"", "invalid variable name `1GREETING`"},
            {"\"GREETING\"", "\"SKIFF_ENV\"", "SKIFF_*"},
            {"\"LANG\"", "\"GREETING\"", "listed twice"},
            {"\"on_activate\"", "\"on_start\"", "hook.on_start: unknown key"},
            {"\">=12.4\"", "\"~12.4\"", "`requires.cuda`"},
            {"\"cuda\"", "\"CUDA\"", "invalid name `CUDA`"},
            {"\"description\"", "\"descr\"", "descr: unknown key"},
            {"\"references\": [\"", "\"refs\": [\"", "unknown key"},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *bad = th_replace(doc, cases[i].from, cases[i].to);
                struct skiff_generation *g = NULL;
                skiff_err_t err = NULL;
                int rc = skiff_generation_parse(bad, strlen(bad), &g, &err);
                cr_assert_lt(rc, 0, "case %zu accepted (%s -> %s)", i, cases[i].from, cases[i].to);
                cr_assert(strstr(err->msg, cases[i].needle), "case %zu: expected `%s` in: %s", i,
                          cases[i].needle, err->msg);
                skiff_error_free(&err);
        }
}

Test(generation, duplicates_are_errors)
{
        _cleanup_free_ char *doc = th_doc(5, "dup");
        _cleanup_free_ char *hello = th_store_path("/nix/store", "dup-hello", "hello-2.12");
        _cleanup_free_ char *extra = th_store_path("/nix/store", "dup-extra", "extra-1.0");
        _cleanup_free_ char *n = xasprintf("\"path\": \"%s\", \"priority\": 3", extra);
        _cleanup_free_ char *t = xasprintf("\"path\": \"%s\", \"priority\": 3", hello);
        _cleanup_free_ char *bad = th_replace(doc, n, t);
        parse_fails(bad, -EINVAL, "listed twice");
        _cleanup_free_ char *bad2 = th_replace(doc, "\"name\": \"extra\"", "\"name\": \"hello\"");
        parse_fails(bad2, -EINVAL, "package name `hello` is listed twice");
        _cleanup_free_ char *bad3 =
            th_replace(doc, "\"generation\": 5,", "\"generation\": 5, \"generation\": 6,");
        parse_fails(bad3, -EINVAL, "duplicate key");
}

Test(generation, rejects_garbage)
{
        parse_fails("", -EBADMSG, "invalid JSON");
        parse_fails("[]", -EINVAL, "expected an object");
        parse_fails("{}", -EINVAL, "required key is missing");
        parse_fails("{\"schema\":\"skiff.dev/generation/v1\",\"environment\":\"a/b\","
                    "\"generation\":1,\"created\":\"2024-01-01T00:00:00Z\",\"systems\":{}}",
                    -EINVAL, "at least one system");
}

Test(generation, rfc3339)
{
        int64_t t = 0;
        cr_assert_eq(skiff_generation_parse_time("1970-01-01T00:00:00Z", &t, NULL), 0);
        cr_assert_eq(t, 0);
        cr_assert_eq(skiff_generation_parse_time("2000-02-29T23:59:59.123456789-00:30", &t, NULL),
                     0);
        cr_assert_eq(t, 951868799 + 1800);
        cr_assert_eq(skiff_generation_parse_time("2024-12-31t23:59:60z", &t, NULL), 0);
        const char *bad[] = {"2023-02-29T00:00:00Z",
                             "2024-13-01T00:00:00Z",
                             "2024-01-01T24:00:00Z",
                             "2024-01-01T00:00:00",
                             "2024-01-01T00:00:00.Z",
                             "2024-01-01T00:00:00+0100",
                             "2024-1-01T00:00:00Z",
                             "2024-01-01T00:00:00Zjunk",
                             "",
                             NULL};
        for (const char **b = bad; *b; b++) {
                skiff_err_t err = NULL;
                cr_assert_eq(skiff_generation_parse_time(*b, &t, &err), -EINVAL, "accepted %s", *b);
                skiff_error_free(&err);
        }
}

Test(generation, signatures)
{
        _cleanup_free_ char *sk = NULL, *pk = NULL, *sk2 = NULL, *pk2 = NULL;
        cr_assert_eq(skiff_sig_keygen("hub-1", &sk, &pk, NULL), 0);
        cr_assert_eq(skiff_sig_keygen("other-1", &sk2, &pk2, NULL), 0);
        struct skiff_sig_seckey s, s2;
        struct skiff_sig_pubkey keys[2];
        cr_assert_eq(skiff_sig_parse_secret(sk, &s, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(sk2, &s2, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk2, &keys[0], NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk, &keys[1], NULL), 0);
        _cleanup_free_ char *doc = th_doc(2, "sig");
        size_t n = strlen(doc);
        _cleanup_free_ char *sig = NULL, *sig2 = NULL;
        cr_assert_eq(skiff_generation_sign(doc, n, &s, &sig, NULL), 0);
        cr_assert(strncmp(sig, "hub-1:", 6) == 0);
        cr_assert_eq(sig[strlen(sig) - 1], '\n');
        size_t which = 99;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_verify(doc, n, sig, strlen(sig), keys, 2, &which, &err), 0,
                     "%s", skiff_error_msg(err));
        cr_assert_eq(which, 1);
        /* One byte changed in the document. */
        _cleanup_free_ char *tampered = th_replace(doc, "test sig", "test siG");
        cr_assert_eq(skiff_generation_verify(tampered, n, sig, strlen(sig), keys, 2, NULL, &err),
                     -EPERM);
        cr_assert(strstr(err->msg, "`hub-1`"), "%s", err->msg);
        skiff_error_free(&err);
        /* Signed by a key that is not trusted. */
        cr_assert_eq(skiff_generation_verify(doc, n, sig, strlen(sig), keys, 1, NULL, &err),
                     -EPERM);
        skiff_error_free(&err);
        /* Several lines: the second one verifies. */
        cr_assert_eq(skiff_generation_sign(doc, n, &s2, &sig2, NULL), 0);
        _cleanup_free_ char *multi = xasprintf("\nbogus:AAAA\n%s\n", sig2);
        cr_assert_eq(skiff_generation_verify(doc, n, multi, strlen(multi), keys, 2, &which, &err),
                     0, "%s", skiff_error_msg(err));
        cr_assert_eq(which, 0);
        /* Malformed files. */
        cr_assert_eq(skiff_generation_verify(doc, n, "\n\n", 2, keys, 2, NULL, &err), -EINVAL);
        cr_assert(strstr(err->msg, "empty"), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_eq(skiff_generation_verify(doc, n, "nocolon", 7, keys, 2, NULL, &err), -EINVAL);
        skiff_error_free(&err);
}
