/**
 * The operator as a separate process, run as users run it (`node src/main.ts` with flags), for the
 * integration tests, the chaos run and the benchmarks. One object stands for one operator; it can
 * be started again after it stopped or was killed, and every process it starts appends to the same
 * log file.
 *
 * What every caller gets:
 *
 * - the process is started through `Supervised` (./process.ts), so it dies with the process that
 *   started it, even when that one is SIGKILLed;
 * - logs are JSON, appended to one file; the metrics server listens on a free loopback port, which
 *   is read from the log line that announces it (`"metricsPort":N`);
 * - `start()` resolves once that port is known and, unless asked not to wait, once `/readyz`
 *   answers 200 (the caches are synced); it fails at once, with the end of the log, when the
 *   process exits while it waits;
 * - `stop()` sends SIGTERM and SIGKILL after a grace period; `kill()` sends SIGKILL (a crash);
 * - every exit is reported to `onExit`, marked as requested (stop, kill) or not (a crash).
 *
 * What differs between callers is in `OperatorProcessOptions`: the kubeconfig, the namespaces, the
 * identity, leader election and its durations, the log level, extra flags, options for Node.js
 * itself, the environment, the log file, and a wrapper around the command (e.g. one that moves the
 * process into a memory cgroup first).
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import { Supervised } from "./process.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
/** The Node.js that package.json pins. */
export const NODE = join(ROOT, "node_modules", ".bin", "node");
/** The operator's entry point. */
export const MAIN = join(ROOT, "src", "main.ts");
/** How often a condition that cannot be awaited (a log line, an HTTP answer) is looked at. */
const POLL_MS = 50;
/** How long one request to the metrics server may take before it counts as not answered. */
const PROBE_TIMEOUT_MS = 5_000;

/** Leader election on a Lease (`--leader-elect=true` and the Lease flags). */
export interface LeaderElection {
  /** The namespace of the Lease (`--lease-namespace`). */
  readonly leaseNamespace: string;
  /** `--lease-duration-seconds`: how long a Lease holds without renewal. */
  readonly leaseDurationSeconds: number;
  /** `--renew-deadline-seconds`: how long the leader tries to renew before it gives up leading. */
  readonly renewDeadlineSeconds: number;
  /** `--retry-period-seconds`: how often a candidate tries to acquire or renew. */
  readonly retryPeriodSeconds: number;
}

/**
 * Lease durations short enough that a test sees a hand-over within seconds: a 4 s lease, a 3 s
 * renew deadline, a try every second (the operator's defaults are 15, 10 and 2).
 */
export const FAST_LEASE = {
  leaseDurationSeconds: 4,
  renewDeadlineSeconds: 3,
  retryPeriodSeconds: 1,
} as const satisfies Omit<LeaderElection, "leaseNamespace">;

/** The operator's `--log-level` values. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** pino's numeric levels, as they appear in the JSON log. */
const LEVELS: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/** Whether `value` is one of the operator's `--log-level` values. */
export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(LEVELS, value);
}

/** How one process of an `OperatorProcess` ended. */
export interface OperatorExit {
  /** The exit code, or the signal that ended it (e.g. "SIGKILL"). */
  readonly code: number | string;
  /** True when `stop()` or `kill()` ended it; false for an exit nobody asked for (a crash). */
  readonly requested: boolean;
}

export interface OperatorProcessOptions {
  /** `--kubeconfig`: the cluster and the identity the operator uses. */
  readonly kubeconfig: string;
  /** `--namespaces`: the namespaces it watches; absent or empty: every namespace. */
  readonly namespaces?: readonly string[];
  /** `--identity` (its leader-election identity); absent: the operator picks one. */
  readonly identity?: string;
  /** Leader election on a Lease; absent: `--leader-elect=false`. */
  readonly leaderElection?: LeaderElection;
  /** `--log-level`; default "info". */
  readonly logLevel?: LogLevel;
  /** Further flags, after all the others (a later flag wins over an earlier one). */
  readonly extraArgs?: readonly string[];
  /** Options for the operator's Node.js itself, before the script, e.g. ["--cpu-prof"]. */
  readonly nodeOptions?: readonly string[];
  /** The environment of the process; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Where stdout and stderr go (appended, across restarts); default: `<identity or "operator">.log`
   * in a new temporary folder.
   */
  readonly logFile?: string;
  /**
   * Rewrites the command line before it is started, e.g. to move the process into a memory cgroup
   * with a shell that then `exec`s the command. The process must keep its pid (exec, not fork), so
   * that `pid` and the signals reach the operator itself.
   */
  readonly wrap?: (command: string, args: readonly string[]) => readonly [string, readonly string[]];
  /** The lowest level `problems()` returns; default "error". */
  readonly problemLevel?: "warn" | "error";
  /** How long `start()` waits for the metrics port to be logged; default 30 s. */
  readonly startTimeoutMs?: number;
  /** How long `start()` then waits for `/readyz` to answer 200; default 30 s. */
  readonly readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL; default 15 s. */
  readonly stopGraceMs?: number;
  /** Called when a process of this object ends, for whatever reason. */
  readonly onExit?: (exit: OperatorExit) => void;
  /** The script Node.js runs; default src/main.ts (another one stands in for it in this module's own tests). */
  readonly main?: string;
}

