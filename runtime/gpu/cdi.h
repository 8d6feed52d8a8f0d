/* Container Device Interface (CDI) consumer: spec files, fully-qualified device names, and the
 * merge of the requested devices' containerEdits into one plain-data edit set (gpu.md §6).
 *
 * Format: JSON only. YAML spec files are not supported: skiff's only structured-text parser is
 * yajl behind base/json.h, and adding a YAML library to the static shim for a format that the
 * NVIDIA device plugin does not use (it writes `.json`) is not worth its attack surface. A file
 * named `.yaml`/`.yml` whose content is JSON (JSON is YAML) is read; any other YAML file is
 * recorded as an error in the registry and its devices are unresolvable (generate JSON with
 * `nvidia-ctk cdi generate --format=json`).
 *
 * Strictness follows the reference implementation: unknown keys make a file invalid, a file
 * needs >= 1 device, device names are unique within a file, `cdiVersion` must be a known
 * version. The same device in two files: the higher-priority directory wins, equal priority
 * makes it unresolvable ("conflicting"). Invalid files do not stop other files from loading;
 * their errors (naming the file and the JSON path) are reported when a device cannot be
 * resolved. `intelRdt` and `netDevices` are parsed but refused when a requested device uses
 * them. Hooks are recorded, never run here. */
#ifndef SKIFF_GPU_CDI_H
#define SKIFF_GPU_CDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_CDI_MAX_FILE  (4u << 20) /* larger spec files are refused */
#define SKIFF_CDI_MAX_FILES 1024       /* per directory */

struct skiff_cdi_node {
        char *path;      /* container path, required */
        char *host_path; /* NULL = path */
        char type;       /* 0 (unset), 'b', 'c', 'u', 'p' */
        bool has_major, has_minor, has_file_mode, has_uid, has_gid;
        int64_t major, minor;
        uint32_t file_mode;
        char *permissions; /* cgroup access: NULL = "rwm"; "" for "none" */
        uint32_t uid, gid;
};

struct skiff_cdi_mount {
        char *host_path, *container_path; /* required */
        char *type;                       /* NULL = bind */
        char **options;                   /* strv or NULL */
};

struct skiff_cdi_hook {
        char *hook_name; /* prestart, createRuntime, createContainer, startContainer, poststart,
                            poststop */
        char *path;
        char **args, **env;
        bool has_timeout;
        int64_t timeout;
};

struct skiff_cdi_edits {
        char **env; /* "K=V" strv */
        struct skiff_cdi_node *nodes;
        size_t n_nodes;
        struct skiff_cdi_mount *mounts;
        size_t n_mounts;
        struct skiff_cdi_hook *hooks;
        size_t n_hooks;
        uint32_t *gids; /* additionalGids, 0 dropped */
        size_t n_gids;
        const char *unsupported; /* "intelRdt" / "netDevices" when present; static */
};

struct skiff_cdi_device {
        char *name;
        struct skiff_cdi_edits edits;
};

struct skiff_cdi_spec {
        char *path; /* the file it came from ("<memory>" when parsed from a buffer) */
        int priority;
        char *version;
        char *vendor, *class_;
        struct skiff_cdi_device *devices;
        size_t n_devices;
        struct skiff_cdi_edits edits; /* spec-level edits, applied once per container */
};

struct skiff_cdi_registry {
        struct skiff_cdi_spec **specs;
        size_t n_specs;
        char **errors; /* one message per invalid file, strv */
};

/* True when name is a valid vendor/class=name; else -EINVAL with a message naming the part. */
int skiff_cdi_validate_name(const char *qualified, skiff_err_t *err);
/* Splits a valid qualified name; *vendor, *class_, *name are heap strings. */
int skiff_cdi_parse_name(const char *qualified, char **vendor, char **class_, char **name,
                         skiff_err_t *err);

/* Parses one spec document. path is used in messages and stored. Errors: -EBADMSG (syntax),
 * -EINVAL (schema), "CDI spec `<path>`: devices[1].containerEdits.deviceNodes[0].path: ...". */
int skiff_cdi_spec_parse(const char *buf, size_t len, const char *path, int priority,
                         struct skiff_cdi_spec **ret, skiff_err_t *err);
struct skiff_cdi_spec *skiff_cdi_spec_free(struct skiff_cdi_spec *s); /* NULL-safe */

/* Loads every `.json` file (and `.yaml`/`.yml` files whose content is JSON) of dirs
 * (NULL-terminated, increasing priority; NULL = {"/etc/cdi", "/var/run/cdi"}). Missing directories
 * are skipped; other directory errors fail. Blocks on file I/O only. */
int skiff_cdi_registry_load(const char *const *dirs, struct skiff_cdi_registry **ret,
                            skiff_err_t *err);
/* Adds a parsed spec (takes ownership). */
void skiff_cdi_registry_add(struct skiff_cdi_registry *reg, struct skiff_cdi_spec *spec);
struct skiff_cdi_registry *skiff_cdi_registry_new(void);
struct skiff_cdi_registry *skiff_cdi_registry_free(struct skiff_cdi_registry *r); /* NULL-safe */

/* Merges the edits of the named devices (strv of qualified names): for each distinct spec, its
 * spec-level edits once (on first use), then each device's edits, in request order. Fails with
 * -ENOENT "unresolvable CDI devices a, b" (plus the registry's file errors) when any name is
 * unknown or conflicting, and with -ENOTSUP for intelRdt/netDevices. *ret is caller-allocated;
 * release with skiff_cdi_edits_done(). */
int skiff_cdi_resolve(const struct skiff_cdi_registry *reg, char *const *names,
                      struct skiff_cdi_edits *ret, skiff_err_t *err);
void skiff_cdi_edits_done(struct skiff_cdi_edits *e); /* NULL-safe; zeroes *e */

#endif
