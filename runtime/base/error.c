#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int skiff_error_setv(skiff_err_t *err, int errnum, const char *fmt, va_list ap)
{
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        char *msg = xvasprintf(fmt, ap);
        if (err) {
                skiff_error_free(err);
                struct skiff_error *e = xmalloc(sizeof(*e));
                e->errnum = errnum;
                e->msg = msg;
                *err = e;
        } else {
                free(msg);
        }
        return -errnum;
}

int skiff_error_set(skiff_err_t *err, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = skiff_error_setv(err, errnum, fmt, ap);
        va_end(ap);
        return r;
}

int skiff_error_set_errno(skiff_err_t *err, int errnum, const char *fmt, ...)
{
        if (errnum < 0)
                errnum = -errnum;
        va_list ap;
        va_start(ap, fmt);
        char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        int r = skiff_error_set(err, errnum, "%s: %s", msg, strerror(errnum ? errnum : EIO));
        free(msg);
        return r;
}

int skiff_error_wrap(skiff_err_t *err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        va_list ap;
        va_start(ap, fmt);
        char *ctx = xvasprintf(fmt, ap);
        va_end(ap);
        if (!*err) {
                int r = skiff_error_set(err, EIO, "%s: internal error: no error was recorded", ctx);
                free(ctx);
                return r;
        }
        char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
        free(ctx);
        free((*err)->msg);
        (*err)->msg = msg;
        return -(*err)->errnum;
}

void skiff_error_free(skiff_err_t *err)
{
        if (!err || !*err)
                return;
        free((*err)->msg);
        free(*err);
        *err = NULL;
}

const char *skiff_error_msg(const struct skiff_error *err)
{
        return err ? err->msg : "";
}
