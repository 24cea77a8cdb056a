/**
 * API writes from the API server's own request metrics (`apiserver_request_total`). The counters
 * carry no client name, so the bench reads them before and after each run (one run at a time) and
 * attributes each write by resource, subresource and verb to the component that makes it:
 *
 * | writes                                                     | by                                   |
 * | ---------------------------------------------------------- | ------------------------------------ |
 * | replicasets create/update/patch/delete (not status)        | the controller under test            |
 * | deployments update, deployments/status                     | the Deployment controller            |
 * | modelendpoints/status, pods patch (the serving label), services create/delete | the operator       |
 * | rollouts (argoproj.io) update, rollouts/status             | the Argo Rollouts controller         |
 * | deployments patch, rollouts patch, modelendpoints patch/create | the bench (the change that starts it) |
 * | pods create/delete, replicasets/status                     | the ReplicaSet controller (both)     |
 * | pods/binding; pods/status                                  | the scheduler; kwok (the "kubelet")  |
 * | endpointslices                                             | the EndpointSlice controller         |
 * | events (core/v1)                                           | kube-controller-manager's controllers (and the Argo Rollouts controller) |
 * | events (events.k8s.io)                                     | the scheduler (one per binding) and the operator |
 * | nodes, leases, everything else                             | background, not counted              |
 */
import type { ControlPlane } from "../../src/testing/controlplane.ts";
import { parseProm, type PromSample } from "./prom.ts";

const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"]);

/**
 * Write counts by "group/resource[/subresource] VERB code", and the API server's time spent on them
 * (apiserver_request_duration_seconds_sum) by "group/resource[/subresource] VERB seconds".
 */
export type WriteCounts = ReadonlyMap<string, number>;

const SECONDS = "seconds";

/** The API server's /metrics samples whose names start with one of `prefixes` (as the admin). */
export async function scrapeApiserver(cp: ControlPlane, prefixes: readonly string[]): Promise<PromSample[]> {
  const res = await cp.apiGet("/metrics");
  if (res.status !== 200) throw new Error(`API server /metrics answered ${String(res.status)}`);
  return parseProm(res.body, prefixes);
}

export async function scrapeWrites(cp: ControlPlane): Promise<WriteCounts> {
  const out = new Map<string, number>();
  for (const s of await scrapeApiserver(cp, [
    "apiserver_request_total{",
    "apiserver_request_duration_seconds_sum{",
  ])) {
    const verb = s.labels["verb"] ?? "";
    if (!WRITE_VERBS.has(verb)) continue;
    const key = s.name === "apiserver_request_total" ? keyOf(s) : keyOf(s, SECONDS);
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

function keyOf(s: PromSample, last = s.labels["code"] ?? ""): string {
  const group = s.labels["group"] ?? "";
  const sub = s.labels["subresource"] ?? "";
  const resource = `${group === "" ? "core" : group}/${s.labels["resource"] ?? ""}${sub === "" ? "" : `/${sub}`}`;
  return `${resource} ${s.labels["verb"] ?? ""} ${last}`;
}

export function diffWrites(after: WriteCounts, before: WriteCounts): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

/** Who made the writes of one run (see the table above). */
export interface WriteBreakdown {
  /** Writes of the controller under test: the Deployment controller, the operator or Argo Rollouts (no events). */
  readonly controller: number;
  /** ... of which ModelEndpoint, Deployment or Rollout status writes. */
  readonly status: number;
  /** ... of which writes the API server refused (409 conflicts and other 4xx/5xx). */
  readonly refused: number;
  /** Events written by the controller under test (operator: events.k8s.io minus the scheduler's). */
  readonly controllerEvents: number;
  /** Pod lifecycle writes every rollout needs, whoever drives it: ReplicaSet controller, scheduler, kwok. */
  readonly podLifecycle: number;
  readonly endpointSlices: number;
  /**
   * core/v1 events: kube-controller-manager's (ReplicaSet controller; Deployment controller for a
   * Deployment) and, for a Rollout, the Argo Rollouts controller's.
   */
  readonly coreEvents: number;
  /** The change that started the run. */
  readonly trigger: number;
  /** Every write except background (nodes, leases, ...). */
  readonly total: number;
  /** Each "resource VERB code" count, for the JSON. */
  readonly byKey: Readonly<Record<string, number>>;
  /** The API server's mean time per request, by "resource VERB" (ms; all answer codes). */
  readonly meanMs: Readonly<Record<string, number>>;
}

/**
 * The objects whose controller writes them with update (spec and annotations) and their status
 * subresource, while the bench's change to them is a patch: a Deployment and an Argo Rollout.
 */
const WORKLOADS: ReadonlySet<string> = new Set(["apps/deployments", "argoproj.io/rollouts"]);

/** "apps/deployments/status" is the status of one of `resources` ("apps/deployments"). */
const isStatusOf = (resource: string, resources: ReadonlySet<string>): boolean =>
  resource.endsWith("/status") && resources.has(resource.slice(0, -"/status".length));

export function attribute(diff: ReadonlyMap<string, number>): WriteBreakdown {
  let controller = 0;
  let status = 0;
  let refused = 0;
  let podLifecycle = 0;
  let endpointSlices = 0;
  let coreEvents = 0;
  let newEvents = 0;
  let bindings = 0;
  let trigger = 0;
  let total = 0;
  const seconds = new Map<string, number>();
  const requests = new Map<string, number>();
  for (const [key, n] of diff) {
    const [resource = "", verb = "", code = ""] = key.split(" ");
    const kind = `${resource} ${verb}`;
    if (code === SECONDS) {
      seconds.set(kind, n);
      continue;
    }
    requests.set(kind, (requests.get(kind) ?? 0) + n);
    const failed = !code.startsWith("2");
    let counted = true;
    let ours = false;
    if (/^apps\/replicasets$/.test(resource)) ours = true;
    else if (WORKLOADS.has(resource) && verb !== "PATCH") ours = true;
    else if (isStatusOf(resource, WORKLOADS) || resource.endsWith("/modelendpoints/status")) {
      ours = true;
      status += failed ? 0 : n;
    } else if (resource === "core/pods" && verb === "PATCH") ours = true;
    else if (resource === "core/services") ours = true;
    else if (WORKLOADS.has(resource) || resource.endsWith("/modelendpoints")) trigger += n;
    else if (resource === "core/pods/binding") {
      bindings += n;
      podLifecycle += n;
    } else if (
      resource === "core/pods" ||
      resource === "core/pods/status" ||
      resource === "apps/replicasets/status"
    )
      podLifecycle += n;
    else if (resource.startsWith("discovery.k8s.io/endpointslices")) endpointSlices += n;
    else if (resource === "core/events") coreEvents += n;
    else if (resource === "events.k8s.io/events") newEvents += n;
    else counted = false;
    if (ours) {
      controller += n;
      if (failed) refused += n;
    }
    if (counted) total += n;
  }
  return {
    controller,
    status,
    refused,
    controllerEvents: Math.max(0, newEvents - bindings),
    podLifecycle: podLifecycle + Math.min(newEvents, bindings),
    endpointSlices,
    coreEvents,
    trigger,
    total,
    byKey: Object.fromEntries(
      [...diff].filter(([k]) => !k.endsWith(` ${SECONDS}`)).sort(([a], [b]) => a.localeCompare(b)),
    ),
    meanMs: Object.fromEntries(
      [...seconds]
        .filter(([kind]) => (requests.get(kind) ?? 0) > 0)
        .map(([kind, sec]): [string, number] => [
          kind,
          Math.round((sec / (requests.get(kind) ?? 1)) * 10_000) / 10,
        ])
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  };
}
