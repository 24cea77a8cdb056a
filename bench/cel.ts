/**
 * `npm run bench:cel`: what the ModelEndpoint CRD's validation (OpenAPI schema and CEL
 * `x-kubernetes-validations`) costs the API server on a status write, per rule group and per rule.
 *
 * One control plane (one fake node, no metrics-server, no operator). For each variant of the committed
 * CRD (as committed; no rules; no status rules; no spec rules; no transition rules; then each rule
 * the endpoints reach alone, once, ranked by the API server's CEL evaluation time; then the `--top`
 * most expensive alone and removed, `--reps` times), the CRD is created afresh and, once Established and served, the
 * bench creates an endpoint from examples/ with a rolling deployment added, writes the status the
 * operator's engine computes for it, then replaces /status K times in a row from one kept-alive
 * connection, each time with the resourceVersion it got back and one condition message changed.
 * It reads the kube-apiserver's CPU time (/proc/<pid>/stat) around those K writes, the client-side
 * latency of each, and the API server's own metrics before and after. A ReplicaSet and a Deployment
 * (replicas 0) get the same K status writes on the same API server, for scale.
 *
 * Every variant runs `--reps` times, in alternating order; tables show medians with min-max. The
 * API server's idle CPU is measured for a second before each run; "net" figures subtract it.
 *
 *     node --experimental-strip-types bench/cel.ts [--k 400] [--reps 3] [--rule-k 100] [--top 4]
 *       [--per-rule screen|full|none] [--apiserver-args "--flag=x ..."] [--crd FILE]
 *
 * `--crd` measures another ModelEndpoint CRD file than the committed one ("committed" in the tables
 * is then that file), e.g. an earlier commit's, for a before/after on the same machine.
 *
 * `--pprof S` instead takes a CPU profile of kube-apiserver (its /debug/pprof/profile) over S seconds
 * of status writes on the first endpoint under the committed CRD, for each fixture, to
 * bench/results/profiles/<time>-apiserver-status-<fixture>.pprof; read it with
 * `go tool pprof -top <file>` (the cached kube-apiserver binary resolves its symbols).
 *
 * Prints Markdown tables and writes bench/results/<time>-cel.json. Benchmarks print figures; they
 * never assert times.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";

import { parse } from "yaml";

import { ControlPlane } from "../src/testing/controlplane.ts";
import { waitFor } from "../src/testing/harness.ts";
import { ApiClient } from "./lib/cel-client.ts";
import { endpointFixtures, type EndpointFixture } from "./lib/cel-fixture.ts";
import { findRules, pathPresent, withRules, type CrdDocument, type FoundRule } from "./lib/cel-rules.ts";
import { processInterrupts } from "./lib/interrupt.ts";
import { sampleProcess } from "./lib/proc.ts";
import { scrapeApiserver } from "./lib/apiserver.ts";
import { bucketDiff, buckets, histogramQuantile, sumOf, type PromSample } from "./lib/prom.ts";
import { distribution, load, round, summarize, type Summary } from "./lib/stats.ts";
import { mmm, num, table } from "./lib/table.ts";

const ROOT = resolve(import.meta.dirname, "..");
const CRD_FILE = join(ROOT, "crds", "modelendpoints.serving.modelendpoint.io.yaml");
const CRD_NAME = "modelendpoints.serving.modelendpoint.io";
const GROUP_VERSION = "serving.modelendpoint.io/v1alpha1";
const NAMESPACE = "cel-bench";
const CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
/** Writes before each measured run, not measured (connection, caches, the Go runtime warm). */
const WARMUP = 20;

// ---------------------------------------------------------------------------------------------
// Variants

/** What one run writes to: a ModelEndpoint under one CRD variant, or a built-in workload. */
interface Variant {
  /** "committed", "no-rules", ..., "only <key>", "without <key>", "replicaset", "deployment". */
  readonly name: string;
  readonly kind: "crd" | "replicaset" | "deployment";
  readonly crd?: CrdDocument;
  /** The rule of a per-rule variant. */
  readonly rule?: FoundRule;
  /** The fixtures to run it on (default: all). */
  readonly fixtures?: readonly string[];
}

