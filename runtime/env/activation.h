/* What the workload sees of its environment (design §6): the process environment and the argv
 * that runs the environment's hooks before the workload. Pure computation over a built profile
 * (only stat/readlink on the profile tree and the store).
 *
 * Environment, later steps overriding earlier ones:
 *   1. SKIFF_ENV=/run/skiff/env, SKIFF_ENV_REF=<the layer references, comma-separated>;
 *      SSL_CERT_FILE and NIX_SSL_CERT_FILE when the profile has etc/ssl/certs/ca-bundle.crt (or
 *      etc/ssl/certs/ca-certificates.crt); LOCALE_ARCHIVE when it has
 *      lib/locale/locale-archive; XDG_DATA_DIRS=/run/skiff/env/share when it has share/;
 *   2. each layer's document vars, in layer order;
 *   3. the OCI spec's process.env (pod-spec variables, and the image's when there is one).
 * PATH is always "/run/skiff/env/bin:" followed by the PATH of step 3, else of step 2, else the
 * conventional default; it is not prepended twice (exec processes inherit the container's). */
#ifndef SKIFF_ENV_ACTIVATION_H
#define SKIFF_ENV_ACTIVATION_H

#include <stddef.h>

#include "base/error.h"

#define SKIFF_ACTIVATION_MOUNT        "/run/skiff/env"
#define SKIFF_ACTIVATION_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct skiff_generation;

struct skiff_activation_input {
        const char *profile_dir; /* host path of the built profile (profile.h) */
        const char *store_dir;   /* "/nix/store" */
        const char *real_store;  /* host directory holding the store paths; NULL: store_dir */
        char *const *refs;       /* layer references as strings, in order (NULL-terminated) */
        const struct skiff_generation *const *layers; /* borrowed documents, in layer order */
        size_t n_layers;
};

/* Computes the environment from spec_env ("K=V" strv, may be NULL) into *ret (a new strv:
 * generated and document variables first, then the spec's in its order, each name once).
 * -EINVAL naming an entry of spec_env without '='. */
int skiff_activation_env(const struct skiff_activation_input *in, char *const *spec_env,
                         char ***ret, skiff_err_t *err);

/* The argv to exec for workload args (non-empty). Without hooks, a copy of args. With hooks:
 *   [/run/skiff/env/bin/sh, "-c", "{\n<hook 1>\n} || exit $?\n...exec \"$@\"\n", "--", args...]
 * so the shell runs the hooks (layer order) and is then replaced by the workload, which keeps
 * the PID. A failing hook (non-zero status of its last command) ends the start with that status.
 * -ENOENT when there are hooks but the profile has no bin/sh; -EINVAL for empty args. */
int skiff_activation_argv(const struct skiff_activation_input *in, char *const *args, char ***ret,
                          skiff_err_t *err);

#endif
