/* The one Kubernetes API call the node installer makes: set or remove a label on a node with a
 * strategic-merge PATCH, authenticated with a service account token over HTTPS. The API server is
 * described by a struct skiff_kube_target; in a pod it comes from the documented in-cluster
 * sources: $KUBERNETES_SERVICE_HOST, $KUBERNETES_SERVICE_PORT (443 when unset or empty), the token
 * and CA under /var/run/secrets/kubernetes.io/serviceaccount. Blocking (libcurl, 30 s timeout).
 * The token is sent only in the Authorization header of that one request (no redirects are
 * followed) and never appears in an error message or a log line. */
#ifndef SKIFF_CLI_KUBE_H
#define SKIFF_CLI_KUBE_H

#include <stdbool.h>

#include "base/error.h"

#define SKIFF_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where the API server is and how to authenticate to it. All strings are borrowed. */
struct skiff_kube_target {
        const char *host;       /* DNS name, IPv4 or bare IPv6 literal ("fd00::1", no brackets) */
        unsigned port;          /* 1-65535; 0 means 443 */
        const char *token_file; /* bearer token; surrounding whitespace is ignored */
        const char *ca_file;    /* PEM bundle: the only CAs trusted for the server certificate */
};

/* True when the in-cluster environment variables and the token file are present. */
bool skiff_kube_in_cluster(void);

/* Fills t from the in-cluster sources; t's strings point into the environment and static
 * storage. Does not read the token. -ENOENT when $KUBERNETES_SERVICE_HOST is unset or empty;
 * -EINVAL when $KUBERNETES_SERVICE_PORT is not a port number. */
int skiff_kube_target_in_cluster(struct skiff_kube_target *t, skiff_err_t *err);

/* Heap URL of node's object on t's server, "https://<host>:<port>/api/v1/nodes/<node>", with an
 * IPv6 host bracketed. -EINVAL (naming the value) when t->host has characters other than letters,
 * digits, '.', '-' and ':', or when node is not a valid Kubernetes node name (an RFC 1123 DNS
 * subdomain: lower-case letters, digits, '-' and '.', alphanumeric at both ends of each label, at
 * most 253 characters). Such names are refused rather than escaped: the API server can hold no
 * node by that name. */
int skiff_kube_node_url(const struct skiff_kube_target *t, const char *node, char **out,
                        skiff_err_t *err);

/* Sets node's label key to value, or removes it when value is NULL (the label's value is JSON null
 * in the patch {"metadata":{"labels":{key:value}}}), on t's server. PATCH
 * /api/v1/nodes/<node> with Content-Type application/strategic-merge-patch+json and
 * Authorization: Bearer <token>; the server certificate must chain to t->ca_file alone (the
 * system CAs are not trusted) and match t->host. Success is HTTP 200. Errors:
 *   -EINVAL  bad host or node name, no CA or token file given (nothing is sent); token file
 *            empty or with characters not allowed in a header;
 *   -errno   the token file cannot be read (the message names the file);
 *   -EACCES  HTTP 401 (token rejected) or 403 (RBAC: the service account needs get and patch on
 *            nodes), the message says which;
 *   -EIO     TLS or transport failure, an unreadable CA file included (curl's reason, naming the
 *            URL), or any other HTTP status, naming the status
 *            and the start of the reply (control characters blanked, the token masked). */
int skiff_kube_label_node_at(const struct skiff_kube_target *t, const char *node, const char *key,
                             const char *value, skiff_err_t *err);

/* skiff_kube_label_node_at() on the in-cluster target: -ENOENT when not in a cluster
 * (skiff_kube_in_cluster() false), else as above. */
int skiff_kube_label_node(const char *node, const char *key, const char *value, skiff_err_t *err);

#endif
