/**
 * The operator as a separate process, as users run it (`node src/main.ts`), for integration tests:
 * started against the suite's control plane, watching only the test's namespaces, logging JSON to
 * a file, stopped with SIGTERM or killed with SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { controlPlane, eventually } from "./context.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const MAIN = join(ROOT, "src", "main.ts");

export interface OperatorProcessOptions {
  readonly namespaces: readonly string[];
  readonly identity?: string;
  /** Leader election on a Lease in the first namespace (short durations for tests). */
  readonly leaderElection?: boolean;
  readonly kubeconfig?: string;
  readonly extraArgs?: readonly string[];
}

export class OperatorProcess {
  readonly logFile: string;
  readonly identity: string;
  readonly #options: OperatorProcessOptions;
  #child: ChildProcess | undefined;
  #exit: Promise<number | string> | undefined;
  #port: number | undefined;

  constructor(options: OperatorProcessOptions) {
    this.#options = options;
    this.identity = options.identity ?? `op-${Math.random().toString(16).slice(2, 8)}`;
    this.logFile = join(mkdtempSync(join(tmpdir(), "meo-operator-")), `${this.identity}.log`);
  }

  /**
   * Starts the process and waits until /readyz answers 200 (caches synced). May be called again after
   * stop() or kill(): the new process appends to the same log file and gets a new metrics port.
   */
  async start(): Promise<void> {
    const o = this.#options;
    // Only what this process logs counts: an earlier process of this object logged its own port.
    const logStart = statSync(this.logFile, { throwIfNoEntry: false })?.size ?? 0;
    const args = [
      MAIN,
      `--kubeconfig=${o.kubeconfig ?? controlPlane().kubeconfig}`,
      `--namespaces=${o.namespaces.join(",")}`,
      "--metrics-bind-address=127.0.0.1:0",
      "--log-format=json",
      "--log-level=debug",
      `--identity=${this.identity}`,
      ...(o.leaderElection === true
        ? [
            "--leader-elect=true",
            `--lease-namespace=${o.namespaces[0] ?? "default"}`,
            "--lease-duration-seconds=4",
            "--renew-deadline-seconds=3",
            "--retry-period-seconds=1",
          ]
        : ["--leader-elect=false"]),
      ...(o.extraArgs ?? []),
    ];
    const fd = openSync(this.logFile, "a");
    const child = spawn(NODE, args, { stdio: ["ignore", fd, fd], cwd: ROOT });
    closeSync(fd);
    this.#child = child;
    this.#exit = new Promise((done) =>
      child.once("exit", (code, signal) => {
        done(code ?? signal ?? "unknown");
      }),
    );
    this.#port = await eventually(
      `operator ${this.identity} to log its metrics port`,
      () => {
        if (child.exitCode !== null) throw new Error(`operator exited: ${this.tail()}`);
        const match = /"metricsPort":(\d+)/.exec(
          readFileSync(this.logFile).subarray(logStart).toString("utf8"),
        );
        return Promise.resolve(match?.[1] === undefined ? undefined : Number(match[1]));
      },
      { timeoutMs: 30_000 },
    );
    await eventually(
      `operator ${this.identity} /readyz`,
      async () => (await fetch(`${this.url}/readyz`)).ok,
      {
        timeoutMs: 30_000,
        describe: () => Promise.resolve(this.tail()),
      },
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port ?? 0}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The Prometheus text of /metrics. */
  async metrics(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  /** A metric's value (first series matching `labels`), or undefined. */
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

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    this.#child?.kill("SIGKILL");
    await this.#exit;
  }

  /** SIGTERM: a graceful stop; resolves with the exit code. */
  async stop(): Promise<number | string | undefined> {
    if (this.#child?.exitCode !== null) return this.#child?.exitCode ?? undefined;
    this.#child.kill("SIGTERM");
    return this.#exit;
  }

  /** The last lines of the operator's log. */
  tail(lines = 30): string {
    return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** The log lines (parsed JSON) at warn level or above. */
  problems(): string[] {
    return readFileSync(this.logFile, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  }
}
