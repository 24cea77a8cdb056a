/**
 * The operator as the Helm chart installs it (its ServiceAccount, RBAC and API Priority and Fairness
 * objects) rather than as the control plane's admin, and what API Priority and Fairness did with
 * the requests between two scrapes of the API server's metrics.
 *
 * The admin is in system:masters, which APF exempts: an operator run as the admin never queues. Run
 * as the chart's ServiceAccount, its requests go through the chart's FlowSchema to its own priority
 * level, as in a cluster.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import type { ControlPlane } from "../../src/testing/controlplane.ts";
import { scrapeApiserver } from "./apiserver.ts";
import { bucketDiff, buckets, histogramQuantile, sumOf, type PromSample } from "./prom.ts";

const CHART = resolve(import.meta.dirname, "..", "..", "charts", "model-endpoint-operator");
/** The release the bench installs; the chart names its objects `<release>-model-endpoint-operator`. */
const RELEASE = "meo";
export const CHART_SERVICE_ACCOUNT = `${RELEASE}-model-endpoint-operator`;
/** The chart's templates the operator's identity needs (not its Deployment: the bench runs the process). */
const IDENTITY_TEMPLATES = ["serviceaccount.yaml", "rbac.yaml", "flowcontrol.yaml"];

/** Who the operator acts as in the bench. */
export type OperatorIdentity = "admin" | "chart";
export const OPERATOR_IDENTITIES: readonly OperatorIdentity[] = ["admin", "chart"];

/**
 * Installs the chart's ServiceAccount, ClusterRole and bindings, FlowSchema and
 * PriorityLevelConfiguration into `namespace` (rendered with `helm template`, applied server-side),
 * and returns a kubeconfig of that ServiceAccount (a 24 h token).
 */
export async function installChartIdentity(cp: ControlPlane, namespace: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    cp.binaries.helm,
    [
      "template",
      RELEASE,
      CHART,
      "-n",
      namespace,
      `--kube-version=${cp.binaries.kubernetesVersion}`,
      ...IDENTITY_TEMPLATES.flatMap((t) => ["--show-only", join("templates", t)]),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  await cp.kubectl(["create", "namespace", namespace]);
  await cp.kubectl(["apply", "--server-side", "-f", "-"], { input: stdout });
  return cp.kubeconfigFor({ serviceAccount: { namespace, name: CHART_SERVICE_ACCOUNT } });
}

const DISPATCHED = "apiserver_flowcontrol_dispatched_requests_total";
const REJECTED = "apiserver_flowcontrol_rejected_requests_total";
const WAIT = "apiserver_flowcontrol_request_wait_duration_seconds";

/** The API server's APF counters. */
export function scrapeApf(cp: ControlPlane): Promise<PromSample[]> {
  return scrapeApiserver(cp, [DISPATCHED, REJECTED, WAIT]);
}

/** What one priority level did between two scrapes. */
export interface ApfUse {
  readonly priorityLevel: string;
  readonly dispatched: number;
  readonly rejected: number;
  /** Time in the queue before dispatch, over the requests dispatched (ms). */
  readonly waitP50Ms: number;
  readonly waitP99Ms: number;
}

/** Per priority level that dispatched or rejected anything between `before` and `after`, busiest first. */
export function apfBetween(after: readonly PromSample[], before: readonly PromSample[]): ApfUse[] {
  const levels = new Set(after.map((s) => s.labels["priority_level"]).filter((l) => l !== undefined));
  const out: ApfUse[] = [];
  for (const level of levels) {
    const match = { priority_level: level };
    const delta = (name: string): number => sumOf(after, name, match) - sumOf(before, name, match);
    const dispatched = delta(DISPATCHED);
    const rejected = delta(REJECTED);
    if (dispatched <= 0 && rejected <= 0) continue;
    const wait = bucketDiff(buckets(after, WAIT, match), buckets(before, WAIT, match));
    out.push({
      priorityLevel: level,
      dispatched,
      rejected,
      waitP50Ms: histogramQuantile(0.5, wait) * 1000,
      waitP99Ms: histogramQuantile(0.99, wait) * 1000,
    });
  }
  return out.sort((a, b) => b.dispatched - a.dispatched);
}
