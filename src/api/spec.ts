/**
 * The ModelEndpoint spec: zod schemas, the single source of the API. The CRD's OpenAPI schema and
 * its CEL rules are generated from these (crd.ts), and the TypeScript types are inferred from them.
 *
 * Field names are Vertex AI's v1beta1 JSON names where Vertex has the field (Endpoint,
 * DeployedModel, ModelContainerSpec, DedicatedResources, RolloutOptions). Every rule that the API
 * server enforces at admission is written next to the node it applies to, as CEL and as TypeScript
 * (see rule.ts); the integration suite checks on a real API server that both agree.
 */
import { z } from "zod";

import {
  AUTOSCALING_METRIC_NAMES,
  DEFAULT_CONTAINER_PORT,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  MAX_DEPLOYED_MODEL_ID_LENGTH,
  MAX_DEPLOYED_MODELS,
} from "./constants.ts";
import { jsonEqual } from "./json.ts";
import {
  ACCELERATOR_TYPES,
  allowedAccelerators,
  builtInGpu,
  describeAccelerators,
  describeCounts,
  MACHINE_TYPE_NAMES,
  type AcceleratorType,
} from "./machine-types.ts";
import { celFormat, celRegex, matchesRule, withRules, type Rule } from "./rule.ts";

// ---------------------------------------------------------------------------------------------
// Formats. Each is checked by a CEL `matches` with a message a user understands (an OpenAPI
// `pattern` would answer "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'").

/** RFC 1123 label: what Kubernetes calls a DNS label. */
export const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/** RFC 1035 label: a DNS label that starts with a letter (Service names). */
export const DNS_1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
/** RFC 1123 subdomain (ServiceAccount names). */
export const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** A container environment variable name, as Kubernetes validates it. */
export const ENV_VAR_NAME = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";
/** A Kubernetes resource quantity (the pattern Kubernetes publishes for `Quantity`). */
export const QUANTITY =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

/** A protobuf Duration in JSON: whole or fractional seconds, "1800s" or "1.5s". */
const DURATION = "^[0-9]{1,9}([.][0-9]{1,9})?s$";

/** A string map (`additionalProperties`) with at most `max` keys. */
export function boundedRecord<V extends z.ZodType>(value: V, max: number) {
  return z
    .record(z.string(), value)
    .superRefine((map, ctx) => {
      const size = Object.keys(map).length;
      if (size > max) {
        // TooMany on the API server: it stops the CEL rules (see parse.ts).
        ctx.addIssue({
          code: "custom",
          message: `must have at most ${max} items`,
          params: { blocking: true },
        });
      }
    })
    .meta({ maxProperties: max });
}

/**
 * The parser's twin of what the API server enforces itself on a list-map (keys) or a set (items):
 * an entry whose key repeats an earlier entry's is a `Duplicate value`, at that entry.
 */
export function refuseDuplicates<T>(
  list: readonly T[],
  ctx: z.RefinementCtx,
  key: (item: T) => unknown,
): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const value = JSON.stringify(key(item));
    if (seen.has(value)) ctx.addIssue({ code: "custom", message: `Duplicate value: ${value}`, path: [i] });
    seen.add(value);
  });
}

/** CEL: optional field `f` is unset on both `a` and `b`, or set to the same value. */
function sameOptional(a: string, b: string, f: string): string {
  return `has(${a}.${f}) == has(${b}.${f}) && (!has(${a}.${f}) || ${a}.${f} == ${b}.${f})`;
}

/** CEL: optional field `f` did not change. */
function unchangedCel(f: string): string {
  return sameOptional("self", "oldSelf", f);
}

// ---------------------------------------------------------------------------------------------
// containerSpec

const QuantitySchema = withRules(z.string().max(64), [
  matchesRule("quantity.format", QUANTITY, "must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"),
]);

const ResourceListSchema = boundedRecord(QuantitySchema, 16);

const QUANTITY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/**
 * The value of a Kubernetes quantity (`500m`, `2`, `512Mi`, `1e3`), as a float: exact for the
 * sizes people write, and close enough to order two of them as the API server's quantity() does.
 * NaN for what is not a quantity.
 */
export function quantityValue(quantity: string): number {
  if (!new RegExp(QUANTITY).test(quantity)) return Number.NaN;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)$/.exec(quantity);
  const [number, suffix] = [Number(match?.[1]), match?.[2] ?? ""];
  if (suffix === "") return number;
  if (/^[eE]/.test(suffix)) return Number(`${String(number)}${suffix}`);
  return number * (QUANTITY_SUFFIXES[suffix] ?? Number.NaN);
}

interface Requirements {
  readonly requests?: Readonly<Record<string, string>> | undefined;
  readonly limits?: Readonly<Record<string, string>> | undefined;
}

/** The resources whose request is above their limit, in name order. */
function requestsAboveLimits(self: Requirements): string[] {
  return Object.keys(self.requests ?? {})
    .filter((k) => {
      const [request, limit] = [self.requests?.[k], self.limits?.[k]];
      return request !== undefined && limit !== undefined && quantityValue(request) > quantityValue(limit);
    })
    .sort();
}

const aboveLimit = (k: string) =>
  `${k} in self.limits && quantity(self.requests[${k}]).compareTo(quantity(self.limits[${k}])) > 0`;
const FIRST_ABOVE = `self.requests.filter(k, ${aboveLimit("k")})[0]`;

export const ResourceRequirementsSchema = withRules(
  z.object({
    requests: ResourceListSchema.optional().describe(
      "Minimum resources per replica (Kubernetes resource name -> quantity).",
    ),
    limits: ResourceListSchema.optional().describe(
      "Maximum resources per replica (Kubernetes resource name -> quantity).",
    ),
  }),
  [
    {
      kind: "plain",
      name: "resources.requestsWithinLimits",
      rule: `!has(self.requests) || !has(self.limits) || !self.requests.exists(k, ${aboveLimit("k")})`,
      message: "a resource's request must not be above its limit",
      messageExpression:
        `'requests.' + ${FIRST_ABOVE} + ' (' + self.requests[${FIRST_ABOVE}] + ') is above limits.' + ` +
        `${FIRST_ABOVE} + ' (' + self.limits[${FIRST_ABOVE}] + '): a request may not exceed its limit'`,
      fieldPath: ".requests",
      check: (self) => requestsAboveLimits(self).length === 0,
      describe: (self) => {
        const [k = ""] = requestsAboveLimits(self);
        return `requests.${k} (${self.requests?.[k] ?? ""}) is above limits.${k} (${self.limits?.[k] ?? ""}): a request may not exceed its limit`;
      },
    },
  ],
).describe(
  "Explicit container resources. When set they win over the machine-type table of " +
    "dedicatedResources.machineSpec.machineType (the two are not merged).",
);

/** A key of a Secret or ConfigMap, as Kubernetes validates it. */
const CONFIG_KEY = "^[-._a-zA-Z0-9]+$";

