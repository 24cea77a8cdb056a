/**
 * The sandbox: a local control plane left running in the background for people and scripts.
 *
 *   node src/testing/sandbox.ts up     --dir .sandbox [--nodes 3] [--no-processes]   (make sandbox-up)
 *   node src/testing/sandbox.ts status --dir .sandbox               (make sandbox-status)
 *   node src/testing/sandbox.ts down   --dir .sandbox               (make sandbox-down)
 *
 * `up` starts a detached supervisor (`serve`) that owns every component and writes
 * <dir>/state.json once the control plane is ready; `down` asks it to stop and waits until no
 * process of it is left. The components die with the supervisor (see process.ts), so even a killed
 * supervisor leaves nothing behind; `down` then removes the pod addresses it left on lo.
 *
 * Model-server pods run as processes (the process kubelet, docs/controlplane.md) unless
 * `--no-processes` is given.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";

import { ControlPlane } from "./controlplane.ts";
import { ControlPlaneClient, serveControlApi } from "./control-server.ts";
import { releaseStaleReservations } from "./loopback.ts";
import { isAlive, tailFile } from "./process.ts";
import { METRICS_RESOLUTION_SECONDS, USAGE_CPU_ANNOTATION } from "./resource-metrics.ts";

interface SandboxState {
  readonly supervisorPid: number;
  readonly controlUrl: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly kubernetesVersion: string;
  readonly kubectl: string;
  /** The Gateway API data plane's HTTP listener (Traefik), and the Gateway routes attach to. */
  readonly gatewayUrl: string | undefined;
  readonly gatewayParentRef: string | undefined;
  /** Whether model-server pods run as processes (the process kubelet). */
  readonly processes: boolean;
  /** Whether metrics.k8s.io is served (metrics-server over kwok's simulated usage). */
  readonly metrics?: boolean;
  readonly pids: readonly number[];
  readonly startedAt: string;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: "string", default: ".sandbox" },
    nodes: { type: "string", default: "3" },
    processes: { type: "boolean", default: true },
  },
  allowNegative: true,
});
const command = positionals[0];
const dir = resolve(values.dir);
const stateFile = join(dir, "state.json");
const supervisorLog = join(dir, "supervisor.log");

function readState(): SandboxState | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as SandboxState;
}

function nodeCount(): number {
  const n = Number(values.nodes);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    console.error(`--nodes must be a whole number from 1 to 100, got ${JSON.stringify(values.nodes)}`);
    process.exit(2);
  }
  return n;
}

function printAccess(state: SandboxState): void {
  const rel = relative(process.cwd(), state.kubeconfig) || state.kubeconfig;
  console.log(
    `sandbox: Kubernetes ${state.kubernetesVersion} at ${state.server} (supervisor pid ${state.supervisorPid})`,
  );
  console.log(`  kubectl: ${state.kubectl}`);
  console.log(`  try:     ${state.kubectl} --kubeconfig ${rel} get nodes`);
  if (state.gatewayUrl !== undefined)
    console.log(`  gateway: ${state.gatewayUrl} (HTTPRoute parentRef ${state.gatewayParentRef ?? "?"})`);
  if (state.metrics === true)
    console.log(
      `  metrics: kubectl annotate pod <pod> ${USAGE_CPU_ANNOTATION}=800m, then kubectl top pods (scraped every ${METRICS_RESOLUTION_SECONDS} s)`,
    );
  console.log(`export KUBECONFIG=${state.kubeconfig}`);
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing && isAlive(existing.supervisorPid)) {
    console.log("sandbox: already up");
    printAccess(existing);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = openSync(supervisorLog, "a");
  const child = spawn(
    process.execPath,
    [
      import.meta.filename,
      "serve",
      "--dir",
      dir,
      "--nodes",
      String(nodeCount()),
      values.processes ? "--processes" : "--no-processes",
    ],
    {
      detached: true,
      stdio: ["ignore", out, out],
    },
  );
  child.unref();
  let shown = 0;
  const deadline = Date.now() + 240_000;
  for (;;) {
    // Relay the supervisor's progress lines as they come.
    if (existsSync(supervisorLog) && statSync(supervisorLog).size > shown) {
      const text = readFileSync(supervisorLog, "utf8");
      process.stdout.write(text.slice(shown));
      shown = text.length;
    }
    const state = readState();
    if (state) {
      printAccess(state);
      return;
    }
    if (child.pid === undefined || !isAlive(child.pid)) {
      console.error(
        `sandbox: the supervisor exited before the control plane was ready:\n${tailFile(supervisorLog, 40)}`,
      );
      process.exit(1);
    }
    if (Date.now() > deadline) {
      console.error("sandbox: not ready after 240 s; stopping it (see .sandbox/logs/)");
      process.kill(child.pid, "SIGTERM");
      process.exit(1);
    }
    await delay(250);
  }
}