function mainVariants(crd: CrdDocument): Variant[] {
  const v = (name: string, keep: (r: FoundRule) => boolean): Variant => ({
    name,
    kind: "crd",
    crd: withRules(crd, keep),
  });
  return [
    v("committed", () => true),
    v("no-rules", () => false),
    v("no-status-rules", (r) => r.subtree !== "status"),
    v("no-spec-rules", (r) => r.subtree !== "spec"),
    v("no-transition-rules", (r) => !r.usesOldSelf),
    { name: "replicaset", kind: "replicaset" },
    { name: "deployment", kind: "deployment" },
  ];
}

// ---------------------------------------------------------------------------------------------
// The API server

interface Bench {
  readonly cp: ControlPlane;
  readonly api: ApiClient;
  readonly apiserverPid: number;
  readonly log: (line: string) => void;
  /** Warnings the API server gave on CRD creates, by variant. */
  readonly crdWarnings: Map<string, readonly string[]>;
}

function apiserverCpuMs(b: Bench): number {
  const s = sampleProcess(b.apiserverPid);
  if (s === undefined) throw new Error("kube-apiserver is gone");
  return s.cpuMs;
}

/** Waits until the API server's CPU stays under 2% for two half-seconds in a row (at most 20 s). */
async function settle(b: Bench): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  let last = apiserverCpuMs(b);
  while (quiet < 2 && Date.now() - started < 20_000) {
    await sleep(500);
    const now = apiserverCpuMs(b);
    quiet = now - last <= 10 ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - started;
}

/** The harness's waitFor, with this bench's minute and a short interval. */
function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  return waitFor(what, check, { timeoutMs: 60_000, intervalMs: 100 });
}

/** Deletes the CRD (and so every ModelEndpoint) and waits until it is gone. */
async function deleteCrd(b: Bench): Promise<void> {
  await b.api.json("DELETE", `${CRDS_PATH}/${CRD_NAME}`, undefined, [200, 202, 404]);
  await waitUntil(
    "the CRD to be deleted",
    async () => (await b.api.call("GET", `${CRDS_PATH}/${CRD_NAME}`)).status === 404,
  );
}

/** Creates the CRD variant afresh and waits until it is Established and served (discovery, list). */
async function installCrd(b: Bench, variant: Variant): Promise<void> {
  await deleteCrd(b);
  const res = await b.api.call("POST", CRDS_PATH, variant.crd);
  if (res.status !== 201) throw new Error(`CRD ${variant.name} refused (${String(res.status)}): ${res.body}`);
  if (res.warnings.length > 0) b.crdWarnings.set(variant.name, res.warnings);
  await waitUntil("the CRD to be Established", async () => {
    const crd = await b.api.json<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "GET",
      `${CRDS_PATH}/${CRD_NAME}`,
    );
    return (crd.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
  });
  await waitUntil("discovery to serve modelendpoints/status", async () => {
    const res = await b.api.call("GET", `/apis/${GROUP_VERSION}`);
    return res.status === 200 && res.body.includes('"modelendpoints/status"');
  });
  await waitUntil(
    "modelendpoints to be listed",
    async () =>
      (await b.api.call("GET", `/apis/${GROUP_VERSION}/namespaces/${NAMESPACE}/modelendpoints`)).status ===
      200,
  );
}

// ---------------------------------------------------------------------------------------------
// Objects and their status writes

type KubeObject = Record<string, unknown> & {
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  status?: { conditions?: Record<string, unknown>[]; [key: string]: unknown };
};

interface Target {
  /** The object's path (without /status). */
  readonly path: string;
  /** The object as it is now, status included. */
  readonly object: KubeObject;
  /** Changes one small field of the status, differently for each i. */
  readonly change: (obj: KubeObject, i: number) => void;
}

const mepPath = (name = ""): string =>
  `/apis/${GROUP_VERSION}/namespaces/${NAMESPACE}/modelendpoints${name === "" ? "" : `/${name}`}`;

