/**
 * The Vertex AI API server (src/vertex) under load, on a control plane of its own whose model pods
 * run the reference model server as processes, with the operator and the server running, and every
 * call made as a ServiceAccount's bearer token, as in a cluster:
 *
 * 1. GET of one endpoint by `clients` concurrent clients for a fixed time: answers per second and
 *    p50/p99 latency (each GET is answered from the server's cache after the caller's access
 *    review, itself kept 10 s);
 * 2. predictions by the same number of clients, first straight to one model pod, then through the
 *    server's `:predict` (which reads the endpoint and the model's EndpointSlices from its cache,
 *    then forwards): the latency the server adds at p50 and p99;
 * 3. the server's resident memory with a namespace of `fleet` ModelEndpoints cached and listed
 *    (measured before the load phases), and again after them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

import { ControlPlane } from "../src/testing/controlplane.ts";
import { freePort, waitFor } from "../src/testing/harness.ts";
import { startLoad, type WindowSummary } from "../src/testing/load.ts";
import { NODE, OperatorProcess } from "../src/testing/operator-process.ts";
import { MODEL_SERVER_IMAGE } from "../src/testing/process-kubelet.ts";
import { percentile } from "../src/testing/stats.ts";
import { fillCompileCache, type CompileCache } from "./lib/compile-cache.ts";
import type { Interrupts } from "./lib/interrupt.ts";
import { installCrds } from "./lib/setup.ts";
import { sampleProcess } from "./lib/proc.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NAMESPACE = "bench-vertex";
const P = `projects/${NAMESPACE}/locations/us-central1`;
const REPLICAS = 2;
const WARMUP_MS = 2_000;
const CHUNK = 100;

export interface VertexRun {
  readonly clients: number;
  readonly seconds: number;
  readonly get: {
    readonly perSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly failed: number;
  };
  readonly predictDirect: {
    readonly perSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly failed: number;
  };
  readonly predictServer: {
    readonly perSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly failed: number;
  };
  /**
   * The server's RSS after start, after listing `fleet` endpoints (held in its cache), and after
   * the load phases (the heap the 200 clients grew stays reserved), MB.
   */
  readonly rssIdleMb: number;
  readonly rssFleetMb: number;
  readonly rssAfterLoadMb?: number;
  readonly fleet: number;
}

/** The bench's caller: `Authorization: Bearer <a ServiceAccount's token>`. */
const caller: Record<string, string> = {};

async function json(url: string, method = "GET", body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: { ...caller, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const out = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200)
    throw new Error(`${method} ${url}: HTTP ${String(res.status)} ${JSON.stringify(out)}`);
  return out;
}

/** `clients` loops of GET `url` for `ms`; latencies of the 200 answers, failures counted. */
async function getLoad(url: string, clients: number, ms: number): Promise<VertexRun["get"]> {
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + ms;
  const warm = performance.now() + WARMUP_MS;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const res = await fetch(url, { headers: caller }).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status !== 200) failed++;
        else if (started >= warm) latencies.push(performance.now() - started);
      }
    }),
  );
  const measured = (ms - WARMUP_MS) / 1000;
  return {
    perSecond: latencies.length / measured,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failed,
  };
}

