/* The node config, /etc/skiff/config.json (the only reader of it). Unknown keys and wrong types
 * are errors naming the JSON path. Every key is optional:
 *
 *   store_root          string   "/var/lib/skiff"   node store root (design §5)
 *   store_dir           string   "/nix/store"       store dir the paths were built for
 *   substituters        [string] ["https://cache.nixos.org"]  binary caches, tried in order (one
 * that fails is skipped) trusted_public_keys [string] [cache.nixos.org-1:...]      Nix-format
 * "name:base64" keys require_signatures  bool     true               refuse narinfo without a
 * trusted signature parallelism         integer  8                  concurrent downloads (1..64)
 *   connect_timeout     integer  10                 seconds to connect
 *   low_speed_timeout   integer  30                 abort a transfer below 1 KiB/s for this long
 *   retries             integer  3                  retries per download (5xx, connection errors)
 *   realize_timeout     integer  90                 seconds a container create waits
 *   keep_generations    integer  3                  generations per environment kept by GC
 *   allow_unpinned      bool     false              allow references without @generation
 *   gc_max_size         string|integer  none        size budget for `skiff gc` ("20G", bytes)
 *   hub                 string   none               base URL of the default environment hub
 *                                                    (http, https or file; design §4)
 *   hubs                object   {}                 hub aliases: {"internal": "https://..."}
 *   credentials         object   {}                 per host: {"bearer_token": "..."} or
 *                                                    {"username": "...", "password": "..."}
 *   gpu                 object   {}                 NVIDIA GPUs (runtime/gpu, gpu.md):
 *     driver_root       string   auto               host directory of the driver's files;
 *                                                    absent: `/run/nvidia/driver`, then
 *                                                    `/usr/local/nvidia` (when they exist),
 *                                                    then `/`: the first where discovery
 *                                                    succeeds
 *     accept_env_unprivileged bool false            honour a pod-set NVIDIA_VISIBLE_DEVICES in
 *                                                    unprivileged containers (needed for the
 *                                                    device plugin's default `envvar` strategy)
 *     cdi_dirs          [string] ["/etc/cdi", "/var/run/cdi"]  CDI spec directories, by priority
 *     probe_cuda        bool     false              when libcuda lacks the CUDA version note,
 *                                                    ask cuDriverGetVersion in a child process
 * Credentials are secrets: nothing here prints them. */
#ifndef SKIFF_STORE_CONFIG_H
#define SKIFF_STORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/sig.h"

#define SKIFF_CONFIG_PATH_DEFAULT "/etc/skiff/config.json"
#define SKIFF_CONFIG_MAX          (1024 * 1024)

struct skiff_config_cred {
        char *host;
        char *bearer_token; /* or NULL */
        char *username;     /* with password, or NULL */
        char *password;
};

struct skiff_config_gpu {
        char *driver_root; /* absolute, or NULL: automatic (see above) */
        bool accept_env_unprivileged;
        char **cdi_dirs; /* absolute paths; NULL-terminated, never NULL */
        bool probe_cuda;
};

struct skiff_config {
        char *store_root;
        char *store_dir;
        char **substituters;           /* NULL-terminated, never NULL */
        char **trusted_public_keys;    /* as written */
        struct skiff_sig_pubkey *keys; /* parsed trusted_public_keys */
        size_t nkeys;
        bool require_signatures;
        uint32_t parallelism;
        uint32_t connect_timeout;
        uint32_t low_speed_timeout;
        uint32_t retries;
        uint32_t realize_timeout;
        uint32_t keep_generations;
        bool allow_unpinned;
        uint64_t gc_max_size; /* 0: none */
        char *hub;            /* default hub base URL, or NULL */
        char **hubs;          /* alternating alias, base URL; NULL-terminated, never NULL */
        struct skiff_config_cred *creds;
        size_t ncreds;
        struct skiff_config_gpu gpu;
};

/* A config with every default. */
struct skiff_config *skiff_config_new_default(void);
/* Parses a document (defaults for absent keys). */
int skiff_config_parse(const char *buf, size_t len, struct skiff_config **ret, skiff_err_t *err);
/* Loads path; when path is NULL, loads SKIFF_CONFIG_PATH_DEFAULT and treats a missing file as
 * all defaults. Errors name the file. */
int skiff_config_load(const char *path, struct skiff_config **ret, skiff_err_t *err);
struct skiff_config *skiff_config_free(struct skiff_config *c); /* NULL-safe */
static inline void skiff_config_freep(struct skiff_config **p)
{
        skiff_config_free(*p);
}
#define _cleanup_config_ __attribute__((cleanup(skiff_config_freep)))

/* Credentials for host (exact, case-insensitive match), or NULL. Borrowed. */
const struct skiff_config_cred *skiff_config_cred_for(const struct skiff_config *c,
                                                      const char *host);

/* Parses "123", "10K", "20M", "1.5G"-style sizes (powers of 1024; K, M, G, T with optional
 * "iB"/"B"). -EINVAL on anything else. */
int skiff_config_parse_size(const char *s, uint64_t *ret);

#endif
