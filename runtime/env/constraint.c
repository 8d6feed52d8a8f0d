#include "env/constraint.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

static const char *const op_names[_SKIFF_CONSTRAINT_OP_MAX] = {
    [SKIFF_CONSTRAINT_GE] = ">=", [SKIFF_CONSTRAINT_GT] = ">",  [SKIFF_CONSTRAINT_LE] = "<=",
    [SKIFF_CONSTRAINT_LT] = "<",  [SKIFF_CONSTRAINT_EQ] = "==",
};

static int parse_version_n(const char *s, size_t len, struct skiff_constraint_version *ret,
                           const char *whole, skiff_err_t *err)
{
        struct skiff_constraint_version v = {0};
        size_t i = 0;
        for (;;) {
                if (v.n == SKIFF_CONSTRAINT_PARTS)
                        return skiff_error_set(err, EINVAL,
                                               "version in `%s` has more than %d parts", whole,
                                               SKIFF_CONSTRAINT_PARTS);
                size_t digits = 0;
                uint32_t x = 0;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                        if (++digits > 9)
                                return skiff_error_set(err, EINVAL,
                                                       "version in `%s`: a part has more than 9 "
                                                       "digits",
                                                       whole);
                        x = x * 10 + (uint32_t)(s[i] - '0');
                        i++;
                }
                if (digits == 0)
                        return skiff_error_set(err, EINVAL,
                                               "`%s`: expected a version like 12.4 (numbers "
                                               "separated by dots)",
                                               whole);
                v.part[v.n++] = x;
                if (i == len)
                        break;
                if (s[i] != '.')
                        return skiff_error_set(err, EINVAL, "`%s`: unexpected `%c` in version",
                                               whole, s[i]);
                i++;
        }
        *ret = v;
        return 0;
}

int skiff_constraint_parse_version(const char *s, struct skiff_constraint_version *ret,
                                   skiff_err_t *err)
{
        return parse_version_n(s, strlen(s), ret, s, err);
}

static bool blank(char c)
{
        return c == ' ' || c == '\t';
}

int skiff_constraint_parse(const char *s, struct skiff_constraint *ret, skiff_err_t *err)
{
        struct skiff_constraint c = {0};
        const char *p = s;
        for (;;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                while (len > 0 && blank(*p)) {
                        p++;
                        len--;
                }
                while (len > 0 && blank(p[len - 1]))
                        len--;
                if (len == 0)
                        return skiff_error_set(err, EINVAL,
                                               "constraint `%s`: empty clause (expected e.g. "
                                               "`>=12.4` or `>=12.4,<13`)",
                                               s);
                if (c.n == SKIFF_CONSTRAINT_CLAUSES)
                        return skiff_error_set(err, EINVAL, "constraint `%s`: more than %d clauses",
                                               s, SKIFF_CONSTRAINT_CLAUSES);
                enum skiff_constraint_op op = _SKIFF_CONSTRAINT_OP_MAX;
                size_t oplen = 0;
                /* Two-character operators first so ">=" is not read as ">". */
                for (int o = 0; o < _SKIFF_CONSTRAINT_OP_MAX; o++) {
                        size_t ol = strlen(op_names[o]);
                        if (ol <= len && strncmp(p, op_names[o], ol) == 0 && ol > oplen) {
                                op = (enum skiff_constraint_op)o;
                                oplen = ol;
                        }
                }
                if (op == _SKIFF_CONSTRAINT_OP_MAX)
                        return skiff_error_set(err, EINVAL,
                                               "constraint `%s`: clause `%.*s` does not start "
                                               "with >=, >, <=, < or ==",
                                               s, (int)len, p);
                const char *vs = p + oplen;
                size_t vl = len - oplen;
                while (vl > 0 && blank(*vs)) {
                        vs++;
                        vl--;
                }
                int r = parse_version_n(vs, vl, &c.clause[c.n].v, s, err);
                if (r < 0)
                        return skiff_error_wrap(err, "constraint `%s`", s);
                c.clause[c.n++].op = op;
                if (!end)
                        break;
                p = end + 1;
        }
        *ret = c;
        return 0;
}

int skiff_constraint_version_cmp(const struct skiff_constraint_version *a,
                                 const struct skiff_constraint_version *b)
{
        for (size_t i = 0; i < SKIFF_CONSTRAINT_PARTS; i++) {
                uint32_t x = i < a->n ? a->part[i] : 0, y = i < b->n ? b->part[i] : 0;
                if (x != y)
                        return x < y ? -1 : 1;
        }
        return 0;
}

bool skiff_constraint_match(const struct skiff_constraint *c,
                            const struct skiff_constraint_version *v)
{
        for (size_t i = 0; i < c->n; i++) {
                int d = skiff_constraint_version_cmp(v, &c->clause[i].v);
                bool ok = false;
                switch (c->clause[i].op) {
                case SKIFF_CONSTRAINT_GE:
                        ok = d >= 0;
                        break;
                case SKIFF_CONSTRAINT_GT:
                        ok = d > 0;
                        break;
                case SKIFF_CONSTRAINT_LE:
                        ok = d <= 0;
                        break;
                case SKIFF_CONSTRAINT_LT:
                        ok = d < 0;
                        break;
                case SKIFF_CONSTRAINT_EQ:
                        ok = d == 0;
                        break;
                default:
                        ok = false;
                }
                if (!ok)
                        return false;
        }
        return true;
}

static void put_version(struct skiff_strbuf *sb, const struct skiff_constraint_version *v)
{
        for (size_t i = 0; i < v->n; i++)
                skiff_strbuf_printf(sb, "%s%u", i ? "." : "", v->part[i]);
}

char *skiff_constraint_version_format(const struct skiff_constraint_version *v)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        put_version(&sb, v);
        return skiff_strbuf_take(&sb);
}

char *skiff_constraint_format(const struct skiff_constraint *c)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < c->n; i++) {
                if (i)
                        skiff_strbuf_putc(&sb, ',');
                skiff_strbuf_puts(&sb, op_names[c->clause[i].op]);
                put_version(&sb, &c->clause[i].v);
        }
        return skiff_strbuf_take(&sb);
}