/** The endpoint created, its rolling deployment added (an update), and the operator's status written. */
async function createEndpoint(b: Bench, fixture: EndpointFixture): Promise<Target> {
  const name = (fixture.created["metadata"] as { name: string }).name;
  let created: KubeObject | undefined;
  await waitUntil("the endpoint to be created", async () => {
    const res = await b.api.call("POST", mepPath(), fixture.created);
    if (res.status === 404) return false;
    if (res.status !== 201) throw new Error(`create ${name} answered ${String(res.status)}: ${res.body}`);
    created = JSON.parse(res.body) as KubeObject;
    return true;
  });
  if (created === undefined) throw new Error(`${name} was not created`);
  const updated = await b.api.json<KubeObject>("PUT", mepPath(name), {
    ...created,
    spec: fixture.updatedSpec,
  });
  const withStatus = await b.api.json<KubeObject>("PUT", `${mepPath(name)}/status`, {
    ...updated,
    status: fixture.status,
  });
  const progressing = (obj: KubeObject): Record<string, unknown> | undefined =>
    obj.status?.conditions?.find((c) => c["type"] === "Progressing");
  const message = progressing(withStatus)?.["message"];
  const base = typeof message === "string" ? message : "";
  return {
    path: mepPath(name),
    object: withStatus,
    change: (obj, i) => {
      const c = progressing(obj);
      if (c === undefined) throw new Error("the status has no Progressing condition");
      c["message"] = `${base} (${String(i)})`;
    },
  };
}

/** A ReplicaSet or Deployment with replicas 0 (no pods), once its controller has written its status. */
async function createWorkload(b: Bench, kind: "replicaset" | "deployment"): Promise<Target> {
  const resource = `${kind}s`;
  const name = `cel-bench-${kind}`;
  const labels = { app: name };
  const path = `/apis/apps/v1/namespaces/${NAMESPACE}/${resource}`;
  await b.api.json("POST", path, {
    apiVersion: "apps/v1",
    kind: kind === "replicaset" ? "ReplicaSet" : "Deployment",
    metadata: { name, labels },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "server", image: "registry.example/server:1" }] },
      },
    },
  });
  let object: KubeObject | undefined;
  await waitUntil(`the ${kind} controller's status`, async () => {
    object = await b.api.json<KubeObject>("GET", `${path}/${name}`);
    return object.status?.["observedGeneration"] === 1;
  });
  if (object === undefined) throw new Error(`${name} has no status`);
  // A condition of a type no controller owns: the controllers keep it and write nothing back.
  object.status = {
    ...object.status,
    conditions: [
      ...(object.status?.conditions ?? []),
      {
        type: "BenchProbe",
        status: "True",
        reason: "Bench",
        message: "0",
        lastTransitionTime: new Date().toISOString().slice(0, 19) + "Z",
      },
    ],
  };
  return {
    path: `${path}/${name}`,
    object,
    change: (obj, i) => {
      const c = obj.status?.conditions?.find((x) => x["type"] === "BenchProbe");
      if (c === undefined) throw new Error("the BenchProbe condition is gone");
      c["message"] = String(i);
    },
  };
}

/** `n` status replaces, each on the object the previous one returned; a 409 re-reads and retries. */
async function writeStatus(
  b: Bench,
  target: Target,
  first: number,
  n: number,
): Promise<{ latencies: number[]; conflicts: number; object: KubeObject }> {
  let object = target.object;
  const latencies: number[] = [];
  let conflicts = 0;
  for (let i = first; i < first + n; i++) {
    const next = structuredClone(object);
    target.change(next, i);
    const res = await b.api.call("PUT", `${target.path}/status`, next);
    if (res.status === 409) {
      conflicts++;
      object = await b.api.json<KubeObject>("GET", target.path);
      i--;
      continue;
    }
    if (res.status !== 200)
      throw new Error(`PUT ${target.path}/status answered ${String(res.status)}: ${res.body}`);
    latencies.push(res.ms);
    object = JSON.parse(res.body) as KubeObject;
  }
  return { latencies, conflicts, object };
}

