{{/* Shared names, labels and pod parts of every hatang manifest. */}}

{{- define "hatang.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hatang.fullname" -}}
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

{{- define "hatang.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades (never add the version here). */}}
{{- define "hatang.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hatang.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hatang.labels" -}}
helm.sh/chart: {{ include "hatang.chart" . }}
{{ include "hatang.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hatang
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component: (dict "ctx" $ "component" "api"). */}}
{{- define "hatang.componentLabels" -}}
{{ include "hatang.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hatang.componentSelectorLabels" -}}
{{ include "hatang.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hatang.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hatang.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hatang.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Secret every secret setting is read from: an existing one, or the chart's own (dev). */}}
{{- define "hatang.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.create }}
{{- printf "%s-secrets" (include "hatang.fullname" .) }}
{{- else }}
{{- fail "hatang needs its secret settings (database and MQTT URLs): set secrets.existingSecret to a Secret holding the keys of secrets.keys, or secrets.create with secrets.values for development. The chart ships no default password." }}
{{- end }}
{{- end }}

{{/* Flatten the `settings` map into HATANG_* = value pairs: nested maps join with "__". */}}
{{- define "hatang.flattenSettings" -}}
{{- $prefix := .prefix }}
{{- range $key, $value := .settings }}
{{- $name := printf "%s%s" $prefix ($key | upper) }}
{{- if kindIs "map" $value }}
{{- include "hatang.flattenSettings" (dict "prefix" (printf "%s__" $name) "settings" $value) }}
{{- else if kindIs "slice" $value }}
{{ $name }}: {{ toJson $value | quote }}
{{- else if kindIs "invalid" $value }}
{{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{- /* Values arrive as JSON numbers: print whole numbers as integers, never as 2.68e+08. */}}
{{ $name }}: {{ int64 $value | toString | quote }}
{{- else }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- /* EMQX denies a device's subscriptions itself and has no mount point: devices' topics reach
ingest unprefixed, so HATANG_DEVICE_MOUNT is "" there unless set (docs/security.md). */}}
{{- define "hatang.settingsData" -}}
{{- $settings := .Values.settings }}
{{- if and (eq .Values.mqtt.kind "emqx") (not (hasKey $settings "device_mount")) }}
{{- $settings = merge (dict "device_mount" "") $settings }}
{{- end }}
{{- include "hatang.flattenSettings" (dict "prefix" "HATANG_" "settings" $settings) }}
{{- end }}

{{/* Environment of every hatang container: secret settings from the Secret. */}}
{{- define "hatang.secretEnv" -}}
{{- $secret := include "hatang.secretName" . }}
{{- range $var, $key := .Values.secrets.keys }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end }}

{{/* Settings as inline env (hook Jobs run before the release's ConfigMap exists). */}}
{{- define "hatang.inlineSettingsEnv" -}}
{{- range $name, $value := (include "hatang.settingsData" . | fromYaml) }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{- define "hatang.mqttCaEnv" -}}
{{- if .Values.mqtt.tls.caSecret }}
- name: SSL_CERT_FILE
  value: /etc/hatang/mqtt-ca/ca.crt
{{- end }}
{{- end }}

{{- define "hatang.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.mqtt.tls.caSecret }}
- name: mqtt-ca
  mountPath: /etc/hatang/mqtt-ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "hatang.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.mqtt.tls.caSecret }}
- name: mqtt-ca
  secret:
    secretName: {{ .Values.mqtt.tls.caSecret }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}

{{/* Pod-level fields shared by every workload. */}}
{{- define "hatang.podCommon" -}}
serviceAccountName: {{ include "hatang.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
