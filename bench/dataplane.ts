/**
 * The data plane: predictions that really flow, on a control plane of their own whose model pods
 * run the reference model server as processes on their pod IPs and whose Gateway is Traefik
 * (`ControlPlane.start({ processes: true, gateway: true })`), with the operator running.
 *
 * One ModelEndpoint of 2 replicas routed through the Gateway (`spec.gateway.parentRefs`). The same
 * steady load (src/testing/load.ts: 8 clients, half of them on kept-alive connections) runs:
 *
 * 1. for a fixed time against one pod directly (`http://<pod IP>:<container port><predict route>`),
 *    then for the same time through the Gateway (`<gateway>/v1/endpoints/<name>:predict`, both
 *    pods): predictions per second and p50/p99 latency of each, after a 2 s warm-up, and the CPU
 *    the gateway, the model servers and the load's clients used meanwhile;
 * 2. through the Gateway during a rolling deployment with maxSurge 1 / maxUnavailable 0, then one
 *    with maxSurge 0 / maxUnavailable 1, from the change until the last pod of the replaced model
 *    is gone (its drain included): requests sent and failed, failures by reason.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";

import { DEFAULT_LOCATION, predictPaths } from "../src/controller/dataplane.ts";
import type { KubeClient } from "../src/kube/client.ts";
import type { Pod } from "../src/kube/objects.ts";
import { ControlPlane } from "../src/testing/controlplane.ts";
import type { Gateway } from "../src/testing/gateway.ts";
import { waitFor, WaitTimeoutError } from "../src/testing/harness.ts";
import { startLoad, type Counts, type Load, type WindowSummary } from "../src/testing/load.ts";
import { OperatorProcess } from "../src/testing/operator-process.ts";
import { MODEL_SERVER_IMAGE } from "../src/testing/process-kubelet.ts";
import { endpointDone } from "./lib/done.ts";
import {
  LABEL_DEPLOYED_MODEL,
  LABEL_ENDPOINT,
  modelEndpoint,
  NAMESPACES,
  rollModelEndpoint,
  type ModelEndpointObject,
} from "./lib/objects.ts";
import type { Interrupts } from "./lib/interrupt.ts";
import { installCrds, benchClient } from "./lib/setup.ts";
import { sampleProcess } from "./lib/proc.ts";
import { load } from "./lib/stats.ts";
import type { RolloutConfig } from "./rollout.ts";

const NAMESPACE = "bench-dataplane";
const ENDPOINT = "predict";
const REPLICAS = 2;
/** The load of every measurement. */
const CLIENTS = 8;
const KEEP_ALIVE_SHARE = 0.5;
const REQUEST_TIMEOUT_MS = 10_000;
/** Load before this long is not measured: connections opened, code warm. */
const WARMUP_MS = 2_000;
/** How long a deployment or a rollout may take before the bench records it as not done. */
const TIMEOUT_MS = 120_000;

/** The rolling deployments run under load, in order: each rolls onto the model the one before deployed. */
export const DATAPLANE_ROLLOUTS: readonly RolloutConfig[] = [
  { id: "surge1", title: "maxSurge 1, maxUnavailable 0", budgets: { maxSurge: 1, maxUnavailable: 0 } },
  { id: "unavail1", title: "maxSurge 0, maxUnavailable 1", budgets: { maxSurge: 0, maxUnavailable: 1 } },
];

/** CPU the parts of the data plane used during a measurement, in cores busy on average. */
export interface CpuUse {
  /** Traefik. */
  readonly gateway: number;
  /** Every model-server process. */
  readonly modelServers: number;
  /** The bench's own process: the load's clients. */
  readonly clients: number;
}

