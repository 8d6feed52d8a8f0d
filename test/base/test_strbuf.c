#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

Test(strbuf, a_new_strbuf_is_empty_with_no_buffer)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        cr_assert_null(sb.buf);
        cr_assert_eq(sb.len, 0);
        cr_assert_eq(sb.cap, 0);
}

Test(strbuf, puts_appends_and_keeps_the_buffer_nul_terminated)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "hello");
        cr_assert_str_eq(sb.buf, "hello");
        cr_assert_eq(sb.len, 5);
        skiff_strbuf_puts(&sb, ", world");
        cr_assert_str_eq(sb.buf, "hello, world");
        cr_assert_eq(sb.len, 12);
        skiff_strbuf_puts(&sb, "");
        cr_assert_eq(sb.len, 12);
        cr_assert_eq(sb.buf[12], '\0');
}

Test(strbuf, append_counts_embedded_nul_bytes)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_append(&sb, "a\0b", 3);
        skiff_strbuf_append(&sb, "\0", 1);
        cr_assert_eq(sb.len, 4);
        cr_assert_eq(memcmp(sb.buf, "a\0b\0", 4), 0);
        cr_assert_eq(sb.buf[4], '\0');
}

Test(strbuf, append_of_zero_bytes_leaves_the_contents_alone)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_append(&sb, "", 0);
        cr_assert_not_null(sb.buf, "after an append the buffer exists");
        cr_assert_str_eq(sb.buf, "");
        cr_assert_eq(sb.len, 0);
        skiff_strbuf_puts(&sb, "x");
        skiff_strbuf_append(&sb, "ignored", 0);
        cr_assert_str_eq(sb.buf, "x");
        cr_assert_eq(sb.len, 1);
}

Test(strbuf, putc_appends_single_bytes_including_nul)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_putc(&sb, 'k');
        skiff_strbuf_putc(&sb, '=');
        skiff_strbuf_putc(&sb, '\0');
        skiff_strbuf_putc(&sb, 'v');
        cr_assert_eq(sb.len, 4);
        cr_assert_eq(memcmp(sb.buf, "k=\0v", 5), 0);
}

Test(strbuf, printf_appends_formatted_text)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "x");
        skiff_strbuf_printf(&sb, "%d-%s-%05.1f", 42, "y", 3.5);
        cr_assert_str_eq(sb.buf, "x42-y-003.5");
        cr_assert_eq(sb.len, strlen("x42-y-003.5"));
        skiff_strbuf_printf(&sb, "%s", "");
        cr_assert_eq(sb.len, 11);
}

Test(strbuf, printf_output_longer_than_the_first_allocation_is_kept_whole)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        size_t n = 10000;
        _cleanup_free_ char *big = xmalloc(n + 1);
        memset(big, 'q', n);
        big[n] = '\0';
        skiff_strbuf_printf(&sb, "<%s>", big);
        cr_assert_eq(sb.len, n + 2);
        cr_assert_eq(sb.buf[0], '<');
        cr_assert_eq(memcmp(sb.buf + 1, big, n), 0);
        cr_assert_eq(sb.buf[n + 1], '>');
        cr_assert_eq(sb.buf[n + 2], '\0');
}

Test(strbuf, printf_keeps_text_after_an_embedded_nul)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_printf(&sb, "a%cb", 0);
        cr_assert_eq(sb.len, 3);
        cr_assert_eq(memcmp(sb.buf, "a\0b", 4), 0);
}

Test(strbuf, growth_to_megabytes_preserves_every_byte)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char chunk[1000];
        for (size_t i = 0; i < 2000; i++) {
                memset(chunk, (int)('a' + i % 26), sizeof(chunk));
                skiff_strbuf_append(&sb, chunk, sizeof(chunk));
                cr_assert_gt(sb.cap, sb.len, "room for the terminator");
        }
        cr_assert_eq(sb.len, 2000000);
        for (size_t i = 0; i < 2000; i++)
                cr_assert_eq(sb.buf[i * 1000 + 999], (char)('a' + i % 26), "chunk %zu", i);
        cr_assert_eq(sb.buf[sb.len], '\0');
}

Test(strbuf, reset_empties_the_buffer_but_keeps_the_allocation)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "some text that is kept around");
        char *before = sb.buf;
        size_t cap = sb.cap;
        skiff_strbuf_reset(&sb);
        cr_assert_eq(sb.buf, before);
        cr_assert_eq(sb.cap, cap);
        cr_assert_eq(sb.len, 0);
        cr_assert_str_eq(sb.buf, "");
        skiff_strbuf_puts(&sb, "new");
        cr_assert_eq(sb.buf, before, "a small append reuses the allocation");
        cr_assert_str_eq(sb.buf, "new");
}

Test(strbuf, reset_of_an_unused_strbuf_is_safe)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_reset(&sb);
        cr_assert_null(sb.buf);
        cr_assert_eq(sb.len, 0);
}

Test(strbuf, take_hands_over_the_contents_and_leaves_the_strbuf_empty)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "payload");
        char *before = sb.buf;
        _cleanup_free_ char *s = skiff_strbuf_take(&sb);
        cr_assert_eq(s, before, "the buffer is handed over, not copied");
        cr_assert_str_eq(s, "payload");
        cr_assert_null(sb.buf);
        cr_assert_eq(sb.len, 0);
        skiff_strbuf_puts(&sb, "again");
        cr_assert_str_eq(sb.buf, "again", "the strbuf is usable after take");
        cr_assert_str_eq(s, "payload", "and independent of the taken string");
}

Test(strbuf, take_of_an_empty_strbuf_returns_an_empty_heap_string)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char *s = skiff_strbuf_take(&sb);
        cr_assert_not_null(s);
        cr_assert_str_eq(s, "");
        free(s); /* ASan reports a bad free if this is not a heap string */
        cr_assert_null(sb.buf);
}

Test(strbuf, take_after_reset_returns_an_empty_string)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "gone");
        skiff_strbuf_reset(&sb);
        _cleanup_free_ char *s = skiff_strbuf_take(&sb);
        cr_assert_str_eq(s, "");
}

Test(strbuf, free_releases_and_leaves_a_reusable_strbuf)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, "abc");
        skiff_strbuf_free(&sb);
        cr_assert_null(sb.buf);
        cr_assert_eq(sb.len, 0);
        cr_assert_eq(sb.cap, 0);
        skiff_strbuf_free(&sb);
        skiff_strbuf_puts(&sb, "def");
        cr_assert_str_eq(sb.buf, "def");
        skiff_strbuf_free(&sb);
        cr_assert_null(sb.buf);
}

Test(strbuf, cleanup_attribute_frees_at_scope_exit)
{
        /* Under ASan a missing free is reported as a leak when the test process exits. */
        for (int i = 0; i < 4; i++) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                skiff_strbuf_printf(&sb, "iteration %d", i);
                cr_assert_eq(sb.len, strlen("iteration 0"));
        }
}
