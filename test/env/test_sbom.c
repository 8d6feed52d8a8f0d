#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "env/generation.h"
#include "env/sbom.h"
#include "env_helpers.h"

static void split(const char *in, const char *name, const char *version)
{
        _cleanup_free_ char *n = NULL, *v = NULL;
        skiff_sbom_split_name(in, &n, &v);
        cr_assert_str_eq(n, name, "name of %s", in);
        if (version)
                cr_assert_str_eq(v ? v : "(none)", version, "version of %s", in);
        else
                cr_assert_null(v, "%s has no version, got %s", in, v);
}

Test(sbom, splits_store_path_names_like_nix)
{
        split("hello-2.12.1", "hello", "2.12.1");
        split("glibc-2.37-8-bin", "glibc", "2.37-8-bin");
        split("python3-3.11.4-env", "python3", "3.11.4-env");
        split("skiff-fixture-lib-0", "skiff-fixture-lib", "0");
        split("busybox-static", "busybox-static", NULL);
        split("source", "source", NULL);
        split("cuda_nvcc-12.4.99", "cuda_nvcc", "12.4.99");
        split("1password-8.10", "1password", "8.10");
        split("foo-", "foo-", NULL);
}

static const char *member_str(skiff_jv *v, const char *key)
{
        skiff_jv *m = skiff_json_get(v, key);
        cr_assert_not_null(m, "missing `%s`", key);
        const char *s = skiff_json_str(m);
        cr_assert_not_null(s, "`%s` is not a string", key);
        return s;
}

static const char *property(skiff_jv *comp, const char *name)
{
        skiff_jv *props = skiff_json_get(comp, "properties");
        for (size_t i = 0; i < skiff_json_len(props); i++)
                if (strcmp(member_str(skiff_json_at(props, i), "name"), name) == 0)
                        return member_str(skiff_json_at(props, i), "value");
        return NULL;
}

Test(sbom, renders_cyclonedx_of_the_closure)
{
        _cleanup_free_ char *doc = th_doc(7, "sb");
        _cleanup_generation_ struct skiff_generation *g = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_generation_parse(doc, strlen(doc), &g, &err), 0, "%s",
                     skiff_error_msg(err));
        const struct skiff_generation_system *s = skiff_generation_system(g, "x86_64-linux");
        const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_sbom_render(g, "x86_64-linux", sha, &out, &len, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(strlen(out), len);
        _cleanup_free_ char *again = NULL;
        cr_assert_eq(skiff_sbom_render(g, "x86_64-linux", sha, &again, NULL, NULL), 0);
        cr_assert_str_eq(out, again, "rendering is deterministic");

        _cleanup_json_ struct skiff_json *j = NULL;
        cr_assert_eq(skiff_json_parse(out, len, &j, &err), 0, "%s", skiff_error_msg(err));
        skiff_jv *root = skiff_json_root(j);
        cr_assert_str_eq(member_str(root, "bomFormat"), "CycloneDX");
        cr_assert_str_eq(member_str(root, "specVersion"), "1.5");
        cr_assert_str_eq(member_str(root, "serialNumber"),
                         "urn:uuid:00112233-4455-5677-8899-aabbccddeeff");
        skiff_jv *meta = skiff_json_get(root, "metadata");
        cr_assert_str_eq(member_str(meta, "timestamp"), "2024-05-01T12:00:00Z");
        skiff_jv *mc = skiff_json_get(meta, "component");
        cr_assert_str_eq(member_str(mc, "bom-ref"), "acme/app@7");
        cr_assert_str_eq(member_str(mc, "name"), "acme/app");
        cr_assert_str_eq(member_str(mc, "version"), "7");

        skiff_jv *comps = skiff_json_get(root, "components");
        cr_assert_eq(skiff_json_len(comps), s->n_closure);
        size_t seen = 0;
        for (size_t i = 0; i < skiff_json_len(comps); i++) {
                skiff_jv *c = skiff_json_at(comps, i);
                const char *ref = member_str(c, "bom-ref");
                const struct skiff_generation_path *p = skiff_generation_closure_find(s, ref);
                cr_assert_not_null(p, "component `%s` is not in the closure", ref);
                cr_assert_str_eq(property(c, "nix:store_path"), ref);
                skiff_jv *h = skiff_json_at(skiff_json_get(c, "hashes"), 0);
                cr_assert_str_eq(member_str(h, "alg"), "SHA-256");
                char hex[65];
                skiff_hex_encode(p->nar_hash.d, 32, hex);
                cr_assert_str_eq(member_str(h, "content"), hex);
                _cleanup_free_ char *size = xasprintf("%llu", (unsigned long long)p->nar_size);
                cr_assert_str_eq(property(c, "nix:nar_size"), size);
                if (strstr(ref, "-hello-2.12")) {
                        cr_assert_str_eq(member_str(c, "name"), "hello");
                        cr_assert_str_eq(member_str(c, "version"), "2.12");
                        cr_assert_str_eq(property(c, "skiff:package"), "true");
                        seen++;
                }
                if (strstr(ref, "-glibc-2.36")) {
                        cr_assert_str_eq(member_str(c, "name"), "glibc");
                        cr_assert_null(property(c, "skiff:package"));
                        seen++;
                }
                if (i > 0)
                        cr_assert_lt(
                            strcmp(member_str(skiff_json_at(comps, i - 1), "bom-ref"), ref), 0,
                            "components are sorted by path");
        }
        cr_assert_eq(seen, 2);

        /* Dependencies: the environment -> its packages; glibc's self reference dropped. */
        skiff_jv *deps = skiff_json_get(root, "dependencies");
        cr_assert_eq(skiff_json_len(deps), s->n_closure + 1);
        skiff_jv *d0 = skiff_json_at(deps, 0);
        cr_assert_str_eq(member_str(d0, "ref"), "acme/app@7");
        cr_assert_eq(skiff_json_len(skiff_json_get(d0, "dependsOn")), s->n_packages);
        for (size_t i = 1; i < skiff_json_len(deps); i++) {
                skiff_jv *d = skiff_json_at(deps, i);
                const char *ref = member_str(d, "ref");
                skiff_jv *on = skiff_json_get(d, "dependsOn");
                for (size_t k = 0; k < skiff_json_len(on); k++)
                        cr_assert_str_neq(skiff_json_str(skiff_json_at(on, k)), ref);
                if (strstr(ref, "-extra-1.0"))
                        cr_assert_eq(skiff_json_len(on), 1, "extra -> glibc only");
        }
}

Test(sbom, errors)
{
        _cleanup_free_ char *doc = th_doc(3, "sb2");
        _cleanup_generation_ struct skiff_generation *g = NULL;
        cr_assert_eq(skiff_generation_parse(doc, strlen(doc), &g, NULL), 0);
        const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        char *out = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_sbom_render(g, "aarch64-linux", sha, &out, NULL, &err), -ENOENT);
        cr_assert(strstr(err->msg, "no system `aarch64-linux`"), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_eq(skiff_sbom_render(g, "x86_64-linux", "abc", &out, NULL, &err), -EINVAL);
        skiff_error_free(&err);
        g->systems[0].has_closure = false;
        cr_assert_eq(skiff_sbom_render(g, "x86_64-linux", sha, &out, NULL, &err), -ENODATA);
        cr_assert(strstr(err->msg, "records no closure"), "%s", err->msg);
        skiff_error_free(&err);
        cr_assert_null(out);
}