export interface PathRun extends Counts {
  readonly path: "direct" | "gateway";
  readonly url: string;
  readonly cpuCores: CpuUse;
  /** How long the measured window lasted, requests in flight at its end included (s). */
  readonly seconds: number;
  /** Answered predictions per second. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Predictions through the Gateway during one rolling deployment. */
export interface RolloutUnderLoad extends Counts {
  readonly config: string;
  /** The rollout completed within the timeout (else the load ran until then, and later rollouts were skipped). */
  readonly completed: boolean;
  /** From the change until the endpoint reported the rollout complete (polled every 100 ms); NaN when it did not. */
  readonly rolledMs: number;
  /** ... until the last pod of the replaced model was gone: the load ran this long. */
  readonly drainedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly byConnection: { readonly keepAlive: number; readonly perRequest: number };
}

export interface DataPlaneRun {
  /** Load averages when the section started. */
  readonly load: readonly [number, number, number];
  readonly kubernetes: string;
  readonly replicas: number;
  readonly clients: number;
  readonly keepAliveShare: number;
  readonly direct: PathRun;
  readonly gateway: PathRun;
  readonly rollouts: readonly RolloutUnderLoad[];
  readonly operatorArgs: readonly string[];
  /** The operator's first 50 log lines at warn level or above. */
  readonly operatorProblems: readonly string[];
}

export interface DataPlaneOptions {
  /** How long each path is measured (after the warm-up). */
  readonly seconds: number;
  readonly log: (line: string) => void;
  readonly interrupts: Interrupts;
}

interface Context {
  readonly cp: ControlPlane;
  readonly client: KubeClient;
  readonly gateway: Gateway;
  readonly seconds: number;
  readonly log: (line: string) => void;
}

/** Starts the control plane and the operator, measures, and stops both. */
export async function runDataPlane(options: DataPlaneOptions): Promise<DataPlaneRun> {
  const loadAtStart = load();
  const cp = await ControlPlane.start({
    nodes: 1,
    processes: true,
    gateway: true,
    metrics: false,
    log: options.log,
  });
  let operator: OperatorProcess | undefined;
  const held = options.interrupts.hold(async () => {
    await operator?.stop();
    await cp.stop();
  });
  try {
    const gateway = cp.gateway;
    if (gateway === undefined) throw new Error("the data-plane control plane has no gateway");
    await installCrds(cp);
    // Started after the Gateway API CRDs are served: the operator asks for HTTPRoutes once.
    operator = new OperatorProcess({
      kubeconfig: cp.kubeconfigPath,
      problemLevel: "warn",
      startTimeoutMs: 60_000,
      readyTimeoutMs: 60_000,
    });
    await operator.start();
    options.log(`data plane: operator pid ${String(operator.pid)} ready; log ${operator.logFile}`);
    const measured = await measure({ cp, client: benchClient(cp), gateway, ...options });
    return {
      load: loadAtStart,
      kubernetes: cp.binaries.kubernetesVersion,
      replicas: REPLICAS,
      clients: CLIENTS,
      keepAliveShare: KEEP_ALIVE_SHARE,
      ...measured,
      operatorArgs: operator.args,
      operatorProblems: operator.problems().slice(0, 50),
    };
  } finally {
    await held.release();
  }
}

async function measure(ctx: Context): Promise<Pick<DataPlaneRun, "direct" | "gateway" | "rollouts">> {
  await ctx.client
    .resource(NAMESPACES)
    .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  await deploy(ctx);
  const direct = await measurePath(ctx, "direct", podUrl(await readyPod(ctx.client, "m1")));
  const gateway = await measurePath(ctx, "gateway", gatewayUrl(ctx.gateway));
  const rollouts: RolloutUnderLoad[] = [];
  for (const [i, config] of DATAPLANE_ROLLOUTS.entries()) {
    const run = await rollUnderLoad(ctx, i, config);
    rollouts.push(run);
    // The next rollout starts from the model this one deploys.
    if (!run.completed) break;
  }
  return { direct, gateway, rollouts };
}

const endpoints = (client: KubeClient) => client.modelEndpoints<ModelEndpointObject>();

/** Creates the endpoint (m1 on the reference server) and waits until the Gateway answers for it. */
async function deploy(ctx: Context): Promise<void> {
  const started = performance.now();
  const created = await endpoints(ctx.client).create(
    modelEndpoint(NAMESPACE, ENDPOINT, REPLICAS, {
      repository: MODEL_SERVER_IMAGE,
      gateway: ctx.gateway.parentRef,
    }),
  );
  await waitForEndpoint(ctx.client, created.metadata?.generation ?? 1, { m1: "DEPLOYED" });
  await waitAnswered(gatewayUrl(ctx.gateway));
  ctx.log(`data plane: ${ENDPOINT} served through the gateway in ${seconds(performance.now() - started)}s`);
}

async function waitForEndpoint(
  client: KubeClient,
  generation: number,
  states: Readonly<Record<string, string>>,
): Promise<void> {
  const done = endpointDone(generation, states);
  await waitFor(
    `${NAMESPACE}/${ENDPOINT} ${JSON.stringify(states)}`,
    async () => done(await endpoints(client).get(NAMESPACE, ENDPOINT)),
    { timeoutMs: TIMEOUT_MS, intervalMs: 100 },
  );
}

/** False when `wait` ran out of time: the bench records that instead of stopping. */
async function inTime(wait: Promise<void>): Promise<boolean> {
  try {
    await wait;
    return true;
  } catch (err) {
    if (err instanceof WaitTimeoutError) return false;
    throw err;
  }
}

/** Waits until a prediction at `url` is answered 200. */
async function waitAnswered(url: string): Promise<void> {
  await waitFor(
    `a prediction answered at ${url}`,
    async () =>
      (
        await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ instances: [{ feature: 1 }] }),
        })
      ).status === 200,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

