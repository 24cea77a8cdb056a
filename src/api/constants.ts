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

/** Vertex AI's autoscaling metrics (AutoscalingMetricSpec.metricName), in the order docs list them. */
export const AUTOSCALING_METRIC_NAMES = [
  "aiplatform.googleapis.com/prediction/online/cpu/utilization",
  "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
] as const;
/** AutoscalingMetricSpec.target when unset, as on Vertex AI: 60 (percent). */
export const DEFAULT_AUTOSCALING_TARGET = 60;

/** Values of a condition's status. */
export const CONDITION_STATUSES = ["True", "False", "Unknown"] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

// ---------------------------------------------------------------------------------------------
// Model (`serving.modelendpoint.io/v1alpha1`, kind Model): a model resource with versions, in the
// shape of Vertex AI's Model (docs/api.md, "The Model API").

export const MODEL_KIND = "Model";
export const MODEL_LIST_KIND = "ModelList";
export const MODEL_PLURAL = "models";
export const MODEL_SINGULAR = "model";
export const MODEL_SHORT_NAMES: readonly string[] = ["mdl"];
/** `<plural>.<group>`: the Model CRD's metadata.name. */
export const MODEL_CRD_NAME = `${MODEL_PLURAL}.${GROUP}`;

/** Longest model name (metadata.name): a Vertex AI model id has at most 63 characters. */
export const MAX_MODEL_NAME_LENGTH = 63;
/**
 * Most versions of one model: a model keeps its history, so more than an endpoint's deployed
 * models. The API server's CEL cost estimate of the Model CRD passes up to 128 (the rules compare
 * every version's containerSpec and every pair of aliases); 64 leaves room for later rules. Each
 * version holds a whole containerSpec, and the object must stay within etcd's 1.5 MiB.
 */
export const MAX_MODEL_VERSIONS = 64;
/** Longest version id: decimal digits, as Vertex AI numbers versions (1, 2, 3, ...). */
export const MAX_VERSION_ID_LENGTH = 10;
/** Most aliases on one version. */
export const MAX_VERSION_ALIASES = 16;
/** Longest alias, as on Vertex AI. */
export const MAX_VERSION_ALIAS_LENGTH = 128;
/** The alias of a model's default version (Vertex AI's name for it). */
export const DEFAULT_VERSION_ALIAS = "default";
/** Most labels on a model or a version, as on Google Cloud resources. */
export const MAX_LABELS = 64;
/** Longest label key and longest label value, as on Google Cloud resources. */
export const MAX_LABEL_LENGTH = 63;
/** Longest displayName, as on Vertex AI. */
export const MAX_DISPLAY_NAME_LENGTH = 128;
/** Longest description of a model or a version. */
export const MAX_DESCRIPTION_LENGTH = 8192;