/** Predictions on `url` by `clients` kept-alive clients for `ms`, the first WARMUP_MS left out. */
async function predictLoad(url: string, clients: number, ms: number): Promise<VertexRun["predictDirect"]> {
  const load = startLoad({
    url,
    concurrency: clients,
    keepAliveShare: 1,
    requestTimeoutMs: 10_000,
    headers: caller,
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  load.mark("measured");
  const started = performance.now();
  await new Promise((r) => setTimeout(r, ms - WARMUP_MS));
  const summary = await load.stop();
  const window: WindowSummary | undefined = summary.windows.at(-1);
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: (window?.ok ?? 0) / seconds,
    p50Ms: window?.latencyMs?.p50 ?? Number.NaN,
    p99Ms: window?.latencyMs?.p99 ?? Number.NaN,
    failed: summary.failed,
  };
}

async function waitOperation(api: string, op: Record<string, unknown>): Promise<Record<string, unknown>> {
  let last = op;
  await waitFor(
    `operation ${String(op["name"])}`,
    async () => {
      last = await json(`${api}/v1/${String(op["name"])}`);
      return last["done"] === true;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  if (last["error"] !== undefined) throw new Error(`operation failed: ${JSON.stringify(last["error"])}`);
  return last;
}

export async function runVertex(options: {
  readonly seconds: number;
  readonly clients: number;
  readonly fleet: number;
  readonly log: (line: string) => void;
  readonly interrupts: Interrupts;
}): Promise<VertexRun> {
  const { seconds, clients, fleet, log } = options;
  const cp = await ControlPlane.start({
    nodes: 2,
    processes: true,
    metrics: false,
    log: (l) => {
      log(`[controlplane] ${l}`);
    },
  });
  let server: ChildProcess | undefined;
  let compileCache: CompileCache | undefined;
  const operator = new OperatorProcess({ kubeconfig: cp.kubeconfigPath, namespaces: [NAMESPACE] });
  const held = options.interrupts.hold(async () => {
    server?.kill("SIGTERM");
    await operator.stop();
    await cp.stop();
    compileCache?.remove();
  });
  try {
    await installCrds(cp);
    await cp.kubectl(["wait", "--for=condition=Established", "crd/models.serving.modelendpoint.io"]);
    await cp.kubectl(["create", "namespace", NAMESPACE]);
    await cp.kubectl(["create", "serviceaccount", "caller", "-n", NAMESPACE]);
    await cp.kubectl([
      "create",
      "clusterrolebinding",
      "bench-vertex-caller",
      "--clusterrole=cluster-admin",
      `--serviceaccount=${NAMESPACE}:caller`,
    ]);
    const token = (await cp.kubectl(["create", "token", "caller", "-n", NAMESPACE, "--duration=2h"])).trim();
    caller["authorization"] = `Bearer ${token}`;
    await operator.start();
    const port = await freePort();
    // As the image runs it (Dockerfile, chart): the chart's V8 flag, and modules from a compile
    // cache that a first run with --help filled, so the type stripper is never loaded.
    const script = ["--max-semi-space-size=4", join(ROOT, "src", "vertex", "main.ts")];
    compileCache = fillCompileCache(script);
    server = spawn(NODE, [...script, `--kubeconfig=${cp.kubeconfigPath}`, `--port=${String(port)}`], {
      env: compileCache.env,
      stdio: "ignore",
    });
    const api = `http://127.0.0.1:${String(port)}`;
    await waitFor(
      "the Vertex AI API server",
      async () => (await fetch(api).catch(() => undefined))?.status === 501,
      {
        timeoutMs: 30_000,
      },
    );
    const pid = server.pid ?? 0;
    const rssIdleMb = (sampleProcess(pid)?.rssBytes ?? 0) / 2 ** 20;

    log("vertex: upload, create, deploy 2 replicas of the reference model server");
    await json(`${api}/v1/${P}/models:upload`, "POST", {
      modelId: "m",
      model: {
        displayName: "m",
        containerSpec: {
          imageUri: `${MODEL_SERVER_IMAGE}:1.0`,
          predictRoute: "/predict",
          healthRoute: "/health",
        },
      },
    });
    await json(`${api}/v1/${P}/endpoints?endpointId=bench`, "POST", { displayName: "bench" });
    const deployed = await waitOperation(
      api,
      await json(`${api}/v1/${P}/endpoints/bench:deployModel`, "POST", {
        deployedModel: {
          model: `${P}/models/m@1`,
          dedicatedResources: { minReplicaCount: REPLICAS, maxReplicaCount: REPLICAS },
        },
        trafficSplit: { "0": 100 },
      }),
    );
    const id = (deployed["response"] as { deployedModel: { id: string } }).deployedModel.id;
    const slices = JSON.parse(
      await cp.kubectl([
        "get",
        "endpointslices",
        "-n",
        NAMESPACE,
        "-l",
        `kubernetes.io/service-name=bench-${id}`,
        "-o",
        "json",
      ]),
    ) as {
      items: {
        endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
        ports?: { port: number }[];
      }[];
    };
    const ready = slices.items.flatMap((s) =>
      (s.endpoints ?? [])
        .filter((e) => e.conditions?.ready === true)
        .map((e) => `${e.addresses[0] ?? ""}:${String(s.ports?.[0]?.port ?? 0)}`),
    );
    if (ready[0] === undefined) throw new Error("no ready model pod to call directly");

    log(`vertex: ${String(fleet)} endpoints, then a list of them`);
    for (let from = 0; from < fleet; from += CHUNK) {
      const items = Array.from({ length: Math.min(CHUNK, fleet - from) }, (_, i) => ({
        apiVersion: "serving.modelendpoint.io/v1alpha1",
        kind: "ModelEndpoint",
        metadata: { name: `fleet-${String(from + i)}`, namespace: NAMESPACE },
        spec: { displayName: `fleet ${String(from + i)}`, trafficSplit: {}, deployedModels: [] },
      }));
      await cp.kubectl(["apply", "--server-side", "-f", "-"], {
        input: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
      });
    }
    const listAll = async (): Promise<number> => {
      let pageToken = "";
      let count = 0;
      do {
        const page = await json(
          `${api}/v1/${P}/endpoints?pageSize=1000${pageToken === "" ? "" : `&pageToken=${pageToken}`}`,
        );
        count += (page["endpoints"] as unknown[]).length;
        pageToken = (page["nextPageToken"] as string | undefined) ?? "";
      } while (pageToken !== "");
      return count;
    };
    // The server's cache receives the new endpoints by its watch.
    let listed = 0;
    await waitFor(`${String(fleet + 1)} endpoints listed`, async () => (listed = await listAll()) > fleet, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const rssFleetMb = (sampleProcess(pid)?.rssBytes ?? 0) / 2 ** 20;
    log(`vertex: listed ${String(listed)} endpoints`);

    const ms = seconds * 1000;
    log(`vertex: GET endpoint, ${String(clients)} clients, ${String(seconds)} s`);
    const get = await getLoad(`${api}/v1/${P}/endpoints/bench`, clients, ms);
    log(`vertex: predictions straight to ${ready[0]}, ${String(clients)} clients, ${String(seconds)} s`);
    const predictDirect = await predictLoad(`http://${ready[0]}/predict`, clients, ms);
    log(`vertex: predictions through :predict, ${String(clients)} clients, ${String(seconds)} s`);
    const predictServer = await predictLoad(`${api}/v1/${P}/endpoints/bench:predict`, clients, ms);

    const rssAfterLoadMb = (sampleProcess(pid)?.rssBytes ?? 0) / 2 ** 20;
    return {
      clients,
      seconds,
      get,
      predictDirect,
      predictServer,
      rssIdleMb,
      rssFleetMb,
      rssAfterLoadMb,
      fleet,
    };
  } finally {
    await held.release();
  }
}
