/* Error objects: every fallible function returns int (-errno on failure, >= 0 on success) and
 * fills a heap-allocated skiff_err_t passed as its last argument. Context is prepended with
 * skiff_error_wrap() as the error travels up. A NULL skiff_err_t means "no error". */
#ifndef SKIFF_BASE_ERROR_H
#define SKIFF_BASE_ERROR_H

#include <stdarg.h>

struct skiff_error {
        int errnum; /* positive errno value, never 0 */
        char *msg;  /* full message, owned */
};
typedef struct skiff_error *skiff_err_t;

/* Replaces *err (freeing a previous error) with a new one. errnum is a positive errno value
 * (0 is turned into EIO). Returns -errnum. */
int skiff_error_set(skiff_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int skiff_error_setv(skiff_err_t *err, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like skiff_error_set() but appends ": <strerror(errnum)>". */
int skiff_error_set_errno(skiff_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes "<context>: " to an existing error. Returns -(*err)->errnum, or -EIO when *err is
 * NULL (a bug: the callee failed without setting an error; the message says so). */
int skiff_error_wrap(skiff_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees *err and sets it to NULL. NULL-safe. */
void skiff_error_free(skiff_err_t *err);

/* Message of an error, or "" when err is NULL. */
const char *skiff_error_msg(const struct skiff_error *err);

#endif
