/**
 * kwok Stage documents: how simulated nodes and pods behave on the local control plane.
 *
 * kwok plays the kubelet. The standalone binary has no default stages, so the harness writes these:
 *
 * - node-initialize: a Node becomes Ready with large allocatable (kwok's upstream stage).
 * - pod-ready: a scheduled pod becomes Running and Ready after a delay: the harness-wide
 *   `readyDelayMs` (+ up to `readyJitterMs`, at random), or exactly the duration in the pod annotation
 *   `sim.modelendpoint.io/ready-delay` (a Go duration such as "1500ms" or "3s").
 * - pod-unready: a scheduled pod whose image (any container) contains `unready`, or that carries the
 *   label `sim.modelendpoint.io/unready: "true"`, becomes Running but never Ready, its Ready
 *   condition saying why the way a kubelet would after failed readiness probes.
 * - pod-flip-unready / pod-flip-ready: a Running pod is made not Ready when a test sets that label
 *   to "true", and Ready again when the label is removed or set to anything else (unless its image
 *   is an `unready` one). So a test can flip readiness at a moment it chooses.
 * - pod-delete: a pod being deleted goes away at once (there is no container to stop).
 *
 * With `processImages` (the process kubelet is on), a pod whose first image is a model server
 * (`isModelServerImage`) is left out of every stage above except one, pod-process-start: it becomes
 * Running with a pod IP, its container waiting and not Ready. The process kubelet
 * (process-kubelet.ts) runs it, writes its readiness and deletes it.
 *
 * Each stage's selector excludes the state it writes, so no stage loops.
 */

/** Label a test sets to "true" to make a running pod not Ready (and removes to make it Ready). */
export const SIM_UNREADY_LABEL = "sim.modelendpoint.io/unready";
/** Annotation with a Go duration ("3s") overriding how long the pod takes to become Ready. */
export const SIM_READY_DELAY_ANNOTATION = "sim.modelendpoint.io/ready-delay";
/** An image whose reference contains this word runs but never becomes Ready. */
export const UNREADY_IMAGE_MARKER = "unready";

import { MODEL_SERVER_IMAGE_JQ } from "./process-kubelet.ts";

export interface StageOptions {
  /** How long a scheduled pod takes to become Ready. */
  readonly readyDelayMs: number;
  /** Up to this much more, at random, per pod. */
  readonly readyJitterMs: number;
  /** Leave model-server pods to the process kubelet (default false: every pod is simulated). */
  readonly processImages?: boolean;
}

const IMAGE_IS_UNREADY = `.spec.containers.[] | select(.image | contains("${UNREADY_IMAGE_MARKER}")) | .name`;
const LABEL_UNREADY = `.metadata.labels["${SIM_UNREADY_LABEL}"]`;
const READY_STATUS = `.status.conditions.[] | select( .type == "Ready" ) | .status`;

/**
 * Ready and ContainersReady with the same status. A pod leaving Pending also gets its IPs and
 * phase Running; a flip of a running pod writes only readiness (allocating IPs again would add a
 * second IP of the same family, which the API server refuses).
 */
function podStatusTemplate(ready: boolean, start: boolean, waiting = false): string {
  const status = ready ? "True" : "False";
  const notReadyFields = ready
    ? ""
    : `
        reason: ContainersNotReady
        message: {{ printf "containers with unready status: [%s]" (index .spec.containers 0).name | Quote }}`;
  return `
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
      - lastTransitionTime: {{ $now | Quote }}
        status: "${status}"
        type: Ready${notReadyFields}
      - lastTransitionTime: {{ $now | Quote }}
        status: "${status}"
        type: ContainersReady${notReadyFields}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: ${ready ? "true" : "false"}
        started: ${waiting ? "false" : "true"}
        restartCount: 0
        state:${waiting ? containerCreating : running}
      {{ end }}${start ? startFields : ""}`;
}

const running = `
          running:
            startedAt: {{ $now | Quote }}`;
const containerCreating = `
          waiting:
            reason: ContainerCreating`;

const startFields = `
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}`;

