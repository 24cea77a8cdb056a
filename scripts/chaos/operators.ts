/**
 * Operator replicas for the chaos run (src/testing/operator-process.ts): `node src/main.ts` as
 * users run it, with leader election on a Lease, JSON logs appended to one file per replica across
 * restarts, SIGKILLed and restarted by the fault loop. An exit the run did not cause is a crash and
 * is reported.
 */
import { setTimeout as delay } from "node:timers/promises";

import { FAST_LEASE, OperatorProcess, type LogLevel } from "../../src/testing/operator-process.ts";

export interface ReplicaOptions {
  readonly identity: string;
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly logFile: string;
  /** Seconds a watch may stay silent before the informer restarts it. */
  readonly stallTimeoutSeconds: number;
  /**
   * "debug" logs every pass ("reconciled": key, requeue and its reason) and every key an informer
   * event queued ("enqueued"), which `describePasses` (quiet.ts) reads back.
   */
  readonly logLevel?: LogLevel;
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
  readonly #operator: OperatorProcess;
  starts = 0;

  constructor(options: ReplicaOptions, crashes: Crash[]) {
    this.identity = options.identity;
    this.#operator = new OperatorProcess({
      kubeconfig: options.kubeconfig,
      namespaces: [options.namespace],
      identity: options.identity,
      leaderElection: { leaseNamespace: options.namespace, ...FAST_LEASE },
      extraArgs: [`--watch-stall-timeout-seconds=${String(options.stallTimeoutSeconds)}`],
      ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
      logFile: options.logFile,
      onExit: ({ code, requested }) => {
        if (!requested)
          crashes.push({
            identity: this.identity,
            at: new Date().toISOString(),
            exit: code,
            tail: this.tail(20),
          });
      },
    });
  }

  get logFile(): string {
    return this.#operator.logFile;
  }

  get running(): boolean {
    return this.#operator.running;
  }

  /**
   * Starts the process unless it runs, and waits until it logged its metrics port (not until it is
   * ready). An exit before that is not an error here: it is a crash, reported as one, or a kill.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.starts++;
    try {
      await this.#operator.start("listening");
    } catch (err) {
      if (this.#operator.running) throw err;
    }
  }

  /** SIGKILL: a crash the run causes. */
  async kill(): Promise<void> {
    if (this.running) await this.#operator.kill();
  }

  /** SIGTERM, then SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.running) await this.#operator.stop();
  }

  /** The Prometheus text of /metrics, or undefined when it does not answer within 2 s. */
  async metrics(): Promise<string | undefined> {
    if (!this.running) return undefined;
    try {
      return await this.#operator.metrics({ timeoutMs: 2000 });
    } catch {
      return undefined;
    }
  }

  /**
   * Its reconcile count (every pass, leader or standby), asked up to `attempts` times a second apart:
   * undefined when /metrics never answered. A missed answer must not read as 0.
   */
  async reconciles(attempts = 5): Promise<number | undefined> {
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await delay(1000);
      const text = await this.metrics();
      if (text !== undefined) return sumMetric(text, "modelendpoint_reconcile_duration_seconds_count");
    }
    return undefined;
  }

  /** True when it answers that it leads (`modelendpoint_leader 1`). */
  async isLeader(): Promise<boolean> {
    return /^modelendpoint_leader 1$/m.test((await this.metrics()) ?? "");
  }

  tail(lines = 30): string {
    return this.#operator.tail(lines);
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
