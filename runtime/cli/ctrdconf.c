/* containerd config.toml statements: a TOML 1.0 lexer that keeps byte offsets. */
#include "cli/ctrdconf.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"

struct lexer {
        const char *s;
        size_t len;
        size_t pos;
};

struct elem {
        size_t start, end;
        char *str; /* decoded string value, or NULL for other values */
};

static void elems_free(struct elem *e, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(e[i].str);
        free(e);
}

static unsigned line_of(const char *s, size_t pos)
{
        unsigned line = 1;
        for (size_t i = 0; i < pos; i++)
                if (s[i] == '\n')
                        line++;
        return line;
}

static int lex_error(struct lexer *l, skiff_err_t *err, const char *what)
{
        return skiff_error_set(err, EINVAL, "line %u: %s", line_of(l->s, l->pos), what);
}

static int peek(const struct lexer *l, size_t off)
{
        return l->pos + off < l->len ? (unsigned char)l->s[l->pos + off] : -1;
}

static void skip_ws(struct lexer *l)
{
        while (peek(l, 0) == ' ' || peek(l, 0) == '\t')
                l->pos++;
}

static bool at_newline(const struct lexer *l)
{
        return peek(l, 0) == '\n' || (peek(l, 0) == '\r' && peek(l, 1) == '\n');
}

static void skip_newline(struct lexer *l)
{
        l->pos += peek(l, 0) == '\r' ? 2 : 1;
}

static void skip_comment(struct lexer *l)
{
        if (peek(l, 0) == '#')
                while (l->pos < l->len && !at_newline(l))
                        l->pos++;
}

/* Whitespace, newlines and comments (inside arrays). */
static void skip_ws_nl(struct lexer *l)
{
        for (;;) {
                skip_ws(l);
                skip_comment(l);
                if (!at_newline(l))
                        return;
                skip_newline(l);
        }
}