function podStage(name: string, matchExpressions: string, next: string, delay = ""): string {
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:${matchExpressions}${delay}
  next:${next}
`;
}

const NOT_DELETING = `
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'`;
const SCHEDULED = `
    - key: '.spec.nodeName'
      operator: 'Exists'`;
const phaseIs = (phase: string): string => `
    - key: '.status.phase'
      operator: 'In'
      values: ['${phase}']`;
const READY_NOT_TRUE = `
    - key: '${READY_STATUS}'
      operator: 'NotIn'
      values: ['True']`;
const READY_TRUE = `
    - key: '${READY_STATUS}'
      operator: 'In'
      values: ['True']`;
const IMAGE_OK = `
    - key: '${IMAGE_IS_UNREADY}'
      operator: 'DoesNotExist'`;
const LABEL_NOT_UNREADY = `
    - key: '${LABEL_UNREADY}'
      operator: 'NotIn'
      values: ['true']`;
const LABEL_UNREADY_TRUE = `
    - key: '${LABEL_UNREADY}'
      operator: 'In'
      values: ['true']`;

const MODEL_SERVER = (operator: "In" | "NotIn"): string => `
    - key: '${MODEL_SERVER_IMAGE_JQ}'
      operator: '${operator}'
      values: ['true']`;

/** The whole multi-document kwok configuration: node and pod stages. */
export function kwokStages(options: StageOptions): string {
  const template = (ready: boolean, start = true): string => `
    statusTemplate: |${podStatusTemplate(ready, start)}`;
  // Every simulated stage leaves model-server pods alone when the process kubelet runs them.
  const simulated = options.processImages === true ? MODEL_SERVER("NotIn") : "";
  const readyDelay = `
  delay:
    durationMilliseconds: ${Math.max(0, Math.round(options.readyDelayMs))}
    durationFrom:
      jq:
        expression: '.metadata.annotations["${SIM_READY_DELAY_ANNOTATION}"]'
    jitterDurationMilliseconds: ${Math.max(0, Math.round(options.readyDelayMs + options.readyJitterMs))}
    jitterDurationFrom:
      jq:
        expression: '.metadata.annotations["${SIM_READY_DELAY_ANNOTATION}"]'`;
  const stages = [
    NODE_INITIALIZE,
    podStage(
      "pod-ready",
      NOT_DELETING + SCHEDULED + phaseIs("Pending") + IMAGE_OK + LABEL_NOT_UNREADY + simulated,
      template(true),
      readyDelay,
    ),
    // An unready image, or the label: Running, never Ready. Two stages because selectors AND.
    podStage(
      "pod-unready-image",
      NOT_DELETING +
        SCHEDULED +
        phaseIs("Pending") +
        simulated +
        `
    - key: '${IMAGE_IS_UNREADY}'
      operator: 'Exists'`,
      template(false),
    ),
    podStage(
      "pod-unready-label",
      NOT_DELETING + SCHEDULED + phaseIs("Pending") + LABEL_UNREADY_TRUE + simulated,
      template(false),
    ),
    podStage(
      "pod-flip-unready",
      NOT_DELETING + phaseIs("Running") + READY_TRUE + LABEL_UNREADY_TRUE + simulated,
      template(false, false),
    ),
    podStage(
      "pod-flip-ready",
      NOT_DELETING + phaseIs("Running") + READY_NOT_TRUE + IMAGE_OK + LABEL_NOT_UNREADY + simulated,
      template(true, false),
    ),
    podStage(
      "pod-delete",
      `
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'` + simulated,
      `
    delete: true`,
    ),
  ];
  if (options.processImages === true)
    stages.push(
      podStage(
        "pod-process-start",
        NOT_DELETING + SCHEDULED + phaseIs("Pending") + MODEL_SERVER("In"),
        `
    statusTemplate: |${podStatusTemplate(false, true, true)}`,
      ),
    );
  return stages.join("---\n");
}

const NODE_INITIALIZE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      addresses:
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      allocatable:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      capacity:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      nodeInfo:
        architecture: amd64
        containerRuntimeVersion: kwok
        kernelVersion: kwok
        kubeletVersion: kwok
        kubeProxyVersion: kwok
        operatingSystem: linux
      phase: Running
`;
