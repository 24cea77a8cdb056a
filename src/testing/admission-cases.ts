/**
 * The admission table: manifests the API must refuse (one per rule and edge, boundaries included),
 * manifests it must accept, and updates it must allow or refuse. The integration suite runs every
 * case against a real API server with the generated CRD; the unit suite runs the same cases through
 * the operator's parser; both must give the expected answer, so they agree with each other.
 *
 * An expected issue names the field path and a fragment of the message that both the API server
 * and the parser must report. For CEL rules the fragment is the rule's whole message.
 */
import { API_VERSION, KIND } from "../api/constants.ts";
import { RULES_NOT_CHECKED } from "../api/parse.ts";

export interface ExpectedIssue {
  readonly path: string;
  readonly message: string;
}

/** A JSON object as a user writes it. */
export type Json = Record<string, unknown>;

export interface CreateCase {
  readonly name: string;
  readonly object: Json;
  /** Empty: the object is valid. */
  readonly expect: readonly ExpectedIssue[];
  /** Issues of parser-only rules (not expressible in CEL) that the parser reports on top. */
  readonly parserAlso?: readonly ExpectedIssue[];
}

export interface UpdateCase {
  readonly name: string;
  /** The states the object goes through before the update: created as the first, then updated. */
  readonly before: readonly Json[];
  readonly after: Json;
  /** Empty: the update is allowed. */
  readonly expect: readonly ExpectedIssue[];
}

// ------------------------------------------------------------------------------------------------
// Building blocks

interface DeployedModelJson extends Json {
  id: string;
}

/** A containerSpec of the image `registry.example/fraud:<image>`, serving on /predict and /health. */
export function container(image: string, extra: Json = {}): Json {
  return {
    imageUri: `registry.example/fraud:${image}`,
    predictRoute: "/predict",
    healthRoute: "/health",
    ...extra,
  };
}

function root(id: string, extra: Json = {}): DeployedModelJson {
  return {
    id,
    model: `fraud-detector@${id}`,
    containerSpec: container("1.0"),
    dedicatedResources: { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 3 },
    ...extra,
  };
}

function rolling(id: string, previous: string, extra: Json = {}, options: Json = {}): DeployedModelJson {
  return {
    id,
    model: `fraud-detector@${id}`,
    containerSpec: container("2.0"),
    rolloutOptions: {
      previousDeployedModel: previous,
      maxSurgeReplicas: 1,
      maxUnavailableReplicas: 0,
      ...options,
    },
    ...extra,
  };
}

function endpoint(models: DeployedModelJson[], trafficSplit: Json, name = "fraud", spec: Json = {}): Json {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: { trafficSplit, deployedModels: models, ...spec },
  };
}

/** m1 deployed with 100% of the traffic. */
const single = (extra: Json = {}) => endpoint([root("m1", extra)], { m1: 100 });
/** m1, and m2 rolling onto it. */
const rollout = (m1: Json = {}, m2: Json = {}, m2options: Json = {}) =>
  endpoint([root("m1", m1), rolling("m2", "m1", m2, m2options)], { m1: 100 });

const dm = (i: number) => `spec.deployedModels[${i}]`;
const machineSpecAt = (i: number) => `${dm(i)}.dedicatedResources.machineSpec`;
const placementAt = (i: number) => `${dm(i)}.placement`;
/** m1 on `machineSpec`, with all the traffic. */
const onMachine = (machineSpec: Json) => single({ dedicatedResources: { machineSpec, minReplicaCount: 1 } });
/** m1 with one env variable. */
const withEnv = (env: Json) => single({ containerSpec: container("1.0", { env: [env] }) });
export const issue = (path: string, message: string): ExpectedIssue => ({ path, message });
/** The API server checks CEL rules only when the schema holds; it says so when it did not. */
export const notChecked = issue("", RULES_NOT_CHECKED);

const CPU_METRIC = "aiplatform.googleapis.com/prediction/online/cpu/utilization";

// The rule messages, as users read them.
export const MESSAGES = {
  metricTwice: "autoscalingMetricSpecs must name each metric at most once",
  deploymentTimeout: 'deploymentTimeout must be a duration in seconds such as "1800s", from 1s to 7200s',
  nameLength: "metadata.name must be at most 40 characters",
  nameFormat: "metadata.name must be a DNS-1035 label",
  idFormat:
    "id must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  trafficSum: "trafficSplit percentages must sum to 100, or trafficSplit must be empty (no traffic)",
  trafficKeys: "every trafficSplit key must be the id of an entry in deployedModels",
  maxReplicas: "maxReplicaCount must be greater than or equal to minReplicaCount",
  surgeOneOf: "set at most one of maxSurgeReplicas and maxSurgePercentage",
  unavailableOneOf: "set at most one of maxUnavailableReplicas and maxUnavailablePercentage",
  noDedicatedOnRollout: "dedicatedResources must not be set on a rolling deployment",
  dedicatedRequired: "dedicatedResources is required on a deployed model without rolloutOptions",
  notOntoItself: "rolloutOptions.previousDeployedModel must name another deployed model, not this one",
  envName: "env name must consist of letters, digits, '_', '-' and '.', and must not start with a digit",
  imageUri: "imageUri must be a container image reference without whitespace",
  predictRoute: "predictRoute must be an HTTP path starting with '/'",
  healthRoute: "healthRoute must be an HTTP path starting with '/'",
  quantity: "must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi",
  serviceAccount: "serviceAccount must be a ServiceAccount name",
  countNeedsType: "acceleratorCount needs acceleratorType: name the accelerator it counts",
  acceleratorOn: (type: string, machine: string, takes: string) =>
    `acceleratorType ${type} cannot be used on ${machine}, which takes ${takes}`,
  acceleratorCount: (type: string, machine: string, counts: string) =>
    `acceleratorCount of ${type} on ${machine} must be ${counts}`,
  n1Takes: "NVIDIA_TESLA_T4, NVIDIA_TESLA_P4, NVIDIA_TESLA_V100 or NVIDIA_TESLA_P100",
  envValueOrFrom: "an env variable has a value or a valueFrom, not both",
  envOneSource: "valueFrom must set exactly one of secretKeyRef and configMapKeyRef",
  secretName: "Secret name must be lowercase letters, digits, '-' and '.'",
  nodeSelectorKey:
    "every nodeSelector key must be a label key: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'",
  nodeSelectorValue:
    "a nodeSelector value must be a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
  tolerationExists: "a toleration with operator Exists has no value",
  tolerationKey: "a toleration without a key must have operator Exists",
  tolerationSeconds: "tolerationSeconds needs effect NoExecute",
  placementImmutable: "placement is immutable",
  modelImmutable: "model is immutable",
  containerSpecImmutable: "containerSpec is immutable",
  rolloutOptionsImmutable: "rolloutOptions is immutable",
  serviceAccountImmutable: "serviceAccount is immutable",
  machineSpecImmutable: "machineSpec is immutable",
  disableLoggingOnRollout: "disableContainerLogging cannot change on a rolling deployment",
  accessLoggingOnRollout: "enableAccessLogging cannot change on a rolling deployment",
  previousMissing: (id: string, previous: string) =>
    `deployed model ${id}: rolloutOptions.previousDeployedModel ${previous} is not a deployed model of this endpoint`,
  listedAfter: (id: string, previous: string) =>
    `deployed model ${id} must be listed after ${previous}, its previousDeployedModel, which is added in the same change`,
  routes: (id: string, previous: string) =>
    `deployed model ${id}: containerSpec.predictRoute and containerSpec.healthRoute must equal those of its previousDeployedModel ${previous}`,
  sharedPrevious: (id: string, previous: string) =>
    `deployed model ${id}: another deployed model also rolls onto ${previous}; at most one deployed model may roll onto a given previousDeployedModel`,
  rebinding: (id: string) =>
    `deployed model ${id} reuses the id of a removed model that an existing entry names as its previousDeployedModel: choose another id`,
} as const;