static void put_utf8(struct skiff_strbuf *sb, uint32_t cp)
{
        char b[4];
        size_t n;
        if (cp < 0x80) {
                b[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                b[0] = (char)(0xc0 | (cp >> 6));
                b[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                b[0] = (char)(0xe0 | (cp >> 12));
                b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                b[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                b[0] = (char)(0xf0 | (cp >> 18));
                b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                b[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        skiff_strbuf_append(sb, b, n);
}

static int lex_escape(struct lexer *l, struct skiff_strbuf *sb, skiff_err_t *err)
{
        static const char simple[][2] = {{'b', '\b'}, {'t', '\t'}, {'n', '\n'}, {'f', '\f'},
                                         {'r', '\r'}, {'"', '"'},  {'\\', '\\'}};
        int c = peek(l, 0);
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(simple); i++)
                if (c == simple[i][0]) {
                        skiff_strbuf_putc(sb, simple[i][1]);
                        l->pos++;
                        return 0;
                }
        if (c != 'u' && c != 'U')
                return lex_error(l, err, "invalid escape in string");
        size_t n = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        l->pos++;
        for (size_t i = 0; i < n; i++) {
                int h = peek(l, 0);
                int v = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (v < 0)
                        return lex_error(l, err, "invalid unicode escape in string");
                cp = cp << 4 | (uint32_t)v;
                l->pos++;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return lex_error(l, err, "invalid unicode scalar in string");
        put_utf8(sb, cp);
        return 0;
}

/* A string of any of the four kinds. *ret (optional) gets the decoded value of single-line
 * strings; multi-line strings are validated and skipped (*ret = NULL). */
static int lex_string(struct lexer *l, char **ret, skiff_err_t *err)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char q = (char)peek(l, 0);
        bool multi = peek(l, 1) == q && peek(l, 2) == q;
        if (ret)
                *ret = NULL;
        if (multi) {
                l->pos += 3;
                for (;;) {
                        if (l->pos >= l->len)
                                return lex_error(l, err, "unterminated multi-line string");
                        if (peek(l, 0) == q && peek(l, 1) == q && peek(l, 2) == q) {
                                size_t run = 3;
                                while (run < 5 && peek(l, run) == q)
                                        run++;
                                l->pos += run;
                                return 0;
                        }
                        if (q == '"' && peek(l, 0) == '\\')
                                l->pos++; /* whatever follows is escaped (or a line ending) */
                        l->pos++;
                }
        }
        l->pos++;
        for (;;) {
                int c = peek(l, 0);
                if (c < 0 || c == '\n' || c == '\r')
                        return lex_error(l, err, "unterminated string");
                l->pos++;
                if (c == q)
                        break;
                if (q == '"' && c == '\\') {
                        int r = lex_escape(l, &sb, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return lex_error(l, err, "control character in string");
                skiff_strbuf_putc(&sb, (char)c);
        }
        if (ret)
                *ret = skiff_strbuf_take(&sb);
        return 0;
}

static bool is_bare(int c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

/* A (dotted) key; appends its decoded parts to *parts. */
static int lex_key(struct lexer *l, char ***parts, skiff_err_t *err)
{
        for (;;) {
                skip_ws(l);
                int c = peek(l, 0);
                if (c == '"' || c == '\'') {
                        if (peek(l, 1) == c && peek(l, 2) == c)
                                return lex_error(l, err, "multi-line string used as a key");
                        char *s = NULL;
                        int r = lex_string(l, &s, err);
                        if (r < 0)
                                return r;
                        skiff_strv_push_take(parts, s);
                } else if (is_bare(c)) {
                        size_t st = l->pos;
                        while (is_bare(peek(l, 0)))
                                l->pos++;
                        skiff_strv_push_take(parts, xstrndup(l->s + st, l->pos - st));
                } else {
                        return lex_error(l, err, "expected a key");
                }
                skip_ws(l);
                if (peek(l, 0) != '.')
                        return 0;
                l->pos++;
        }
}

static int lex_value(struct lexer *l, unsigned depth, skiff_err_t *err);

/* An array; records its elements when elems is not NULL. */
static int lex_array(struct lexer *l, unsigned depth, struct elem **elems, size_t *n,
                     skiff_err_t *err)
{
        l->pos++; /* '[' */
        for (;;) {
                skip_ws_nl(l);
                if (peek(l, 0) == ']') {
                        l->pos++;
                        return 0;
                }
                size_t st = l->pos;
                char *s = NULL;
                int r;
                if (elems && (peek(l, 0) == '"' || peek(l, 0) == '\''))
                        r = lex_string(l, &s, err);
                else
                        r = lex_value(l, depth + 1, err);
                if (r < 0)
                        return r;
                if (elems) {
                        *elems = xreallocarray(*elems, *n + 1, sizeof(**elems));
                        (*elems)[(*n)++] = (struct elem){st, l->pos, s};
                }
                skip_ws_nl(l);
                if (peek(l, 0) == ',') {
                        l->pos++;
                } else if (peek(l, 0) != ']') {
                        return lex_error(l, err, "expected `,` or `]` in array");
                }
        }
}

static int lex_inline_table(struct lexer *l, unsigned depth, skiff_err_t *err)
{
        l->pos++; /* '{' */
        skip_ws(l);
        if (peek(l, 0) == '}') {
                l->pos++;
                return 0;
        }
        for (;;) {
                _cleanup_strv_ char **key = NULL;
                int r = lex_key(l, &key, err);
                if (r < 0)
                        return r;
                if (peek(l, 0) != '=')
                        return lex_error(l, err, "expected `=` in inline table");
                l->pos++;
                skip_ws(l);
                r = lex_value(l, depth + 1, err);
                if (r < 0)
                        return r;
                skip_ws(l);
                if (peek(l, 0) == '}') {
                        l->pos++;
                        return 0;
                }
                if (peek(l, 0) != ',')
                        return lex_error(l, err, "expected `,` or `}` in inline table");
                l->pos++;
        }
}

static int lex_value(struct lexer *l, unsigned depth, skiff_err_t *err)
{
        if (depth > 64)
                return lex_error(l, err, "values nested too deeply");
        int c = peek(l, 0);
        if (c == '"' || c == '\'')
                return lex_string(l, NULL, err);
        if (c == '[')
                return lex_array(l, depth, NULL, NULL, err);
        if (c == '{')
                return lex_inline_table(l, depth, err);
        /* A number, boolean or date-time; "1979-05-27 07:32:00" has one space. */
        size_t st = l->pos;
        while (l->pos < l->len && !strchr(" \t,]}#\r\n", l->s[l->pos]))
                l->pos++;
        if (l->pos - st == 10 && l->s[st + 4] == '-' && l->s[st + 7] == '-' && peek(l, 0) == ' ' &&
            peek(l, 1) >= '0' && peek(l, 1) <= '9') {
                l->pos++;
                while (l->pos < l->len && !strchr(" \t,]}#\r\n", l->s[l->pos]))
                        l->pos++;
        }
        if (l->pos == st)
                return lex_error(l, err, "expected a value");
        for (size_t i = st; i < l->pos; i++) {
                unsigned char b = (unsigned char)l->s[i];
                if (b < 0x20 || b == '=' || b == '[' || b == '"' || b == '\'')
                        return lex_error(l, err, "invalid value");
        }
        return 0;
}

struct skiff_ctrdconf *skiff_ctrdconf_free(struct skiff_ctrdconf *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_stmts; i++)
                skiff_strv_free(c->stmts[i].path);
        free(c->stmts);
        free(c->text);
        free(c);
        return NULL;
}

static char **path_concat(char *const *a, char *const *b)
{
        char **v = skiff_strv_copy(a);
        for (size_t i = 0; b && b[i]; i++)
                skiff_strv_push(&v, b[i]);
        if (!v)
                v = xcalloc(1, sizeof(char *));
        return v;
}

int skiff_ctrdconf_parse(const char *buf, size_t len, struct skiff_ctrdconf **ret, skiff_err_t *err)
{
        if (len > SKIFF_CTRDCONF_MAX)
                return skiff_error_set(err, EFBIG, "config is larger than %d bytes",
                                       SKIFF_CTRDCONF_MAX);
        if (memchr(buf, '\0', len))
                return skiff_error_set(err, EINVAL, "config contains a NUL byte");
        _cleanup_(skiff_ctrdconf_freep) struct skiff_ctrdconf *c = xcalloc(1, sizeof(*c));
        c->text = xstrndup(buf, len);
        c->len = len;
        struct lexer l = {c->text, len, 0};
        _cleanup_strv_ char **table = NULL;
        unsigned line = 1;
        size_t line_pos = 0;
        while (l.pos < len) {
                skip_ws(&l);
                skip_comment(&l);
                if (l.pos >= len)
                        break;
                if (at_newline(&l)) {
                        skip_newline(&l);
                        continue;
                }
                struct skiff_ctrdconf_stmt st = {.start = l.pos};
                _cleanup_strv_ char **key = NULL;
                int r;
                if (peek(&l, 0) == '[') {
                        bool array = peek(&l, 1) == '[';
                        l.pos += array ? 2 : 1;
                        r = lex_key(&l, &key, err);
                        if (r < 0)
                                return r;
                        if (peek(&l, 0) != ']' || (array && peek(&l, 1) != ']'))
                                return lex_error(&l, err, "unterminated table header");
                        l.pos += array ? 2 : 1;
                        st.kind = array ? SKIFF_CTRDCONF_ARRAY_TABLE : SKIFF_CTRDCONF_TABLE;
                        skiff_strv_free(table);
                        table = skiff_strv_copy(key);
                        st.path = path_concat(key, NULL);
                } else {
                        r = lex_key(&l, &key, err);
                        if (r < 0)
                                return r;
                        if (peek(&l, 0) != '=')
                                return lex_error(&l, err, "expected `=` after key");
                        l.pos++;
                        skip_ws(&l);
                        st.value_start = l.pos;
                        r = lex_value(&l, 0, err);
                        if (r < 0)
                                return r;
                        st.value_end = l.pos;
                        st.kind = SKIFF_CTRDCONF_KEYVAL;
                        st.path = path_concat(table, key);
                }
                skip_ws(&l);
                skip_comment(&l);
                if (l.pos < len && !at_newline(&l)) {
                        skiff_strv_free(st.path);
                        return lex_error(&l, err, "expected a newline after the statement");
                }
                if (l.pos < len)
                        skip_newline(&l);
                st.end = l.pos;
                for (; line_pos < st.start; line_pos++)
                        if (c->text[line_pos] == '\n')
                                line++;
                st.line = line;
                c->stmts = xreallocarray(c->stmts, c->n_stmts + 1, sizeof(*c->stmts));
                c->stmts[c->n_stmts++] = st;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

static bool path_has_prefix(char *const *path, const char *const *prefix)
{
        size_t i = 0;
        for (; prefix[i]; i++)
                if (!path[i] || strcmp(path[i], prefix[i]) != 0)
                        return false;
        return true;
}

static const struct skiff_ctrdconf_stmt *find_top(const struct skiff_ctrdconf *c, const char *key)
{
        for (size_t i = 0; i < c->n_stmts; i++) {
                const struct skiff_ctrdconf_stmt *s = &c->stmts[i];
                if (s->kind != SKIFF_CTRDCONF_KEYVAL)
                        return NULL; /* the first header ends the root table */
                if (s->path[0] && !s->path[1] && strcmp(s->path[0], key) == 0)
                        return s;
        }
        return NULL;
}

int skiff_ctrdconf_version(const struct skiff_ctrdconf *c, int64_t *ret, skiff_err_t *err)
{
        const struct skiff_ctrdconf_stmt *s = find_top(c, "version");
        if (!s) {
                *ret = 0;
                return 0;
        }
        int64_t v = 0;
        size_t n = s->value_end - s->value_start;
        const char *p = c->text + s->value_start;
        if (n == 0 || n > 9)
                return skiff_error_set(err, EINVAL, "line %u: `version` is not an integer",
                                       s->line);
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return skiff_error_set(err, EINVAL, "line %u: `version` is not an integer",
                                               s->line);
                v = v * 10 + (p[i] - '0');
        }
        *ret = v;
        return 0;
}

/* The elements of the top-level imports array; *ret_stmt is NULL when absent. */
static int imports_elems(const struct skiff_ctrdconf *c,
                         const struct skiff_ctrdconf_stmt **ret_stmt, struct elem **ret,
                         size_t *ret_n, skiff_err_t *err)
{
        const struct skiff_ctrdconf_stmt *s = find_top(c, "imports");
        *ret_stmt = s;
        *ret = NULL;
        *ret_n = 0;
        if (!s)
                return 0;
        if (c->text[s->value_start] != '[')
                return skiff_error_set(err, EINVAL, "line %u: `imports` is not an array", s->line);
        struct lexer l = {c->text, s->value_end, s->value_start};
        struct elem *e = NULL;
        size_t n = 0;
        int r = lex_array(&l, 0, &e, &n, err);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (!e[i].str)
                        r = skiff_error_set(err, EINVAL,
                                            "line %u: `imports` holds something other than a "
                                            "single-line string",
                                            s->line);
        if (r < 0) {
                elems_free(e, n);
                return r;
        }
        *ret = e;
        *ret_n = n;
        return 0;
}

int skiff_ctrdconf_imports(const struct skiff_ctrdconf *c, char ***ret, skiff_err_t *err)
{
        const struct skiff_ctrdconf_stmt *s = NULL;
        struct elem *e = NULL;
        size_t n = 0;
        int r = imports_elems(c, &s, &e, &n, err);
        if (r < 0)
                return r;
        char **v = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                v[i] = TAKE_PTR(e[i].str);
        elems_free(e, n);
        *ret = v;
        return 0;
}

int skiff_ctrdconf_get_string(const struct skiff_ctrdconf *c, const char *const *path, char **ret,
                              skiff_err_t *err)
{
        for (size_t i = 0; i < c->n_stmts; i++) {
                const struct skiff_ctrdconf_stmt *s = &c->stmts[i];
                if (s->kind != SKIFF_CTRDCONF_KEYVAL || !path_has_prefix(s->path, path) ||
                    s->path[skiff_strv_len((char *const *)path)])
                        continue;
                struct lexer l = {c->text, s->value_end, s->value_start};
                int q = peek(&l, 0);
                char *v = NULL;
                if ((q != '"' && q != '\'') || (peek(&l, 1) == q && peek(&l, 2) == q) ||
                    lex_string(&l, &v, err) < 0 || !v) {
                        skiff_error_free(err);
                        return skiff_error_set(err, EINVAL, "line %u: expected a string", s->line);
                }
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

bool skiff_ctrdconf_has_prefix(const struct skiff_ctrdconf *c, const char *const *prefix)
{
        for (size_t i = 0; i < c->n_stmts; i++)
                if (path_has_prefix(c->stmts[i].path, prefix))
                        return true;
        return false;
}

static bool safe_string(const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '\\')
                        return false;
        return true;
}

static char *splice(const struct skiff_ctrdconf *c, size_t from, size_t to, const char *ins)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_append(&sb, c->text, from);
        skiff_strbuf_puts(&sb, ins);
        skiff_strbuf_append(&sb, c->text + to, c->len - to);
        return skiff_strbuf_take(&sb);
}

int skiff_ctrdconf_add_import(const struct skiff_ctrdconf *c, const char *entry, char **ret,
                              skiff_err_t *err)
{
        if (!*entry || !safe_string(entry))
                return skiff_error_set(err, EINVAL,
                                       "import `%s` contains quotes, backslashes "
                                       "or control characters",
                                       entry);
        const struct skiff_ctrdconf_stmt *s = NULL;
        struct elem *e = NULL;
        size_t n = 0;
        int r = imports_elems(c, &s, &e, &n, err);
        if (r < 0)
                return r;
        bool present = false;
        for (size_t i = 0; i < n; i++)
                present = present || strcmp(e[i].str, entry) == 0;
        size_t last_end = n ? e[n - 1].end : 0;
        elems_free(e, n);
        if (present) {
                *ret = xstrndup(c->text, c->len);
                return 0;
        }
        _cleanup_free_ char *ins = NULL;
        if (s) {
                ins = xasprintf(n ? ", \"%s\"" : "\"%s\"", entry);
                size_t at = n ? last_end : s->value_start + 1;
                *ret = splice(c, at, at, ins);
                return 1;
        }
        const struct skiff_ctrdconf_stmt *v = find_top(c, "version");
        size_t at = v ? v->end : 0;
        bool nl = v && (at == 0 || c->text[at - 1] != '\n');
        ins = xasprintf("%simports = [\"%s\"]\n", nl ? "\n" : "", entry);
        *ret = splice(c, at, at, ins);
        return 1;
}

static size_t line_start(const struct skiff_ctrdconf *c, size_t pos)
{
        while (pos > 0 && c->text[pos - 1] != '\n')
                pos--;
        return pos;
}

static bool only_blank(const char *s, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++)
                if (s[i] != ' ' && s[i] != '\t')
                        return false;
        return true;
}

int skiff_ctrdconf_remove_import(const struct skiff_ctrdconf *c, const char *entry, char **ret,
                                 skiff_err_t *err)
{
        const struct skiff_ctrdconf_stmt *s = NULL;
        struct elem *e = NULL;
        size_t n = 0;
        int r = imports_elems(c, &s, &e, &n, err);
        if (r < 0)
                return r;
        size_t i = 0;
        while (i < n && strcmp(e[i].str, entry) != 0)
                i++;
        if (i == n) {
                elems_free(e, n);
                *ret = xstrndup(c->text, c->len);
                return 0;
        }
        size_t from, to;
        if (n == 1) {
                size_t ls = line_start(c, s->start);
                /* The whole statement when it is alone on its line(s) and has no comment. */
                bool alone = only_blank(c->text, ls, s->start) &&
                             (s->end == c->len || c->text[s->end - 1] == '\n') &&
                             only_blank(c->text, s->value_end,
                                        s->end - (c->text[s->end - 1] == '\n' ? 1 : 0) -
                                            (s->end >= 2 && c->text[s->end - 2] == '\r' ? 1 : 0));
                if (alone) {
                        from = ls;
                        to = s->end;
                } else {
                        from = e[0].start;
                        to = e[0].end;
                }
        } else if (i > 0) {
                from = e[i - 1].end;
                to = e[i].end;
        } else {
                from = e[0].start;
                to = e[1].start;
        }
        elems_free(e, n);
        *ret = splice(c, from, to, "");
        return 1;
}

static size_t section_end(const struct skiff_ctrdconf *c, size_t i)
{
        for (size_t j = i + 1; j < c->n_stmts; j++)
                if (c->stmts[j].kind != SKIFF_CTRDCONF_KEYVAL)
                        return line_start(c, c->stmts[j].start);
        return c->len;
}

int skiff_ctrdconf_extract(const struct skiff_ctrdconf *c, const char *const *prefix,
                           const char *const *exclude, char **ret, skiff_err_t *err)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        char *const *table = NULL;
        bool copying = false, in_excluded = false;
        for (size_t i = 0; i < c->n_stmts; i++) {
                const struct skiff_ctrdconf_stmt *s = &c->stmts[i];
                if (s->kind != SKIFF_CTRDCONF_KEYVAL) {
                        table = s->path;
                        in_excluded = exclude && path_has_prefix(s->path, exclude);
                        copying = path_has_prefix(s->path, prefix) && !in_excluded;
                        if (copying) {
                                size_t from = line_start(c, s->start), to = section_end(c, i);
                                skiff_strbuf_append(&sb, c->text + from, to - from);
                                if (sb.len && sb.buf[sb.len - 1] != '\n')
                                        skiff_strbuf_putc(&sb, '\n');
                        }
                        continue;
                }
                bool in_prefix_table = table && path_has_prefix(table, prefix);
                if (path_has_prefix(s->path, prefix) && !in_prefix_table)
                        return skiff_error_set(err, ENOTSUP,
                                               "line %u: a dotted key defines part of the plugin "
                                               "section from outside its tables; write it as a "
                                               "[table] instead",
                                               s->line);
                if (exclude && path_has_prefix(s->path, exclude) && !in_excluded)
                        return skiff_error_set(err, ENOTSUP,
                                               "line %u: a dotted key defines the runtime from "
                                               "outside its own table",
                                               s->line);
        }
        *ret = skiff_strbuf_take(&sb);
        return 0;
}

int skiff_ctrdconf_runtime_table(int version, const char *handler, const char *shim_path,
                                 char **ret, skiff_err_t *err)
{
        if (!*handler)
                return skiff_error_set(err, EINVAL, "runtime handler name is empty");
        for (const char *p = handler; *p; p++)
                if (!is_bare((unsigned char)*p))
                        return skiff_error_set(
                            err, EINVAL, "runtime handler `%s` is not a bare TOML key", handler);
        if (shim_path[0] != '/' || !safe_string(shim_path))
                return skiff_error_set(err, EINVAL,
                                       "shim path `%s` is not absolute or contains quotes, "
                                       "backslashes or control characters",
                                       shim_path);
        if (version == 2) {
                *ret = xasprintf("[plugins.\"" SKIFF_CTRDCONF_CRI_V2 "\".containerd.runtimes.%s]\n"
                                 "  runtime_type = \"%s\"\n"
                                 "  pod_annotations = [\"skiff.dev/*\"]\n"
                                 "  container_annotations = [\"skiff.dev/*\"]\n",
                                 handler, shim_path);
                return 0;
        }
        if (version == 3) {
                *ret = xasprintf("[plugins.'" SKIFF_CTRDCONF_CRI_V3 "'.containerd.runtimes.%s]\n"
                                 "  runtime_type = 'io.containerd.skiff.v2'\n"
                                 "  runtime_path = '%s'\n"
                                 "  pod_annotations = ['skiff.dev/*']\n"
                                 "  container_annotations = ['skiff.dev/*']\n",
                                 handler, shim_path);
                return 0;
        }
        return skiff_error_set(err, ENOTSUP, "containerd config version %d is not supported",
                               version);
}
