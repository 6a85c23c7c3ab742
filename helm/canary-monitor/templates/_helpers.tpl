{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "canary-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, plus the chart name unless it already contains it.
*/}}
{{- define "canary-monitor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "canary-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "canary-monitor.labels" -}}
helm.sh/chart: {{ include "canary-monitor.chart" . }}
{{ include "canary-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: canary-monitor
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "canary-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canary-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "canary-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "canary-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret that holds the credential files: an existing one, or the chart's own.
*/}}
{{- define "canary-monitor.secretName" -}}
{{- default (include "canary-monitor.fullname" .) .Values.credentials.existingSecret }}
{{- end }}

{{- define "canary-monitor.hasSecret" -}}
{{- if or .Values.credentials.existingSecret .Values.credentials.secrets }}true{{ end }}
{{- end }}

{{/*
The web config (docs/security.md): on with `web.config` or `web.existingSecret`. The chart's
own file is `web.config`, with cert_file/key_file pointed at `web.tlsSecret` when it is set.
*/}}
{{- define "canary-monitor.webEnabled" -}}
{{- if or .Values.web.config .Values.web.existingSecret .Values.web.tlsSecret }}true{{ end }}
{{- end }}

{{- define "canary-monitor.webSecretName" -}}
{{- .Values.web.existingSecret | default (printf "%s-web" (include "canary-monitor.fullname" .)) }}
{{- end }}

{{- define "canary-monitor.webConfig" -}}
{{- $config := deepCopy (.Values.web.config | default dict) }}
{{- if .Values.web.tlsSecret }}
{{- $tls := merge (deepCopy ($config.tls_server_config | default dict)) (dict "cert_file" "/etc/canary-tls/tls.crt" "key_file" "/etc/canary-tls/tls.key") }}
{{- $_ := set $config "tls_server_config" $tls }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
"true" when the endpoints speak TLS / require a client certificate (as far as the chart knows:
an existingSecret's contents are not visible to it, set the probes' scheme yourself then).
*/}}
{{- define "canary-monitor.tls" -}}
{{- if or .Values.web.tlsSecret (.Values.web.config | default dict).tls_server_config }}true{{ end }}
{{- end }}

{{- define "canary-monitor.mtls" -}}
{{- $tls := (.Values.web.config | default dict).tls_server_config | default dict }}
{{- if eq ($tls.client_auth_type | default "") "RequireAndVerifyClientCert" }}true{{ end }}
{{- end }}

{{/*
Whether /api/v1/results (stored transcripts) is served: `web.apiResults` when set, otherwise
only when the chart's web config asks for basic or bearer auth.
*/}}
{{- define "canary-monitor.apiResults" -}}
{{- if kindIs "bool" .Values.web.apiResults }}
{{- .Values.web.apiResults }}
{{- else }}
{{- $web := .Values.web.config | default dict }}
{{- if or $web.basic_auth_users $web.bearer_auth }}true{{ else }}false{{ end }}
{{- end }}
{{- end }}

{{/*
A kubelet probe: HTTPS when the endpoints speak TLS. The kubelet has no client certificate, so
an httpGet probe cannot pass RequireAndVerifyClientCert: use tcpSocket probes then.
*/}}
{{- define "canary-monitor.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if $probe.httpGet }}
{{- if include "canary-monitor.mtls" .root }}
{{- fail (printf "%s: an httpGet probe cannot present a client certificate (web.config.tls_server_config.client_auth_type is RequireAndVerifyClientCert); use a tcpSocket probe" .name) }}
{{- end }}
{{- if include "canary-monitor.tls" .root }}
{{- $_ := set $probe "httpGet" (merge (deepCopy $probe.httpGet) (dict "scheme" "HTTPS")) }}
{{- end }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{- define "canary-monitor.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The daemon config as rendered into the ConfigMap: the values' `config`, with the listen
address and port the Service and probes rely on.
*/}}
{{- define "canary-monitor.config" -}}
{{- $server := merge (dict "listen_address" "0.0.0.0" "port" (int .Values.containerPort)) (deepCopy (.Values.config.server | default dict)) }}
{{- if not (hasKey $server "api_results") }}
{{- $_ := set $server "api_results" (eq (include "canary-monitor.apiResults" .) "true") }}
{{- end }}
{{- $config := merge (dict "server" $server) (deepCopy .Values.config) }}
{{- if .Values.postgresql.enabled }}
{{- $pg := .Values.postgresql }}
{{- $store := omit (deepCopy ($config.store | default dict)) "url" "url_file" }}
{{- $_ := set $store "url" "${CANARY_STORE_URL}" }}
{{- $_ := set $store "pool_size" (int $pg.poolSize) }}
{{- $_ := set $config "store" $store }}
{{- $cluster := dict "enabled" true "lease_ttl_s" $pg.leaseTtlSeconds "heartbeat_s" $pg.heartbeatSeconds }}
{{- $_ := set $config "cluster" (merge (deepCopy ($config.cluster | default dict)) $cluster) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
PostgreSQL mode: spread the replicas over `postgresql.topologyKey` (soft or hard).
*/}}
{{- define "canary-monitor.podAntiAffinity" -}}
{{- $term := dict "topologyKey" .Values.postgresql.topologyKey "labelSelector" (dict "matchLabels" (include "canary-monitor.selectorLabels" . | fromYaml)) }}
podAntiAffinity:
{{- if eq .Values.postgresql.podAntiAffinity "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}

{{/*
The shipped rule file without its header comment, the runbook, Grafana and job placeholders
filled in.
*/}}
{{- define "canary-monitor.rules" -}}
{{- $rules := regexReplaceAll "^(#[^\n]*\n)+" (.Files.Get "files/prometheus_alerts.yaml") "" }}
{{- $rules = $rules | replace "https://github.com/canary-monitor/canary-monitor/blob/main/docs/runbook.md" .Values.prometheusRule.runbookBaseUrl }}
{{- $rules = $rules | replace "https://grafana.example.com" (trimSuffix "/" .Values.prometheusRule.grafanaUrl) }}
{{- $rules = $rules | replace "job=\"canary-monitor\"" (printf "job=%q" (include "canary-monitor.name" .)) }}
{{- $rules }}
{{- end }}