async function serve(): Promise<void> {
  const cp = await ControlPlane.start({
    dir,
    nodes: nodeCount(),
    gateway: true,
    processes: values.processes,
    log: (line) => {
      console.log(`[sandbox] ${line}`);
    },
  });
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log("[sandbox] stopping");
    rmSync(stateFile, { force: true });
    await cp.stop();
    control.server.close();
    console.log("[sandbox] stopped");
    process.exit(0);
  };
  const control = await serveControlApi(cp, shutdown);
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
  const state: SandboxState = {
    supervisorPid: process.pid,
    controlUrl: control.url,
    kubeconfig: cp.kubeconfigPath,
    server: cp.server,
    kubernetesVersion: cp.binaries.kubernetesVersion,
    kubectl: cp.binaries.kubectl,
    gatewayUrl: cp.gateway?.url,
    gatewayParentRef: cp.gateway && `${cp.gateway.parentRef.namespace}/${cp.gateway.parentRef.name}`,
    processes: values.processes,
    metrics: cp.metricsEnabled,
    pids: cp.pids(),
    startedAt: new Date().toISOString(),
  };
  // Written then renamed, so a reader never sees half a file.
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${stateFile}.tmp`, stateFile);
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await delay(100);
  }
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    console.log("sandbox: not running");
    return;
  }
  const all = [state.supervisorPid, ...state.pids];
  if (isAlive(state.supervisorPid)) process.kill(state.supervisorPid, "SIGTERM");
  let alive = await waitGone(all, 45_000);
  for (const pid of alive) process.kill(pid, "SIGKILL");
  alive = await waitGone(alive, 5_000);
  rmSync(stateFile, { force: true });
  // A supervisor that had to be killed left its pod addresses on lo; its reservation is stale now.
  const addresses = await releaseStaleReservations();
  if (addresses.length > 0) console.log(`sandbox: removed pod addresses left on lo: ${addresses.join(", ")}`);
  if (alive.length > 0) {
    console.error(`sandbox: processes still alive after SIGKILL: ${alive.join(", ")}`);
    process.exit(1);
  }
  console.log(`sandbox: stopped; no process left (${all.length} checked)`);
}

async function status(): Promise<void> {
  const state = readState();
  if (!state || !isAlive(state.supervisorPid)) {
    console.log("sandbox: down (make sandbox-up starts it)");
    process.exitCode = 3;
    return;
  }
  const info = await new ControlPlaneClient(state.controlUrl).status();
  printAccess(state);
  for (const c of info.components) {
    console.log(`  ${c.name.padEnd(24)} ${c.running ? "running" : "STOPPED"}  pid ${c.pid ?? "-"}`);
  }
  const client = new ControlPlaneClient(state.controlUrl);
  for (const p of await client.processes()) {
    const what = `pod ${p.namespace}/${p.name}`.padEnd(24);
    console.log(
      `  ${what} ${p.phase}${p.ready ? ", Ready" : ""}  pid ${p.pid ?? "-"}  ${p.podIP}  ${p.logFile}`,
    );
  }
}

switch (command) {
  case "up":
    await up();
    break;
  case "serve":
    await serve();
    break;
  case "down":
    await down();
    break;
  case "status":
    await status();
    break;
  default:
    console.error("usage: sandbox.ts up|status|down [--dir .sandbox] [--nodes 3] [--no-processes]");
    process.exit(2);
}
