/**
 * `make chaos` (and `make chaos-short`): rolling deployments on several endpoints while faults are
 * injected at random moments, with an independent invariant watcher running throughout.
 *
 *   node scripts/chaos.ts [--short] [--seed=N] [--seconds=S] [--endpoints=K] [--keep]
 *
 * On its own control plane: two operator replicas with leader election, connected to the API
 * server through a TCP proxy the faults can cut or stall; a watcher (src/testing/watcher.ts)
 * checking R4 (pods <= N + maxSurge, available >= the floor) and R6 (never-Ready pods never served)
 * at every event; a concurrent writer editing the endpoints' metadata; one driver per endpoint
 * rolling new versions, broken versions and rollbacks (scripts/chaos/rollouts.ts); and the faults
 * of scripts/chaos/faults.ts. When the fault time is over, everything is brought back, the running
 * rollouts finish, and the run checks:
 *
 * - every rollout completed or failed exactly as the rules say (judged as each one settled);
 * - no invariant was broken at any observed instant (the watcher's violations);
 * - no object was created twice (one uid per ReplicaSet and Service name over the whole run);
 * - no ModelEndpoint lost a field (the stored spec holds every field applied, at every read and at
 *   the end; the concurrent writer's last labels and annotations are there);
 * - no operator exited by itself, and neither loops hot once everything is quiet.
 *
 * The last line: faults injected, kills survived, rollouts completed/failed, violations. Exit code
 * 0 only with 0 violations. The seed is printed first; `--seed` repeats the same choices.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as delay } from "node:timers/promises";

import { KubeConfig } from "@kubernetes/client-node";

import { ControlPlane } from "../src/testing/controlplane.ts";
import { kubeconfigWithServer, TcpProxy } from "../src/testing/tcp-proxy.ts";
import { InvariantWatcher } from "../src/testing/watcher.ts";
import { Cluster, LABEL_ENDPOINT, retrying } from "./chaos/cluster.ts";
import { FaultInjector, type FaultKind } from "./chaos/faults.ts";
import { Journal } from "./chaos/journal.ts";
import { ReplicaSetNudger } from "./chaos/nudger.ts";
import { OperatorReplica, type Crash } from "./chaos/operators.ts";
import { countLoggedPasses, countQuietReconciles, describePasses } from "./chaos/quiet.ts";
import { Rng } from "./chaos/rng.ts";
import { EndpointDriver } from "./chaos/rollouts.ts";
import { ConcurrentWriter, POKE_ANNOTATION } from "./chaos/writer.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NAMESPACE = "chaos";
/** A watch silent this long is restarted by the operator's watchdog (the stall fault needs it short). */
const STALL_TIMEOUT_SECONDS = 8;

