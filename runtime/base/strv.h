/* NULL-terminated vectors of heap strings (argv, env). */
#ifndef SKIFF_BASE_STRV_H
#define SKIFF_BASE_STRV_H

#include <stdbool.h>
#include <stddef.h>

void skiff_strv_free(char **v);        /* NULL-safe */
size_t skiff_strv_len(char *const *v); /* NULL counts as 0 */
/* Appends a copy of s; *v may be NULL. */
void skiff_strv_push(char ***v, const char *s);
/* Appends s, taking ownership. */
void skiff_strv_push_take(char ***v, char *s);
char **skiff_strv_copy(char *const *v); /* NULL in, NULL out */
bool skiff_strv_contains(char *const *v, const char *s);
/* Splits s on any byte of seps; empty fields are dropped when skip_empty. Never NULL. */
char **skiff_strv_split(const char *s, const char *seps, bool skip_empty);
/* Looks up "KEY=value" in an environment vector; returns the value or NULL. */
const char *skiff_strv_env_get(char *const *env, const char *key);
/* Sets KEY=value, replacing an existing KEY. */
void skiff_strv_env_set(char ***env, const char *key, const char *value);

#endif
