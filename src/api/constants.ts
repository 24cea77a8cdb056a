/**
 * Names and limits of the ModelEndpoint API (`serving.modelendpoint.io/v1alpha1`).
 *
 * The limits exist for two reasons: the objects the operator derives from an endpoint must stay
 * valid Kubernetes names, and every list and string in the CRD must be bounded so that the API
 * server's CEL cost estimator accepts the validation rules.
 */

/** The API group. */
export const GROUP = "serving.modelendpoint.io";
/** The only served and stored version. */
export const VERSION = "v1alpha1";
/** `apiVersion` of every ModelEndpoint object. */
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "ModelEndpoint";
export const LIST_KIND = "ModelEndpointList";
export const PLURAL = "modelendpoints";
export const SINGULAR = "modelendpoint";
export const SHORT_NAMES: readonly string[] = ["mep"];
/** `<plural>.<group>`: the CRD's metadata.name. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Label on every object the operator owns for an endpoint; value: the endpoint's name. */
export const LABEL_ENDPOINT = `${GROUP}/endpoint`;
/** Label on a deployed model's ReplicaSet, pods and Service; value: the deployed model's id. */
export const LABEL_DEPLOYED_MODEL = `${GROUP}/deployed-model`;
/** Label on a deployed model's ReplicaSet and pods; value: its revision number, in decimal. */
export const LABEL_REVISION = `${GROUP}/revision`;

/**
 * Longest endpoint name (metadata.name). The operator creates a Service `<endpoint>` and, per
 * deployed model, a ReplicaSet and a Service `<endpoint>-<id>`; Service names are DNS-1035 labels
 * of at most 63 characters, so 40 + 1 + {@link MAX_DEPLOYED_MODEL_ID_LENGTH} = 63. Pods of the
 * ReplicaSet get `<endpoint>-<id>-<5 random characters>` (69 characters at most, well within the
 * 253 a pod name may have; the API server truncates generated prefixes to 58 characters anyway).
 */
export const MAX_ENDPOINT_NAME_LENGTH = 40;
/** Longest deployed-model id; see {@link MAX_ENDPOINT_NAME_LENGTH}. */
export const MAX_DEPLOYED_MODEL_ID_LENGTH = 22;
/** Most entries in spec.deployedModels (and keys in trafficSplit). */
export const MAX_DEPLOYED_MODELS = 32;
/** Most conditions in status.conditions. */
export const MAX_CONDITIONS = 16;

/** The port the first (serving) container port defaults to, as on Vertex AI. */
export const DEFAULT_CONTAINER_PORT = 8080;
/** rolloutOptions.progressDeadlineSeconds when omitted. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
/** Surge budget when neither maxSurgeReplicas nor maxSurgePercentage is given. */
export const DEFAULT_MAX_SURGE_PERCENTAGE = 25;
/** Unavailability budget when neither maxUnavailableReplicas nor maxUnavailablePercentage is given. */
export const DEFAULT_MAX_UNAVAILABLE_PERCENTAGE = 25;

/** The states of a deployed model (docs/rollout.md, "Completion and states"), as written to status. */
export const DEPLOYED_MODEL_STATES = ["BEING_DEPLOYED", "DEPLOYED", "FAILED", "REPLACED"] as const;
export type DeployedModelState = (typeof DEPLOYED_MODEL_STATES)[number];

/** Values of a condition's status. */
export const CONDITION_STATUSES = ["True", "False", "Unknown"] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];
