/**
 * The operator's configuration: command-line flags, else environment variables, else defaults,
 * validated by one zod schema. This is the only module that reads process.env or argv.
 *
 *   flag                         env                          default
 *   --kubeconfig PATH            KUBECONFIG                   in-cluster, else ~/.kube/config
 *   --namespaces a,b             MEO_NAMESPACES               "" = every namespace
 *   --metrics-bind-address H:P   MEO_METRICS_BIND_ADDRESS     0.0.0.0:8080 (/metrics, /healthz, /readyz)
 *   --leader-elect true|false    MEO_LEADER_ELECT             true
 *   --lease-namespace NS         POD_NAMESPACE                "default"
 *   --lease-name NAME            MEO_LEASE_NAME               model-endpoint-operator
 *   --workers N                  MEO_WORKERS                  4
 *   --watch-stall-timeout-seconds N  MEO_WATCH_STALL_TIMEOUT_SECONDS  120 (a silent watch is restarted)
 *   --log-level LEVEL            MEO_LOG_LEVEL                info
 *   --log-format json|pretty     MEO_LOG_FORMAT               pretty on a terminal, else json
 *   --identity ID                POD_NAME                     <hostname>-<random>
 *   --gateway NS/NAME            MEO_GATEWAY                  "" = endpoints without spec.gateway get no route
 *   --location NAME              MEO_LOCATION                 us-central1 (in the Vertex-style predict path)
 *   --model-pod-user UID         MEO_MODEL_POD_USER           "" = the image's user (pods run as UID, non-root)
 *   --placement-profile NAME     MEO_PLACEMENT_PROFILE        generic (or gke: GKE's node pool labels and taints)
 *   --placement-instance-type-selector true|false
 *                                MEO_PLACEMENT_INSTANCE_TYPE_SELECTOR  true (gke: node.kubernetes.io/instance-type)
 *   --placement-daemonset-reserve cpu=Q,memory=Q
 *                                MEO_PLACEMENT_DAEMONSET_RESERVE       cpu=200m,memory=256Mi (kept free on each node)
 *   --autoscaling-sync-period-seconds N  MEO_AUTOSCALING_SYNC_PERIOD_SECONDS  15 (metrics polled, N decided)
 *   --autoscaling-downscale-stabilization-seconds N
 *                                MEO_AUTOSCALING_DOWNSCALE_STABILIZATION_SECONDS  300
 *   --autoscaling-tolerance F    MEO_AUTOSCALING_TOLERANCE    0.1 (no change within 10% of the target)
 *   --accelerator-duty-cycle-metric NAME
 *                                MEO_ACCELERATOR_DUTY_CYCLE_METRIC  "" = duty cycle not read (custom metrics API)
 *   --placement-accelerator-labels TYPE=label,...
 *                                MEO_PLACEMENT_ACCELERATOR_LABELS      "" = GKE's names (gke-accelerator values)
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";

import { z } from "zod";

import { ACCELERATOR_TYPES, isAcceleratorType } from "./api/machine-types.ts";
import { quantityValue } from "./api/spec.ts";
import {
  DEFAULT_PLACEMENT_PROFILE,
  PLACEMENT_PROFILES,
  type PlacementProfile,
} from "./controller/placement.ts";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A label value (what cloud.google.com/gke-accelerator may hold). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** "a=1,b=2" as pairs; empty items are skipped. */
function pairs(s: string): [string, string][] {
  return s
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => {
      const at = p.indexOf("=");
      return at < 0 ? [p, ""] : [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
}

const DaemonSetReserve = z.string().transform((s, ctx) => {
  const reserve = { ...DEFAULT_PLACEMENT_PROFILE.daemonSetReserve };
  for (const [k, v] of pairs(s)) {
    const value = quantityValue(v);
    if ((k !== "cpu" && k !== "memory") || !Number.isFinite(value) || value < 0) {
      ctx.addIssue({
        code: "custom",
        message: `"${k}=${v}": must be cpu=<quantity> and/or memory=<quantity>, e.g. "cpu=200m,memory=256Mi"`,
      });
      continue;
    }
    if (k === "cpu") reserve.cpuMillis = value * 1000;
    else reserve.memoryMi = value / 2 ** 20;
  }
  return reserve;
});

const AcceleratorLabels = z.string().transform((s, ctx) => {
  const labels = { ...DEFAULT_PLACEMENT_PROFILE.acceleratorLabels };
  for (const [k, v] of pairs(s)) {
    if (!isAcceleratorType(k) || v === "" || !LABEL_VALUE.test(v)) {
      ctx.addIssue({
        code: "custom",
        message: `"${k}=${v}": must be <accelerator type>=<label value>, the type one of ${ACCELERATOR_TYPES.join(", ")}`,
      });
      continue;
    }
    labels[k] = v;
  }
  return labels;
});

export const ConfigSchema = z.object({
  kubeconfig: z.string().min(1).optional(),
  namespaces: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n !== ""),
    )
    .pipe(z.array(z.string().regex(DNS_LABEL, "each namespace must be a DNS label")).max(1000)),
  metricsBindAddress: z
    .string()
    .regex(/^[^:]*:\d{1,5}$/, 'must be "host:port", e.g. "0.0.0.0:8080" or ":8080"')
    .transform((s) => {
      const at = s.lastIndexOf(":");
      return { host: s.slice(0, at) || "0.0.0.0", port: Number(s.slice(at + 1)) };
    })
    .refine((a) => a.port <= 65535, "port must be at most 65535"),
  leaderElect: bool,
  leaseNamespace: z.string().regex(DNS_LABEL, "must be a DNS label"),
  leaseName: z.string().regex(DNS_LABEL, "must be a DNS label"),
  leaseDurationSeconds: z.coerce.number().int().min(2).max(3600),
  renewDeadlineSeconds: z.coerce.number().int().min(1).max(3600),
  retryPeriodSeconds: z.coerce.number().int().min(1).max(600),
  workers: z.coerce.number().int().min(1).max(64),
  watchStallTimeoutSeconds: z.coerce.number().int().min(1).max(3600),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
  logFormat: z.enum(["json", "pretty"]),
  identity: z.string().min(1).max(128),
  gateway: z
    .string()
    .transform((s) => s.trim())
    .refine(
      (s) => s === "" || /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s),
      'must be "namespace/name" of a Gateway, e.g. "gateway-system/model-gateway", or empty',
    )
    .transform((s) => {
      if (s === "") return undefined;
      const [namespace = "", name = ""] = s.split("/");
      return { namespace, name };
    }),
  location: z.string().regex(DNS_LABEL, "must be a DNS label, e.g. us-central1"),
  modelPodUser: z
    .string()
    .regex(/^$|^[1-9]\d{0,9}$/, "must be a user id above 0 (non-root), or empty for the image's user")
    .transform((s) => (s === "" ? undefined : Number(s)))
    .refine((n) => n === undefined || n <= 2147483647, "must be at most 2147483647"),
  placementProfile: z.enum(PLACEMENT_PROFILES),
  placementInstanceTypeSelector: bool,
  placementDaemonSetReserve: DaemonSetReserve,
  placementAcceleratorLabels: AcceleratorLabels,
  autoscalingSyncPeriodSeconds: z.coerce.number().int().min(1).max(3600),
  autoscalingDownscaleStabilizationSeconds: z.coerce.number().int().min(0).max(3600),
  autoscalingTolerance: z.coerce.number().min(0).max(1),
  acceleratorDutyCycleMetric: z
    .string()
    .regex(
      /^$|^[A-Za-z_][A-Za-z0-9_:.-]{0,252}$/,
      "must be a custom metric name, e.g. DCGM_FI_DEV_GPU_UTIL, or empty",
    )
    .transform((s) => (s === "" ? undefined : s)),
});

