#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "cli/keys.h"

static char dir[] = "/tmp/skiff-test-keys.XXXXXX";

static void setup(void)
{
        cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
        skiff_fs_rm_rf(dir, NULL);
}

static char *write_file(const char *name, const char *text)
{
        char *p = NULL;
        cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        return p;
}

TestSuite(keys, .init = setup, .fini = teardown);

Test(keys, secret_and_public_from_files_and_strings)
{
        char *sk = NULL, *pk = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_sig_keygen("k1", &sk, &pk, &err), 0);
        char *skf = write_file("sk", sk);
        char *line = NULL;
        cr_assert(asprintf(&line, "%s \n\n", pk) > 0);
        char *pkf = write_file("pk", line); /* trailing whitespace is ignored */

        struct skiff_sig_seckey s;
        cr_assert_eq(skiff_cli_read_secret_key(skf, &s, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(s.name, "k1");

        struct skiff_sig_pubkey *keys = NULL;
        size_t n = 0;
        cr_assert_eq(skiff_cli_add_key(&keys, &n, pkf, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(skiff_cli_add_key(&keys, &n, pk, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(n, 2);
        cr_assert_str_eq(keys[0].name, "k1");
        cr_assert_arr_eq(keys[0].key, keys[1].key, sizeof(keys[0].key));
        cr_assert_arr_eq(keys[0].key, s.pub, sizeof(s.pub), "the public key matches the secret");

        char *bad = write_file("bad", "k1:not-base64!\n");
        cr_assert_lt(skiff_cli_add_key(&keys, &n, bad, &err), 0);
        cr_assert_eq(n, 2, "a bad key is not appended");
        cr_assert(strstr(skiff_error_msg(err), bad), "names the file: %s", skiff_error_msg(err));
        skiff_error_free(&err);
        cr_assert_lt(skiff_cli_read_secret_key(bad, &s, &err), 0);
        cr_assert(strstr(skiff_error_msg(err), "key file"), "%s", skiff_error_msg(err));
        cr_assert_null(strstr(skiff_error_msg(err), "not-base64"), "never echoes key material");
        skiff_error_free(&err);
        free(keys);
        free(sk);
        free(pk);
        free(skf);
        free(pkf);
        free(line);
        free(bad);
}
