#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void grow(struct skiff_strbuf *sb, size_t extra)
{
        size_t need;
        if (__builtin_add_overflow(sb->len, extra + 1, &need))
                abort();
        if (need <= sb->cap)
                return;
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < need)
                cap *= 2;
        sb->buf = xrealloc(sb->buf, cap);
        sb->cap = cap;
}

void skiff_strbuf_append(struct skiff_strbuf *sb, const void *data, size_t n)
{
        grow(sb, n);
        if (n)
                memcpy(sb->buf + sb->len, data, n);
        sb->len += n;
        sb->buf[sb->len] = '\0';
}

void skiff_strbuf_puts(struct skiff_strbuf *sb, const char *s)
{
        skiff_strbuf_append(sb, s, strlen(s));
}

void skiff_strbuf_putc(struct skiff_strbuf *sb, char c)
{
        skiff_strbuf_append(sb, &c, 1);
}

void skiff_strbuf_printf(struct skiff_strbuf *sb, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();                       /* out of memory, as xalloc does */
        skiff_strbuf_append(sb, s, (size_t)n); /* the length, not strlen: %c may write a NUL */
        free(s);
}

void skiff_strbuf_reset(struct skiff_strbuf *sb)
{
        sb->len = 0;
        if (sb->buf)
                sb->buf[0] = '\0';
}

char *skiff_strbuf_take(struct skiff_strbuf *sb)
{
        if (!sb->buf)
                return xstrdup("");
        char *r = sb->buf;
        sb->buf = NULL;
        sb->len = sb->cap = 0;
        return r;
}

void skiff_strbuf_free(struct skiff_strbuf *sb)
{
        free(sb->buf);
        sb->buf = NULL;
        sb->len = sb->cap = 0;
}
