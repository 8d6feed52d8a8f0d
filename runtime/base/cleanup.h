/* Scope-bound cleanup (GNU cleanup attribute). Initialise every resource variable where it is
 * declared (NULL, -EBADF) and hand ownership off with TAKE_PTR()/TAKE_FD(). */
#ifndef SKIFF_BASE_CLEANUP_H
#define SKIFF_BASE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

#define SKIFF_DEFINE_CLEANUP(type, func)                                                           \
        static inline void func##p(type *p)                                                        \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void skiff_freep(void *p)
{
        free(*(void **)p);
}
static inline void skiff_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void skiff_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
static inline void skiff_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
/* Frees a NULL-terminated vector of heap strings. */
void skiff_strv_free(char **v);
static inline void skiff_strv_freep(char ***v)
{
        skiff_strv_free(*v);
}
static inline void skiff_error_freep(skiff_err_t *e)
{
        skiff_error_free(e);
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(skiff_freep)
#define _cleanup_close_    _cleanup_(skiff_closep)
#define _cleanup_fclose_   _cleanup_(skiff_fclosep)
#define _cleanup_closedir_ _cleanup_(skiff_closedirp)
#define _cleanup_strv_     _cleanup_(skiff_strv_freep)
#define _cleanup_error_    _cleanup_(skiff_error_freep)

/* Returns the value of a pointer variable and sets it to NULL. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _tp = (p);                                                           \
                (p) = NULL;                                                                        \
                _tp;                                                                               \
        })
/* Returns an fd variable's value and sets it to -EBADF. */
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _tf = (fd);                                                                    \
                (fd) = -EBADF;                                                                     \
                _tf;                                                                               \
        })

#define SKIFF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
