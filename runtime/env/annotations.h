/* The `skiff.dev/` annotation namespace (design §3) → a typed struct. This is the only module
 * that compares annotation keys. Keys (each may carry a `.<container-name>` suffix, which
 * overrides the pod-level value for that container only):
 *
 *   skiff.dev/environment      comma-separated references (ref.h), the layers; later layers
 *                              win. Whitespace around items is ignored; empty items, more than
 *                              SKIFF_ANNOTATIONS_LAYERS_MAX layers and the same environment twice
 *                              are errors.
 *   skiff.dev/skip-containers  comma-separated container names (RFC 1123 labels) that run as
 *                              plain image containers. An empty value means none.
 *   skiff.dev/skip-exec        comma-separated container names whose exec processes run
 *                              outside the environment. An empty value means none.
 *   skiff.dev/store-view       `closure` (default) or `store`.
 *   skiff.dev/realize-timeout  seconds, a decimal integer 1..SKIFF_ANNOTATIONS_TIMEOUT_MAX without
 *                              sign, unit or leading zeros. Default: the node config.
 *
 * Every `skiff.dev/` key and value is checked, including overrides for other containers, so a
 * pod is either valid for all its containers or for none. Any other key under `skiff.dev/` is an
 * error naming it (a typo such as `skiff.dev/enviroment` must not silently run without the
 * environment). Keys outside `skiff.dev/` are ignored. Errors are -EINVAL ("annotation
 * `skiff.dev/store-view`: unknown value `foo` (expected closure or store)") or -EPERM for an
 * unpinned reference that the node does not allow. Pure functions. */
#ifndef SKIFF_ENV_ANNOTATIONS_H
#define SKIFF_ENV_ANNOTATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "env/ref.h"

#define SKIFF_ANNOTATIONS_PREFIX      "skiff.dev/"
#define SKIFF_ANNOTATIONS_LAYERS_MAX  16
#define SKIFF_ANNOTATIONS_TIMEOUT_MAX 3600
#define SKIFF_ANNOTATIONS_CRI_NAME    "io.kubernetes.cri.container-name"
#define SKIFF_ANNOTATIONS_CRI_TYPE    "io.kubernetes.cri.container-type"
#define SKIFF_ANNOTATIONS_CRI_SANDBOX "sandbox"

enum skiff_annotations_view {
        SKIFF_ANNOTATIONS_VIEW_CLOSURE, /* only the environment's closure under /nix/store */
        SKIFF_ANNOTATIONS_VIEW_STORE,   /* the whole node store, read-only */
        _SKIFF_ANNOTATIONS_VIEW_MAX,
};

struct skiff_annotations {
        /* The effective settings for the container the struct was parsed for. */
        bool opted_in;            /* an environment annotation applies */
        struct skiff_ref *layers; /* owned; n_layers entries, in annotation order */
        size_t n_layers;
        enum skiff_annotations_view view;
        uint32_t realize_timeout; /* seconds; 0: the node config's default */
        bool skipped;             /* the container is in skip-containers (runs its image) */
        bool skip_exec;           /* the container is in skip-exec */
        /* Every distinct reference named by any environment key, pod-level or per container
         * (owned; for the sandbox, which realizes for all containers). */
        struct skiff_ref *all_refs;
        size_t n_all_refs;
};

/* Parses kv (alternating key, value, NULL-terminated, as struct skiff_spec.annotations; may be
 * NULL) for the container named container (NULL for the pod sandbox, which only sees pod-level
 * values and is never skipped). allow_unpinned comes from the node config. On success *ret
 * (caller-allocated) owns its arrays; release with skiff_annotations_done(). */
int skiff_annotations_parse(char *const *kv, const char *container, bool allow_unpinned,
                            struct skiff_annotations *ret, skiff_err_t *err);
void skiff_annotations_done(struct skiff_annotations *a); /* NULL-safe; zeroes *a */

/* The CRI container name in kv, or NULL for a sandbox (container-type `sandbox`) or when kv has
 * no CRI name. Borrowed from kv. */
const char *skiff_annotations_container_name(char *const *kv);

/* Lower-case name of a view ("closure", "store"). */
const char *skiff_annotations_view_name(enum skiff_annotations_view v);

/* True when name is a valid Kubernetes container name (RFC 1123 label, at most 63 chars). */
bool skiff_annotations_valid_container_name(const char *name);

#endif
