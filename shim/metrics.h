/* cgroup statistics (struct skiff_cgroup_stats from runtime/oci) -> containerd's cgroups Metrics
 * message in a google.protobuf.Any: "io.containerd.cgroups.v1.Metrics" on v1/hybrid hosts,
 * "io.containerd.cgroups.v2.Metrics" on unified hosts (shim-protocol.md §6, pitfall 26). */
#ifndef SKIFF_SHIM_METRICS_H
#define SKIFF_SHIM_METRICS_H

#include "google/protobuf/any.pb-c.h"

struct skiff_cgroup_stats;

#define SKIFF_METRICS_V1_TYPE "io.containerd.cgroups.v1.Metrics"
#define SKIFF_METRICS_V2_TYPE "io.containerd.cgroups.v2.Metrics"

/* Fills any (type_url points at a static string; value.data is heap, free with
 * skiff_metrics_any_clear). Never fails except on allocation (abort). */
void skiff_metrics_pack(const struct skiff_cgroup_stats *st, Google__Protobuf__Any *any);
void skiff_metrics_any_clear(Google__Protobuf__Any *any);

#endif
