#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void)
{
        static const char m[] = "skiff: out of memory\n";
        (void)!write(STDERR_FILENO, m, sizeof(m) - 1);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
        void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom();
        return q;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
        size_t n;
        if (__builtin_mul_overflow(nmemb, size, &n))
                oom();
        return xrealloc(p, n);
}

char *xstrdup(const char *s)
{
        if (!s)
                return NULL;
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

void *xmemdup(const void *p, size_t n)
{
        void *q = xmalloc(n);
        if (n)
                memcpy(q, p, n);
        return q;
}

char *xvasprintf(const char *fmt, va_list ap)
{
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                oom();
        return s;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = xvasprintf(fmt, ap);
        va_end(ap);
        return s;
}