/** secretKeyRef and configMapKeyRef: one key of an object of the model's namespace. */
function keyRefSchema(kind: "Secret" | "ConfigMap") {
  return z
    .object({
      name: withRules(z.string().max(253), [
        matchesRule(
          `env.${kind === "Secret" ? "secret" : "configMap"}NameFormat`,
          DNS_SUBDOMAIN,
          `${kind} name must be lowercase letters, digits, '-' and '.'`,
        ),
      ]).describe(`Name of the ${kind}, in the endpoint's namespace.`),
      key: withRules(z.string().max(253), [
        matchesRule(
          `env.${kind === "Secret" ? "secret" : "configMap"}KeyFormat`,
          CONFIG_KEY,
          `${kind} key must be letters, digits, '-', '_' and '.'`,
        ),
      ]).describe(`The key of the ${kind} whose value the variable gets.`),
      optional: z
        .boolean()
        .optional()
        .describe(
          `When true, a missing ${kind} or key leaves the variable unset instead of stopping the pod.`,
        ),
    })
    .describe(
      `A key of a ${kind} (Kubernetes' ${kind === "Secret" ? "SecretKeySelector" : "ConfigMapKeySelector"}).`,
    );
}

const EnvVarSourceSchema = withRules(
  z.object({
    secretKeyRef: keyRefSchema("Secret").optional(),
    configMapKeyRef: keyRefSchema("ConfigMap").optional(),
  }),
  [
    {
      kind: "plain",
      name: "env.oneSource",
      rule: "has(self.secretKeyRef) != has(self.configMapKeyRef)",
      message: "valueFrom must set exactly one of secretKeyRef and configMapKeyRef",
      check: (self) => (self.secretKeyRef === undefined) !== (self.configMapKeyRef === undefined),
    },
  ],
).describe("Where the variable's value comes from (extension): a key of a Secret or of a ConfigMap.");

export const EnvVarSchema = withRules(
  z.object({
    name: withRules(z.string().max(256), [
      matchesRule(
        "env.nameFormat",
        ENV_VAR_NAME,
        "env name must consist of letters, digits, '_', '-' and '.', and must not start with a digit",
      ),
    ]).describe("Name of the environment variable."),
    value: z.string().max(16384).optional().describe("Value of the environment variable."),
    valueFrom: EnvVarSourceSchema.optional(),
  }),
  [
    {
      kind: "plain",
      name: "env.valueOrValueFrom",
      rule: "!has(self.value) || !has(self.valueFrom)",
      message: "an env variable has a value or a valueFrom, not both",
      check: (self) => self.value === undefined || self.valueFrom === undefined,
    },
  ],
).describe("An environment variable of the model's container.");

export const PortSchema = z
  .object({
    containerPort: z.int32().min(1).max(65535).describe("Port number the container listens on."),
  })
  .describe("A port of the model's container.");

const ProbePortSchema = z.int32().min(1).max(65535);

const PROBE_HANDLERS = ["exec", "httpGet", "grpc", "tcpSocket"] as const;

/** Vertex AI's Probe: one handler (or none: an HTTP GET of the health route), and its timing. */
const ProbeFields = z.object({
  exec: z
    .object({
      command: z.array(z.string().max(4096)).min(1).max(64).describe("The command and its arguments."),
    })
    .optional()
    .describe("Runs a command in the container; exit code 0 is success."),
  httpGet: z
    .object({
      path: routeSchema("httpGet.path").optional().describe("Default: the health route."),
      port: ProbePortSchema.optional().describe("Default: the serving port."),
      scheme: z.enum(["HTTP", "HTTPS"]).optional().describe("Default HTTP."),
      httpHeaders: z
        .array(z.object({ name: z.string().min(1).max(256), value: z.string().max(4096) }))
        .max(16)
        .optional(),
    })
    .optional()
    .describe("An HTTP GET; a status from 200 to 399 is success."),
  grpc: z
    .object({
      port: ProbePortSchema.describe("The gRPC port."),
      service: z.string().max(256).optional().describe("The service name of the gRPC health check."),
    })
    .optional()
    .describe("A gRPC health check."),
  tcpSocket: z
    .object({ port: ProbePortSchema.optional().describe("Default: the serving port.") })
    .optional()
    .describe("A TCP connection; accepted is success."),
  initialDelaySeconds: z.int32().min(0).max(3600).optional(),
  periodSeconds: z.int32().min(1).max(3600).optional(),
  timeoutSeconds: z.int32().min(1).max(3600).optional(),
  successThreshold: z.int32().min(1).max(100).optional(),
  failureThreshold: z.int32().min(1).max(100).optional(),
});

export type Probe = z.output<typeof ProbeFields>;

/**
 * A probe with its rules; `once`: a startup or liveness probe, whose successThreshold Kubernetes
 * requires to be 1.
 */
function probeSchema(once: boolean) {
  const rules: Rule<Probe>[] = [
    {
      kind: "plain",
      name: "probe.oneHandler",
      rule: `${PROBE_HANDLERS.map((h) => `(has(self.${h}) ? 1 : 0)`).join(" + ")} <= 1`,
      message: "a probe has at most one of exec, httpGet, grpc and tcpSocket",
      check: (self) => PROBE_HANDLERS.filter((h) => self[h] !== undefined).length <= 1,
    },
  ];
  if (once) {
    rules.push({
      kind: "plain",
      name: "probe.successThresholdOne",
      rule: "!has(self.successThreshold) || self.successThreshold == 1",
      message: "successThreshold of a startup or liveness probe must be 1",
      fieldPath: ".successThreshold",
      check: (self) => self.successThreshold === undefined || self.successThreshold === 1,
    });
  }
  return withRules(ProbeFields, rules).describe("A probe of the model's container (Vertex AI Probe).");
}

function routeSchema(field: string) {
  return withRules(z.string().max(256), [
    {
      kind: "plain",
      name: `containerSpec.${field}Format`,
      rule: "self.startsWith('/')",
      message: `${field} must be an HTTP path starting with '/'`,
      check: (self) => self.startsWith("/"),
    },
  ]);
}

