/**
 * A supervised child process of the local control plane: started with its output in a log file,
 * stopped with SIGTERM then SIGKILL, and tied to the harness' life. Where util-linux `setpriv` is
 * present (Debian and most distributions ship it), each child is started through
 * `setpriv --pdeathsig KILL`, so the kernel kills it when the harness dies, even by SIGKILL: no
 * orphan outlives an interrupted test run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";

const SETPRIV = "/usr/bin/setpriv";

export interface ProcessSpec {
  /** A short name used in logs and errors, e.g. "kube-apiserver". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Where stdout and stderr go (appended). */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export class ProcessExitedError extends Error {
  override readonly name = "ProcessExitedError";
}

/** The last `lines` lines of a log file, for error messages. */
export function tailFile(path: string, lines = 25): string {
  if (!existsSync(path)) return "(no log)";
  const text = readFileSync(path, "utf8").trimEnd().split("\n");
  return text.slice(-lines).join("\n");
}

export class Supervised {
  readonly spec: ProcessSpec;
  #child: ChildProcess;
  #exit: Promise<number | string>;
  #exited = false;

  private constructor(spec: ProcessSpec, child: ChildProcess, exit: Promise<number | string>) {
    this.spec = spec;
    this.#child = child;
    this.#exit = exit.then((code) => {
      this.#exited = true;
      return code;
    });
  }

  /** Starts the process. It does not wait for readiness: callers poll what the process serves. */
  static start(spec: ProcessSpec): Supervised {
    const fd = openSync(spec.logFile, "a");
    const [command, args] = existsSync(SETPRIV)
      ? [SETPRIV, ["--pdeathsig", "KILL", "--", spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
    const child = spawn(command, args, {
      stdio: ["ignore", fd, fd],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    closeSync(fd);
    const exit = new Promise<number | string>((resolve) => {
      child.once("exit", (code, signal) => {
        resolve(code ?? signal ?? "unknown");
      });
      child.once("error", (err) => {
        resolve(`spawn error: ${err.message}`);
      });
    });
    return new Supervised(spec, child, exit);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Resolves with the exit code or signal when the process ends. */
  get exit(): Promise<number | string> {
    return this.#exit;
  }

  /** Throws a ProcessExitedError with the tail of the log when the process has ended. */
  assertRunning(): void {
    if (this.#exited) {
      throw new ProcessExitedError(
        `${this.spec.name} exited; last lines of ${this.spec.logFile}:\n${tailFile(this.spec.logFile)}`,
      );
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#exited) return;
    this.#child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#child.kill("SIGKILL");
        resolve();
      }, graceMs);
    });
    await Promise.race([this.#exit, killed]);
    clearTimeout(timer);
    await this.#exit;
  }

  /** SIGKILL at once (fault injection); resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.#exited) return;
    this.#child.kill("SIGKILL");
    await this.#exit;
  }
}

/** True when a process with this pid exists (signal 0 probes without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
