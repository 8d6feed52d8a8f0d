#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/xalloc.h"

Test(error, set_returns_minus_errnum_and_records_code_and_message)
{
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_error_set(&err, ENOENT, "open `%s` (%d)", "/run/x", 3);
        cr_assert_eq(r, -ENOENT);
        cr_assert_not_null(err);
        cr_assert_eq(err->errnum, ENOENT);
        cr_assert_str_eq(err->msg, "open `/run/x` (3)");
        cr_assert_str_eq(skiff_error_msg(err), "open `/run/x` (3)");
}

Test(error, set_with_zero_errnum_records_eio)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_error_set(&err, 0, "no errno"), -EIO);
        cr_assert_eq(err->errnum, EIO);
        cr_assert_str_eq(err->msg, "no errno");
}

Test(error, set_replaces_a_previous_error)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, EPERM, "first");
        cr_assert_eq(skiff_error_set(&err, EBADMSG, "second"), -EBADMSG);
        cr_assert_eq(err->errnum, EBADMSG);
        cr_assert_str_eq(err->msg, "second");
        /* Under ASan the first error would be reported as leaked. */
}

Test(error, set_does_not_reinterpret_percent_signs_in_arguments)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, EINVAL, "bad value `%s`", "100%d%s%n");
        cr_assert_str_eq(err->msg, "bad value `100%d%s%n`");
}

static int set_via_va_list(skiff_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_via_va_list(skiff_err_t *err, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = skiff_error_setv(err, errnum, fmt, ap);
        va_end(ap);
        return r;
}

Test(error, setv_formats_a_va_list)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(set_via_va_list(&err, EPROTO, "frame %u of %s", 7u, "ttrpc"), -EPROTO);
        cr_assert_eq(err->errnum, EPROTO);
        cr_assert_str_eq(err->msg, "frame 7 of ttrpc");
        cr_assert_eq(set_via_va_list(&err, 0, "zero"), -EIO);
        cr_assert_eq(err->errnum, EIO);
}

Test(error, set_errno_appends_strerror)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_error_set_errno(&err, ENOENT, "open `%s`", "/etc/x"), -ENOENT);
        cr_assert_eq(err->errnum, ENOENT);
        _cleanup_free_ char *want = xasprintf("open `/etc/x`: %s", strerror(ENOENT));
        cr_assert_str_eq(err->msg, want);
}

Test(error, set_errno_with_zero_errnum_reports_eio)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_error_set_errno(&err, 0, "read"), -EIO);
        cr_assert_eq(err->errnum, EIO);
        _cleanup_free_ char *want = xasprintf("read: %s", strerror(EIO));
        cr_assert_str_eq(err->msg, want);
}

Test(error, set_errno_replaces_a_previous_error)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, EPERM, "first");
        cr_assert_eq(skiff_error_set_errno(&err, EACCES, "second"), -EACCES);
        cr_assert_eq(err->errnum, EACCES);
        cr_assert_not_null(strstr(err->msg, "second: "));
}

Test(error, wrap_prefixes_context_and_returns_the_same_code)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, EACCES, "open `%s`", "/x");
        struct skiff_error *same = err;
        cr_assert_eq(skiff_error_wrap(&err, "load spec of `%s`", "ctr1"), -EACCES);
        cr_assert_eq(err, same, "the error object is kept");
        cr_assert_eq(err->errnum, EACCES);
        cr_assert_str_eq(err->msg, "load spec of `ctr1`: open `/x`");
}

Test(error, wrap_twice_puts_the_outermost_context_first)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, ENOSPC, "write");
        skiff_error_wrap(&err, "save state");
        cr_assert_eq(skiff_error_wrap(&err, "create `%s`", "pod"), -ENOSPC);
        cr_assert_str_eq(err->msg, "create `pod`: save state: write");
}

Test(error, wrap_does_not_reinterpret_percent_signs)
{
        _cleanup_error_ skiff_err_t err = NULL;
        skiff_error_set(&err, EINVAL, "%s", "inner %s %d");
        skiff_error_wrap(&err, "outer %s", "50%n");
        cr_assert_str_eq(err->msg, "outer 50%n: inner %s %d");
}

Test(error, wrap_without_a_recorded_error_returns_eio_and_says_so)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_error_wrap(&err, "mount `%s`", "/dev/nvidia0"), -EIO);
        cr_assert_not_null(err);
        cr_assert_eq(err->errnum, EIO);
        cr_assert_not_null(strstr(err->msg, "mount `/dev/nvidia0`"), "%s", err->msg);
        cr_assert_not_null(strstr(err->msg, "no error was recorded"), "%s", err->msg);
}

/* Callers pass a NULL skiff_err_t * when they only want the code (e.g. runtime/oci/caps.c). */
Test(error, a_null_error_pointer_still_gets_the_code)
{
        cr_assert_eq(skiff_error_set(NULL, ENOENT, "x"), -ENOENT);
        cr_assert_eq(skiff_error_set(NULL, 0, "x"), -EIO);
        cr_assert_eq(skiff_error_set_errno(NULL, EPERM, "x"), -EPERM);
        cr_assert_eq(skiff_error_wrap(NULL, "x"), -EIO);
        skiff_error_free(NULL);
}

Test(error, free_resets_to_null_and_is_null_safe)
{
        skiff_err_t err = NULL;
        skiff_error_free(&err);
        cr_assert_null(err);
        skiff_error_set(&err, EIO, "x");
        skiff_error_free(&err);
        cr_assert_null(err);
        skiff_error_free(&err);
        cr_assert_null(err);
}

Test(error, msg_of_no_error_is_an_empty_string)
{
        cr_assert_not_null(skiff_error_msg(NULL));
        cr_assert_str_eq(skiff_error_msg(NULL), "");
}

Test(error, cleanup_attribute_frees_at_scope_exit)
{
        /* Under ASan a missing free is reported as a leak when the test process exits. */
        for (int i = 1; i <= 4; i++) {
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_error_set(&err, i, "try %d", i), -i);
                skiff_error_wrap(&err, "outer");
        }
}
