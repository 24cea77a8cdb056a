/**
 * The operator as users run it (`node src/main.ts`), as a child process of the bench: its own
 * Node.js, JSON logs to a file, metrics on a free loopback port, stopped with SIGTERM. The bench
 * reads its CPU time and memory from /proc and its metrics over HTTP.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import { inCgroup, type MemoryCgroup } from "./cgroup.ts";
import { parseProm, type PromSample } from "./prom.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const MAIN = join(ROOT, "src", "main.ts");

export interface OperatorOptions {
  readonly kubeconfig: string;
  readonly logFile: string;
  readonly extraArgs?: readonly string[];
  /** Options for the operator's Node.js itself, e.g. ["--cpu-prof"]. */
  readonly nodeArgs?: readonly string[];
  /** Run it inside this memory cgroup (a container's memory limit). */
  readonly cgroup?: MemoryCgroup;
}

export class OperatorProcess {
  readonly args: readonly string[];
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #exit: Promise<number | string>;
  #port = 0;

  private constructor(options: OperatorOptions) {
    this.logFile = options.logFile;
    this.args = [
      `--kubeconfig=${options.kubeconfig}`,
      "--leader-elect=false",
      "--metrics-bind-address=127.0.0.1:0",
      "--log-format=json",
      "--log-level=info",
      ...(options.extraArgs ?? []),
    ];
    const fd = openSync(options.logFile, "a");
    const argv = [...(options.nodeArgs ?? []), MAIN, ...this.args];
    const [command, commandArgs] =
      options.cgroup === undefined ? [NODE, argv] : inCgroup(options.cgroup, NODE, argv);
    this.#child = spawn(command, commandArgs, {
      stdio: ["ignore", fd, fd],
      cwd: ROOT,
    });
    closeSync(fd);
    this.#exit = new Promise((done) =>
      this.#child.once("exit", (code, signal) => {
        done(code ?? signal ?? "unknown");
      }),
    );
  }

  /** Starts the operator and waits until its caches are synced (/readyz). */
  static async start(options: OperatorOptions): Promise<OperatorProcess> {
    const op = new OperatorProcess(options);
    const deadline = Date.now() + 60_000;
    while (op.#port === 0) {
      if (op.#child.exitCode !== null) throw new Error(`operator exited: ${op.tail()}`);
      if (Date.now() > deadline) throw new Error(`operator did not start: ${op.tail()}`);
      const match = /"metricsPort":(\d+)/.exec(readFileSync(op.logFile, "utf8"));
      if (match?.[1] !== undefined) op.#port = Number(match[1]);
      else await delay(100);
    }
    for (;;) {
      const ok = await fetch(`${op.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return op;
      if (Date.now() > deadline) throw new Error(`operator not ready: ${op.tail()}`);
      await delay(100);
    }
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${String(this.#port)}`;
  }

  /** The operator's metrics whose names start with one of `prefixes`. */
  async metrics(prefixes: readonly string[] = ["modelendpoint_"]): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/metrics`);
    return parseProm(await res.text(), prefixes);
  }

  async stop(): Promise<number | string> {
    if (this.#child.exitCode === null) this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 15_000);
    const code = await this.#exit;
    clearTimeout(timer);
    return code;
  }

  /** The last lines of its log. */
  tail(lines = 20): string {
    return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Log lines at warn level or above. */
  problems(): string[] {
    return readFileSync(this.logFile, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .filter((l) => ((JSON.parse(l) as { level?: number }).level ?? 0) >= 40);
  }
}