// ---------------------------------------------------------------------------------------------
// Metrics

const METRIC_PREFIXES = ["apiserver_request_duration_seconds", "apiserver_cel_", "apiextensions_apiserver_"];

function scrape(b: Bench): Promise<PromSample[]> {
  return scrapeApiserver(b.cp, METRIC_PREFIXES);
}

interface ServerSide {
  /** The API server's own view of the status PUTs (apiserver_request_duration_seconds). */
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Every apiserver_cel_* and apiextensions_apiserver_* counter, _sum and _count that moved. */
  readonly metrics: Readonly<Record<string, number>>;
}

function serverSide(before: PromSample[], after: PromSample[], resource: string): ServerSide {
  const match = { resource, subresource: "status", verb: "PUT" };
  const name = "apiserver_request_duration_seconds";
  const count = sumOf(after, `${name}_count`, match) - sumOf(before, `${name}_count`, match);
  const sum = sumOf(after, `${name}_sum`, match) - sumOf(before, `${name}_sum`, match);
  const hist = bucketDiff(buckets(after, name, match), buckets(before, name, match));
  const totals = (samples: PromSample[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const s of samples) {
      if (s.name.startsWith(name) || s.name.endsWith("_bucket")) continue;
      out.set(s.name, (out.get(s.name) ?? 0) + s.value);
    }
    return out;
  };
  const was = totals(before);
  const metrics: Record<string, number> = {};
  for (const [k, v] of totals(after)) {
    const d = v - (was.get(k) ?? 0);
    if (d !== 0) metrics[k] = d;
  }
  return {
    count,
    meanMs: count > 0 ? (sum / count) * 1000 : Number.NaN,
    p50Ms: histogramQuantile(0.5, hist) * 1000,
    p99Ms: histogramQuantile(0.99, hist) * 1000,
    metrics,
  };
}

// ---------------------------------------------------------------------------------------------
// One run

interface Run {
  readonly variant: string;
  readonly fixture: string;
  readonly rep: number;
  readonly k: number;
  readonly cpuMs: number;
  readonly durationMs: number;
  /** The API server's CPU per second while idle, just before the run. */
  readonly idleCpuMsPerS: number;
  readonly cpuMsPerWrite: number;
  /** cpuMsPerWrite less the idle CPU over the run's duration. */
  readonly netCpuMsPerWrite: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly conflicts: number;
  readonly server: ServerSide;
  readonly statusBytes: number;
  readonly load: readonly [number, number, number];
}

async function measure(
  b: Bench,
  variant: string,
  fixture: string,
  rep: number,
  k: number,
  target: Target,
): Promise<Run> {
  const resource = target.path.split("/").at(-2) ?? "";
  const warm = await writeStatus(b, target, 0, WARMUP);
  const warmed: Target = { ...target, object: warm.object };
  await settle(b);
  const idleStart = apiserverCpuMs(b);
  const idleT = performance.now();
  await sleep(1000);
  const idleCpuMsPerS = ((apiserverCpuMs(b) - idleStart) * 1000) / (performance.now() - idleT);
  const before = await scrape(b);
  const cpu0 = apiserverCpuMs(b);
  const t0 = performance.now();
  const { latencies, conflicts } = await writeStatus(b, warmed, WARMUP, k);
  const durationMs = performance.now() - t0;
  const cpuMs = apiserverCpuMs(b) - cpu0;
  const after = await scrape(b);
  const d = distribution(latencies);
  const run: Run = {
    variant,
    fixture,
    rep,
    k,
    cpuMs,
    durationMs: round(durationMs),
    idleCpuMsPerS: round(idleCpuMsPerS, 1),
    cpuMsPerWrite: round(cpuMs / k, 3),
    netCpuMsPerWrite: round((cpuMs - (idleCpuMsPerS * durationMs) / 1000) / k, 3),
    p50Ms: round(d.p50, 2),
    p99Ms: round(d.p99, 2),
    conflicts,
    server: serverSide(before, after, resource),
    statusBytes: JSON.stringify(target.object.status ?? {}).length,
    load: load(),
  };
  b.log(
    `  ${variant} ${fixture} #${String(rep + 1)}: ${num(run.cpuMsPerWrite, 2)} ms CPU/write (net ${num(run.netCpuMsPerWrite, 2)}), p50 ${num(run.p50Ms, 1)} p99 ${num(run.p99Ms, 1)} ms, idle ${num(run.idleCpuMsPerS, 0)} ms/s, load ${run.load.join(" ")}`,
  );
  return run;
}