export const ContainerSpecSchema = withRules(
  z.object({
    imageUri: withRules(z.string().min(1).max(1024), [
      // A container image reference never holds whitespace; Kubernetes would accept the ReplicaSet
      // and every pod would then fail with InvalidImageName.
      matchesRule(
        "containerSpec.imageUriFormat",
        "^\\S*$",
        "imageUri must be a container image reference without whitespace",
      ),
    ]).describe("The container image that serves the model."),
    command: z
      .array(z.string().max(4096))
      .max(64)
      .optional()
      .describe("Entrypoint; the image's ENTRYPOINT when omitted."),
    args: z
      .array(z.string().max(4096))
      .max(64)
      .optional()
      .describe("Arguments to the entrypoint; the image's CMD when omitted."),
    env: z.array(EnvVarSchema).max(64).optional().describe("Environment variables of the container."),
    ports: z
      .array(PortSchema)
      .max(8)
      .optional()
      .describe("Ports of the container; the first one serves predictions and health checks (default 8080)."),
    artifactUri: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .describe(
        "Where the model's artifacts are (gs://, s3://, https://, ...), passed to the container as " +
          "AIP_STORAGE_URI. Extension: on Vertex AI it is the Model's artifactUri.",
      ),
    grpcPorts: z
      .array(PortSchema)
      .max(1)
      .optional()
      .describe(
        "The container's gRPC port (at most one, as on Vertex): a port named grpc on the container and on " +
          "the model's Service (appProtocol kubernetes.io/h2c).",
      ),
    predictRoute: routeSchema("predictRoute")
      .optional()
      .describe(
        "HTTP path that serves predictions; default /v1/endpoints/<endpoint>/deployedModels/<id>:predict " +
          "(passed to the container as AIP_PREDICT_ROUTE).",
      ),
    healthRoute: routeSchema("healthRoute")
      .optional()
      .describe(
        "HTTP path of the readiness probe; default /v1/endpoints/<endpoint>/deployedModels/<id> " +
          "(passed to the container as AIP_HEALTH_ROUTE).",
      ),
    resources: ResourceRequirementsSchema.optional(),
    healthProbe: probeSchema(false)
      .optional()
      .describe(
        "The readiness probe, which decides when a replica serves; default an HTTP GET of healthRoute " +
          "on the serving port every 5 s.",
      ),
    startupProbe: probeSchema(true)
      .optional()
      .describe("Holds the other probes until it succeeds once, for a server that loads a model slowly."),
    livenessProbe: probeSchema(true)
      .optional()
      .describe("Restarts the container when it fails; none by default."),
    deploymentTimeout: withRules(z.string().max(32), [
      {
        kind: "plain",
        name: "containerSpec.deploymentTimeoutRange",
        rule: `self.matches(${celRegex(DURATION)}) && duration(self) >= duration('1s') && duration(self) <= duration('7200s')`,
        message: 'deploymentTimeout must be a duration in seconds such as "1800s", from 1s to 7200s',
        check: (self) => {
          const seconds = new RegExp(DURATION).test(self) ? Number(self.slice(0, -1)) : Number.NaN;
          return seconds >= 1 && seconds <= 7200;
        },
      },
    ])
      .optional()
      .describe(
        'How long the model may take to deploy (Vertex\'s Duration, e.g. "1800s", at most 2 hours): its progress ' +
          "deadline, when its rolloutOptions set none (a first deployment has none). Default 600s.",
      ),
    sharedMemorySizeMb: z
      .int32()
      .min(1)
      .max(1048576)
      .optional()
      .describe(
        "Shared memory (/dev/shm) of the container in MiB, a memory-backed emptyDir of that size; " +
          "default the container runtime's 64 MiB, which servers such as vLLM, Triton or PyTorch outgrow. " +
          "It counts against the pod's memory limit.",
      ),
  }),
  [
    {
      kind: "plain",
      name: "containerSpec.grpcPortDistinct",
      rule: `!has(self.grpcPorts) || size(self.grpcPorts) == 0 || self.grpcPorts[0].containerPort != (has(self.ports) && size(self.ports) > 0 ? self.ports[0].containerPort : ${String(DEFAULT_CONTAINER_PORT)})`,
      message:
        "the gRPC port must differ from the HTTP port that serves predictions (the first of ports, default 8080)",
      fieldPath: ".grpcPorts",
      check: (self) => {
        const grpc = self.grpcPorts?.[0]?.containerPort;
        return grpc === undefined || grpc !== (self.ports?.[0]?.containerPort ?? DEFAULT_CONTAINER_PORT);
      },
    },
  ],
).describe("The model's serving container (Vertex AI ModelContainerSpec). Immutable.");

// ---------------------------------------------------------------------------------------------
// dedicatedResources

const MachineSpecBase = z.object({
  machineType: z
    .enum(MACHINE_TYPE_NAMES)
    .describe("Vertex AI machine type; stands for the container resources of one replica (see docs/api.md)."),
  acceleratorType: z
    .enum(ACCELERATOR_TYPES)
    .optional()
    .describe(
      "The GPUs of one replica (Vertex AI AcceleratorType). A machine with built-in GPUs (g2, a2, a3, a4) " +
        "takes only its own, and implies them when this is left out; an n1 machine may take T4, P4, V100 or P100.",
    ),
  acceleratorCount: z
    .int32()
    .min(1)
    .max(16)
    .optional()
    .describe(
      "How many GPUs of acceleratorType one replica gets: on n1 1, 2 or 4 (V100 also 8; fewer allowed on " +
        "the larger machines), on a machine with built-in GPUs its own count, which is the default there.",
    ),
});
type MachineSpecBase = z.output<typeof MachineSpecBase>;

/** `<machineType>/<acceleratorType>` -> the counts allowed; every pair the table allows. */
const ACCELERATOR_COUNTS: ReadonlyMap<string, readonly number[]> = new Map(
  MACHINE_TYPE_NAMES.flatMap((m) =>
    Object.entries(allowedAccelerators(m)).map(([t, counts]) => [`${m}/${t}`, counts] as const),
  ),
);
const celString = (s: string) => `'${s}'`;
/** CEL map literals generated from the table (ACCELERATOR_COUNTS and what each machine takes). */
const CEL_COUNTS = `{${[...ACCELERATOR_COUNTS].map(([k, v]) => `${celString(k)}: [${v.join(", ")}]`).join(", ")}}`;
const CEL_COUNT_TEXT = `{${MACHINE_TYPE_NAMES.flatMap((m) =>
  Object.keys(allowedAccelerators(m)).map(
    (t) => `${celString(`${m}/${t}`)}: ${celString(describeCounts(m, t as AcceleratorType))}`,
  ),
).join(", ")}}`;
const CEL_TAKES = `{${MACHINE_TYPE_NAMES.map((m) => `${celString(m)}: ${celString(describeAccelerators(m))}`).join(", ")}}`;
const CEL_BUILT_IN = `[${MACHINE_TYPE_NAMES.filter((m) => builtInGpu(m) !== undefined)
  .map(celString)
  .join(", ")}]`;
const CEL_PAIR = "self.machineType + '/' + self.acceleratorType";

function acceleratorFits(self: MachineSpecBase): boolean {
  return (
    self.acceleratorType === undefined ||
    ACCELERATOR_COUNTS.has(`${self.machineType}/${self.acceleratorType}`)
  );
}

function countFits(self: MachineSpecBase): boolean {
  if (self.acceleratorType === undefined || !acceleratorFits(self)) return true;
  const allowed = ACCELERATOR_COUNTS.get(`${self.machineType}/${self.acceleratorType}`) ?? [];
  return self.acceleratorCount === undefined
    ? builtInGpu(self.machineType) !== undefined
    : allowed.includes(self.acceleratorCount);
}

