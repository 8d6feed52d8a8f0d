#include "gpu/require.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "base/xalloc.h"

#define MAX_EXPR 4096

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

/* Longest operators first so that "<=" is not read as "<". */
static const struct {
        const char *s;
        enum op op;
} op_table[] = {
    {">=", OP_GE}, {"<=", OP_LE}, {"!=", OP_NE}, {"==", OP_EQ},
    {">", OP_GT},  {"<", OP_LT},  {"=", OP_EQ},
};

/* Parses an operator at s; returns its length or 0. */
static size_t parse_op(const char *s, enum op *ret)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(op_table); i++) {
                size_t n = strlen(op_table[i].s);
                if (strncmp(s, op_table[i].s, n) == 0) {
                        *ret = op_table[i].op;
                        return n;
                }
        }
        return 0;
}

static bool is_version(const char *s)
{
        if (!s || !isdigit((unsigned char)s[0]))
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (!isdigit((unsigned char)p[1]))
                                return false;
                } else if (!isdigit((unsigned char)*p)) {
                        return false;
                }
        }
        return strlen(s) <= 64;
}

/* Next numeric component of a version at *p (advancing past a dot); missing = 0. */
static uint64_t next_component(const char **p)
{
        uint64_t v = 0;
        while (**p >= '0' && **p <= '9') {
                if (v < UINT64_MAX / 10)
                        v = v * 10 + (uint64_t)(**p - '0');
                (*p)++;
        }
        if (**p == '.')
                (*p)++;
        return v;
}

int skiff_require_version_cmp(const char *a, const char *b, int *ret)
{
        if (!is_version(a) || !is_version(b))
                return -EINVAL;
        while (*a || *b) {
                uint64_t x = next_component(&a), y = next_component(&b);
                if (x != y) {
                        *ret = x < y ? -1 : 1;
                        return 0;
                }
        }
        *ret = 0;
        return 0;
}

static bool apply(enum op op, int cmp)
{
        switch (op) {
        case OP_EQ:
                return cmp == 0;
        case OP_NE:
                return cmp != 0;
        case OP_LT:
                return cmp < 0;
        case OP_LE:
                return cmp <= 0;
        case OP_GT:
                return cmp > 0;
        case OP_GE:
                return cmp >= 0;
        }
        return false;
}

enum prop { P_CUDA, P_DRIVER, P_ARCH, P_BRAND };

/* Evaluates one condition. Returns 1 true, 0 false, -EINVAL malformed, -ENODATA when it is a
 * cuda condition and the CUDA version is unknown. */
static int eval_condition(const char *c, const struct skiff_require_facts *f)
{
        static const char *props[] = {"cuda", "driver", "arch", "brand"};
        size_t i = 0, pl = 0;
        for (; i < SKIFF_ARRAY_SIZE(props); i++) {
                pl = strlen(props[i]);
                if (strncasecmp(c, props[i], pl) == 0 && strchr("=!<>", c[pl]))
                        break;
        }
        if (i == SKIFF_ARRAY_SIZE(props))
                return -EINVAL;
        enum op op;
        size_t ol = parse_op(c + pl, &op);
        const char *value = c + pl + ol;
        if (ol == 0 || !value[0])
                return -EINVAL;
        if (i == P_BRAND) {
                if (op != OP_EQ && op != OP_NE)
                        return -EINVAL;
                for (const char *p = value; *p; p++)
                        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                                return -EINVAL;
                if (!f->brand)
                        return 1;
                return (strcasecmp(f->brand, value) == 0) == (op == OP_EQ);
        }
        if (!is_version(value))
                return -EINVAL;
        const char *fact = i == P_CUDA ? f->cuda : i == P_DRIVER ? f->driver : f->arch;
        if (!fact)
                return i == P_CUDA ? -ENODATA : 1;
        int cmp = 0;
        if (skiff_require_version_cmp(fact, value, &cmp) < 0)
                return -EINVAL;
        return apply(op, cmp);
}

static const char *na(const char *s)
{
        return s ? s : "unknown";
}

