/**
 * Operator replicas for the chaos run: `node src/main.ts` as users run it, with leader election on
 * a Lease, JSON logs appended to one file per replica across restarts, SIGKILLed and restarted by
 * the fault loop. An exit the run did not cause is a crash and is reported.
 */
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import { Supervised } from "../../src/testing/process.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const MAIN = join(ROOT, "src", "main.ts");

export interface ReplicaOptions {
  readonly identity: string;
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly logFile: string;
  /** Seconds a watch may stay silent before the informer restarts it. */
  readonly stallTimeoutSeconds: number;
}

/** An exit the run did not ask for. */
export interface Crash {
  readonly identity: string;
  readonly at: string;
  readonly exit: number | string;
  readonly tail: string;
}

export class OperatorReplica {
  readonly identity: string;
  readonly logFile: string;
  readonly #options: ReplicaOptions;
  readonly #crashes: Crash[];
  #process: Supervised | undefined;
  #expectExit = false;
  #port: number | undefined;
  starts = 0;

  constructor(options: ReplicaOptions, crashes: Crash[]) {
    this.#options = options;
    this.identity = options.identity;
    this.logFile = options.logFile;
    this.#crashes = crashes;
  }

  get running(): boolean {
    return this.#process !== undefined && !this.#process.exited;
  }

  /** Starts the process and waits until it logged its metrics port (not until it is ready). */
  async start(): Promise<void> {
    if (this.running) return;
    const o = this.#options;
    const logStart = statSync(this.logFile, { throwIfNoEntry: false })?.size ?? 0;
    const proc = Supervised.start({
      name: o.identity,
      command: NODE,
      cwd: ROOT,
      logFile: this.logFile,
      args: [
        MAIN,
        `--kubeconfig=${o.kubeconfig}`,
        `--namespaces=${o.namespace}`,
        "--metrics-bind-address=127.0.0.1:0",
        "--log-format=json",
        "--log-level=info",
        `--identity=${o.identity}`,
        "--leader-elect=true",
        `--lease-namespace=${o.namespace}`,
        "--lease-duration-seconds=4",
        "--renew-deadline-seconds=3",
        "--retry-period-seconds=1",
        `--watch-stall-timeout-seconds=${o.stallTimeoutSeconds}`,
      ],
    });
    this.#process = proc;
    this.#expectExit = false;
    this.#port = undefined;
    this.starts++;
    void proc.exit.then((exit) => {
      if (!this.#expectExit)
        this.#crashes.push({
          identity: this.identity,
          at: new Date().toISOString(),
          exit,
          tail: this.tail(20),
        });
    });
    for (let waited = 0; waited < 30_000; waited += 100) {
      if (proc.exited) return;
      const match = /"metricsPort":(\d+)/.exec(
        readFileSync(this.logFile).subarray(logStart).toString("utf8"),
      );
      if (match?.[1] !== undefined) {
        this.#port = Number(match[1]);
        return;
      }
      await delay(100);
    }
    throw new Error(`operator ${this.identity} did not log its metrics port: ${this.tail()}`);
  }

  /** SIGKILL: a crash the run causes. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#expectExit = true;
    await this.#process?.kill();
  }

  /** SIGTERM, then SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.#expectExit = true;
    await this.#process?.stop(15_000);
  }

  /** The Prometheus text of /metrics, or undefined when it does not answer. */
  async metrics(): Promise<string | undefined> {
    if (!this.running || this.#port === undefined) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${String(this.#port)}/metrics`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  }

  /** True when it answers that it leads (`modelendpoint_leader 1`). */
  async isLeader(): Promise<boolean> {
    return /^modelendpoint_leader 1$/m.test((await this.metrics()) ?? "");
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }
}

/** The sum of a counter's series whose labels contain `labels` ("" = every series). */
export function sumMetric(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== "" && !line.includes(labels)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}
