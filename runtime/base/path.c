#include "path.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "strv.h"
#include "xalloc.h"

char *skiff_path_join(const char *a, const char *b)
{
        size_t al = strlen(a);
        while (al > 1 && a[al - 1] == '/')
                al--;
        while (*b == '/')
                b++;
        if (al == 0)
                return xstrdup(b);
        if (al == 1 && a[0] == '/')
                return xasprintf("/%s", b);
        if (!*b)
                return xstrndup(a, al);
        return xasprintf("%.*s/%s", (int)al, a, b);
}

char *skiff_path_strip_trailing_slashes(const char *p)
{
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                n--;
        return xstrndup(p, n);
}

char *skiff_path_clean(const char *p)
{
        bool abs = p[0] == '/';
        char **parts = skiff_strv_split(p, "/", true);
        size_t n = skiff_strv_len(parts);
        char **out = xcalloc(n + 1, sizeof(char *));
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(parts[i], ".") == 0)
                        continue;
                if (strcmp(parts[i], "..") == 0) {
                        if (o > 0 && strcmp(out[o - 1], "..") != 0) {
                                o--;
                                continue;
                        }
                        if (abs)
                                continue;
                }
                out[o++] = parts[i];
        }
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        if (abs)
                skiff_strbuf_putc(&sb, '/');
        for (size_t i = 0; i < o; i++) {
                if (i)
                        skiff_strbuf_putc(&sb, '/');
                skiff_strbuf_puts(&sb, out[i]);
        }
        if (sb.len == 0)
                skiff_strbuf_putc(&sb, '.');
        free(out);
        skiff_strv_free(parts);
        return skiff_strbuf_take(&sb);
}

bool skiff_path_is_safe_relative(const char *p)
{
        if (!p[0] || p[0] == '/')
                return false;
        char *c = skiff_path_clean(p);
        bool ok = strcmp(c, "..") != 0 && strncmp(c, "../", 3) != 0;
        free(c);
        return ok;
}

bool skiff_path_is_component(const char *name)
{
        return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

const char *skiff_path_basename(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

char *skiff_path_dirname(const char *p)
{
        const char *s = strrchr(p, '/');
        if (!s)
                return xstrdup(".");
        if (s == p)
                return xstrdup("/");
        return xstrndup(p, (size_t)(s - p));
}