/** The operator's command-line flags for `options` (without Node.js options and the script). */
export function operatorArgs(options: OperatorProcessOptions): string[] {
  const namespaces = options.namespaces ?? [];
  const le = options.leaderElection;
  return [
    `--kubeconfig=${options.kubeconfig}`,
    ...(namespaces.length > 0 ? [`--namespaces=${namespaces.join(",")}`] : []),
    "--metrics-bind-address=127.0.0.1:0",
    "--log-format=json",
    `--log-level=${options.logLevel ?? "info"}`,
    ...(options.identity === undefined ? [] : [`--identity=${options.identity}`]),
    ...(le === undefined
      ? ["--leader-elect=false"]
      : [
          "--leader-elect=true",
          `--lease-namespace=${le.leaseNamespace}`,
          `--lease-duration-seconds=${le.leaseDurationSeconds}`,
          `--renew-deadline-seconds=${le.renewDeadlineSeconds}`,
          `--retry-period-seconds=${le.retryPeriodSeconds}`,
        ]),
    ...(options.extraArgs ?? []),
  ];
}

/** Thrown by `start()` when the process exits before it got as far as asked. */
export class OperatorExitedError extends Error {
  override readonly name = "OperatorExitedError";
}

/** One started process and whether its end was asked for. */
interface Run {
  readonly process: Supervised;
  requested: boolean;
}

export class OperatorProcess {
  /** The operator's flags, as passed to every process this object starts. */
  readonly args: readonly string[];
  /** The log file every process of this object appends to. */
  readonly logFile: string;
  /** The `--identity` it was given, if any. */
  readonly identity: string | undefined;
  readonly #options: OperatorProcessOptions;
  /** "operator <identity>", for messages. */
  readonly #name: string;
  #run: Run | undefined;
  #port: number | undefined;

  constructor(options: OperatorProcessOptions) {
    this.#options = options;
    this.identity = options.identity;
    this.#name = `operator ${options.identity ?? ""}`.trimEnd();
    this.args = operatorArgs(options);
    this.logFile =
      options.logFile ??
      join(mkdtempSync(join(tmpdir(), "meo-operator-")), `${options.identity ?? "operator"}.log`);
  }

