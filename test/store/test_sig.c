#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store/sig.h"
#include "store_helpers.h"

Test(sig, keygen_sign_verify_roundtrip)
{
        _cleanup_free_ char *sk = NULL, *pk = NULL;
        cr_assert_eq(skiff_sig_keygen("test-1", &sk, &pk, NULL), 0);
        struct skiff_sig_seckey s;
        struct skiff_sig_pubkey p;
        cr_assert_eq(skiff_sig_parse_secret(sk, &s, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk, &p, NULL), 0);
        _cleanup_free_ char *pub2 = skiff_sig_public_of(&s);
        cr_assert_str_eq(pub2, pk);
        const char *msg = "1;/nix/store/x;sha256:y;1;";
        _cleanup_free_ char *sig = NULL;
        cr_assert_eq(skiff_sig_sign(&s, msg, strlen(msg), &sig, NULL), 0);
        cr_assert(strncmp(sig, "test-1:", 7) == 0);
        char *sigs[] = {sig, NULL};
        cr_assert_eq(skiff_sig_verify_any(msg, strlen(msg), sigs, &p, 1, NULL, NULL), 0);
        cr_assert_eq(skiff_sig_verify_any("1;other", 7, sigs, &p, 1, NULL, NULL), -EPERM);
        char *none[] = {NULL};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_sig_verify_any(msg, strlen(msg), none, &p, 1, NULL, &err), -EPERM);
        cr_assert(strstr(err->msg, "none"));
        skiff_error_free(&err);
}

Test(sig, nix_generated_keys_sign_like_nix)
{
        if (!th_have_nix())
                cr_skip_test("nix missing");
        _cleanup_free_ char *tmp = th_tmpdir();
        cr_assert_eq(th_sh("nix-store --generate-binary-cache-key nixkey %s/sk %s/pk", tmp, tmp),
                     0);
        _cleanup_free_ char *skp = xasprintf("%s/sk", tmp), *pkp = xasprintf("%s/pk", tmp);
        _cleanup_free_ char *sk = th_read(skp, NULL), *pk = th_read(pkp, NULL);
        struct skiff_sig_seckey s;
        struct skiff_sig_pubkey p;
        cr_assert_eq(skiff_sig_parse_secret(sk, &s, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk, &p, NULL), 0);
        _cleanup_free_ char *pub2 = skiff_sig_public_of(&s);
        cr_assert_str_eq(pub2, pk);
        th_sh("rm -rf %s", tmp);
}

Test(sig, malformed_keys)
{
        struct skiff_sig_pubkey p;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_sig_parse_public("nocolon", &p, &err), -EINVAL);
        cr_assert_eq(skiff_sig_parse_public(":AAAA", &p, &err), -EINVAL);
        cr_assert_eq(skiff_sig_parse_public("k:AAAA", &p, &err), -EINVAL);
        cr_assert(strstr(err->msg, "32 bytes"));
        skiff_error_free(&err);
}