int skiff_require_check(const char *name, const char *expr, const struct skiff_require_facts *f,
                        skiff_err_t *err)
{
        if (strlen(expr) > MAX_EXPR)
                return skiff_error_set(err, EINVAL, "requirement `%s`: longer than %d bytes", name,
                                       MAX_EXPR);
        _cleanup_strv_ char **terms = skiff_strv_split(expr, " \t", true);
        if (!terms[0])
                return 0; /* an empty requirement constrains nothing */
        bool any = false, cuda_unknown = false;
        for (char **t = terms; *t && !any; t++) {
                _cleanup_strv_ char **conds = skiff_strv_split(*t, ",", false);
                bool all = true;
                for (char **c = conds; *c; c++) {
                        int r = eval_condition(*c, f);
                        if (r == -EINVAL || !(*c)[0])
                                return skiff_error_set(err, EINVAL,
                                                       "requirement `%s`: invalid expression `%s`",
                                                       name, *c);
                        if (r == -ENODATA) {
                                cuda_unknown = true;
                                r = 0;
                        }
                        if (r == 0)
                                all = false; /* keep validating the remaining conditions */
                }
                any = all;
        }
        if (any)
                return 0;
        const char *first = terms[0];
        if (cuda_unknown)
                return skiff_error_set(err, ERANGE,
                                       "requirement `%s`: unsatisfied condition: %s (the driver "
                                       "%s does not tell its CUDA version)",
                                       name, first, na(f->driver));
        bool cuda_min = strncasecmp(first, "cuda>=", 6) == 0;
        return skiff_error_set(err, ERANGE,
                               "requirement `%s`: unsatisfied condition: %s%s (driver %s, CUDA %s)",
                               name, first,
                               cuda_min ? ", please update your driver to a newer version, or "
                                          "use an earlier cuda container"
                                        : "",
                               na(f->driver), na(f->cuda));
}

/* Trims blanks at both ends, in place. */
static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* One clause of requires.cuda: an optional operator (default >=) and a version. -EINVAL naming
 * spec (the whole value) when malformed; -ERANGE without a message when unsatisfied or when the
 * driver's CUDA version is unknown. */
static int check_cuda_clause(const char *spec, char *clause, const struct skiff_require_facts *f,
                             skiff_err_t *err)
{
        const char *s = trim(clause);
        enum op op = OP_GE;
        size_t ol = parse_op(s, &op);
        const char *v = s + ol;
        while (isspace((unsigned char)*v))
                v++;
        if (!is_version(v))
                return skiff_error_set(err, EINVAL,
                                       "`requires.cuda`: invalid value `%s` (expected e.g. "
                                       "\">=12.4\" or \"12\")",
                                       spec);
        if (!f->cuda)
                return -ERANGE;
        int cmp = 0;
        if (skiff_require_version_cmp(f->cuda, v, &cmp) < 0)
                return skiff_error_set(err, EINVAL, "driver CUDA version `%s` is not a version",
                                       f->cuda);
        return apply(op, cmp) ? 0 : -ERANGE;
}

int skiff_require_check_cuda(const char *spec, const struct skiff_require_facts *f,
                             skiff_err_t *err)
{
        if (strlen(spec) > MAX_EXPR)
                return skiff_error_set(err, EINVAL, "`requires.cuda`: longer than %d bytes",
                                       MAX_EXPR);
        /* Clauses joined with ',' (the generation document's grammar, or several layers' values
         * joined by the realizer) must all hold. */
        _cleanup_free_ char *copy = xstrdup(spec);
        bool unsatisfied = false;
        size_t n = 0;
        char *save = NULL;
        for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save), n++) {
                int r = check_cuda_clause(spec, c, f, err);
                if (r == -ERANGE)
                        unsatisfied = true;
                else if (r < 0)
                        return r;
        }
        if (n == 0)
                return skiff_error_set(err, EINVAL,
                                       "`requires.cuda`: invalid value `%s` (expected "
                                       "e.g. \">=12.4\" or \"12\")",
                                       spec);
        if (!unsatisfied)
                return 0;
        /* Shown as written, with the implied ">=" of a bare version made explicit. */
        _cleanup_free_ char *shown_buf = xstrdup(spec);
        const char *shown = trim(shown_buf);
        enum op op;
        const char *implied = n == 1 && !parse_op(shown, &op) ? ">=" : "";
        if (!f->cuda)
                return skiff_error_set(err, ERANGE,
                                       "environment requires CUDA %s%s, but the CUDA version of "
                                       "driver %s is unknown",
                                       implied, shown, na(f->driver));
        return skiff_error_set(err, ERANGE,
                               "environment requires CUDA %s%s, but the driver %s supports CUDA %s",
                               implied, shown, na(f->driver), f->cuda);
}
