/**
 * CPU time and memory of a process from /proc (Linux): utime + stime from /proc/<pid>/stat, the
 * resident set and its high-water mark from /proc/<pid>/status. The high-water mark can be reset
 * (`clear_refs` 5, Linux >= 4.0), so each phase of a benchmark reports its own peak.
 */
import { readFileSync, writeFileSync } from "node:fs";

import type { ControlPlane } from "../../src/testing/controlplane.ts";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  /** User + system CPU time since the process started, in milliseconds. */
  readonly cpuMs: number;
  /** Resident set now, in bytes. */
  readonly rssBytes: number;
  /** Peak resident set since start or the last resetPeak(), in bytes. */
  readonly peakRssBytes: number;
}

/** One reading of a process; undefined when it is gone. */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${String(pid)}/status`, "utf8");
    const kib = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return {
      cpuMs: (ticks * 1000) / TICKS_PER_SECOND,
      rssBytes: kib("VmRSS") * 1024,
      peakRssBytes: kib("VmHWM") * 1024,
    };
  } catch {
    return undefined;
  }
}

/** Resets the peak RSS of `pid` to its current RSS; false when the kernel refused. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${String(pid)}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Follows one process through a phase: CPU used since `start`, and the peak RSS (the kernel's
 * high-water mark, reset at `start`, and our own samples every `intervalMs` as a fallback when the
 * reset is not allowed).
 */
export class ProcessMeter {
  readonly pid: number;
  readonly #start: ProcSample;
  readonly #peakReset: boolean;
  #maxRss: number;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 200) {
    this.pid = pid;
    this.#peakReset = resetPeak(pid);
    this.#start = sampleProcess(pid) ?? { cpuMs: 0, rssBytes: 0, peakRssBytes: 0 };
    this.#maxRss = this.#start.rssBytes;
    this.#timer = setInterval(() => {
      const s = sampleProcess(pid);
      if (s !== undefined) this.#maxRss = Math.max(this.#maxRss, s.rssBytes);
    }, intervalMs);
    this.#timer.unref();
  }

  /** CPU milliseconds and peak RSS (MiB) since the meter started; stops sampling. */
  stop(): { readonly cpuMs: number; readonly peakRssMiB: number; readonly rssMiB: number } {
    clearInterval(this.#timer);
    const end = sampleProcess(this.pid) ?? this.#start;
    const peak = Math.max(this.#maxRss, end.rssBytes, this.#peakReset ? end.peakRssBytes : 0);
    return {
      cpuMs: end.cpuMs - this.#start.cpuMs,
      peakRssMiB: peak / 2 ** 20,
      rssMiB: end.rssBytes / 2 ** 20,
    };
  }
}

/** The pid of the control plane's kube-controller-manager (it runs the Deployment controller). */
export function kcmPid(cp: ControlPlane): number {
  const pid = cp.status().find((c) => c.name === "kube-controller-manager")?.pid;
  if (pid === undefined) throw new Error("kube-controller-manager is not running");
  return pid;
}

/**
 * CPU used by every control-plane process (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kwok) between construction and stop(): what a run cost the whole cluster.
 */
export class ControlPlaneCpu {
  readonly #start: ReadonlyMap<string, { pid: number; cpuMs: number }>;

  constructor(cp: ControlPlane) {
    this.#start = new Map(
      cp.status().flatMap((c) => {
        const s = c.pid === undefined ? undefined : sampleProcess(c.pid);
        return c.pid === undefined || s === undefined
          ? []
          : [[c.name, { pid: c.pid, cpuMs: s.cpuMs }] as const];
      }),
    );
  }

  /** Milliseconds of CPU per component since construction (it can be read more than once). */
  read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, { pid, cpuMs }] of this.#start)
      out[name] = (sampleProcess(pid)?.cpuMs ?? cpuMs) - cpuMs;
    return out;
  }
}