function gatewayUrl(gateway: Gateway): string {
  const [path = ""] = predictPaths(NAMESPACE, ENDPOINT, DEFAULT_LOCATION);
  return `${gateway.url}${path}`;
}

/** The endpoint's deployed models and their states, and its conditions, for a rollout that stalled. */
async function statusLine(client: KubeClient): Promise<string> {
  const status = (await endpoints(client).get(NAMESPACE, ENDPOINT)).status;
  const models = (status?.deployedModels ?? []).map((m) => `${m.id} ${m.state ?? "?"}`);
  const conditions = (status?.conditions ?? []).map((c) => `${c.type}=${c.status}`);
  return [...models, ...conditions].join(", ");
}

/** The pods of deployed model `id` (those being deleted included). */
async function podsOf(client: KubeClient, id: string): Promise<readonly Pod[]> {
  const selector = `${LABEL_ENDPOINT}=${ENDPOINT},${LABEL_DEPLOYED_MODEL}=${id}`;
  return (await client.pods.list(NAMESPACE, { labelSelector: selector })).items;
}

async function readyPod(client: KubeClient, id: string): Promise<Pod> {
  const ready = (await podsOf(client, id)).find((p) =>
    p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
  if (ready === undefined) throw new Error(`no Ready pod of ${ENDPOINT} ${id}`);
  return ready;
}

/** http://<pod IP>:<container port><predict route>, as the pod's spec and status say. */
function podUrl(pod: Pod): string {
  const container = pod.spec?.containers[0];
  const port = container?.ports?.[0]?.containerPort;
  const route = container?.env?.find((e) => e.name === "AIP_PREDICT_ROUTE")?.value;
  const ip = pod.status?.podIP;
  if (ip === undefined || port === undefined || route === undefined)
    throw new Error(`pod ${pod.metadata?.name ?? "?"} has no IP, port or predict route yet`);
  return `http://${ip}:${String(port)}${route}`;
}

function startTraffic(url: string): Load {
  return startLoad({
    url,
    concurrency: CLIENTS,
    keepAliveShare: KEEP_ALIVE_SHARE,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
}

/** The counts and the latency of a load window, as stored. */
function figures(w: WindowSummary | undefined): Counts & { p50Ms: number; p99Ms: number } {
  return {
    sent: w?.sent ?? 0,
    ok: w?.ok ?? 0,
    failed: w?.failed ?? 0,
    failures: w?.failures ?? {},
    byModel: w?.byModel ?? {},
    p50Ms: w?.latencyMs?.p50 ?? Number.NaN,
    p99Ms: w?.latencyMs?.p99 ?? Number.NaN,
  };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/** CPU milliseconds used so far by the gateway, the model servers and the load's clients. */
function cpuMs(ctx: Context): CpuUse {
  const sum = (pids: readonly (number | undefined)[]): number =>
    pids.reduce<number>((ms, pid) => ms + (pid === undefined ? 0 : (sampleProcess(pid)?.cpuMs ?? 0)), 0);
  return {
    gateway: sum([ctx.gateway.pid]),
    modelServers: sum(ctx.cp.processes().map((p) => p.pid)),
    clients: sum([process.pid]),
  };
}

/** Cores busy on average between two readings `elapsedMs` apart. */
function cores(before: CpuUse, after: CpuUse, elapsedMs: number): CpuUse {
  const busy = (key: keyof CpuUse): number => (after[key] - before[key]) / elapsedMs;
  return { gateway: busy("gateway"), modelServers: busy("modelServers"), clients: busy("clients") };
}

/** The load on `url` for ctx.seconds after a warm-up. */
async function measurePath(ctx: Context, path: PathRun["path"], url: string): Promise<PathRun> {
  await waitAnswered(url);
  const traffic = startTraffic(url);
  await delay(WARMUP_MS);
  traffic.mark("measured");
  const started = performance.now();
  const cpuBefore = cpuMs(ctx);
  await delay(ctx.seconds * 1000);
  const measured = figures((await traffic.stop()).windows.at(-1));
  const elapsedMs = performance.now() - started;
  const run: PathRun = {
    path,
    url,
    seconds: elapsedMs / 1000,
    perSecond: (measured.ok * 1000) / elapsedMs,
    cpuCores: cores(cpuBefore, cpuMs(ctx), elapsedMs),
    ...measured,
  };
  ctx.log(
    `data plane: ${path.padEnd(7)} ${run.perSecond.toFixed(0)}/s p50 ${run.p50Ms.toFixed(1)} ms p99 ${run.p99Ms.toFixed(1)} ms (${String(run.failed)} failed)`,
  );
  return run;
}

/** Rolling deployment number `index` (m<index+2> onto m<index+1>) under load through the Gateway. */
async function rollUnderLoad(ctx: Context, index: number, config: RolloutConfig): Promise<RolloutUnderLoad> {
  const from = `m${String(index + 1)}`;
  const to = `m${String(index + 2)}`;
  const steps = DATAPLANE_ROLLOUTS.slice(0, index + 1).map((c) => c.budgets);
  const traffic = startTraffic(gatewayUrl(ctx.gateway));
  const started = performance.now();
  const patched = await endpoints(ctx.client).mergePatch(
    NAMESPACE,
    ENDPOINT,
    rollModelEndpoint(REPLICAS, steps, MODEL_SERVER_IMAGE),
  );
  const since = (): number => performance.now() - started;
  const completed = await inTime(
    waitForEndpoint(ctx.client, patched.metadata?.generation ?? 0, { [from]: "REPLACED", [to]: "DEPLOYED" }),
  );
  const rolledMs = completed ? since() : Number.NaN;
  const drained =
    completed &&
    (await inTime(
      waitFor(`the pods of ${from} gone`, async () => (await podsOf(ctx.client, from)).length === 0, {
        timeoutMs: TIMEOUT_MS,
        intervalMs: 100,
      }),
    ));
  const drainedMs = drained ? since() : Number.NaN;
  // One window (no mark): the whole rollout.
  const summary = await traffic.stop();
  const run: RolloutUnderLoad = {
    config: config.id,
    completed,
    rolledMs,
    drainedMs,
    byConnection: summary.byConnection,
    ...figures(summary.windows[0]),
  };
  const outcome = completed
    ? `${seconds(rolledMs)}s (old pods gone ${seconds(drainedMs)}s)`
    : `not complete after ${seconds(TIMEOUT_MS)}s, status ${await statusLine(ctx.client)}`;
  ctx.log(
    `data plane: rollout ${config.id} ${outcome}: ${String(run.sent)} sent, ${String(run.failed)} failed ${JSON.stringify(run.failures)}`,
  );
  return run;
}
