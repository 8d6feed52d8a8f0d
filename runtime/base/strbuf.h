/* Growable byte/string buffer; buf is always NUL-terminated. */
#ifndef SKIFF_BASE_STRBUF_H
#define SKIFF_BASE_STRBUF_H

#include <stddef.h>

struct skiff_strbuf {
        char *buf; /* owned; NULL until the first append */
        size_t len;
        size_t cap;
};
#define SKIFF_STRBUF_INIT                                                                          \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }

void skiff_strbuf_append(struct skiff_strbuf *sb, const void *data, size_t n);
void skiff_strbuf_puts(struct skiff_strbuf *sb, const char *s);
void skiff_strbuf_putc(struct skiff_strbuf *sb, char c);
void skiff_strbuf_printf(struct skiff_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void skiff_strbuf_reset(struct skiff_strbuf *sb); /* keeps the allocation */
/* Returns the buffer (never NULL; "" when empty) and leaves sb empty; caller frees. */
char *skiff_strbuf_take(struct skiff_strbuf *sb);
void skiff_strbuf_free(struct skiff_strbuf *sb);
static inline void skiff_strbuf_freep(struct skiff_strbuf *sb)
{
        skiff_strbuf_free(sb);
}
#define _cleanup_strbuf_ __attribute__((cleanup(skiff_strbuf_freep)))

#endif
