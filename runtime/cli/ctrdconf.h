/* A containerd config.toml as a list of statements: just enough TOML (1.0) to find the top-level
 * `version` and `imports`, every table header and every key's full dotted path, and to edit the
 * document by splicing text, so that everything the user wrote (comments, order, quoting,
 * indentation) stays byte-for-byte as it was. Values other than integers and string arrays are
 * skipped, not decoded. Pure functions; no I/O.
 *
 * Why whole sections are copied (skiff_ctrdconf_extract): containerd before 2.0 merges an
 * imported file per plugin, so a drop-in that names `plugins."io.containerd.grpc.v1.cri"` replaces
 * the main file's entire CRI section (containerd issue #5837; deep merge arrived in 2.0, PR #9982).
 * A version-2 drop-in must therefore carry the CRI section it supersedes. */
#ifndef SKIFF_CLI_CTRDCONF_H
#define SKIFF_CLI_CTRDCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_CTRDCONF_MAX (4 * 1024 * 1024) /* bigger config files are refused */

/* The CRI plugin names: config version 2 (containerd 1.6/1.7) and version 3 (2.x). */
#define SKIFF_CTRDCONF_CRI_V2 "io.containerd.grpc.v1.cri"
#define SKIFF_CTRDCONF_CRI_V3 "io.containerd.cri.v1.runtime"

enum skiff_ctrdconf_kind {
        SKIFF_CTRDCONF_TABLE,       /* [a.b] */
        SKIFF_CTRDCONF_ARRAY_TABLE, /* [[a.b]] */
        SKIFF_CTRDCONF_KEYVAL,      /* k = v (inside the table before it) */
        _SKIFF_CTRDCONF_KIND_MAX,
};

struct skiff_ctrdconf_stmt {
        enum skiff_ctrdconf_kind kind;
        char **path;        /* full key path, decoded; for a key/value: table path + key parts */
        size_t start;       /* offset of the first byte of the header or key */
        size_t end;         /* offset just past the statement's line (after its '\n', if any) */
        size_t value_start; /* key/value only: the value's bytes */
        size_t value_end;
        unsigned line; /* 1-based line of start */
};

struct skiff_ctrdconf {
        char *text; /* owned copy of the document, NUL-terminated */
        size_t len;
        struct skiff_ctrdconf_stmt *stmts;
        size_t n_stmts;
};

/* Parses buf[0..len). Syntax errors are -EINVAL naming the line ("line 7: unterminated
 * string"); more than SKIFF_CTRDCONF_MAX bytes is -EFBIG. Duplicate keys are not diagnosed
 * (containerd will). *ret is new and owned by the caller. */
int skiff_ctrdconf_parse(const char *buf, size_t len, struct skiff_ctrdconf **ret,
                         skiff_err_t *err);
struct skiff_ctrdconf *skiff_ctrdconf_free(struct skiff_ctrdconf *c); /* NULL-safe */
static inline void skiff_ctrdconf_freep(struct skiff_ctrdconf **p)
{
        skiff_ctrdconf_free(*p);
}
#define _cleanup_ctrdconf_ __attribute__((cleanup(skiff_ctrdconf_freep)))

/* The top-level `version` (0 when absent). -EINVAL when it is not a plain integer. */
int skiff_ctrdconf_version(const struct skiff_ctrdconf *c, int64_t *ret, skiff_err_t *err);

/* The top-level `imports` as a NULL-terminated heap vector (empty when absent). -EINVAL when it
 * is not an array of strings. */
int skiff_ctrdconf_imports(const struct skiff_ctrdconf *c, char ***ret, skiff_err_t *err);

/* True when some statement's path starts with prefix (NULL-terminated components). */
bool skiff_ctrdconf_has_prefix(const struct skiff_ctrdconf *c, const char *const *prefix);

/* The single-line string value of the key at path (NULL-terminated components) in *ret (heap);
 * 0 when found, -ENOENT when absent, -EINVAL when the value is not a single-line string. */
int skiff_ctrdconf_get_string(const struct skiff_ctrdconf *c, const char *const *path, char **ret,
                              skiff_err_t *err);

/* Returns a new document text (heap, *ret) with entry appended as the last element of the
 * top-level `imports` array, or with a new `imports = ["entry"]` line after `version` (at the
 * top when there is no version). When entry is already listed, *ret is an unchanged copy and
 * the result is 0; otherwise 1. Formatting of the rest of the document is untouched. */
int skiff_ctrdconf_add_import(const struct skiff_ctrdconf *c, const char *entry, char **ret,
                              skiff_err_t *err);
/* The inverse: removes entry from `imports` (the whole `imports` line when entry was its only
 * element and the line holds nothing else). 1 when removed, 0 when it was not listed. */
int skiff_ctrdconf_remove_import(const struct skiff_ctrdconf *c, const char *entry, char **ret,
                                 skiff_err_t *err);

/* Copies, verbatim, every table section (a header and the lines up to the next header) whose
 * path starts with prefix, except those whose path starts with exclude (may be NULL), into *ret
 * (heap; "" when none). Each copied section ends with a newline. A key that reaches into prefix
 * from outside such a table (a dotted key in a parent table, or an array of tables) cannot be
 * copied faithfully and is -ENOTSUP naming its line, as is a key reaching into exclude. */
int skiff_ctrdconf_extract(const struct skiff_ctrdconf *c, const char *const *prefix,
                           const char *const *exclude, char **ret, skiff_err_t *err);

/* The runtime table that registers the skiff shim as CRI handler `handler`:
 *   version 2: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>] with
 *              runtime_type = <shim_path> (containerd 1.6.20 ignores runtime_path);
 *   version 3: [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.<handler>] with
 *              runtime_type 'io.containerd.skiff.v2' and runtime_path = <shim_path>;
 * both with pod_annotations and container_annotations ["skiff.dev/" "*"]. handler must be a bare
 * key and shim_path an absolute path without quotes or control characters (-EINVAL). Heap
 * text ending in a newline. */
int skiff_ctrdconf_runtime_table(int version, const char *handler, const char *shim_path,
                                 char **ret, skiff_err_t *err);

#endif