export type Config = z.output<typeof ConfigSchema>;

/** The placement profile the configuration describes (src/controller/placement.ts). */
export function placementProfile(config: Config): PlacementProfile {
  return {
    name: config.placementProfile,
    instanceTypeSelector: config.placementInstanceTypeSelector,
    daemonSetReserve: config.placementDaemonSetReserve,
    acceleratorLabels: config.placementAcceleratorLabels,
  };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const FLAGS = {
  kubeconfig: { type: "string" },
  namespaces: { type: "string" },
  "metrics-bind-address": { type: "string" },
  "leader-elect": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-name": { type: "string" },
  "lease-duration-seconds": { type: "string" },
  "renew-deadline-seconds": { type: "string" },
  "retry-period-seconds": { type: "string" },
  workers: { type: "string" },
  "watch-stall-timeout-seconds": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  identity: { type: "string" },
  gateway: { type: "string" },
  location: { type: "string" },
  "model-pod-user": { type: "string" },
  "placement-profile": { type: "string" },
  "placement-instance-type-selector": { type: "string" },
  "placement-daemonset-reserve": { type: "string" },
  "placement-accelerator-labels": { type: "string" },
  "autoscaling-sync-period-seconds": { type: "string" },
  "autoscaling-downscale-stabilization-seconds": { type: "string" },
  "autoscaling-tolerance": { type: "string" },
  "accelerator-duty-cycle-metric": { type: "string" },
  help: { type: "boolean" },
} as const;

export const USAGE = `model-endpoint-operator: reconciles ModelEndpoint resources (serving.modelendpoint.io/v1alpha1)

Flags (each also settable through the environment variable shown):
  --kubeconfig PATH              KUBECONFIG                 in-cluster config, else ~/.kube/config
  --namespaces a,b               MEO_NAMESPACES             watch only these namespaces (default: all)
  --metrics-bind-address H:P     MEO_METRICS_BIND_ADDRESS   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
  --leader-elect true|false      MEO_LEADER_ELECT           leader election on a Lease (default true)
  --lease-namespace NS           POD_NAMESPACE              (default "default")
  --lease-name NAME              MEO_LEASE_NAME             (default model-endpoint-operator)
  --lease-duration-seconds N     MEO_LEASE_DURATION_SECONDS (default 15)
  --renew-deadline-seconds N     MEO_RENEW_DEADLINE_SECONDS (default 10)
  --retry-period-seconds N       MEO_RETRY_PERIOD_SECONDS   (default 2)
  --workers N                    MEO_WORKERS                concurrent reconciles (default 4)
  --watch-stall-timeout-seconds N
                                 MEO_WATCH_STALL_TIMEOUT_SECONDS  restart a watch silent this long (default 120)
  --log-level LEVEL              MEO_LOG_LEVEL              trace|debug|info|warn|error (default info)
  --log-format json|pretty       MEO_LOG_FORMAT             (default: pretty on a terminal, else json)
  --identity ID                  POD_NAME                   leader-election identity (default host-random)
  --gateway NS/NAME              MEO_GATEWAY                Gateway for endpoints without spec.gateway (default: none)
  --location NAME                MEO_LOCATION               location in the Vertex-style predict path (default us-central1)
  --model-pod-user UID           MEO_MODEL_POD_USER         model pods run as this non-root user (default: the image's user)
  --placement-profile NAME       MEO_PLACEMENT_PROFILE      generic (resources only) or gke (GPU node pools' labels
                                                            and taint) (default generic)
  --placement-instance-type-selector true|false
                                 MEO_PLACEMENT_INSTANCE_TYPE_SELECTOR  gke: require node.kubernetes.io/instance-type
                                                            = the machine type (default true)
  --placement-daemonset-reserve cpu=Q,memory=Q
                                 MEO_PLACEMENT_DAEMONSET_RESERVE  left free on each node for DaemonSets when a
                                                            machine type sizes a pod (default cpu=200m,memory=256Mi)
  --placement-accelerator-labels TYPE=VALUE,...
                                 MEO_PLACEMENT_ACCELERATOR_LABELS  gke: cloud.google.com/gke-accelerator values that
                                                            differ from GKE's (e.g. NVIDIA_L4=nvidia-l4)
  --autoscaling-sync-period-seconds N
                                 MEO_AUTOSCALING_SYNC_PERIOD_SECONDS  how often autoscaled endpoints' metrics are
                                                            read and their replica counts decided (default 15)
  --autoscaling-downscale-stabilization-seconds N
                                 MEO_AUTOSCALING_DOWNSCALE_STABILIZATION_SECONDS  scale down no lower than the
                                                            highest count proposed this long back (default 300)
  --autoscaling-tolerance F      MEO_AUTOSCALING_TOLERANCE  no change while a metric is within this fraction of its
                                                            target (default 0.1)
  --accelerator-duty-cycle-metric NAME
                                 MEO_ACCELERATOR_DUTY_CYCLE_METRIC  the custom metrics API's per-pod metric for
                                                            accelerator duty cycle in percent (default: not read)
`;

/**
 * Reads the configuration. Throws ConfigError listing every invalid setting with where it came
 * from, so a bad Helm value or flag is reported once and clearly at start-up.
 */
export function loadConfig(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  isTty: boolean = process.stdout.isTTY,
): Config | "help" {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`, { cause: err });
  }
  if (flags["help"] === true) return "help";
  const pick = (flag: keyof typeof FLAGS, envName: string, fallback: string): string => {
    const value = flags[flag];
    if (typeof value === "string") return value;
    return env[envName] ?? fallback;
  };
  const raw = {
    kubeconfig: pick("kubeconfig", "KUBECONFIG", "") || undefined,
    namespaces: pick("namespaces", "MEO_NAMESPACES", ""),
    metricsBindAddress: pick("metrics-bind-address", "MEO_METRICS_BIND_ADDRESS", "0.0.0.0:8080"),
    leaderElect: pick("leader-elect", "MEO_LEADER_ELECT", "true"),
    leaseNamespace: pick("lease-namespace", "POD_NAMESPACE", "default"),
    leaseName: pick("lease-name", "MEO_LEASE_NAME", "model-endpoint-operator"),
    leaseDurationSeconds: pick("lease-duration-seconds", "MEO_LEASE_DURATION_SECONDS", "15"),
    renewDeadlineSeconds: pick("renew-deadline-seconds", "MEO_RENEW_DEADLINE_SECONDS", "10"),
    retryPeriodSeconds: pick("retry-period-seconds", "MEO_RETRY_PERIOD_SECONDS", "2"),
    workers: pick("workers", "MEO_WORKERS", "4"),
    watchStallTimeoutSeconds: pick("watch-stall-timeout-seconds", "MEO_WATCH_STALL_TIMEOUT_SECONDS", "120"),
    logLevel: pick("log-level", "MEO_LOG_LEVEL", "info"),
    logFormat: pick("log-format", "MEO_LOG_FORMAT", isTty ? "pretty" : "json"),
    identity: pick("identity", "POD_NAME", `${hostname()}-${randomBytes(3).toString("hex")}`),
    gateway: pick("gateway", "MEO_GATEWAY", ""),
    location: pick("location", "MEO_LOCATION", "us-central1"),
    modelPodUser: pick("model-pod-user", "MEO_MODEL_POD_USER", ""),
    placementProfile: pick("placement-profile", "MEO_PLACEMENT_PROFILE", "generic"),
    placementInstanceTypeSelector: pick(
      "placement-instance-type-selector",
      "MEO_PLACEMENT_INSTANCE_TYPE_SELECTOR",
      "true",
    ),
    placementDaemonSetReserve: pick("placement-daemonset-reserve", "MEO_PLACEMENT_DAEMONSET_RESERVE", ""),
    placementAcceleratorLabels: pick("placement-accelerator-labels", "MEO_PLACEMENT_ACCELERATOR_LABELS", ""),
    autoscalingSyncPeriodSeconds: pick(
      "autoscaling-sync-period-seconds",
      "MEO_AUTOSCALING_SYNC_PERIOD_SECONDS",
      "15",
    ),
    autoscalingDownscaleStabilizationSeconds: pick(
      "autoscaling-downscale-stabilization-seconds",
      "MEO_AUTOSCALING_DOWNSCALE_STABILIZATION_SECONDS",
      "300",
    ),
    autoscalingTolerance: pick("autoscaling-tolerance", "MEO_AUTOSCALING_TOLERANCE", "0.1"),
    acceleratorDutyCycleMetric: pick(
      "accelerator-duty-cycle-metric",
      "MEO_ACCELERATOR_DUTY_CYCLE_METRIC",
      "",
    ),
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}\n\n${USAGE}`);
  }
  const config = parsed.data;
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new ConfigError(
      `invalid configuration: renew deadline (${config.renewDeadlineSeconds}s) must be shorter than the lease duration (${config.leaseDurationSeconds}s)`,
    );
  }
  return config;
}
