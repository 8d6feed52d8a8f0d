{{/* Common labels. */}}
{{- define "skiff.labels" -}}
app.kubernetes.io/name: skiff
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of a component: include "skiff.selector" (list . "node"). */}}
{{- define "skiff.selector" -}}
app.kubernetes.io/name: skiff
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The node image reference. */}}
{{- define "skiff.image" -}}
{{ required "image.repository is required (the node image built by manifests/image/build.sh)" .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* true when the k3s/RKE2 flavour is selected. */}}
{{- define "skiff.isK3s" -}}
{{- if or (eq .Values.containerd.flavor "k3s") (eq .Values.containerd.flavor "rke2") }}true{{ end -}}
{{- end -}}

{{/* containerd's config file and its directory on the host. */}}
{{- define "skiff.containerdConfig" -}}
{{- if .Values.containerd.configPath }}{{ .Values.containerd.configPath }}
{{- else if eq .Values.containerd.flavor "rke2" }}/var/lib/rancher/rke2/agent/etc/containerd/config.toml
{{- else if eq .Values.containerd.flavor "k3s" }}/var/lib/rancher/k3s/agent/etc/containerd/config.toml
{{- else }}/etc/containerd/config.toml{{ end -}}
{{- end -}}
{{- define "skiff.containerdConfigDir" -}}
{{ dir (include "skiff.containerdConfig" .) }}
{{- end -}}

{{/* containerd's CRI socket and its directory on the host. */}}
{{- define "skiff.socket" -}}
{{- if .Values.containerd.socket }}{{ .Values.containerd.socket }}
{{- else if include "skiff.isK3s" . }}/run/k3s/containerd/containerd.sock
{{- else }}/run/containerd/containerd.sock{{ end -}}
{{- end -}}

{{/* The private lib dir next to the install dir: <installDir>/../lib/skiff. */}}
{{- define "skiff.libDir" -}}
{{ dir .Values.installDir }}/lib/skiff
{{- end -}}

{{/* The node config as JSON (runtime/store/config.h). */}}
{{- define "skiff.nodeConfig" -}}
{{- $c := dict "store_root" .Values.node.storeRoot "substituters" .Values.node.substituters "trusted_public_keys" .Values.node.trustedPublicKeys "require_signatures" .Values.node.requireSignatures "keep_generations" .Values.node.keepGenerations "realize_timeout" .Values.node.realizeTimeout "allow_unpinned" .Values.node.allowUnpinned "parallelism" .Values.node.parallelism -}}
{{- if .Values.node.hubURL }}{{ $_ := set $c "hub" .Values.node.hubURL }}{{ end -}}
{{- if .Values.storeSizeBudget }}{{ $_ := set $c "gc_max_size" .Values.storeSizeBudget }}{{ end -}}
{{- if .Values.credentials.hosts }}{{ $_ := set $c "credentials" .Values.credentials.hosts }}{{ end -}}
{{- $g := dict -}}
{{- if .Values.gpu.driverRoot }}{{ $_ := set $g "driver_root" .Values.gpu.driverRoot }}{{ end -}}
{{- if .Values.gpu.acceptEnvUnprivileged }}{{ $_ := set $g "accept_env_unprivileged" true }}{{ end -}}
{{- if .Values.gpu.cdiDirs }}{{ $_ := set $g "cdi_dirs" .Values.gpu.cdiDirs }}{{ end -}}
{{- if .Values.gpu.probeCuda }}{{ $_ := set $g "probe_cuda" true }}{{ end -}}
{{- if $g }}{{ $_ := set $c "gpu" $g }}{{ end -}}
{{- toPrettyJson (mergeOverwrite $c .Values.node.extraConfig) }}
{{- end -}}

{{/* The `config` volume: config.json from the ConfigMap or a Secret, plus prefetch.txt. */}}
{{- define "skiff.configVolume" -}}
- name: config
  projected:
    sources:
      {{- if .Values.credentials.existingSecret }}
      - secret:
          name: {{ .Values.credentials.existingSecret }}
          items: [{key: config.json, path: config.json}]
      {{- else if .Values.credentials.hosts }}
      - secret:
          name: skiff-node-config
          items: [{key: config.json, path: config.json}]
      {{- else }}
      - configMap:
          name: skiff-node
          items: [{key: config.json, path: config.json}]
      {{- end }}
      - configMap:
          name: skiff-node
          items: [{key: prefetch.txt, path: prefetch.txt}]
{{- end -}}

{{/* Host mounts shared by the install and uninstall containers. */}}
{{- define "skiff.hostMounts" -}}
- name: containerd-config
  mountPath: /host{{ include "skiff.containerdConfigDir" . }}
- name: bin
  mountPath: /host{{ .Values.installDir }}
- name: lib
  mountPath: /host{{ include "skiff.libDir" . }}
{{- end -}}
{{- define "skiff.hostVolumes" -}}
- name: containerd-config
  hostPath: {path: {{ include "skiff.containerdConfigDir" . }}, type: DirectoryOrCreate}
