{{/* The chart's name, or nameOverride. */}}
{{- define "meo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else <release>-<chart> unless the release already contains it. */}}
{{- define "meo.fullname" -}}
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

{{- define "meo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels every object of the release carries, beside its selector labels and component. */}}
{{- define "meo.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: model-endpoint-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "meo.labels" -}}
{{ include "meo.commonLabels" . }}
{{ include "meo.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
The Vertex AI API server's objects: named <full name>-vertex-api. Its selector labels differ from
the operator's in app.kubernetes.io/name, since the operator's Deployment, metrics Service and
ServiceMonitor select by name and instance only and must never match these pods.
*/}}
{{- define "meo.vertexApi.fullname" -}}
{{- printf "%s-vertex-api" (include "meo.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{- define "meo.vertexApi.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-vertex-api" (include "meo.name" . | trunc 52 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "meo.vertexApi.labels" -}}
{{ include "meo.commonLabels" . }}
{{ include "meo.vertexApi.selectorLabels" . }}
app.kubernetes.io/component: vertex-api
{{- end }}

{{- define "meo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Pod settings both Deployments share: pull secrets, priority class, the pod security context. */}}
{{- define "meo.podSecurity" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Node placement both Deployments share (affinity and spread constraints name pods, so they are the operator's only). */}}
{{- define "meo.nodePlacement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "meo.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's permissions, exactly docs/operator.md "Permissions": one rule per resource, each
verb used by the code (src/controller/writer.ts, operator.ts). Shared by the ClusterRole and by
each watched namespace's Role. Leases are in lease-role.yaml (release namespace only).
*/}}
{{- define "meo.rules" -}}
# Read through watch caches (list, watch); get by name.
- apiGroups: [serving.modelendpoint.io]
  resources: [modelendpoints]
  verbs: [get, list, watch]
# The status is written once per reconcile, replaced with a resourceVersion precondition. The
# operator never writes spec.
- apiGroups: [serving.modelendpoint.io]
  resources: [modelendpoints/status]
  verbs: [update]
{{- if .Values.rbac.ownerReferencesPermissionEnforcement }}
# Owned objects carry blockOwnerDeletion: clusters with the OwnerReferencesPermissionEnforcement
# admission plugin (e.g. OpenShift) check this permission on the owner.
- apiGroups: [serving.modelendpoint.io]
  resources: [modelendpoints/finalizers]
  verbs: [update]
{{- end }}
# One ReplicaSet per deployed model: created, scaled (a JSON patch that tests the replica count), deleted
# (uid precondition); get when a create finds the name taken.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list, watch, create, patch, delete]
# Pods are watched for readiness and patched with the serving label the endpoint Service selects.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, patch]
# The endpoint Service and one Service per deployed model.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, delete]
# One PodDisruptionBudget per rollout chain, so node drains respect the chain's budget: created
# (get when the name is taken), updated by server-side apply (patch), deleted with the chain.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
# The HTTPRoute that serves the endpoint's predictions through a Gateway (only used where the
# cluster serves Gateway API; granting it elsewhere is harmless).
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, list, watch, create, patch, delete]
# With Gateway API: a model gets weight in the route once its Service has a ready endpoint.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
# events.k8s.io/v1 Events on the ModelEndpoint; a repeated event is patched into a series.
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# Autoscaling: the model pods' CPU (metrics-server) and, when configured, accelerator duty cycle
# (a custom metrics adapter), listed every sync period while some endpoint is autoscaled.
- apiGroups: [metrics.k8s.io]
  resources: [pods]
  verbs: [list]
{{- if .Values.autoscaling.acceleratorDutyCycleMetric }}
- apiGroups: [custom.metrics.k8s.io]
  resources: ["pods/{{ .Values.autoscaling.acceleratorDutyCycleMetric }}"]
  verbs: [get, list]
{{- end }}
{{- end }}