const machineSpecRules: Rule<MachineSpecBase>[] = [
  {
    kind: "plain",
    name: "machineSpec.countNeedsType",
    rule: "!has(self.acceleratorCount) || has(self.acceleratorType)",
    message: "acceleratorCount needs acceleratorType: name the accelerator it counts",
    fieldPath: ".acceleratorType",
    reason: "FieldValueRequired",
    check: (self) => self.acceleratorCount === undefined || self.acceleratorType !== undefined,
  },
  {
    kind: "plain",
    name: "machineSpec.acceleratorOnMachine",
    rule: `!has(self.acceleratorType) || (${CEL_PAIR}) in ${CEL_COUNTS}`,
    message: "acceleratorType is not one the machine type takes",
    messageExpression:
      `'acceleratorType ' + self.acceleratorType + ' cannot be used on ' + self.machineType + ', which takes ' + ` +
      `${CEL_TAKES}[self.machineType]`,
    fieldPath: ".acceleratorType",
    check: acceleratorFits,
    describe: (self) =>
      `acceleratorType ${self.acceleratorType ?? ""} cannot be used on ${self.machineType}, which takes ${describeAccelerators(self.machineType)}`,
  },
  {
    kind: "plain",
    name: "machineSpec.acceleratorCount",
    rule:
      `!has(self.acceleratorType) || !((${CEL_PAIR}) in ${CEL_COUNTS}) || ` +
      `(has(self.acceleratorCount) ? self.acceleratorCount in ${CEL_COUNTS}[${CEL_PAIR}] : self.machineType in ${CEL_BUILT_IN})`,
    message: "acceleratorCount is not a count the machine type takes of acceleratorType",
    messageExpression:
      `'acceleratorCount of ' + self.acceleratorType + ' on ' + self.machineType + ' must be ' + ` +
      `${CEL_COUNT_TEXT}[${CEL_PAIR}]`,
    fieldPath: ".acceleratorCount",
    check: countFits,
    describe: (self) =>
      self.acceleratorType === undefined
        ? ""
        : `acceleratorCount of ${self.acceleratorType} on ${self.machineType} must be ${describeCounts(self.machineType, self.acceleratorType)}`,
  },
];

export const MachineSpecSchema = withRules(MachineSpecBase, machineSpecRules).describe(
  "The machine one replica runs on, and its GPUs. Immutable.",
);

export const AutoscalingMetricSpecSchema = z
  .object({
    metricName: z
      .enum(AUTOSCALING_METRIC_NAMES)
      .describe(
        "aiplatform.googleapis.com/prediction/online/cpu/utilization or " +
          "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle.",
      ),
    target: z
      .int32()
      .min(1)
      .max(100)
      .optional()
      .describe("Target utilization in percent, per replica on average; 60 when unset."),
  })
  .describe("A metric the replicas scale by (Vertex AI AutoscalingMetricSpec).");

/** dedicatedResources without its rules: the shape status reports the resolved value in. */
export const DedicatedResourcesBase = z.object({
  machineSpec: MachineSpecSchema.optional(),
  minReplicaCount: z
    .int32()
    .min(1)
    .describe("Replicas the model runs (N, the pool of its rollout chain). May change."),
  maxReplicaCount: z
    .int32()
    .min(1)
    .optional()
    .describe(
      "Upper bound for autoscaling, at least minReplicaCount; above it, the chain scales between the two " +
        "by autoscalingMetricSpecs (docs/autoscaling.md). May change.",
    ),
  autoscalingMetricSpecs: z
    .array(AutoscalingMetricSpecSchema)
    .max(AUTOSCALING_METRIC_NAMES.length)
    .optional()
    .describe(
      "The metrics the chain scales by when maxReplicaCount is above minReplicaCount; CPU utilization " +
        "at 60% when empty (and accelerator duty cycle at 60% too for a machine with accelerators). May change.",
    ),
});
type DedicatedResourcesBase = z.output<typeof DedicatedResourcesBase>;

const dedicatedResourcesRules: Rule<DedicatedResourcesBase>[] = [
  {
    kind: "plain",
    name: "dedicatedResources.maxReplicaCount",
    rule: "!has(self.maxReplicaCount) || self.maxReplicaCount >= self.minReplicaCount",
    message: "maxReplicaCount must be greater than or equal to minReplicaCount",
    fieldPath: ".maxReplicaCount",
    check: (self) => self.maxReplicaCount === undefined || self.maxReplicaCount >= self.minReplicaCount,
  },
  {
    kind: "plain",
    name: "dedicatedResources.autoscalingMetricsUnique",
    rule:
      "!has(self.autoscalingMetricSpecs) || self.autoscalingMetricSpecs.all(a, " +
      "self.autoscalingMetricSpecs.exists_one(b, b.metricName == a.metricName))",
    message: "autoscalingMetricSpecs must name each metric at most once",
    fieldPath: ".autoscalingMetricSpecs",
    check: (self) => {
      const names = (self.autoscalingMetricSpecs ?? []).map((a) => a.metricName);
      return new Set(names).size === names.length;
    },
  },
  {
    kind: "transition",
    name: "dedicatedResources.machineSpecImmutable",
    rule: unchangedCel("machineSpec"),
    message: "machineSpec is immutable: deploy a new model (a rolling deployment) to change it",
    fieldPath: ".machineSpec",
    check: (self, old) => jsonEqual(self.machineSpec, old?.machineSpec),
  },
];

export const DedicatedResourcesSchema = withRules(DedicatedResourcesBase, dedicatedResourcesRules).describe(
  "Compute of a model deployed without rolloutOptions (Vertex AI DedicatedResources). " +
    "A rolling deployment inherits its previous model's and must not set it.",
);

// ---------------------------------------------------------------------------------------------
// rolloutOptions