- name: bin
  hostPath: {path: {{ .Values.installDir }}, type: DirectoryOrCreate}
- name: lib
  hostPath: {path: {{ include "skiff.libDir" . }}, type: DirectoryOrCreate}
{{- end -}}

{{/* Installer flags shared by install and uninstall. */}}
{{- define "skiff.installerArgs" -}}
- --host-root=/host
- --bin-dir={{ .Values.installDir }}
- --flavor={{ .Values.containerd.flavor }}
- --restart={{ .Values.containerd.restart }}
- --containerd-config={{ include "skiff.containerdConfig" . }}
- --wait-socket={{ include "skiff.socket" . }}
- --handler={{ .Values.runtimeClass.handler }}
{{- if .Values.containerd.systemdUnit }}
- --systemd-unit={{ .Values.containerd.systemdUnit }}
{{- end }}
{{- if eq .Values.containerd.flavor "rke2" }}
- --ctr=/var/lib/rancher/rke2/bin/ctr
{{- end }}
{{- end -}}

{{/* Scheduling shared by both DaemonSets. */}}
{{- define "skiff.scheduling" -}}
nodeSelector:
  kubernetes.io/os: linux
  {{- with .Values.nodeSelector }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
tolerations:
  {{- with .Values.tolerations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- if .Values.gpu.tolerateGpuTaint }}
  - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
  {{- end }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Fails the render, naming the value, when a value has the wrong type or an unknown choice
(configmap.yaml includes it: every release renders it). */}}
{{- define "skiff.validate" -}}
{{- $v := .Values -}}
{{- if not (has $v.containerd.flavor (list "containerd" "k3s" "rke2")) }}
{{- fail (printf "containerd.flavor must be containerd, k3s or rke2, not %q" (toString $v.containerd.flavor)) }}
{{- end }}
{{- if not (has $v.containerd.restart (list "systemd" "signal" "none")) }}
{{- fail (printf "containerd.restart must be systemd, signal or none, not %q" (toString $v.containerd.restart)) }}
{{- end }}
{{- range $c := list (list "node.keepGenerations" $v.node.keepGenerations 0) (list "node.realizeTimeout" $v.node.realizeTimeout 1) (list "node.parallelism" $v.node.parallelism 1) (list "agent.metricsPort" $v.agent.metricsPort 1) }}
{{- $x := index $c 1 }}
{{- if not (or (kindIs "float64" $x) (kindIs "int64" $x) (kindIs "int" $x)) }}
{{- fail (printf "%s must be a whole number, not %s %q" (index $c 0) (kindOf $x) (toString $x)) }}
{{- end }}
{{- if or (ne (float64 $x) (floor $x)) (lt (float64 $x) (float64 (index $c 2))) }}
{{- fail (printf "%s must be a whole number >= %d, not %v" (index $c 0) (index $c 2) $x) }}
{{- end }}
{{- end }}
{{- range $c := list (list "node.substituters" $v.node.substituters) (list "node.trustedPublicKeys" $v.node.trustedPublicKeys) (list "prefetch" $v.prefetch) (list "tolerations" $v.tolerations) (list "image.pullSecrets" $v.image.pullSecrets) (list "gpu.cdiDirs" $v.gpu.cdiDirs) }}
{{- if not (or (kindIs "slice" (index $c 1)) (kindIs "invalid" (index $c 1))) }}
{{- fail (printf "%s must be a list, not %s %q" (index $c 0) (kindOf (index $c 1)) (toString (index $c 1))) }}
{{- end }}
{{- end }}
{{- range $c := list (list "nodeSelector" $v.nodeSelector) (list "credentials.hosts" $v.credentials.hosts) (list "node.extraConfig" $v.node.extraConfig) (list "agent.resources" $v.agent.resources) }}
{{- if not (or (kindIs "map" (index $c 1)) (kindIs "invalid" (index $c 1))) }}
{{- fail (printf "%s must be a map, not %s %q" (index $c 0) (kindOf (index $c 1)) (toString (index $c 1))) }}
{{- end }}
{{- end }}
{{- range $c := list (list "installDir" $v.installDir) (list "node.storeRoot" $v.node.storeRoot) (list "containerd.configPath" $v.containerd.configPath) (list "containerd.socket" $v.containerd.socket) (list "gpu.driverRoot" $v.gpu.driverRoot) }}
{{- if and (index $c 1) (not (hasPrefix "/" (toString (index $c 1)))) }}
{{- fail (printf "%s must be an absolute path, not %q" (index $c 0) (toString (index $c 1))) }}
{{- end }}
{{- end }}
{{- if not (regexMatch "^([0-9]+(\\.[0-9]+)?([KMGT](i?B)?)?)?$" (toString $v.storeSizeBudget)) }}
{{- fail (printf "storeSizeBudget must be a size such as 50G or 1.5T (or empty), not %q" (toString $v.storeSizeBudget)) }}
{{- end }}
{{- end -}}
