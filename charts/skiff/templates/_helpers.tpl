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
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* true when the k3s/RKE2 flavour is selected. */}}
{{- define "skiff.isK3s" -}}
{{- if or (eq .Values.containerd.flavor "k3s") (eq .Values.containerd.flavor "rke2") }}true{{ end -}}
{{- end -}}

{{/* containerd's config file and its directory on the host. */}}
{{- define "skiff.containerdConfig" -}}
{{- if .Values.containerd.configPath }}{{ .Values.containerd.configPath }}
{{- else if include "skiff.isK3s" . }}/var/lib/rancher/k3s/agent/etc/containerd/config.toml
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
