/* Software bills of materials: a CycloneDX 1.5 JSON document describing the closure of one
 * system of a generation document. Layout:
 *
 *   bomFormat "CycloneDX", specVersion "1.5", version 1,
 *   serialNumber  "urn:uuid:<uuid>" derived from the sha256 of the signed N.json bytes, so the
 *                 same generation always yields the same document;
 *   metadata      timestamp = the generation's `created`; tools.components = [skiff];
 *                 component = the environment {type application, bom-ref "owner/name@N",
 *                 name "owner/name", version "N"}; properties skiff:system, skiff:store_dir;
 *   components    one per closure path, sorted by path: {type "library", bom-ref = the store
 *                 path, name and version from the store-path name (skiff_sbom_split_name; no
 *                 version member when there is none), hashes [{alg "SHA-256", content = the
 *                 narHash in hex}], properties nix:store_path, nix:nar_size and skiff:package
 *                 "true" for profile members}; no purl (store paths have no package URL type);
 *   dependencies  the environment depends on its packages; each path on its references (self
 *                 references dropped).
 * Pure functions, no I/O. */
#ifndef SKIFF_ENV_SBOM_H
#define SKIFF_ENV_SBOM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_generation;

/* Splits a store-path name (the part after "<hash>-") the way Nix's DrvName does, restricted to
 * digits: the version starts after the first '-' that is followed by a digit ("hello-2.12.1" ->
 * "hello", "2.12.1"; "glibc-2.37-8-bin" -> "glibc", "2.37-8-bin"); without such a dash the
 * whole name is the name and *ret_version is NULL. Heap strings. */
void skiff_sbom_split_name(const char *name, char **ret_name, char **ret_version);

/* Renders the SBOM of g's entry for system. doc_sha256 is the hex sha256 of the document's
 * bytes (for serialNumber). -ENOENT when g lacks system, -ENODATA when that system has no
 * closure (the caller resolves it first, see skiff_publish_resolve_closure). Heap string with
 * a trailing newline in *ret. */
int skiff_sbom_render(const struct skiff_generation *g, const char *system, const char *doc_sha256,
                      char **ret, size_t *ret_len, skiff_err_t *err);

#endif
