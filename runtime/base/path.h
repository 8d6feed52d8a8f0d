/* Pure path string helpers (no syscalls). */
#ifndef SKIFF_BASE_PATH_H
#define SKIFF_BASE_PATH_H

#include <stdbool.h>

/* Joins a and b with exactly one '/' between them; returns a heap string. */
char *skiff_path_join(const char *a, const char *b);
/* Lexically cleans a path like Go's filepath.Clean ("a//b/../c/" -> "a/c", "" -> "."). */
char *skiff_path_clean(const char *p);
/* True when p is relative, non-empty and has no ".." component after cleaning. */
bool skiff_path_is_safe_relative(const char *p);
/* True when name is a valid single path component: non-empty, no '/', not "." or "..". */
bool skiff_path_is_component(const char *name);
/* Heap copy of p without its trailing '/' characters ("a//" -> "a", "/" -> ""); for cache and
 * hub base URLs as well as paths. */
char *skiff_path_strip_trailing_slashes(const char *p);
/* Returns a pointer to the last component of p (within p). */
const char *skiff_path_basename(const char *p);
/* Heap copy of the directory part of p ("." when none). */
char *skiff_path_dirname(const char *p);

#endif
