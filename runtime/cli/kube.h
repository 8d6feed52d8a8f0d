/* The one Kubernetes API call the node installer makes: set or remove a label on a node with a
 * strategic-merge PATCH, authenticated with the pod's service account. In a pod this reads the
 * documented in-cluster sources: $KUBERNETES_SERVICE_HOST, $KUBERNETES_SERVICE_PORT (443), the
 * token and CA under /var/run/secrets/kubernetes.io/serviceaccount. Blocking (libcurl). */
#ifndef SKIFF_CLI_KUBE_H
#define SKIFF_CLI_KUBE_H

#include <stdbool.h>

#include "base/error.h"

#define SKIFF_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* True when the in-cluster environment variables and the token file are present. */
bool skiff_kube_in_cluster(void);

/* Sets node's label key to value, or removes it when value is NULL. -ENOENT when not in a
 * cluster; -EACCES for 401/403 (RBAC: the service account needs get+patch on nodes); -EIO for
 * other HTTP failures, naming the status and the start of the reply. */
int skiff_kube_label_node(const char *node, const char *key, const char *value, skiff_err_t *err);

#endif