const RolloutOptionsBase = z.object({
  previousDeployedModel: z
    .string()
    .max(MAX_DEPLOYED_MODEL_ID_LENGTH)
    .describe(
      "Id of the deployed model this one replaces; must be in deployedModels when this entry is added.",
    ),
  maxSurgeReplicas: z
    .int32()
    .min(0)
    .optional()
    .describe("Replicas that may exist above the pool size during the rollout (or maxSurgePercentage)."),
  maxSurgePercentage: z
    .int32()
    .min(0)
    .max(100)
    .optional()
    .describe("maxSurge as a percentage of the pool, rounded up; 25 when neither is set."),
  maxUnavailableReplicas: z
    .int32()
    .min(0)
    .optional()
    .describe(
      "Replicas that may be unavailable below the pool size during the rollout (or maxUnavailablePercentage).",
    ),
  maxUnavailablePercentage: z
    .int32()
    .min(0)
    .max(100)
    .optional()
    .describe("maxUnavailable as a percentage of the pool, rounded down; 25 when neither is set."),
  progressDeadlineSeconds: z
    .int32()
    .min(1)
    .default(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    .describe("Seconds without progress after which the rollout fails and reverts (extension; default 600)."),
});
type RolloutOptionsBase = z.output<typeof RolloutOptionsBase>;

const rolloutOptionsRules: Rule<RolloutOptionsBase>[] = [
  {
    kind: "plain",
    name: "rolloutOptions.surgeOneOf",
    rule: "!has(self.maxSurgeReplicas) || !has(self.maxSurgePercentage)",
    message: "set at most one of maxSurgeReplicas and maxSurgePercentage",
    check: (self) => self.maxSurgeReplicas === undefined || self.maxSurgePercentage === undefined,
  },
  {
    kind: "plain",
    name: "rolloutOptions.unavailableOneOf",
    rule: "!has(self.maxUnavailableReplicas) || !has(self.maxUnavailablePercentage)",
    message: "set at most one of maxUnavailableReplicas and maxUnavailablePercentage",
    check: (self) => self.maxUnavailableReplicas === undefined || self.maxUnavailablePercentage === undefined,
  },
];

export const RolloutOptionsSchema = withRules(RolloutOptionsBase, rolloutOptionsRules).describe(
  "Makes this deployed model a rolling deployment onto previousDeployedModel (Vertex AI RolloutOptions). Immutable.",
);

// ---------------------------------------------------------------------------------------------
// A deployed model

const DeployedModelIdSchema = withRules(z.string().max(MAX_DEPLOYED_MODEL_ID_LENGTH), [
  matchesRule(
    "deployedModel.idFormat",
    DNS_LABEL,
    "id must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  ),
]);

const ServiceAccountNameSchema = withRules(z.string().max(253), [
  matchesRule(
    "deployedModel.serviceAccountFormat",
    DNS_SUBDOMAIN,
    "serviceAccount must be a ServiceAccount name: lowercase letters, digits, '-' and '.'",
  ),
]);

/** A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
const LABEL_KEY =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/** A label value: empty, or at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends. */
const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";
const LABEL_KEY_MESSAGE =
  "must be a label key: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'";

/** Bounds of a deployed model's placement. */
export const MAX_NODE_SELECTOR = 16;
export const MAX_TOLERATIONS = 16;

const NodeSelectorSchema = withRules(
  boundedRecord(
    withRules(z.string().max(63), [
      matchesRule(
        "placement.nodeSelectorValue",
        LABEL_VALUE,
        "a nodeSelector value must be a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
      ),
    ]),
    MAX_NODE_SELECTOR,
  ),
  [
    {
      kind: "plain",
      name: "placement.nodeSelectorKeys",
      rule: `self.all(k, size(k) <= 317 && k.matches(${celRegex(LABEL_KEY)}))`,
      message: `every nodeSelector key ${LABEL_KEY_MESSAGE}`,
      check: (self) => Object.keys(self).every((k) => k.length <= 317 && new RegExp(LABEL_KEY).test(k)),
    },
  ],
);

const TolerationBase = z.object({
  key: withRules(z.string().max(317), [
    matchesRule("placement.tolerationKey", `^$|${LABEL_KEY}`, `a toleration key ${LABEL_KEY_MESSAGE}`),
  ])
    .optional()
    .describe("The taint key; empty with operator Exists: every taint."),
  operator: z.enum(["Exists", "Equal"]).optional().describe("Equal (default) or Exists."),
  value: z.string().max(63).optional().describe("The taint value, with operator Equal."),
  effect: z
    .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
    .optional()
    .describe("The taint effect; empty: every effect."),
  tolerationSeconds: z
    .int()
    .optional()
    .describe("With effect NoExecute: how long the pod stays once the taint appears."),
});
type TolerationBase = z.output<typeof TolerationBase>;

export const TolerationSchema = withRules(TolerationBase, [
  {
    kind: "plain",
    name: "placement.tolerationExistsNoValue",
    rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
    message: "a toleration with operator Exists has no value",
    fieldPath: ".value",
    check: (self) => self.operator !== "Exists" || self.value === undefined || self.value === "",
  },
  {
    kind: "plain",
    name: "placement.tolerationKeyOrExists",
    rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
    message: "a toleration without a key must have operator Exists",
    fieldPath: ".operator",
    check: (self) => (self.key !== undefined && self.key !== "") || self.operator === "Exists",
  },
  {
    kind: "plain",
    name: "placement.tolerationSecondsNoExecute",
    rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
    message: "tolerationSeconds needs effect NoExecute",
    fieldPath: ".tolerationSeconds",
    check: (self) => self.tolerationSeconds === undefined || self.effect === "NoExecute",
  },
]).describe("A toleration of the model's pods (Kubernetes' Toleration).");

/**
 * Kubernetes' Affinity, kept as written (nodeAffinity, podAffinity, podAntiAffinity): its full
 * schema would cost the CRD more CEL budget than it is worth, so the API server checks it when the
 * operator creates the ReplicaSet.
 */
const AffinitySchema = z
  .looseObject({})
  .meta({ "x-kubernetes-preserve-unknown-fields": true, maxProperties: 3 })
  .describe(
    "Kubernetes' Affinity of the model's pods (nodeAffinity, podAffinity, podAntiAffinity), kept as written; " +
      "the API server checks it when the operator creates the ReplicaSet.",
  );

export const PlacementSchema = z
  .object({
    nodeSelector: NodeSelectorSchema.optional().describe(
      `Node labels the pods require (at most ${MAX_NODE_SELECTOR}); on a key the operator's placement profile also sets, this one wins.`,
    ),
    tolerations: z
      .array(TolerationSchema)
      .max(MAX_TOLERATIONS)
      .optional()
      .describe(`Tolerations of the pods (at most ${MAX_TOLERATIONS}), after the placement profile's.`),
    affinity: AffinitySchema.optional(),
  })
  .describe(
    "Where the model's pods may run (extension), merged with the operator's placement profile; inherited " +
      "from previousDeployedModel when unset on a rolling deployment. Immutable.",
  );
export type Placement = z.output<typeof PlacementSchema>;
export type Toleration = z.output<typeof TolerationSchema>;

const LOGGING_FLAG =
  "Recorded for Vertex AI compatibility; default false, inherited on a rolling deployment. " +
  "May change on a model deployed without rolloutOptions.";

const DeployedModelBase = z.object({
  id: DeployedModelIdSchema.describe(
    `Unique id of the deployed model in the endpoint: a DNS label of at most ${MAX_DEPLOYED_MODEL_ID_LENGTH} characters. Immutable.`,
  ),
  model: z
    .string()
    .min(1)
    .max(256)
    .describe("The model, as name[@version]; informational (AIP_MODEL_NAME, AIP_VERSION_NAME). Immutable."),
  containerSpec: ContainerSpecSchema,
  dedicatedResources: DedicatedResourcesSchema.optional(),
  rolloutOptions: RolloutOptionsSchema.optional(),
  serviceAccount: ServiceAccountNameSchema.optional().describe(
    "ServiceAccount of the model's pods; inherited from previousDeployedModel when unset on a rolling deployment. Immutable.",
  ),
  disableContainerLogging: z.boolean().optional().describe(LOGGING_FLAG),
  enableAccessLogging: z.boolean().optional().describe(LOGGING_FLAG),
  placement: PlacementSchema.optional(),
});
type DeployedModelBase = z.output<typeof DeployedModelBase>;

const deployedModelRules: Rule<DeployedModelBase>[] = [
  {
    kind: "plain",
    name: "deployedModel.noDedicatedResourcesOnRollout",
    rule: "!has(self.rolloutOptions) || !has(self.dedicatedResources)",
    message:
      "dedicatedResources must not be set on a rolling deployment (an entry with rolloutOptions): " +
      "it reuses the compute of its previousDeployedModel",
    fieldPath: ".dedicatedResources",
    reason: "FieldValueForbidden",
    check: (self) => self.rolloutOptions === undefined || self.dedicatedResources === undefined,
  },
  {
    kind: "plain",
    name: "deployedModel.dedicatedResourcesRequired",
    rule: "has(self.rolloutOptions) || has(self.dedicatedResources)",
    message: "dedicatedResources is required on a deployed model without rolloutOptions",
    fieldPath: ".dedicatedResources",
    reason: "FieldValueRequired",
    check: (self) => self.rolloutOptions !== undefined || self.dedicatedResources !== undefined,
  },
  {
    kind: "plain",
    name: "deployedModel.notOntoItself",
    rule: "!has(self.rolloutOptions) || self.rolloutOptions.previousDeployedModel != self.id",
    message: "rolloutOptions.previousDeployedModel must name another deployed model, not this one",
    fieldPath: ".rolloutOptions.previousDeployedModel",
    check: (self) => self.rolloutOptions?.previousDeployedModel !== self.id,
  },
  {
    kind: "transition",
    name: "deployedModel.modelImmutable",
    rule: "self.model == oldSelf.model",
    message: "model is immutable: deploy the new model as a new entry with rolloutOptions instead",
    fieldPath: ".model",
    check: (self, old) => self.model === old?.model,
  },
  {
    kind: "transition",
    name: "deployedModel.containerSpecImmutable",
    rule: "self.containerSpec == oldSelf.containerSpec",
    message:
      "containerSpec is immutable: deploy the new container as a new entry with rolloutOptions instead",
    fieldPath: ".containerSpec",
    check: (self, old) => jsonEqual(self.containerSpec, old?.containerSpec),
  },
  {
    kind: "transition",
    name: "deployedModel.rolloutOptionsImmutable",
    rule: unchangedCel("rolloutOptions"),
    message: "rolloutOptions is immutable: it can be neither added, changed nor removed on an existing entry",
    fieldPath: ".rolloutOptions",
    check: (self, old) => jsonEqual(self.rolloutOptions, old?.rolloutOptions),
  },
  {
    kind: "transition",
    name: "deployedModel.serviceAccountImmutable",
    rule: unchangedCel("serviceAccount"),
    message: "serviceAccount is immutable",
    fieldPath: ".serviceAccount",
    check: (self, old) => self.serviceAccount === old?.serviceAccount,
  },
  {
    kind: "transition",
    name: "deployedModel.placementImmutable",
    rule: unchangedCel("placement"),
    message: "placement is immutable: deploy a new model (a rolling deployment) to move its pods",
    fieldPath: ".placement",
    check: (self, old) => jsonEqual(self.placement, old?.placement),
  },
  {
    kind: "transition",
    name: "deployedModel.disableContainerLoggingImmutableOnRollout",
    rule: `!has(self.rolloutOptions) || (${unchangedCel("disableContainerLogging")})`,
    message: "disableContainerLogging cannot change on a rolling deployment (an entry with rolloutOptions)",
    fieldPath: ".disableContainerLogging",
    check: (self, old) =>
      self.rolloutOptions === undefined || self.disableContainerLogging === old?.disableContainerLogging,
  },
  {
    kind: "transition",
    name: "deployedModel.enableAccessLoggingImmutableOnRollout",
    rule: `!has(self.rolloutOptions) || (${unchangedCel("enableAccessLogging")})`,
    message: "enableAccessLogging cannot change on a rolling deployment (an entry with rolloutOptions)",
    fieldPath: ".enableAccessLogging",
    check: (self, old) =>
      self.rolloutOptions === undefined || self.enableAccessLogging === old?.enableAccessLogging,
  },
];

export const DeployedModelSchema = withRules(DeployedModelBase, deployedModelRules).describe(
  "One deployed model (one revision) of the endpoint (Vertex AI DeployedModel).",
);
export type DeployedModel = z.output<typeof DeployedModelSchema>;

// ---------------------------------------------------------------------------------------------
// The list of deployed models: rules across entries.
//
// Rules judged "when an entry is added" are written once as a body over an added rolling entry `m`
// at index `i`, and expanded into an update form and a create form (see rule.ts). Their messages
// name the first offending entry: a messageExpression `'...%s...'.format([...])` over a filtered
// entry keeps CEL's cost estimate bounded, where `join` over a mapped list does not.

const PREV = "m.rolloutOptions.previousDeployedModel";

/** CEL of "the entry with id `idExpr` was in the list before this write", or undefined on create. */
type Existed = (idExpr: string) => string | undefined;
const existedBefore: Existed = (idExpr) => `oldSelf.exists(o, o.id == ${idExpr})`;
const onCreate: Existed = () => undefined;

/** `a || b || ...` over the terms that apply. */
function anyOf(...terms: (string | undefined)[]): string {
  return terms.filter((t) => t !== undefined).join(" || ");
}

interface AddedRuleSpec {
  readonly name: string;
  readonly message: string;
  /** CEL that holds for a valid added rolling entry `m` at index `i`. */
  readonly body: (existed: Existed) => string;
  /** `'...%s...'` and the CEL arguments over the first offending entry `x`. */
  readonly format: string;
  readonly args: (x: string) => string[];
  readonly check: (self: DeployedModel[], old: DeployedModel[] | undefined) => boolean;
  readonly describe: (self: DeployedModel[], old: DeployedModel[] | undefined) => string;
}

/** A transition rule on the list, judged for each rolling entry when it is added (create or update). */
function addedRule(spec: AddedRuleSpec): Rule<DeployedModel[]> {
  const update = spec.body(existedBefore);
  const create = spec.body(onCreate);
  const isAdded = "!oldSelf.exists(o, o.id == m.id)";
  const updateFirst = `self.transformList(i, m, has(m.rolloutOptions) && ${isAdded} && !(${update}), m)[0]`;
  const createFirst = `self.transformList(i, m, has(m.rolloutOptions) && !(${create}), m)[0]`;
  return {
    kind: "transition",
    name: spec.name,
    rule: `self.all(i, m, ${anyOf("!has(m.rolloutOptions)", existedBefore("m.id"), `(${update})`)})`,
    messageExpression: celFormat(spec.format, updateFirst, spec.args),
    onCreate: {
      rule: `oldSelf.hasValue() || self.all(i, m, !has(m.rolloutOptions) || (${create}))`,
      messageExpression: celFormat(spec.format, createFirst, spec.args),
    },
    message: spec.message,
    check: spec.check,
    describe: spec.describe,
  };
}

function existed(old: readonly DeployedModel[] | undefined, id: string): boolean {
  return old?.some((o) => o.id === id) ?? false;
}

/** The entry with `id`. */
function entry(list: readonly DeployedModel[], id: string): DeployedModel | undefined {
  return list.find((m) => m.id === id);
}

type RollingEntry = DeployedModel & { rolloutOptions: RolloutOptions };

/**
 * The first rolling entry added by this write (on create: any) that breaks `valid`, in list order,
 * as the API server's messageExpression finds it.
 */
function firstAddedOffender(
  list: readonly DeployedModel[],
  old: readonly DeployedModel[] | undefined,
  valid: (m: RollingEntry, index: number) => boolean,
): RollingEntry | undefined {
  let found: RollingEntry | undefined;
  list.forEach((m, i) => {
    if (found !== undefined || m.rolloutOptions === undefined || existed(old, m.id)) return;
    const rolling = { ...m, rolloutOptions: m.rolloutOptions };
    if (!valid(rolling, i)) found = rolling;
  });
  return found;
}

function previousExists(list: readonly DeployedModel[], m: RollingEntry): boolean {
  return entry(list, m.rolloutOptions.previousDeployedModel) !== undefined;
}

/**
 * An added previous (not in the old list) that is in the list must come before `m`. (An entry that
 * names itself is left to the rule deployedModel.notOntoItself.)
 */
function previousListedBefore(
  list: readonly DeployedModel[],
  old: readonly DeployedModel[] | undefined,
  m: RollingEntry,
  index: number,
): boolean {
  const previous = m.rolloutOptions.previousDeployedModel;
  if (previous === m.id || existed(old, previous)) return true;
  const at = list.findIndex((p) => p.id === previous);
  return at === -1 || at < index;
}

function sameRoutes(list: readonly DeployedModel[], m: RollingEntry): boolean {
  const p = entry(list, m.rolloutOptions.previousDeployedModel);
  return (
    p === undefined ||
    (p.containerSpec.predictRoute === m.containerSpec.predictRoute &&
      p.containerSpec.healthRoute === m.containerSpec.healthRoute)
  );
}

function firstSharingPrevious(list: readonly DeployedModel[]): RollingEntry | undefined {
  return list.find(
    (a): a is RollingEntry =>
      a.rolloutOptions !== undefined &&
      list.filter((b) => b.rolloutOptions?.previousDeployedModel === a.rolloutOptions?.previousDeployedModel)
        .length > 1,
  );
}

/** The first entry this write adds whose id an entry of the old list names as its previous model. */
function firstRebinding(
  list: readonly DeployedModel[],
  old: readonly DeployedModel[],
): DeployedModel | undefined {
  return list.find(
    (m) => !existed(old, m.id) && old.some((o) => o.rolloutOptions?.previousDeployedModel === m.id),
  );
}

const exactlyOneOnSamePrevious =
  "self.exists_one(b, has(b.rolloutOptions) && " +
  "b.rolloutOptions.previousDeployedModel == a.rolloutOptions.previousDeployedModel)";

const rolloutOntoMessage = (id: string, previous: string) =>
  `deployed model ${id}: rolloutOptions.previousDeployedModel ${previous} is not a deployed model of this endpoint`;
const listedAfterMessage = (id: string, previous: string) =>
  `deployed model ${id} must be listed after ${previous}, its previousDeployedModel, which is added in the same change`;
const routesMessage = (id: string, previous: string) =>
  `deployed model ${id}: containerSpec.predictRoute and containerSpec.healthRoute must equal those of its previousDeployedModel ${previous}`;
const sharedPreviousMessage = (id: string, previous: string) =>
  `deployed model ${id}: another deployed model also rolls onto ${previous}; at most one deployed model may roll onto a given previousDeployedModel`;
const rebindingMessage = (id: string) =>
  `deployed model ${id} reuses the id of a removed model that an existing entry names as its previousDeployedModel: choose another id`;

const idAndPrevious = (x: string) => [`${x}.id`, `${x}.rolloutOptions.previousDeployedModel`];

const deployedModelsRules: Rule<DeployedModel[]>[] = [
  {
    kind: "plain",
    name: "deployedModels.uniquePrevious",
    rule: `self.all(a, !has(a.rolloutOptions) || ${exactlyOneOnSamePrevious})`,
    messageExpression: celFormat(
      sharedPreviousMessage("%s", "%s"),
      `self.filter(a, has(a.rolloutOptions) && !${exactlyOneOnSamePrevious})[0]`,
      idAndPrevious,
    ),
    message: "at most one deployed model may roll onto a given previousDeployedModel",
    check: (self) => firstSharingPrevious(self) === undefined,
    describe: (self) => {
      const m = firstSharingPrevious(self);
      return m === undefined ? "" : sharedPreviousMessage(m.id, m.rolloutOptions.previousDeployedModel);
    },
  },
  addedRule({
    name: "deployedModels.previousExists",
    message: "rolloutOptions.previousDeployedModel must name a deployed model of this endpoint",
    body: () => `self.exists(p, p.id == ${PREV})`,
    format: rolloutOntoMessage("%s", "%s"),
    args: idAndPrevious,
    check: (self, old) => firstAddedOffender(self, old, (m) => previousExists(self, m)) === undefined,
    describe: (self, old) => {
      const m = firstAddedOffender(self, old, (x) => previousExists(self, x));
      return m === undefined ? "" : rolloutOntoMessage(m.id, m.rolloutOptions.previousDeployedModel);
    },
  }),
  addedRule({
    name: "deployedModels.previousListedFirst",
    message: "a rolling deployment added together with its previousDeployedModel must be listed after it",
    body: (existedBefore) =>
      anyOf(
        `${PREV} == m.id`,
        existedBefore(PREV),
        `!self.exists(p, p.id == ${PREV})`,
        `self.exists(j, p, j < i && p.id == ${PREV})`,
      ),
    format: listedAfterMessage("%s", "%s"),
    args: idAndPrevious,
    check: (self, old) =>
      firstAddedOffender(self, old, (m, i) => previousListedBefore(self, old, m, i)) === undefined,
    describe: (self, old) => {
      const m = firstAddedOffender(self, old, (x, i) => previousListedBefore(self, old, x, i));
      return m === undefined ? "" : listedAfterMessage(m.id, m.rolloutOptions.previousDeployedModel);
    },
  }),
  addedRule({
    name: "deployedModels.sameRoutesAsPrevious",
    message:
      "a rolling deployment's containerSpec.predictRoute and containerSpec.healthRoute must equal those of its previousDeployedModel",
    body: () =>
      `self.all(p, p.id != ${PREV} || ` +
      `(${sameOptional("p.containerSpec", "m.containerSpec", "predictRoute")} && ` +
      `${sameOptional("p.containerSpec", "m.containerSpec", "healthRoute")}))`,
    format: routesMessage("%s", "%s"),
    args: idAndPrevious,
    check: (self, old) => firstAddedOffender(self, old, (m) => sameRoutes(self, m)) === undefined,
    describe: (self, old) => {
      const m = firstAddedOffender(self, old, (x) => sameRoutes(self, x));
      return m === undefined ? "" : routesMessage(m.id, m.rolloutOptions.previousDeployedModel);
    },
  }),
  {
    kind: "transition",
    name: "deployedModels.noRebinding",
    rule:
      "self.all(m, oldSelf.exists(o, o.id == m.id) || " +
      "!oldSelf.exists(o, has(o.rolloutOptions) && o.rolloutOptions.previousDeployedModel == m.id))",
    messageExpression: celFormat(
      rebindingMessage("%s"),
      "self.filter(m, !oldSelf.exists(o, o.id == m.id) && " +
        "oldSelf.exists(o, has(o.rolloutOptions) && o.rolloutOptions.previousDeployedModel == m.id))[0]",
      (x) => [`${x}.id`],
    ),
    message:
      "a new deployed model must not reuse the id of a removed model that an existing entry names as its previousDeployedModel",
    check: (self, old) => old === undefined || firstRebinding(self, old) === undefined,
    describe: (self, old) => {
      const m = old === undefined ? undefined : firstRebinding(self, old);
      return m === undefined ? "" : rebindingMessage(m.id);
    },
  },
];

/**
 * Deployed models whose rollout chain never reaches a model deployed without rolloutOptions
 * because it loops (an entry that names itself counts; the rule notOntoItself reports it).
 */
export function findRolloutCycles(list: readonly DeployedModel[]): string[] {
  const inCycle = new Set<string>();
  for (const start of list) {
    const seen = new Set<string>();
    let current: DeployedModel | undefined = start;
    while (current?.rolloutOptions !== undefined) {
      if (seen.has(current.id)) {
        if (current.id === start.id) inCycle.add(start.id);
        break;
      }
      seen.add(current.id);
      current = entry(list, current.rolloutOptions.previousDeployedModel);
    }
  }
  return list.filter((m) => inCycle.has(m.id)).map((m) => m.id);
}

export const DeployedModelsSchema = withRules(
  z
    .array(DeployedModelSchema)
    .max(MAX_DEPLOYED_MODELS)
    .superRefine((list, ctx) => {
      // The API server enforces list-map keys itself (x-kubernetes-list-type: map).
      refuseDuplicates(list, ctx, (m) => ({ id: m.id }));
      // Not expressible in CEL (it cannot follow a chain of unbounded length); admission prevents
      // cycles through the transition rules previousExists, previousListedFirst and noRebinding.
      const cycle = findRolloutCycles(list);
      if (cycle.length > 1) {
        ctx.addIssue({
          code: "custom",
          params: { rule: "deployedModels.noCycle" },
          message: `deployed models ${cycle.join(", ")} form a rollout cycle: every chain must start at a model deployed without rolloutOptions`,
        });
      }
    })
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"] }),
  deployedModelsRules,
);

// ---------------------------------------------------------------------------------------------
// The spec

const TrafficSplitSchema = boundedRecord(z.int32().min(0).max(100), MAX_DEPLOYED_MODELS).meta({
  maxProperties: MAX_DEPLOYED_MODELS,
  "x-kubernetes-map-type": "atomic",
});

export const ParentRefSchema = z
  .object({
    name: z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN)).describe("Name of the Gateway."),
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(DNS_LABEL))
      .optional()
      .describe("Namespace of the Gateway; default: the endpoint's namespace."),
    sectionName: z
      .string()
      .min(1)
      .max(253)
      .regex(new RegExp(DNS_SUBDOMAIN))
      .optional()
      .describe("Listener of the Gateway to attach to; default: every listener that allows the route."),
  })
  .describe("A Gateway (gateway.networking.k8s.io) the endpoint's HTTPRoute attaches to.");