  /**
   * Starts a process and waits until it logged its metrics port and, with `until: "ready"` (the
   * default), until `/readyz` answers 200. Rejects with an `OperatorExitedError` when the process
   * exits first, and with a timeout error (naming `/readyz` when that is what it waited for) when
   * it takes too long; the process is left running then. May be called again once the previous
   * process has ended: the new one appends to the same log and gets a new port.
   */
  async start(until: "listening" | "ready" = "ready"): Promise<void> {
    if (this.running) throw new Error(`${this.#name} is already running (pid ${String(this.pid)})`);
    const o = this.#options;
    // Only what this process logs counts: an earlier process of this object logged its own port.
    const logStart = statSync(this.logFile, { throwIfNoEntry: false })?.size ?? 0;
    const argv = [...(o.nodeOptions ?? []), o.main ?? MAIN, ...this.args];
    const [command, args] = o.wrap === undefined ? [NODE, argv] : o.wrap(NODE, argv);
    const run: Run = {
      process: Supervised.start({
        name: this.#name,
        command,
        args,
        logFile: this.logFile,
        cwd: ROOT,
        ...(o.env === undefined ? {} : { env: o.env }),
      }),
      requested: false,
    };
    this.#run = run;
    this.#port = undefined;
    void run.process.exit.then((code) => {
      o.onExit?.({ code, requested: run.requested });
    });

    this.#port = await this.#await(
      run,
      { waitingFor: `its metrics port in ${this.logFile}`, exitedBefore: "it logged its metrics port" },
      o.startTimeoutMs ?? 30_000,
      () => {
        const log = readFileSync(this.logFile).subarray(logStart).toString("utf8");
        const match = /"metricsPort":(\d+)/.exec(log);
        return Promise.resolve(match?.[1] === undefined ? undefined : Number(match[1]));
      },
    );
    if (until === "listening") return;
    await this.#await(
      run,
      { waitingFor: "a 200 from /readyz", exitedBefore: "it was ready" },
      o.readyTimeoutMs ?? 30_000,
      async () => {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        return res.ok ? true : undefined;
      },
    );
  }

  /**
   * Awaits `probe` returning a value (an error counts as not yet), looking every POLL_MS. Rejects at
   * once when the process of `run` exits, and after `timeoutMs`; both messages end with the log.
   */
  async #await<T>(
    run: Run,
    what: { readonly waitingFor: string; readonly exitedBefore: string },
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (run.process.exited) {
        const code = await run.process.exit;
        throw new OperatorExitedError(
          `${this.#name} exited (${String(code)}) before ${what.exitedBefore}; last lines of ${this.logFile}:\n${this.tail()}`,
        );
      }
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.#name}: still waiting for ${what.waitingFor} after ${String(timeoutMs)} ms; last lines of ${this.logFile}:\n${this.tail()}`,
        );
      }
      // An exit ends the wait at once.
      await Promise.race([delay(POLL_MS), run.process.exit]);
    }
  }

  /** True from `start()` until its process has ended. */
  get running(): boolean {
    return this.#run !== undefined && !this.#run.process.exited;
  }

  /** The pid of the latest process (the operator's own, also behind a `wrap`). */
  get pid(): number {
    const pid = this.#run?.process.pid;
    if (pid === undefined) throw new Error(`${this.#name} has no process (not started, or spawn failed)`);
    return pid;
  }

  /** The base URL of the latest process's metrics server (/metrics, /readyz, /healthz). */
  get url(): string {
    if (this.#port === undefined) throw new Error(`${this.#name} has not logged its metrics port`);
    return `http://127.0.0.1:${String(this.#port)}`;
  }

  /** The Prometheus text of /metrics; rejects when it does not answer 200 (within `timeoutMs`). */
  async metrics(options: { readonly timeoutMs?: number } = {}): Promise<string> {
    const res = await fetch(
      `${this.url}/metrics`,
      options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) },
    );
    if (!res.ok) throw new Error(`${this.#name}: /metrics answered ${String(res.status)}`);
    return res.text();
  }

  /** A metric's value: the first series whose labels contain `labels` ("" = any), or undefined. */
  async metric(name: string, labels = ""): Promise<number | undefined> {
    const text = await this.metrics();
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        if (labels !== "" && !line.includes(labels)) continue;
        return Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return undefined;
  }

  /**
   * SIGTERM (a graceful stop), then SIGKILL after the grace period; resolves once the process is
   * gone, with its exit code or signal (undefined when none was ever started).
   */
  async stop(): Promise<number | string | undefined> {
    const run = this.#run;
    if (run === undefined) return undefined;
    if (!run.process.exited) run.requested = true;
    await run.process.stop(this.#options.stopGraceMs ?? 15_000);
    return run.process.exit;
  }

  /** SIGKILL (a crash); resolves once the process is gone. */
  async kill(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    if (!run.process.exited) run.requested = true;
    await run.process.kill();
  }

  /** The last `lines` lines of the log ("" when there is none yet). */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** The JSON log lines, of every process so far, at `problemLevel` or above. */
  problems(): string[] {
    const min = LEVELS[this.#options.problemLevel ?? "error"];
    let text: string;
    try {
      text = readFileSync(this.logFile, "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((line) => {
      if (!line.startsWith("{")) return false;
      try {
        const level = (JSON.parse(line) as { level?: unknown }).level;
        return typeof level === "number" && level >= min;
      } catch {
        return false; // a line cut off by a kill
      }
    });
  }
}