/** Installs the variant (a CRD) and runs it on each of its fixtures, in `order`. */
async function runVariant(
  b: Bench,
  variant: Variant,
  fixtures: readonly EndpointFixture[],
  rep: number,
  k: number,
): Promise<Run[]> {
  if (variant.kind !== "crd") {
    const target = await createWorkload(b, variant.kind);
    try {
      return [await measure(b, variant.name, "-", rep, k, target)];
    } finally {
      await b.api.json("DELETE", target.path, undefined, [200, 202, 404]);
    }
  }
  await installCrd(b, variant);
  const out: Run[] = [];
  const chosen = fixtures.filter((f) => variant.fixtures?.includes(f.name) ?? true);
  for (const fixture of rep % 2 === 0 ? chosen : [...chosen].reverse()) {
    const target = await createEndpoint(b, fixture);
    try {
      out.push(await measure(b, variant.name, fixture.name, rep, k, target));
    } finally {
      await b.api.json("DELETE", target.path, undefined, [200, 202, 404]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

const CEL_SUM = "apiserver_cel_evaluation_duration_seconds_sum";
/** The API server's CEL evaluation time per write (ms): nested validators each count, so it overcounts. */
const celMsPerWrite = (r: Run): number => ((r.server.metrics[CEL_SUM] ?? 0) * 1000) / r.k;

const groupKey = (r: Run): string => `${r.variant}\u0000${r.fixture}`;

function byGroup(runs: readonly Run[]): Map<string, Run[]> {
  const out = new Map<string, Run[]>();
  for (const r of runs) out.set(groupKey(r), [...(out.get(groupKey(r)) ?? []), r]);
  return out;
}

function mainTable(runs: readonly Run[]): string {
  const rows = [...byGroup(runs).values()].map((rs) => {
    const first = rs[0] as Run;
    const s = (f: (r: Run) => number): Summary => summarize(rs.map(f));
    const server = s((r) => r.server.meanMs);
    return [
      first.variant,
      first.fixture,
      mmm(
        s((r) => r.cpuMsPerWrite),
        2,
      ),
      mmm(
        s((r) => r.netCpuMsPerWrite),
        2,
      ),
      `${num(s((r) => r.p50Ms).median, 1)} / ${num(s((r) => r.p99Ms).median, 1)}`,
      num(server.median, 2),
      num(s(celMsPerWrite).median, 2),
      String(first.statusBytes),
      String(rs.reduce((n, r) => n + r.conflicts, 0)),
    ];
  });
  return table(
    [
      "variant",
      "endpoint",
      "CPU ms/status write (median, min-max)",
      "net of idle",
      "client p50 / p99 ms",
      "server mean ms",
      "CEL eval ms (metric)",
      "status bytes",
      "409s",
    ],
    rows,
  );
}

interface RuleCost {
  readonly rule: FoundRule;
  readonly fixture: string;
  /** CPU ms per write with only this rule, less the median with no rules. */
  readonly alone: Summary;
  /** The median with every rule, less CPU ms per write with every rule but this one. */
  readonly removed: Summary;
  /** The API server's CEL evaluation ms per write with only this rule (median). */
  readonly celMs: number;
}

function ruleCosts(
  runs: readonly Run[],
  rules: readonly FoundRule[],
  fixtures: readonly string[],
): RuleCost[] {
  const median = (variant: string, fixture: string): number =>
    summarize(
      runs.filter((r) => r.variant === variant && r.fixture === fixture).map((r) => r.netCpuMsPerWrite),
    ).median;
  const out: RuleCost[] = [];
  for (const rule of rules) {
    for (const fixture of fixtures) {
      const of = (variant: string): number[] =>
        runs.filter((r) => r.variant === variant && r.fixture === fixture).map((r) => r.netCpuMsPerWrite);
      const aloneRuns = of(`only ${rule.key}`);
      if (aloneRuns.length === 0) continue;
      const none = median("no-rules", fixture);
      const all = median("committed", fixture);
      out.push({
        rule,
        fixture,
        alone: summarize(aloneRuns.map((x) => x - none)),
        removed: summarize(of(`without ${rule.key}`).map((x) => all - x)),
        celMs: summarize(
          runs.filter((r) => r.variant === `only ${rule.key}` && r.fixture === fixture).map(celMsPerWrite),
        ).median,
      });
    }
  }
  return out.sort((a, b) => b.alone.median - a.alone.median);
}

function ruleTable(costs: readonly RuleCost[]): string {
  return table(
    [
      "rule (path, message)",
      "endpoint",
      "only this rule: +ms/write vs none",
      "removed: -ms/write vs committed",
      "CEL eval ms (metric)",
      "oldSelf",
    ],
    costs.map((c) => [
      c.rule.label,
      c.fixture,
      mmm(c.alone, 3),
      c.removed.n === 0 ? "-" : mmm(c.removed, 3),
      num(c.celMs, 3),
      c.rule.usesOldSelf ? "yes" : "",
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Profile

/**
 * kube-apiserver's CPU profile over `seconds` of back-to-back status writes to one endpoint under
 * the committed CRD; returns the file written. The writes run until the profile has been taken.
 */
async function profileStatusWrites(
  b: Bench,
  crd: CrdDocument,
  fixture: EndpointFixture,
  seconds: number,
  file: string,
): Promise<{ writes: number }> {
  await installCrd(b, { name: "committed", kind: "crd", crd });
  const target = await createEndpoint(b, fixture);
  try {
    let current: Target = { ...target, object: (await writeStatus(b, target, 0, WARMUP)).object };
    /** Set when the profile has been taken (an object: the loop reads it after each await). */
    const profiling = { done: false };
    let written = 0;
    const writer = (async (): Promise<void> => {
      while (!profiling.done) {
        const r = await writeStatus(b, current, WARMUP + written, 20);
        written += 20;
        current = { ...current, object: r.object };
      }
    })();
    const profile = promisify(execFile)(
      b.cp.binaries.kubectl,
      [
        "--kubeconfig",
        b.cp.kubeconfigPath,
        "get",
        "--raw",
        `/debug/pprof/profile?seconds=${String(seconds)}`,
      ],
      { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
    ).finally(() => {
      profiling.done = true;
    });
    // Both settle before either failure is thrown: the writer stops once the profile is done.
    const [taken, wrote] = await Promise.allSettled([profile, writer]);
    if (wrote.status === "rejected") throw wrote.reason;
    if (taken.status === "rejected") {
      const err = taken.reason as { stderr?: Buffer; message: string };
      throw new Error(
        `kubectl get --raw /debug/pprof/profile failed: ${err.stderr?.toString() ?? err.message}`,
      );
    }
    writeFileSync(file, taken.value.stdout);
    return { writes: written };
  } finally {
    await b.api.json("DELETE", target.path, undefined, [200, 202, 404]);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      k: { type: "string", default: "400" },
      reps: { type: "string", default: "3" },
      "rule-k": { type: "string", default: "100" },
      top: { type: "string", default: "4" },
      "per-rule": { type: "string", default: "full" },
      "apiserver-args": { type: "string", default: "" },
      pprof: { type: "string" },
      crd: { type: "string", default: CRD_FILE },
    },
  });
  const pprofSeconds = values.pprof === undefined ? undefined : Number(values.pprof);
  if (pprofSeconds !== undefined && !(Number.isInteger(pprofSeconds) && pprofSeconds > 0))
    throw new Error(`--pprof takes whole seconds, got ${JSON.stringify(values.pprof)}`);
  const k = Number(values.k);
  const reps = Number(values.reps);
  const ruleK = Number(values["rule-k"]);
  const top = Number(values.top);
  const perRule = values["per-rule"];
  if (
    ![k, reps, ruleK, top].every((x) => Number.isInteger(x) && x > 0) ||
    !["screen", "full", "none"].includes(perRule)
  )
    throw new Error(
      "--k, --reps, --rule-k and --top take positive integers; --per-rule screen, full or none",
    );

  const crd = parse(readFileSync(values.crd, "utf8")) as CrdDocument;
  const rules = findRules(crd);
  const fixtures = endpointFixtures();
  const presentIn = (rule: FoundRule): string[] =>
    fixtures
      .filter((f) => pathPresent({ ...f.created, spec: f.updatedSpec, status: f.status }, rule.path))
      .map((f) => f.name);
  const log = (line: string): void => {
    console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  };
  const startLoad = load();
  log(
    `${String(rules.length)} rules in ${CRD_NAME}; load ${startLoad.join(" ")}; ${String(cpus().length)} CPUs`,
  );

  const cp = await ControlPlane.start({
    nodes: 1,
    metrics: false,
    log,
    apiserverArgs: [
      ...values["apiserver-args"].split(/\s+/).filter((x) => x !== ""),
      ...(pprofSeconds === undefined ? [] : ["--profiling=true"]),
    ],
  });
  const api = new ApiClient(cp.kubeconfigPath);
  const held = signals.hold(async () => {
    api.close();
    await cp.stop();
  });
  try {
    const apiserverPid = cp.status().find((c) => c.name === "kube-apiserver")?.pid;
    if (apiserverPid === undefined) throw new Error("kube-apiserver is not running");
    log(`control plane at ${cp.server}, state in ${cp.dir}, kube-apiserver pid ${String(apiserverPid)}`);
    const b: Bench = { cp, api, apiserverPid, log, crdWarnings: new Map() };
    await api.json("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NAMESPACE },
    });

    if (pprofSeconds !== undefined) {
      const dir = join(ROOT, "bench", "results", "profiles");
      mkdirSync(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      for (const fixture of fixtures) {
        const file = join(dir, `${stamp}-apiserver-status-${fixture.name}.pprof`);
        log(`profiling kube-apiserver for ${String(pprofSeconds)} s of status writes on ${fixture.name}`);
        const { writes } = await profileStatusWrites(b, crd, fixture, pprofSeconds, file);
        log(`wrote ${file} (${String(writes)} status writes); read it with: go tool pprof -top ${file}`);
      }
      await deleteCrd(b);
      return;
    }

    // 1. The rule groups, `reps` times in alternating order.
    const runs: Run[] = [];
    const variants = mainVariants(crd);
    for (let rep = 0; rep < reps; rep++) {
      log(`rule groups, round ${String(rep + 1)} of ${String(reps)}`);
      for (const v of rep % 2 === 0 ? variants : [...variants].reverse())
        runs.push(...(await runVariant(b, v, fixtures, rep, k)));
    }
    const afterMain = load();

    // 2. Rules one by one: each rule alone (screening), then the most expensive alone and removed.
    const only = (rule: FoundRule): Variant => ({
      name: `only ${rule.key}`,
      kind: "crd",
      crd: withRules(crd, (r) => r.key === rule.key),
      rule,
      fixtures: presentIn(rule),
    });
    const without = (rule: FoundRule): Variant => ({
      name: `without ${rule.key}`,
      kind: "crd",
      crd: withRules(crd, (r) => r.key !== rule.key),
      rule,
      fixtures: presentIn(rule),
    });
    const evaluated = rules.filter((r) => presentIn(r).length > 0);
    let topRules: FoundRule[] = [];
    if (perRule !== "none") {
      log(`each of the ${String(evaluated.length)} rules the endpoints reach, alone (k=${String(ruleK)})`);
      for (const rule of evaluated) runs.push(...(await runVariant(b, only(rule), fixtures, 0, ruleK)));
      // Ranked by the API server's CEL time, which a busy machine disturbs far less than the few
      // hundred microseconds of CPU per write that one rule costs.
      const screened = ruleCosts(
        runs,
        evaluated,
        fixtures.map((f) => f.name),
      ).sort((x, y) => y.celMs - x.celMs);
      const seen = new Set<string>();
      for (const c of screened) {
        if (seen.size >= top) break;
        seen.add(c.rule.key);
      }
      topRules = evaluated.filter((r) => seen.has(r.key));
      log(`the ${String(topRules.length)} most expensive alone: ${topRules.map((r) => r.label).join("; ")}`);
      const confirmReps = perRule === "full" ? reps : 0;
      for (let rep = 0; rep < confirmReps; rep++) {
        const order = rep % 2 === 0 ? topRules : [...topRules].reverse();
        for (const rule of order) {
          if (rep > 0) runs.push(...(await runVariant(b, only(rule), fixtures, rep, ruleK)));
          runs.push(...(await runVariant(b, without(rule), fixtures, rep, ruleK)));
        }
      }
    }
    await deleteCrd(b);
    const endLoad = load();

    // 3. Report.
    const mainRuns = runs.filter((r) => !r.variant.startsWith("only ") && !r.variant.startsWith("without "));
    const costs = ruleCosts(
      runs,
      evaluated,
      fixtures.map((f) => f.name),
    ).sort((x, y) => y.celMs - x.celMs);
    const out: string[] = [];
    out.push(
      `## CRD validation cost per ModelEndpoint status write (k=${String(k)}, ${String(reps)} rounds)`,
      "",
    );
    out.push(mainTable(mainRuns), "");
    out.push(
      `load average: start ${startLoad.join(" ")}, after the groups ${afterMain.join(" ")}, end ${endLoad.join(" ")}; ${String(cpus().length)} CPUs`,
      "",
    );
    for (const f of fixtures) out.push(`- ${f.name}: ${f.description}`);
    out.push("");
    if (costs.length > 0) {
      out.push(
        `## Per rule (k=${String(ruleK)}; net CPU ms per status write; by the API server's CEL time)`,
        "",
        ruleTable(costs),
        "",
      );
      const absent = rules.filter((r) => presentIn(r).length === 0);
      out.push(
        `${String(absent.length)} rules sit at paths neither endpoint has and are not evaluated for them.`,
        "",
      );
    }
    const warnings = [...b.crdWarnings].map(([v, w]) => `- ${v}: ${w.join(" | ")}`);
    out.push(
      warnings.length > 0 ? `CRD create warnings:\n${warnings.join("\n")}` : "CRD create warnings: none",
      "",
    );
    console.log(out.join("\n"));

    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const dir = join(ROOT, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${stamp}-cel.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          settings: {
            k,
            reps,
            ruleK,
            top,
            perRule,
            warmup: WARMUP,
            apiserverArgs: values["apiserver-args"],
            crd: values.crd,
          },
          machine: {
            cpus: cpus().length,
            model: cpus()[0]?.model,
            kernel: release(),
            kubernetes: cp.binaries.kubernetesVersion,
          },
          load: { start: startLoad, afterGroups: afterMain, end: endLoad },
          fixtures: fixtures.map((f) => ({ name: f.name, description: f.description, status: f.status })),
          rules: rules.map((r) => ({ ...r, presentIn: presentIn(r) })),
          crdWarnings: Object.fromEntries(b.crdWarnings),
          runs,
          ruleCosts: costs.map((c) => ({
            key: c.rule.key,
            label: c.rule.label,
            fixture: c.fixture,
            alone: c.alone,
            removed: c.removed,
            celMs: c.celMs,
          })),
        },
        null,
        2,
      )}\n`,
    );
    log(`wrote ${file}`);
  } finally {
    await held.release();
  }
}

/** The undos a signal runs; a failure after a signal (its connection gone) waits for them. */
const signals = processInterrupts((line) => {
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
});

await main().catch(async (err: unknown) => {
  if (signals.interrupted === undefined) throw err;
  await signals.interrupted;
});