const HOSTNAME = "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

export const GatewaySchema = z
  .object({
    parentRefs: z
      .array(ParentRefSchema)
      .min(1)
      .max(8)
      .describe("The Gateways that serve the endpoint's predictions."),
    hostnames: z
      .array(z.string().min(1).max(253).regex(new RegExp(HOSTNAME)))
      .max(16)
      .optional()
      .describe("Host names the route answers for; default: every host name of the Gateway."),
  })
  .describe(
    "Serve predictions through Gateway API: the operator owns an HTTPRoute named like the endpoint, with " +
      "the endpoint's predict paths, weighted backends (one per deployed model, weights = status.trafficSplit) " +
      "and a rewrite to the models' predictRoute. Default: the operator's --gateway, if set; else no route.",
  );

const SpecBase = z.object({
  displayName: z.string().max(128).optional().describe("Human-readable name of the endpoint."),
  trafficSplit: TrafficSplitSchema.default({}).describe(
    "Deployed-model id -> percent of the endpoint's traffic; the values sum to 100, or the map is empty " +
      "(no traffic). A rollout chain receives the sum of its members' shares. Replaced as a whole by apply.",
  ),
  deployedModels: DeployedModelsSchema.default([]).describe(
    "The deployed models (revisions), keyed by id. Removing an entry undeploys it.",
  ),
  gateway: GatewaySchema.optional(),
});
type SpecBase = z.output<typeof SpecBase>;