const { values: args } = parseArgs({
  options: {
    short: { type: "boolean", default: false },
    seed: { type: "string" },
    seconds: { type: "string" },
    endpoints: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const short = args.short;
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const faultSeconds = Number(args.seconds ?? (short ? 60 : 480));
const endpointCount = Number(args.endpoints ?? (short ? 2 : 4));
if (!Number.isInteger(seed) || !(faultSeconds > 0) || !(endpointCount >= 1)) {
  process.stderr.write(
    "usage: node scripts/chaos.ts [--short] [--seed=N] [--seconds=S] [--endpoints=K] [--keep]\n",
  );
  process.exit(2);
}

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
let journal: Journal | undefined;
const log = (line: string): void => {
  process.stdout.write(`[chaos ${elapsed()}] ${line}\n`);
  journal?.write(`chaos ${line}`);
};
const violations: string[] = [];
const violation = (text: string): void => {
  violations.push(text);
  log(`VIOLATION ${text}`);
};

log(
  `seed ${seed} (repeat the same choices with --seed=${seed}); ${endpointCount} endpoints, faults for ${faultSeconds}s`,
);
const rng = new Rng(seed);

const cp = await ControlPlane.start({
  nodes: 3,
  keepDir: true,
  log: (line) => {
    log(`[controlplane] ${line}`);
  },
});
const crashes: Crash[] = [];
let proxy: TcpProxy | undefined;
let watcher: InvariantWatcher | undefined;
const replicas: OperatorReplica[] = [];

async function shutDown(): Promise<void> {
  for (const r of replicas) await r.stop();
  journal?.stop();
  await watcher?.stop();
  await proxy?.stop();
  await cp.stop();
}

process.once("SIGINT", () => {
  void shutDown().finally(() => process.exit(130));
});

let exitCode = 1;
try {
  exitCode = await run();
} catch (err) {
  log(`the run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await shutDown();
  if (exitCode === 0 && !args.keep) rmSync(cp.dir, { recursive: true, force: true });
  else log(`logs kept in ${cp.dir} (journal.log: every change seen, with times; operators/: their logs)`);
}
process.exit(exitCode);

async function run(): Promise<number> {
  await cp.kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
  await cp.kubectl(["wait", "--for=condition=Established", "crd/modelendpoints.serving.modelendpoint.io"]);
  await cp.kubectl(["create", "namespace", NAMESPACE]);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const cluster = new Cluster(cp, kc, NAMESPACE);

  // The operators reach the API server only through the proxy.
  proxy = await TcpProxy.start({ port: cp.ports.apiserver });
  const operatorDir = join(cp.dir, "operators");
  mkdirSync(operatorDir, { recursive: true });
  const operatorKubeconfig = join(operatorDir, "kubeconfig");
  writeFileSync(
    operatorKubeconfig,
    kubeconfigWithServer(readFileSync(cp.kubeconfigPath, "utf8"), `https://127.0.0.1:${proxy.port}`),
    { mode: 0o600 },
  );

  const w = await InvariantWatcher.start(kc, NAMESPACE);
  watcher = w;
  journal = new Journal(join(cp.dir, "journal.log"));
  journal.start(kc, NAMESPACE);
  for (const identity of ["operator-a", "operator-b"]) {
    replicas.push(
      new OperatorReplica(
        {
          identity,
          kubeconfig: operatorKubeconfig,
          namespace: NAMESPACE,
          logFile: join(operatorDir, `${identity}.log`),
          stallTimeoutSeconds: STALL_TIMEOUT_SECONDS,
          logLevel: "debug",
        },
        crashes,
      ),
    );
  }
  for (const r of replicas) await r.start();

  const faultsUntil = Date.now() + faultSeconds * 1000;
  const drivers = Array.from(
    { length: endpointCount },
    (_, i) =>
      new EndpointDriver(
        {
          cluster,
          watcher: w,
          rng,
          log,
          violation,
          stopping: () => Date.now() >= faultsUntil,
          settleTimeoutMs: 300_000,
        },
        `ep-${i + 1}`,
        rng.int(3, short ? 4 : 5),
      ),
  );
  const deployed = new Set<string>();
  const live = (): string[] => drivers.map((d) => d.name).filter((n) => deployed.has(n));
  const writer = new ConcurrentWriter(cluster, rng);
  writer.start(live);
  const nudger = new ReplicaSetNudger(cluster, log, () => cp.restartComponent("kube-controller-manager"));
  nudger.start();
  const faults = new FaultInjector({
    cp,
    proxy,
    replicas,
    cluster,
    watcher: w,
    rng,
    log,
    problem: violation,
    endpoints: live,
    stallTimeoutSeconds: STALL_TIMEOUT_SECONDS,
  });

  const runs = drivers.map(async (d) => {
    const watch = setInterval(() => {
      if (d.applied !== undefined) deployed.add(d.name);
    }, 200);
    try {
      await d.run();
    } finally {
      clearInterval(watch);
    }
  });
  await faults.run(faultsUntil, [1500, 4000]);
  log(`fault time over: ${faults.total} faults injected; bringing everything back`);
  await faults.settle();
  await writer.stop();
  await Promise.all(runs);
  await nudger.stop();
  log("every rollout settled; final checks");

  // Final state: each endpoint serves its intended model with N available replicas, all traffic.
  for (const d of drivers) {
    if (!d.healthy || d.applied === undefined) continue;
    const intended = d.applied.deployedModels.at(-1)?.id ?? "";
    const obj = await retrying("final read", async () => {
      const o = await d.read();
      const m = o.status?.deployedModels?.find((x) => x.id === intended);
      const ready = o.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      if (m?.state !== "DEPLOYED" || m.availableReplicaCount !== d.n || !ready)
        throw new Error(JSON.stringify(o.status));
      return o;
    });
    const poked = writer.last.get(d.name);
    const stored = Number(obj.metadata.annotations?.[POKE_ANNOTATION] ?? "0");
    if (poked !== undefined && stored !== poked && stored !== poked + 1)
      violation(`${d.name}: the concurrent writer's annotation is ${stored}, it last wrote ${poked}`);
    const replicaSets = await cluster.apps.listNamespacedReplicaSet({
      namespace: NAMESPACE,
      labelSelector: `${LABEL_ENDPOINT}=${d.name}`,
    });
    const names = replicaSets.items.map((rs) => `${rs.metadata?.name ?? ""}=${rs.spec?.replicas ?? 0}`);
    if (names.join() !== `${d.name}-${intended}=${d.n}`)
      violation(
        `${d.name}: ReplicaSets at the end are ${names.join(", ")}, expected ${d.name}-${intended}=${d.n}`,
      );
  }

  // Quiet: nothing changes any more, so the operators must not keep reconciling (quiet.ts).
  await delay(5000);
  const quietFrom = Date.now();
  const before = await Promise.all(replicas.map((r) => r.reconciles()));
  await delay(15_000);
  const after = await Promise.all(replicas.map((r) => r.reconciles()));
  const quietTo = Date.now();
  const replicaLogs = replicas.map((r) => ({ identity: r.identity, file: r.logFile }));
  const quietPasses = countLoggedPasses(replicaLogs, quietFrom, quietTo);
  const counts = replicas.map((r, i) => ({ identity: r.identity, before: before[i], after: after[i] }));
  const quiet = countQuietReconciles(counts, quietPasses);
  for (const note of quiet.notes) log(note);
  const quietReconciles = quiet.total;
  if (quiet.hot > 2 * endpointCount)
    violation(
      `${quiet.hot} of ${quietReconciles} reconciles in 15 quiet seconds wrote or asked to come back: a hot loop; per replica and endpoint:\n  ${describePasses(quietPasses)}`,
    );

  // Nothing created twice.
  const report = w.report();
  for (const kind of ["ReplicaSet", "Service"]) {
    for (const [name, uids] of journal.uids.get(kind) ?? [])
      if (uids.size > 1)
        violation(`${kind} ${name} was created ${uids.size} times (${[...uids].join(", ")})`);
  }
  for (const v of report.violations) violation(`watcher: ${v}`);
  for (const c of crashes)
    violation(`operator ${c.identity} exited by itself (${String(c.exit)}) at ${c.at}:\n${c.tail}`);
  for (const d of drivers) if (!d.healthy) violation(`${d.name}: its driver stopped early (see above)`);

  const scanned = scanLogs(replicas.map((r) => r.logFile));
  const records = drivers.flatMap((d) => d.records);
  const completed = records.filter((r) => r.outcome === "completed").length;
  const failed = records.filter((r) => r.outcome === "failed").length;
  const byKind = Object.entries(faults.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const missing = (Object.keys(faults.counts) as FaultKind[]).filter((k) => faults.counts[k] === 0);
  log(`faults by kind: ${byKind}${missing.length > 0 ? `; not injected: ${missing.join(", ")}` : ""}`);
  log(
    `rollouts: ${records.length} (${records.filter((r) => r.kind === "rolling").length} rolling, ${records.filter((r) => r.kind === "broken").length} broken, ${records.filter((r) => r.kind === "rollback").length} rollbacks); mean ${mean(records.map((r) => r.seconds ?? 0)).toFixed(1)}s`,
  );
  log(
    `watcher: ${report.events} events, ${report.chains.length} chain checks, ${report.chains.reduce((n, c) => n + c.excusedLow, 0)} observations below a floor excused by outside disruptions; at most ${Math.max(0, ...report.chains.map((c) => c.overCreated))} pods beyond a ReplicaSet's spec (the ReplicaSet controller's, not counted); worst ceiling margin ${Math.min(...report.chains.map((c) => c.n + c.maxSurge - c.maxPods))}`,
  );
  log(
    `operators: ${replicas.reduce((n, r) => n + r.starts, 0)} starts, ${scanned.leaderships} leaderships, ${scanned.lost} lost leases, ${scanned.stalls} stalled watches restarted by the watchdog, ${scanned.conflicts} reconciles that met a 409, ${scanned.objectsLogged} log lines holding an object`,
  );
  log(
    `concurrent writer: ${writer.writes} metadata edits; ${nudger.nudges} ReplicaSets nudged and ${nudger.restarts} restarts of kube-controller-manager; proxy: ${JSON.stringify(proxy.stats())}; ${quietReconciles} reconciles in 15 quiet seconds, ${quiet.hot} of them writing or asking to come back (counts since each replica's start: ${counts.map((c) => `${c.identity} ${String(c.before)} -> ${String(c.after)}`).join(", ")})`,
  );
  if (scanned.objectsLogged > 0)
    violation(`${scanned.objectsLogged} operator log lines hold a Kubernetes object`);
  const minutes = Math.floor((Date.now() - started) / 60_000);
  const seconds = Math.round(((Date.now() - started) % 60_000) / 1000);
  process.stdout.write(
    `chaos: seed ${seed}, ${minutes}m${String(seconds).padStart(2, "0")}s: faults injected ${faults.total}, kills survived ${faults.kills}, rollouts completed ${completed}/failed ${failed}, violations ${violations.length}\n`,
  );
  return violations.length === 0 ? 0 : 1;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** What the operators' logs say about the run. */
function scanLogs(files: readonly string[]): {
  leaderships: number;
  lost: number;
  stalls: number;
  conflicts: number;
  objectsLogged: number;
} {
  const counts = { leaderships: 0, lost: 0, stalls: 0, conflicts: 0, objectsLogged: 0 };
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      if (line.includes('"msg":"became leader"')) counts.leaderships++;
      if (line.includes('"msg":"lost leadership"')) counts.lost++;
      if (line.includes('"msg":"watch silent too long; restarting it"')) counts.stalls++;
      if (line.includes("ConflictError") && line.includes("reconcile failed")) counts.conflicts++;
      // A Kubernetes object in a log line shows its metadata or a spec's parts. (An API error's
      // Status carries an empty "metadata":{}; that is not an object.)
      if (
        /"metadata":\{"|"(managedFields|ownerReferences)":\[|"containerSpec":\{|"deployedModels":\[\{/.test(
          line,
        )
      )
        counts.objectsLogged++;
    }
  }
  return counts;
}
