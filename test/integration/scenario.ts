/**
 * What the controller scenario files share: reading what the endpoint Service serves, holding a
 * revision's pods not Ready so a rollout pauses at a state the test chooses, the Events of an
 * endpoint, an operator's write counters, and printing what the invariant watcher measured.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type ObjectCache,
  type V1Pod,
} from "@kubernetes/client-node";

import { SIM_UNREADY_LABEL } from "../../src/testing/kwok-stages.ts";
import { eventually } from "./context.ts";
import { applyEndpoint, firstDeployment, kubectl, type Endpoints } from "./endpoints.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { InvariantWatcher, type WatchReport } from "../../src/testing/watcher.ts";

export const LABEL_ENDPOINT = "serving.modelendpoint.io/endpoint";
export const LABEL_MODEL = "serving.modelendpoint.io/deployed-model";

export const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** A manifest from firstDeployment() with more deployed-model entries appended. */
export function withEntries(manifest: object, ...entries: object[]): object {
  const copy = structuredClone(manifest) as { spec: { deployedModels: object[] } };
  copy.spec.deployedModels.push(...entries);
  return copy;
}

/** The pods listed as ready endpoints of a Service, counted by deployed model. */
export async function servedBy(
  kc: KubeConfig,
  namespace: string,
  service: string,
): Promise<Record<string, number>> {
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({
    namespace,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
  const modelOf = new Map(pods.items.map((p) => [p.metadata?.name, p.metadata?.labels?.[LABEL_MODEL]]));
  const counts: Record<string, number> = {};
  for (const ep of slices.items.flatMap((s) => s.endpoints ?? [])) {
    if (ep.conditions?.ready !== true) continue;
    const model = modelOf.get(ep.targetRef?.name) ?? "?";
    counts[model] = (counts[model] ?? 0) + 1;
  }
  return sortKeys(counts);
}

/** Awaits the endpoint Service serving exactly `served` (ready endpoints by model, e.g. '{"m1":4}'). */
export async function waitServed(
  kc: KubeConfig,
  namespace: string,
  name: string,
  served: string,
): Promise<void> {
  await eventually(
    `${namespace}/${name} serving ${served}`,
    async () => JSON.stringify(await servedBy(kc, namespace, name)) === served,
    { describe: async () => JSON.stringify(await servedBy(kc, namespace, name)) },
  );
}

/**
 * Deploys m1 of `name` with N replicas (image `image`), awaits DEPLOYED, and returns its manifest
 * and a watcher that checks the chain `models` with these budgets from then on.
 */
export async function deployWatched(
  endpoints: Endpoints,
  kc: KubeConfig,
  name: string,
  chain: {
    readonly models: readonly string[];
    readonly n: number;
    readonly maxSurge: number;
    readonly maxUnavailable: number;
  },
  image?: string,
): Promise<{ manifest: object; watcher: InvariantWatcher }> {
  const watcher = await InvariantWatcher.start(kc, endpoints.namespace);
  const manifest = firstDeployment(name, "m1", chain.n, image);
  await applyEndpoint(endpoints.namespace, manifest);
  await endpoints.waitForState(name, "m1", "DEPLOYED");
  watcher.watchChain({ endpoint: name, ...chain });
  return { manifest, watcher };
}

/**
 * Awaits the end of a rollout onto `intended`: it DEPLOYED with N replicas, every one of `replaced`
 * REPLACED with 0, and the endpoint Service serving its N pods only.
 */
export async function waitCompleted(
  endpoints: Endpoints,
  kc: KubeConfig,
  name: string,
  intended: string,
  replaced: readonly string[],
  n: number,
): Promise<void> {
  await endpoints.waitForState(name, intended, "DEPLOYED");
  for (const id of replaced) {
    const s = await endpoints.waitForState(name, id, "REPLACED");
    if (s.replicas !== 0) throw new Error(`${name} ${id} is REPLACED with ${s.replicas} replicas`);
  }
  await waitServed(kc, endpoints.namespace, name, JSON.stringify({ [intended]: n }));
}

/** The Ready, non-terminating pods of an endpoint, counted by deployed model (the watcher's cache). */
/**
 * Awaits a rollout paused by `gate` with exactly one pod held and the ready pods by model at
 * `ready` (e.g. '{"m1":3,"m2":1}').
 */
export async function waitHeldAt(
  gate: PodGate,
  watcher: InvariantWatcher,
  endpoint: string,
  ready: string,
): Promise<void> {
  await eventually(
    `rollout paused with one pod held at ready ${ready}`,
    () =>
      Promise.resolve(gate.held.length === 1 && JSON.stringify(readyByModel(watcher, endpoint)) === ready),
    {
      describe: () =>
        Promise.resolve(JSON.stringify({ held: gate.held, ready: readyByModel(watcher, endpoint) })),
    },
  );
}

export function readyByModel(watcher: InvariantWatcher, endpoint: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const pod of watcher.pods(endpoint)) {
    if (pod.metadata?.deletionTimestamp !== undefined || !isReady(pod)) continue;
    const model = pod.metadata?.labels?.[LABEL_MODEL] ?? "?";
    counts[model] = (counts[model] ?? 0) + 1;
  }
  return sortKeys(counts);
}

function sortKeys(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The reasons of the Events regarding an object. */
export async function eventReasons(namespace: string, name: string): Promise<string[]> {
  return (await eventsOn(namespace, name)).map((e) => e.reason);
}

/** The Events recorded on the object `name` (events.k8s.io: type, reason and note). */
export async function eventsOn(
  namespace: string,
  name: string,
): Promise<{ type: string; reason: string; note: string }[]> {
  const out = await kubectl([
    "get",
    "events.events.k8s.io",
    "-n",
    namespace,
    "--field-selector",
    `regarding.name=${name}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out) as { items: { type?: string; reason?: string; note?: string }[] }).items.map(
    (e) => ({
      type: e.type ?? "",
      reason: e.reason ?? "",
      note: e.note ?? "",
    }),
  );
}

/** The sum of an operator's api_writes_total over the resources given (all when omitted). */
export async function writesOf(operator: OperatorProcess, resources?: readonly string[]): Promise<number> {
  let total = 0;
  for (const line of (await operator.metrics()).split("\n")) {
    if (!line.startsWith("modelendpoint_api_writes_total{")) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
    if (resources !== undefined && !resources.includes(resource)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** Prints what the watcher measured for each chain against its budgets, and returns the report. */
export function printFigures(scenario: string, report: WatchReport): WatchReport {
  for (const c of report.chains) {
    console.log(
      `[watcher] ${scenario} ${c.endpoint} [${c.models.join(",")}] N=${c.n === c.maxN ? String(c.n) : `${String(c.n)}-${String(c.maxN)}`}: max pods ${c.maxPods} (limit N+surge ${c.maxN + c.maxSurge}), min available ${c.minAvailable} (floor ${c.floor} = min(N-maxUnavailable ${c.n - c.maxUnavailable}, available at start))`,
    );
  }
  console.log(`[watcher] ${scenario}: ${report.events} events, ${report.violations.length} violations`);
  return report;
}

/**
 * Holds the pods of one deployed model not Ready, the simulator's way (the unready label), as soon as
 * they appear, and lets them go one at a time: a rollout then pauses at a state the test chooses
 * (with maxUnavailable 0, an old pod is retired only once a new one is available). A pod the gate
 * was too late for may have been Ready for a moment; the label makes it not Ready at once, so the
 * state it pauses at can differ by a step, never the rules.
 */
/**
 * A pod's creation time in ms. Typed as a Date, but the informer's objects come from the watch as
 * JSON, where it is the RFC 3339 string.
 */
function createdMs(pod: V1Pod): number {
  const at: unknown = pod.metadata?.creationTimestamp;
  if (at instanceof Date) return at.getTime();
  return typeof at === "string" ? Date.parse(at) : 0;
}

export class PodGate {
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  /** Pods whose label is on its way; a pod counts as held once the label is on. */
  readonly #holding = new Map<string, Promise<void>>();
  readonly #held = new Set<string>();
  readonly #released = new Set<string>();
  readonly #errors: unknown[] = [];
  /** Pods that were Ready already when the gate's label reached them. */
  readonly #late: string[] = [];
  #open = false;

  private constructor(kc: KubeConfig, namespace: string, endpoint: string, model: string) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#namespace = namespace;
    const labelSelector = `${LABEL_ENDPOINT}=${endpoint},${LABEL_MODEL}=${model}`;
    this.#informer = makeInformer(
      kc,
      `/api/v1/namespaces/${namespace}/pods`,
      () => this.#core.listNamespacedPod({ namespace, labelSelector }),
      labelSelector,
    );
  }

  /** Starts holding every pod of `model` of `endpoint` that appears from now on. */
  static async start(kc: KubeConfig, namespace: string, endpoint: string, model: string): Promise<PodGate> {
    const gate = new PodGate(kc, namespace, endpoint, model);
    gate.#informer.on("add", (pod) => {
      gate.#hold(pod);
    });
    gate.#informer.on("error", () => {
      setTimeout(() => void gate.#informer.start().catch(() => undefined), 500);
    });
    await gate.#informer.start();
    return gate;
  }

  #hold(pod: V1Pod): void {
    const name = pod.metadata?.name ?? "";
    if (this.#open || this.#holding.has(name) || this.#held.has(name) || this.#released.has(name)) return;
    const holding = this.#label(name, "true").then(
      (labelled) => {
        this.#held.add(name);
        if (isReady(labelled)) this.#late.push(name);
      },
      (err: unknown) => {
        this.#errors.push(err);
      },
    );
    this.#holding.set(
      name,
      holding.finally(() => this.#holding.delete(name)),
    );
  }

  #label(name: string, value: string | null): Promise<V1Pod> {
    return this.#core.patchNamespacedPod(
      { namespace: this.#namespace, name, body: { metadata: { labels: { [SIM_UNREADY_LABEL]: value } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  /** The pods held right now (their label is on). */
  get held(): readonly string[] {
    return [...this.#held].sort();
  }

  /** Lets the oldest held pods go (they become Ready); returns their names. */
  async release(count = 1): Promise<string[]> {
    const byAge = this.#informer
      .list(this.#namespace)
      .filter((p) => this.#held.has(p.metadata?.name ?? ""))
      .sort(
        (a, b) =>
          createdMs(a) - createdMs(b) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
      )
      .slice(0, count)
      .map((p) => p.metadata?.name ?? "");
    for (const name of byAge) {
      this.#held.delete(name);
      this.#released.add(name);
      await this.#label(name, null);
    }
    return byAge;
  }

  /** Stops holding: every held pod is let go, and new pods are left alone. */
  async open(): Promise<void> {
    this.#open = true;
    await Promise.all(this.#holding.values());
    await this.release(this.#held.size);
  }

  /**
   * Stops watching. Throws if labelling a pod failed (other than for a pod already gone), or if a pod
   * was Ready before the gate held it: then the test, not the operator, took availability away.
   */
  async stop(): Promise<void> {
    this.#open = true;
    await Promise.all(this.#holding.values());
    await this.#informer.stop();
    const real = this.#errors.filter((e) => (e as { code?: number }).code !== 404);
    if (real.length > 0) throw new Error(`the pod gate failed to label pods: ${String(real[0])}`);
    if (this.#late.length > 0) throw new Error(`the pod gate held Ready pods: ${this.#late.join(", ")}`);
  }
}