const specRules: Rule<SpecBase>[] = [
  {
    kind: "plain",
    name: "spec.trafficSplitKeys",
    rule: "self.trafficSplit.all(k, self.deployedModels.exists(m, m.id == k))",
    message:
      "every trafficSplit key must be the id of an entry in deployedModels " +
      "(a deployed model that still has a traffic share cannot be removed: move its share first)",
    fieldPath: ".trafficSplit",
    check: (self) => Object.keys(self.trafficSplit).every((k) => self.deployedModels.some((m) => m.id === k)),
  },
  {
    kind: "plain",
    name: "spec.trafficSplitSum",
    rule: "size(self.trafficSplit) == 0 || self.trafficSplit.map(k, self.trafficSplit[k]).sum() == 100",
    message: "trafficSplit percentages must sum to 100, or trafficSplit must be empty (no traffic)",
    fieldPath: ".trafficSplit",
    check: (self) => {
      const values = Object.values(self.trafficSplit);
      return values.length === 0 || values.reduce((a, b) => a + b, 0) === 100;
    },
  },
];

export const ModelEndpointSpecSchema = withRules(SpecBase, specRules).describe(
  "Desired state of the endpoint, written by its users (Vertex AI Endpoint).",
);
export type ModelEndpointSpec = z.output<typeof ModelEndpointSpecSchema>;
export type ModelEndpointSpecInput = z.input<typeof ModelEndpointSpecSchema>;

export type ContainerSpec = z.output<typeof ContainerSpecSchema>;
export type EnvVar = z.output<typeof EnvVarSchema>;
export type Port = z.output<typeof PortSchema>;
export type ResourceRequirements = z.output<typeof ResourceRequirementsSchema>;
export type DedicatedResources = z.output<typeof DedicatedResourcesSchema>;
export type MachineSpec = z.output<typeof MachineSpecSchema>;
export type RolloutOptions = z.output<typeof RolloutOptionsSchema>;
export type Gateway = z.output<typeof GatewaySchema>;
export type ParentRef = z.output<typeof ParentRefSchema>;

/** Every rule table of the spec, by schema node, for validateUpdate, the docs and the tests. */
export const SPEC_RULES = {
  spec: specRules,
  deployedModels: deployedModelsRules,
  deployedModel: deployedModelRules,
  dedicatedResources: dedicatedResourcesRules,
  machineSpec: machineSpecRules,
  rolloutOptions: rolloutOptionsRules,
} as const;
