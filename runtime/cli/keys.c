#include "cli/keys.h"

#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

/* A key file's text without its trailing newlines and spaces. */
static int read_key_file(const char *file, char **ret, size_t *ret_len, skiff_err_t *err)
{
        size_t len = 0;
        int r = skiff_fs_read_file(file, 4096, ret, &len, err);
        if (r < 0)
                return r;
        while (len && ((*ret)[len - 1] == '\n' || (*ret)[len - 1] == ' '))
                (*ret)[--len] = '\0';
        *ret_len = len;
        return 0;
}

int skiff_cli_parse_key(const char *arg, struct skiff_sig_pubkey *ret, skiff_err_t *err)
{
        if (access(arg, F_OK) != 0)
                return skiff_sig_parse_public(arg, ret, err);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_key_file(arg, &text, &len, err);
        if (r < 0)
                return r;
        r = skiff_sig_parse_public(text, ret, err);
        if (r < 0)
                return skiff_error_wrap(err, "key file `%s`", arg);
        return 0;
}

int skiff_cli_add_key(struct skiff_sig_pubkey **keys, size_t *n, const char *arg, skiff_err_t *err)
{
        struct skiff_sig_pubkey k;
        int r = skiff_cli_parse_key(arg, &k, err);
        if (r < 0)
                return r;
        *keys = xreallocarray(*keys, *n + 1, sizeof(**keys));
        (*keys)[(*n)++] = k;
        return 0;
}

int skiff_cli_read_secret_key(const char *file, struct skiff_sig_seckey *sk, skiff_err_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_key_file(file, &text, &len, err);
        if (r < 0)
                return r;
        r = skiff_sig_parse_secret(text, sk, err);
        explicit_bzero(text, len);
        if (r < 0)
                return skiff_error_wrap(err, "key file `%s`", file);
        return 0;
}