const M = MESSAGES;

// ------------------------------------------------------------------------------------------------
// Creates the API must refuse

export const INVALID_CREATES: readonly CreateCase[] = [
  {
    name: "metadata.name: 41 characters (limit 40)",
    object: { ...single(), metadata: { name: `a${"b".repeat(40)}` } },
    expect: [issue("metadata.name", M.nameLength)],
  },
  {
    name: "metadata.name: starts with a digit",
    object: { ...single(), metadata: { name: "9fraud" } },
    expect: [issue("metadata.name", M.nameFormat)],
  },
  {
    name: "id: 23 characters (limit 22)",
    object: endpoint([root("m1"), rolling("m".repeat(23), "m1")], { m1: 100 }),
    expect: [issue(`${dm(1)}.id`, "may not be more than 22 bytes"), notChecked],
  },
  {
    name: "id: uppercase",
    object: endpoint([root("m1"), rolling("M2", "m1")], { m1: 100 }),
    expect: [issue(`${dm(1)}.id`, M.idFormat)],
  },
  {
    name: "id: ends with a dash",
    object: endpoint([root("m1"), rolling("m2-", "m1")], { m1: 100 }),
    expect: [issue(`${dm(1)}.id`, M.idFormat)],
  },
  {
    name: "id: duplicate",
    object: endpoint([root("m1"), root("m1", { model: "other@1" })], { m1: 100 }),
    expect: [issue(dm(1), "Duplicate value")],
  },
  {
    name: "deployedModels: 33 entries (limit 32)",
    object: endpoint(
      Array.from({ length: 33 }, (_, i) => root(`m${i + 1}`)),
      { m1: 100 },
    ),
    expect: [issue("spec.deployedModels", "must have at most 32 items"), notChecked],
  },
  {
    name: "trafficSplit: sums to 90",
    object: endpoint([root("m1")], { m1: 90 }),
    expect: [issue("spec.trafficSplit", M.trafficSum)],
  },
  {
    name: "trafficSplit: sums to 101 over two models",
    object: endpoint([root("m1"), root("m2")], { m1: 51, m2: 50 }),
    expect: [issue("spec.trafficSplit", M.trafficSum)],
  },
  {
    name: "trafficSplit: a share above 100 and one below 0",
    object: endpoint([root("m1"), root("m2")], { m1: 101, m2: -1 }),
    expect: [
      issue("spec.trafficSplit.m1", "should be less than or equal to 100"),
      issue("spec.trafficSplit.m2", "should be greater than or equal to 0"),
    ],
  },
  {
    name: "trafficSplit: a key that is no deployed model",
    object: endpoint([root("m1")], { m1: 50, m9: 50 }),
    expect: [issue("spec.trafficSplit", M.trafficKeys)],
  },
  {
    name: "trafficSplit: a share for a model while deployedModels is empty",
    object: endpoint([], { m1: 100 }),
    expect: [issue("spec.trafficSplit", M.trafficKeys)],
  },
  {
    name: "dedicatedResources.minReplicaCount: 0",
    object: single({ dedicatedResources: { minReplicaCount: 0 } }),
    expect: [issue(`${dm(0)}.dedicatedResources.minReplicaCount`, "should be greater than or equal to 1")],
  },
  {
    name: "dedicatedResources.autoscalingMetricSpecs: a metric named twice",
    object: single({
      dedicatedResources: {
        minReplicaCount: 1,
        maxReplicaCount: 3,
        autoscalingMetricSpecs: [{ metricName: CPU_METRIC }, { metricName: CPU_METRIC, target: 80 }],
      },
    }),
    expect: [issue(`${dm(0)}.dedicatedResources.autoscalingMetricSpecs`, M.metricTwice)],
  },
  {
    name: "dedicatedResources.autoscalingMetricSpecs: an unknown metric, a target above 100",
    object: single({
      dedicatedResources: {
        minReplicaCount: 1,
        maxReplicaCount: 3,
        autoscalingMetricSpecs: [
          { metricName: "aiplatform.googleapis.com/prediction/online/request_count" },
          { metricName: CPU_METRIC, target: 101 },
        ],
      },
    }),
    expect: [
      issue(
        `${dm(0)}.dedicatedResources.autoscalingMetricSpecs[0].metricName`,
        `supported values: "${CPU_METRIC}"`,
      ),
      issue(
        `${dm(0)}.dedicatedResources.autoscalingMetricSpecs[1].target`,
        "should be less than or equal to 100",
      ),
      notChecked,
    ],
  },
  {
    name: "dedicatedResources.maxReplicaCount: below minReplicaCount",
    object: single({ dedicatedResources: { minReplicaCount: 3, maxReplicaCount: 2 } }),
    expect: [issue(`${dm(0)}.dedicatedResources.maxReplicaCount`, M.maxReplicas)],
  },
  {
    name: "machineType: not in the table",
    object: single({
      dedicatedResources: { machineSpec: { machineType: "n1-standard-3" }, minReplicaCount: 1 },
    }),
    expect: [
      issue(`${dm(0)}.dedicatedResources.machineSpec.machineType`, 'supported values: "n1-standard-2"'),
      notChecked,
    ],
  },
  {
    name: "machineSpec: acceleratorCount without acceleratorType",
    object: onMachine({ machineType: "n1-standard-8", acceleratorCount: 1 }),
    expect: [issue(`${machineSpecAt(0)}.acceleratorType`, M.countNeedsType)],
  },
  {
    name: "machineSpec: an L4 on an n1 machine",
    object: onMachine({ machineType: "n1-standard-2", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 }),
    expect: [
      issue(`${machineSpecAt(0)}.acceleratorType`, M.acceleratorOn("NVIDIA_L4", "n1-standard-2", M.n1Takes)),
    ],
  },
  {
    name: "machineSpec: a T4 on an e2 machine",
    object: onMachine({
      machineType: "e2-standard-4",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 1,
    }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorType`,
        M.acceleratorOn("NVIDIA_TESLA_T4", "e2-standard-4", "no accelerator"),
      ),
    ],
  },
  {
    name: "machineSpec: a 40GB A100 on an a2-ultragpu machine (built-in 80GB ones)",
    object: onMachine({ machineType: "a2-ultragpu-1g", acceleratorType: "NVIDIA_TESLA_A100" }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorType`,
        M.acceleratorOn("NVIDIA_TESLA_A100", "a2-ultragpu-1g", "only its built-in NVIDIA_A100_80GB (1)"),
      ),
    ],
  },
  {
    name: "machineSpec: an L4 on an a3 machine",
    object: onMachine({ machineType: "a3-highgpu-8g", acceleratorType: "NVIDIA_L4", acceleratorCount: 8 }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorType`,
        M.acceleratorOn("NVIDIA_L4", "a3-highgpu-8g", "only its built-in NVIDIA_H100_80GB (8)"),
      ),
    ],
  },
  {
    name: "machineSpec: 3 T4 on n1-standard-8",
    object: onMachine({
      machineType: "n1-standard-8",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 3,
    }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_TESLA_T4", "n1-standard-8", "1, 2 or 4"),
      ),
    ],
  },
  {
    name: "machineSpec: 1 T4 on n1-standard-32 (at least 2)",
    object: onMachine({
      machineType: "n1-standard-32",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 1,
    }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_TESLA_T4", "n1-standard-32", "2 or 4"),
      ),
    ],
  },
  {
    name: "machineSpec: 2 V100 on n1-highmem-32 (at least 4)",
    object: onMachine({
      machineType: "n1-highmem-32",
      acceleratorType: "NVIDIA_TESLA_V100",
      acceleratorCount: 2,
    }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_TESLA_V100", "n1-highmem-32", "4 or 8"),
      ),
    ],
  },
  {
    name: "machineSpec: a V100 on n1 without acceleratorCount",
    object: onMachine({ machineType: "n1-standard-4", acceleratorType: "NVIDIA_TESLA_V100" }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_TESLA_V100", "n1-standard-4", "1, 2, 4 or 8"),
      ),
    ],
  },
  {
    name: "machineSpec: 1 L4 on g2-standard-24 (built-in 2)",
    object: onMachine({ machineType: "g2-standard-24", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 }),
    expect: [
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_L4", "g2-standard-24", "2, the GPUs built into the machine"),
      ),
    ],
  },
  {
    name: "machineSpec: acceleratorCount 17 (limit 16)",
    object: onMachine({
      machineType: "n1-standard-8",
      acceleratorType: "NVIDIA_TESLA_P4",
      acceleratorCount: 17,
    }),
    expect: [
      issue(`${machineSpecAt(0)}.acceleratorCount`, "should be less than or equal to 16"),
      issue(
        `${machineSpecAt(0)}.acceleratorCount`,
        M.acceleratorCount("NVIDIA_TESLA_P4", "n1-standard-8", "1, 2 or 4"),
      ),
    ],
  },
  {
    name: "machineSpec: acceleratorType not a Vertex AI accelerator",
    object: onMachine({
      machineType: "n1-standard-8",
      acceleratorType: "NVIDIA_TESLA_K80",
      acceleratorCount: 1,
    }),
    expect: [issue(`${machineSpecAt(0)}.acceleratorType`, 'supported values: "NVIDIA_TESLA_T4"'), notChecked],
  },
  {
    name: "placement.nodeSelector: a key with a space",
    object: single({ placement: { nodeSelector: { "pool name": "a" } } }),
    expect: [issue(`${placementAt(0)}.nodeSelector`, M.nodeSelectorKey)],
  },
  {
    name: "placement.nodeSelector: a value with a space",
    object: single({ placement: { nodeSelector: { pool: "a b" } } }),
    expect: [issue(`${placementAt(0)}.nodeSelector[pool]`, M.nodeSelectorValue)],
  },
  {
    name: "placement.nodeSelector: 17 keys (limit 16)",
    object: single({
      placement: { nodeSelector: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
    }),
    expect: [issue(`${placementAt(0)}.nodeSelector`, "must have at most 16 items"), notChecked],
  },
  {
    name: "placement.tolerations: operator Exists with a value",
    object: single({ placement: { tolerations: [{ key: "gpu", operator: "Exists", value: "present" }] } }),
    expect: [issue(`${placementAt(0)}.tolerations[0].value`, M.tolerationExists)],
  },
  {
    name: "placement.tolerations: no key with operator Equal",
    object: single({ placement: { tolerations: [{ operator: "Equal", value: "x" }] } }),
    expect: [issue(`${placementAt(0)}.tolerations[0].operator`, M.tolerationKey)],
  },
  {
    name: "placement.tolerations: tolerationSeconds with effect NoSchedule",
    object: single({
      placement: { tolerations: [{ key: "gpu", effect: "NoSchedule", tolerationSeconds: 60 }] },
    }),
    expect: [issue(`${placementAt(0)}.tolerations[0].tolerationSeconds`, M.tolerationSeconds)],
  },
  {
    name: "placement.tolerations: 17 (limit 16)",
    object: single({
      placement: {
        tolerations: Array.from({ length: 17 }, (_, i) => ({ key: `k${i}`, operator: "Exists" })),
      },
    }),
    expect: [issue(`${placementAt(0)}.tolerations`, "must have at most 16 items"), notChecked],
  },
  {
    name: "rolloutOptions: maxSurgeReplicas and maxSurgePercentage",
    object: rollout({}, {}, { maxSurgePercentage: 10 }),
    expect: [issue(`${dm(1)}.rolloutOptions`, M.surgeOneOf)],
  },
  {
    name: "rolloutOptions: maxUnavailableReplicas and maxUnavailablePercentage",
    object: rollout({}, {}, { maxUnavailablePercentage: 10 }),
    expect: [issue(`${dm(1)}.rolloutOptions`, M.unavailableOneOf)],
  },
  {
    name: "rolloutOptions.maxSurgePercentage: 101",
    object: rollout({}, {}, { maxSurgeReplicas: undefined, maxSurgePercentage: 101 }),
    expect: [issue(`${dm(1)}.rolloutOptions.maxSurgePercentage`, "should be less than or equal to 100")],
  },
  {
    name: "rolloutOptions.maxUnavailablePercentage: -1",
    object: rollout({}, {}, { maxUnavailableReplicas: undefined, maxUnavailablePercentage: -1 }),
    expect: [
      issue(`${dm(1)}.rolloutOptions.maxUnavailablePercentage`, "should be greater than or equal to 0"),
    ],
  },
  {
    name: "rolloutOptions.maxSurgeReplicas: -1",
    object: rollout({}, {}, { maxSurgeReplicas: -1 }),
    expect: [issue(`${dm(1)}.rolloutOptions.maxSurgeReplicas`, "should be greater than or equal to 0")],
  },
  {
    name: "rolloutOptions.maxUnavailableReplicas: -1",
    object: rollout({}, {}, { maxUnavailableReplicas: -1 }),
    expect: [issue(`${dm(1)}.rolloutOptions.maxUnavailableReplicas`, "should be greater than or equal to 0")],
  },
  {
    name: "rolloutOptions.progressDeadlineSeconds: 0",
    object: rollout({}, {}, { progressDeadlineSeconds: 0 }),
    expect: [
      issue(`${dm(1)}.rolloutOptions.progressDeadlineSeconds`, "should be greater than or equal to 1"),
    ],
  },
  {
    name: "rolling deployment: sets dedicatedResources",
    object: rollout({}, { dedicatedResources: { minReplicaCount: 3 } }),
    expect: [issue(`${dm(1)}.dedicatedResources`, M.noDedicatedOnRollout)],
  },
  {
    name: "model without rolloutOptions: no dedicatedResources",
    object: single({ dedicatedResources: undefined }),
    expect: [issue(`${dm(0)}.dedicatedResources`, M.dedicatedRequired)],
  },
  {
    name: "rolling deployment: previousDeployedModel names no deployed model",
    object: endpoint([root("m1"), rolling("m2", "m9")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.previousMissing("m2", "m9"))],
  },
  {
    name: "rolling deployment: onto itself",
    object: endpoint([root("m1"), rolling("m2", "m2")], { m1: 100 }),
    expect: [issue(`${dm(1)}.rolloutOptions.previousDeployedModel`, M.notOntoItself)],
  },
  {
    name: "rolling deployment: two entries roll onto the same model",
    object: endpoint([root("m1"), rolling("m2", "m1"), rolling("m3", "m1")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.sharedPrevious("m2", "m1"))],
  },
  {
    name: "rolling deployment: predictRoute differs from the previous model's",
    object: rollout({}, { containerSpec: container("2.0", { predictRoute: "/v2/predict" }) }),
    expect: [issue("spec.deployedModels", M.routes("m2", "m1"))],
  },
  {
    name: "rolling deployment: healthRoute unset while the previous model sets it",
    object: rollout({}, { containerSpec: container("2.0", { healthRoute: undefined }) }),
    expect: [issue("spec.deployedModels", M.routes("m2", "m1"))],
  },
  {
    name: "rolling deployment: listed before its previous model, both new",
    object: endpoint([rolling("m2", "m1"), root("m1")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.listedAfter("m2", "m1"))],
  },
  {
    name: "rolling deployments: a cycle of two new entries",
    object: endpoint([root("m1"), rolling("a", "b"), rolling("b", "a")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.listedAfter("a", "b"))],
    parserAlso: [issue("spec.deployedModels", "deployed models a, b form a rollout cycle")],
  },
  {
    name: "containerSpec.imageUri: empty",
    object: single({ containerSpec: container("1.0", { imageUri: "" }) }),
    expect: [issue(`${dm(0)}.containerSpec.imageUri`, "should be at least 1 chars long")],
  },
  {
    name: "containerSpec.imageUri: holds whitespace",
    object: single({ containerSpec: container("1.0", { imageUri: "registry.example/fraud: 1.0" }) }),
    expect: [issue(`${dm(0)}.containerSpec.imageUri`, M.imageUri)],
  },
  {
    name: "containerSpec.env: name starts with a digit",
    object: single({ containerSpec: container("1.0", { env: [{ name: "1WORKERS", value: "2" }] }) }),
    expect: [issue(`${dm(0)}.containerSpec.env[0].name`, M.envName)],
  },
  {
    name: "containerSpec.env: both value and valueFrom",
    object: withEnv({ name: "TOKEN", value: "x", valueFrom: { secretKeyRef: { name: "hf", key: "token" } } }),
    expect: [issue(`${dm(0)}.containerSpec.env[0]`, M.envValueOrFrom)],
  },
  {
    name: "containerSpec.env: valueFrom with a Secret and a ConfigMap",
    object: withEnv({
      name: "TOKEN",
      valueFrom: {
        secretKeyRef: { name: "hf", key: "token" },
        configMapKeyRef: { name: "cfg", key: "token" },
      },
    }),
    expect: [issue(`${dm(0)}.containerSpec.env[0].valueFrom`, M.envOneSource)],
  },
  {
    name: "containerSpec.env: valueFrom naming nothing",
    object: withEnv({ name: "TOKEN", valueFrom: {} }),
    expect: [issue(`${dm(0)}.containerSpec.env[0].valueFrom`, M.envOneSource)],
  },
  {
    name: "containerSpec.env: secretKeyRef without a key",
    object: withEnv({ name: "TOKEN", valueFrom: { secretKeyRef: { name: "hf" } } }),
    expect: [issue(`${dm(0)}.containerSpec.env[0].valueFrom.secretKeyRef.key`, "Required value"), notChecked],
  },
  {
    name: "containerSpec.env: secretKeyRef naming a Secret with an uppercase letter",
    object: withEnv({ name: "TOKEN", valueFrom: { secretKeyRef: { name: "HF", key: "token" } } }),
    expect: [issue(`${dm(0)}.containerSpec.env[0].valueFrom.secretKeyRef.name`, M.secretName)],
  },
  {
    name: "containerSpec.ports: containerPort 0",
    object: single({ containerSpec: container("1.0", { ports: [{ containerPort: 0 }] }) }),
    expect: [issue(`${dm(0)}.containerSpec.ports[0].containerPort`, "should be greater than or equal to 1")],
  },
  {
    name: "containerSpec.ports: containerPort 65536",
    object: single({ containerSpec: container("1.0", { ports: [{ containerPort: 65536 }] }) }),
    expect: [issue(`${dm(0)}.containerSpec.ports[0].containerPort`, "should be less than or equal to 65535")],
  },
  {
    name: "containerSpec.sharedMemorySizeMb: 0",
    object: single({ containerSpec: container("1.0", { sharedMemorySizeMb: 0 }) }),
    expect: [issue(`${dm(0)}.containerSpec.sharedMemorySizeMb`, "should be greater than or equal to 1")],
  },
  {
    name: "containerSpec.resources: a request above its limit",
    object: single({
      containerSpec: container("1.0", {
        resources: { requests: { cpu: "2", memory: "1025Mi" }, limits: { memory: "1Gi" } },
      }),
    }),
    expect: [
      issue(
        `${dm(0)}.containerSpec.resources.requests`,
        "requests.memory (1025Mi) is above limits.memory (1Gi): a request may not exceed its limit",
      ),
    ],
  },
  {
    name: "containerSpec.healthProbe: two handlers",
    object: single({
      containerSpec: container("1.0", { healthProbe: { exec: { command: ["true"] }, tcpSocket: {} } }),
    }),
    expect: [
      issue(
        `${dm(0)}.containerSpec.healthProbe`,
        "a probe has at most one of exec, httpGet, grpc and tcpSocket",
      ),
    ],
  },
  {
    name: "containerSpec.livenessProbe: successThreshold 2",
    object: single({ containerSpec: container("1.0", { livenessProbe: { successThreshold: 2 } }) }),
    expect: [
      issue(
        `${dm(0)}.containerSpec.livenessProbe.successThreshold`,
        "successThreshold of a startup or liveness probe must be 1",
      ),
    ],
  },
  {
    name: "containerSpec.deploymentTimeout: 7201s",
    object: single({ containerSpec: container("1.0", { deploymentTimeout: "7201s" }) }),
    expect: [issue(`${dm(0)}.containerSpec.deploymentTimeout`, M.deploymentTimeout)],
  },
  {
    name: "containerSpec.deploymentTimeout: 30m (not a protobuf Duration)",
    object: single({ containerSpec: container("1.0", { deploymentTimeout: "30m" }) }),
    expect: [issue(`${dm(0)}.containerSpec.deploymentTimeout`, M.deploymentTimeout)],
  },
  {
    name: "containerSpec.grpcPorts: the HTTP port again",
    object: single({ containerSpec: container("1.0", { grpcPorts: [{ containerPort: 8080 }] }) }),
    expect: [
      issue(
        `${dm(0)}.containerSpec.grpcPorts`,
        "the gRPC port must differ from the HTTP port that serves predictions (the first of ports, default 8080)",
      ),
    ],
  },
  {
    name: "containerSpec.grpcPorts: two",
    object: single({
      containerSpec: container("1.0", { grpcPorts: [{ containerPort: 8500 }, { containerPort: 8501 }] }),
    }),
    expect: [issue(`${dm(0)}.containerSpec.grpcPorts`, "must have at most 1 item"), notChecked],
  },
  {
    name: "containerSpec.predictRoute: no leading slash",
    object: single({ containerSpec: container("1.0", { predictRoute: "predict" }) }),
    expect: [issue(`${dm(0)}.containerSpec.predictRoute`, M.predictRoute)],
  },
  {
    name: "containerSpec.healthRoute: no leading slash",
    object: single({ containerSpec: container("1.0", { healthRoute: "health" }) }),
    expect: [issue(`${dm(0)}.containerSpec.healthRoute`, M.healthRoute)],
  },
  {
    name: "containerSpec.resources: a quantity that is not one",
    object: single({ containerSpec: container("1.0", { resources: { requests: { cpu: "two" } } }) }),
    expect: [issue(`${dm(0)}.containerSpec.resources.requests[cpu]`, M.quantity)],
  },
  {
    name: "serviceAccount: underscore and uppercase",
    object: single({ serviceAccount: "Fraud_SA" }),
    expect: [issue(`${dm(0)}.serviceAccount`, M.serviceAccount)],
  },
  {
    name: "model: missing",
    object: single({ model: undefined }),
    expect: [issue(`${dm(0)}.model`, "Required value"), notChecked],
  },
  {
    name: "displayName: 129 characters (limit 128)",
    object: endpoint([root("m1")], { m1: 100 }, "fraud", { displayName: "d".repeat(129) }),
    expect: [issue("spec.displayName", "may not be more than 128 bytes"), notChecked],
  },
];

// ------------------------------------------------------------------------------------------------
// Creates the API must accept: the boundaries of the refused ones.

export const VALID_CREATES: readonly CreateCase[] = [
  { name: "one model, all traffic", object: single(), expect: [] },
  { name: "a model and a rolling deployment onto it", object: rollout(), expect: [] },
  {
    name: "metadata.name: 40 characters",
    object: { ...single(), metadata: { name: `a${"b".repeat(39)}` } },
    expect: [],
  },
  {
    name: "id: 22 characters, digits only",
    object: endpoint([root("1234567890123456789012")], { "1234567890123456789012": 100 }),
    expect: [],
  },
  { name: "trafficSplit: empty (no traffic)", object: endpoint([root("m1")], {}), expect: [] },
  { name: "endpoint without deployed models", object: endpoint([], {}), expect: [] },
  {
    name: "trafficSplit: 0 and 100",
    object: endpoint([root("m1"), root("m2")], { m1: 0, m2: 100 }),
    expect: [],
  },
  {
    name: "dedicatedResources: autoscaled 2-6 on CPU at 70% and duty cycle at the default",
    object: single({
      dedicatedResources: {
        minReplicaCount: 2,
        maxReplicaCount: 6,
        autoscalingMetricSpecs: [
          { metricName: CPU_METRIC, target: 70 },
          { metricName: "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle" },
        ],
      },
    }),
    expect: [],
  },
  {
    name: "dedicatedResources: minReplicaCount 1 == maxReplicaCount",
    object: single({ dedicatedResources: { minReplicaCount: 1, maxReplicaCount: 1 } }),
    expect: [],
  },
  {
    name: "rolloutOptions: percentages 0 and 100, deadline 1 s",
    object: rollout(
      {},
      {},
      {
        maxSurgeReplicas: undefined,
        maxUnavailableReplicas: undefined,
        maxSurgePercentage: 0,
        maxUnavailablePercentage: 100,
        progressDeadlineSeconds: 1,
      },
    ),
    expect: [],
  },
  {
    name: "rolloutOptions: no budgets at all (25% each)",
    object: rollout({}, {}, { maxSurgeReplicas: undefined, maxUnavailableReplicas: undefined }),
    expect: [],
  },
  {
    name: "containerSpec.resources: requests equal to their limits in other units",
    object: single({
      containerSpec: container("1.0", {
        resources: { requests: { cpu: "500m", memory: "1024Mi" }, limits: { cpu: "0.5", memory: "1Gi" } },
      }),
    }),
    expect: [],
  },
  {
    name: "containerSpec: everything set, explicit resources, port 65535",
    object: single({
      containerSpec: container("1.0", {
        command: ["python", "-m", "server"],
        args: ["--workers", "2"],
        env: [{ name: "LOG_LEVEL", value: "info" }, { name: "_private.x-y" }],
        ports: [{ containerPort: 65535 }],
        resources: {
          requests: { cpu: "500m", memory: "512Mi" },
          limits: { memory: "1Gi", "nvidia.com/gpu": "1" },
        },
        sharedMemorySizeMb: 1024,
        deploymentTimeout: "1800.5s",
        grpcPorts: [{ containerPort: 8500 }],
        artifactUri: "gs://models/fraud/1",
        healthProbe: { httpGet: { path: "/ready", port: 65535 }, periodSeconds: 10 },
        startupProbe: { tcpSocket: {}, failureThreshold: 60 },
        livenessProbe: { grpc: { port: 65535 }, successThreshold: 1 },
      }),
      serviceAccount: "fraud-sa.v1",
      disableContainerLogging: true,
      enableAccessLogging: true,
    }),
    expect: [],
  },
  {
    name: "machineSpec: a g2 machine without acceleratorType (its L4 implied)",
    object: onMachine({ machineType: "g2-standard-8" }),
    expect: [],
  },
  {
    name: "machineSpec: an a3 machine naming its H100s, count left out",
    object: onMachine({ machineType: "a3-highgpu-8g", acceleratorType: "NVIDIA_H100_80GB" }),
    expect: [],
  },
  {
    name: "machineSpec: every accelerator type at a count its machine takes",
    object: endpoint(
      [
        ["n1-standard-4", "NVIDIA_TESLA_T4", 4],
        ["n1-standard-32", "NVIDIA_TESLA_V100", 8],
        ["n1-highcpu-16", "NVIDIA_TESLA_P4", 1],
        ["n1-highmem-32", "NVIDIA_TESLA_P100", 2],
        ["g2-standard-96", "NVIDIA_L4", 8],
        ["a2-megagpu-16g", "NVIDIA_TESLA_A100", 16],
        ["a2-ultragpu-8g", "NVIDIA_A100_80GB", 8],
        ["a3-highgpu-1g", "NVIDIA_H100_80GB", 1],
        ["a3-megagpu-8g", "NVIDIA_H100_MEGA_80GB", 8],
        ["a3-ultragpu-8g", "NVIDIA_H200_141GB", 8],
        ["a4-highgpu-8g", "NVIDIA_B200", 8],
      ].map(([machineType, acceleratorType, acceleratorCount], i) =>
        root(`m${i + 1}`, {
          dedicatedResources: {
            machineSpec: { machineType, acceleratorType, acceleratorCount },
            minReplicaCount: 1,
          },
        }),
      ),
      { m1: 100 },
    ),
    expect: [],
  },
  {
    name: "containerSpec.env: values from a Secret and a ConfigMap",
    object: single({
      containerSpec: container("1.0", {
        env: [
          {
            name: "HF_TOKEN",
            valueFrom: { secretKeyRef: { name: "hf.token", key: "token", optional: false } },
          },
          {
            name: "MODEL_CONFIG",
            valueFrom: { configMapKeyRef: { name: "fraud", key: "config.json", optional: true } },
          },
          { name: "EMPTY" },
        ],
      }),
    }),
    expect: [],
  },
  {
    name: "placement: nodeSelector and tolerations at their limits, an affinity",
    object: single({
      placement: {
        nodeSelector: {
          "cloud.google.com/gke-nodepool": "l4-pool",
          ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`example.com/k${i}`, ""])),
        },
        tolerations: [
          { operator: "Exists" },
          { key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" },
          {
            key: "node.kubernetes.io/unreachable",
            operator: "Exists",
            effect: "NoExecute",
            tolerationSeconds: 30,
          },
          ...Array.from({ length: 13 }, (_, i) => ({ key: `k${i}` })),
        ],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "topology.kubernetes.io/zone", operator: "In", values: ["a", "b"] },
                  ],
                },
              ],
            },
          },
        },
      },
    }),
    expect: [],
  },
  {
    name: "routes: unset on a model and on its rolling deployment",
    object: endpoint(
      [
        root("m1", { containerSpec: { imageUri: "registry.example/fraud:1.0" } }),
        rolling("m2", "m1", { containerSpec: { imageUri: "registry.example/fraud:2.0" } }),
      ],
      { m1: 100 },
    ),
    expect: [],
  },
  {
    name: "a whole chain created at once: m1, m2 onto m1, m3 onto m2 (a rollback)",
    object: endpoint([root("m1"), rolling("m2", "m1"), rolling("m3", "m2")], { m1: 100 }),
    expect: [],
  },
  {
    name: "two chains with an explicit split",
    object: endpoint([root("a1"), root("b1"), rolling("a2", "a1")], { a1: 70, b1: 30 }),
    expect: [],
  },
];

// ------------------------------------------------------------------------------------------------
// Updates

const withoutM1 = (trafficSplit: Json, extra: DeployedModelJson[] = []) =>
  endpoint([rolling("m2", "m1"), ...extra], trafficSplit);

export const UPDATES: readonly UpdateCase[] = [
  // Refused
  {
    name: "model of an existing entry changed",
    before: [single()],
    after: single({ model: "fraud-detector@9" }),
    expect: [issue(`${dm(0)}.model`, M.modelImmutable)],
  },
  {
    name: "containerSpec.imageUri of an existing entry changed",
    before: [single()],
    after: single({ containerSpec: container("1.1") }),
    expect: [issue(`${dm(0)}.containerSpec`, M.containerSpecImmutable)],
  },
  {
    name: "containerSpec.env of an existing entry added",
    before: [single()],
    after: single({ containerSpec: container("1.0", { env: [{ name: "A", value: "b" }] }) }),
    expect: [issue(`${dm(0)}.containerSpec`, M.containerSpecImmutable)],
  },
  {
    name: "rolloutOptions of an existing entry changed",
    before: [rollout()],
    after: rollout({}, {}, { maxSurgeReplicas: 2 }),
    expect: [issue(`${dm(1)}.rolloutOptions`, M.rolloutOptionsImmutable)],
  },
  {
    name: "rolloutOptions removed from an existing entry",
    before: [rollout()],
    after: endpoint(
      [
        root("m1"),
        { ...rolling("m2", "m1"), rolloutOptions: undefined, dedicatedResources: { minReplicaCount: 1 } },
      ],
      { m1: 100 },
    ),
    expect: [issue(`${dm(1)}.rolloutOptions`, M.rolloutOptionsImmutable)],
  },
  {
    name: "serviceAccount of an existing entry set",
    before: [single()],
    after: single({ serviceAccount: "fraud-sa" }),
    expect: [issue(`${dm(0)}.serviceAccount`, M.serviceAccountImmutable)],
  },
  {
    name: "machineType of an existing entry changed",
    before: [single()],
    after: single({
      dedicatedResources: { machineSpec: { machineType: "n1-standard-4" }, minReplicaCount: 3 },
    }),
    expect: [issue(`${dm(0)}.dedicatedResources.machineSpec`, M.machineSpecImmutable)],
  },
  {
    name: "placement of an existing entry set",
    before: [single()],
    after: single({ placement: { nodeSelector: { pool: "gpu" } } }),
    expect: [issue(placementAt(0), M.placementImmutable)],
  },
  {
    name: "placement.tolerations of an existing entry changed",
    before: [single({ placement: { tolerations: [{ key: "gpu", operator: "Exists" }] } })],
    after: single({ placement: { tolerations: [{ key: "tpu", operator: "Exists" }] } }),
    expect: [issue(placementAt(0), M.placementImmutable)],
  },
  {
    name: "acceleratorCount of an existing entry changed",
    before: [
      onMachine({ machineType: "n1-standard-8", acceleratorType: "NVIDIA_TESLA_T4", acceleratorCount: 1 }),
    ],
    after: onMachine({
      machineType: "n1-standard-8",
      acceleratorType: "NVIDIA_TESLA_T4",
      acceleratorCount: 2,
    }),
    expect: [issue(machineSpecAt(0), M.machineSpecImmutable)],
  },
  {
    name: "disableContainerLogging changed on a rolling deployment",
    before: [rollout()],
    after: rollout({}, { disableContainerLogging: true }),
    expect: [issue(`${dm(1)}.disableContainerLogging`, M.disableLoggingOnRollout)],
  },
  {
    name: "enableAccessLogging changed on a rolling deployment",
    before: [rollout({}, { enableAccessLogging: false })],
    after: rollout({}, { enableAccessLogging: true }),
    expect: [issue(`${dm(1)}.enableAccessLogging`, M.accessLoggingOnRollout)],
  },
  {
    name: "rolling deployment added onto a model that is not in the endpoint",
    before: [single()],
    after: endpoint([root("m1"), rolling("m2", "m0")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.previousMissing("m2", "m0"))],
  },
  {
    name: "rolling deployment added onto a model removed in the same change",
    before: [single()],
    after: endpoint([root("m0"), rolling("m2", "m1")], { m0: 100 }),
    expect: [issue("spec.deployedModels", M.previousMissing("m2", "m1"))],
  },
  {
    name: "rolling deployment added with routes that differ from the previous model's",
    before: [single()],
    after: rollout({}, { containerSpec: container("2.0", { healthRoute: "/healthz" }) }),
    expect: [issue("spec.deployedModels", M.routes("m2", "m1"))],
  },
  {
    name: "second rolling deployment added onto the same model",
    before: [rollout()],
    after: endpoint([root("m1"), rolling("m2", "m1"), rolling("m3", "m1")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.sharedPrevious("m2", "m1"))],
  },
  {
    name: "model with a traffic share removed",
    before: [rollout()],
    after: withoutM1({ m1: 100 }),
    expect: [issue("spec.trafficSplit", M.trafficKeys)],
  },
  {
    name: "removed id reused while an entry still names it as previous",
    before: [rollout(), withoutM1({ m2: 100 })],
    after: endpoint([rolling("m2", "m1"), root("m1")], { m2: 100 }),
    expect: [issue("spec.deployedModels", M.rebinding("m1"))],
  },
  {
    name: "two rolling deployments added, the later one listed first",
    before: [single()],
    after: endpoint([root("m1"), rolling("m3", "m2"), rolling("m2", "m1")], { m1: 100 }),
    expect: [issue("spec.deployedModels", M.listedAfter("m3", "m2"))],
  },
  // Allowed
  {
    name: "replica counts of a model deployed without rolloutOptions changed",
    before: [single()],
    after: single({
      dedicatedResources: {
        machineSpec: { machineType: "n1-standard-2" },
        minReplicaCount: 5,
        maxReplicaCount: 8,
      },
    }),
    expect: [],
  },
  {
    name: "logging flags of a model deployed without rolloutOptions changed",
    before: [single()],
    after: single({ disableContainerLogging: true, enableAccessLogging: true }),
    expect: [],
  },
  { name: "rolling deployment added", before: [single()], after: rollout(), expect: [] },
  {
    name: "rolling deployment added with a placement of its own onto a model with another",
    before: [single({ placement: { nodeSelector: { pool: "l4" } } })],
    after: rollout(
      { placement: { nodeSelector: { pool: "l4" } } },
      { placement: { nodeSelector: { pool: "h100" } } },
    ),
    expect: [],
  },
  {
    name: "rollback: rolling deployment added onto the in-progress one",
    before: [rollout()],
    after: endpoint(
      [root("m1"), rolling("m2", "m1"), rolling("m3", "m2", { containerSpec: container("1.0") })],
      { m1: 100 },
    ),
    expect: [],
  },
  {
    name: "traffic moved between two models",
    before: [rollout()],
    after: endpoint([root("m1"), rolling("m2", "m1")], { m1: 50, m2: 50 }),
    expect: [],
  },
  {
    name: "traffic removed (empty split)",
    before: [rollout()],
    after: endpoint([root("m1"), rolling("m2", "m1")], {}),
    expect: [],
  },
  {
    name: "replaced model removed after its traffic moved to the new one",
    before: [rollout()],
    after: withoutM1({ m2: 100 }),
    expect: [],
  },
  {
    name: "unrelated change while an entry's previous model is gone",
    before: [rollout(), withoutM1({ m2: 100 })],
    after: endpoint([rolling("m2", "m1")], { m2: 100 }, "fraud", { displayName: "Fraud" }),
    expect: [],
  },
  {
    name: "failed rolling deployment removed and a new one added onto the same model",
    before: [rollout()],
    after: endpoint([root("m1"), rolling("m4", "m1")], { m1: 100 }),
    expect: [],
  },
  {
    name: "rolling deployment added onto a model that has lost its own previous",
    before: [rollout(), withoutM1({ m2: 100 })],
    after: withoutM1({ m2: 100 }, [rolling("m3", "m2")]),
    expect: [],
  },
];

/** A deep copy with every `undefined` property removed, as JSON would carry it. */
export function toJson(value: Json): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/**
 * What differs between the issues reported and the issues expected: each expected issue must match
 * a distinct reported one (same path, message containing the expected fragment), and nothing may
 * be left over. Empty when they match.
 */
export function compareIssues(
  reported: readonly { path: string; message: string }[],
  expected: readonly ExpectedIssue[],
): string[] {
  const left = [...reported];
  const problems: string[] = [];
  for (const want of expected) {
    const at = left.findIndex((r) => r.path === want.path && r.message.includes(want.message));
    if (at === -1) problems.push(`missing: ${want.path}: ${want.message}`);
    else left.splice(at, 1);
  }
  for (const extra of left) problems.push(`unexpected: ${extra.path}: ${extra.message}`);
  return problems;
}

/** A parser's answer: the issues of a refused object, or none. */
type Answer = { readonly ok: true } | { readonly ok: false; readonly issues: readonly ExpectedIssue[] };

/**
 * What differs between the parser's answer to an update case and the expected one: `validate`
 * (old undefined: a create) must accept each state of `before` in turn, then answer `after` with
 * exactly the expected issues. Empty when they match.
 */
export function parserUpdateProblems(
  c: UpdateCase,
  validate: (oldObj: Json | undefined, newObj: Json) => Answer,
): string[] {
  const issues = (a: Answer) => (a.ok ? [] : a.issues);
  let previous: Json | undefined;
  for (const [i, state] of c.before.map(toJson).entries()) {
    const refused = compareIssues(issues(validate(previous, state)), []);
    if (refused.length > 0) return refused.map((p) => `state ${i}: ${p}`);
    previous = state;
  }
  return compareIssues(issues(validate(previous, toJson(c.after))), c.expect);
}

/** The case names and rule messages of `cases` that the document `doc` does not show. */
export function casesMissingFrom(doc: string, cases: readonly (CreateCase | UpdateCase)[]): string[] {
  return cases.flatMap((c) => [
    ...(doc.includes(c.name) ? [] : [`case: ${c.name}`]),
    ...c.expect.filter((e) => e.path !== "" && !doc.includes(e.message)).map((e) => `message: ${e.message}`),
  ]);
}
