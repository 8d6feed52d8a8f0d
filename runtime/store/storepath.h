/* Nix store path names: "<store_dir>/<hash>-<name>" with a 32-character nixbase32 hash part and
 * a name of 1..211 characters from [A-Za-z0-9+-._?=], neither `.` nor `..` nor starting with
 * `.-` or `..-` (Nix's rule since 2.20). Also computes store paths the way Nix's makeStorePath
 * does. Pure functions. */
#ifndef SKIFF_STORE_STOREPATH_H
#define SKIFF_STORE_STOREPATH_H

#include "base/error.h"

struct skiff_nixhash;

#define SKIFF_STOREPATH_HASH_LEN 32
#define SKIFF_STOREPATH_NAME_MAX 211
#define SKIFF_STORE_DIR_DEFAULT  "/nix/store"

/* Checks a name (the part after "<hash>-"). -EINVAL naming the name and the rule broken. */
int skiff_storepath_check_name(const char *name, skiff_err_t *err);
/* Checks a base name "<hash>-<name>". */
int skiff_storepath_check_basename(const char *base, skiff_err_t *err);
/* Checks that path is "<store_dir>/<valid basename>" and returns a pointer to the basename
 * inside path. */
int skiff_storepath_parse(const char *path, const char *store_dir, const char **ret_base,
                          skiff_err_t *err);
/* Nix's makeStorePath: "<store_dir>/" + nixbase32(xor-fold-20(sha256(
 * "<type>:sha256:<hex hash>:<store_dir>:<name>"))) + "-" + name. Returns a heap string; name
 * must already be valid. */
char *skiff_storepath_make(const char *type, const struct skiff_nixhash *hash, const char *name,
                           const char *store_dir);
/* The path `nix-store --add` gives a directory whose NAR has hash nar_hash: a recursive sha256
 * fixed-output path of type "source" without references. Heap string. */
char *skiff_storepath_make_source(const struct skiff_nixhash *nar_hash, const char *name,
                                  const char *store_dir);

#endif
