/* Version constraints of a generation document's `requires` (design §4, e.g. {"cuda": ">=12.4"}):
 *   constraint := clause ("," clause)*          every clause must hold (AND)
 *   clause     := op version                    blanks allowed around each token
 *   op         := ">=" | ">" | "<=" | "<" | "=="
 *   version    := number ("." number)*          1..SKIFF_CONSTRAINT_PARTS numbers, each at most
 *                                               9 digits
 * Versions compare numerically part by part; missing parts count as 0 (12.4 == 12.4.0).
 * Pure functions. */
#ifndef SKIFF_ENV_CONSTRAINT_H
#define SKIFF_ENV_CONSTRAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_CONSTRAINT_PARTS   4
#define SKIFF_CONSTRAINT_CLAUSES 8

enum skiff_constraint_op {
        SKIFF_CONSTRAINT_GE,
        SKIFF_CONSTRAINT_GT,
        SKIFF_CONSTRAINT_LE,
        SKIFF_CONSTRAINT_LT,
        SKIFF_CONSTRAINT_EQ,
        _SKIFF_CONSTRAINT_OP_MAX,
};

struct skiff_constraint_version {
        uint32_t part[SKIFF_CONSTRAINT_PARTS];
        size_t n; /* parts written */
};

struct skiff_constraint {
        struct {
                enum skiff_constraint_op op;
                struct skiff_constraint_version v;
        } clause[SKIFF_CONSTRAINT_CLAUSES];
        size_t n;
};

/* Parses a version ("12.4", "535.104.05"); -EINVAL quoting s. */
int skiff_constraint_parse_version(const char *s, struct skiff_constraint_version *ret,
                                   skiff_err_t *err);
/* Parses a constraint; -EINVAL quoting s and naming the bad clause. */
int skiff_constraint_parse(const char *s, struct skiff_constraint *ret, skiff_err_t *err);
/* <0, 0, >0 like strcmp. */
int skiff_constraint_version_cmp(const struct skiff_constraint_version *a,
                                 const struct skiff_constraint_version *b);
/* True when v satisfies every clause of c. */
bool skiff_constraint_match(const struct skiff_constraint *c,
                            const struct skiff_constraint_version *v);
/* Canonical text (">=12.4,<13"); heap. */
char *skiff_constraint_format(const struct skiff_constraint *c);
char *skiff_constraint_version_format(const struct skiff_constraint_version *v);

#endif
