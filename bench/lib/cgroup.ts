/**
 * A memory cgroup for the operator, so the bench runs it the way the Helm chart does: in a container
 * with a memory limit (the chart's `resources.limits.memory`, 512Mi). Node.js sizes its V8 heap from
 * that limit (512Mi gives a heap limit of about 259 MiB instead of a quarter of the machine's memory),
 * which decides how much garbage it lets accumulate. cgroup v2 (memory.max) or v1
 * (memory.limit_in_bytes); needs root. Without either, the bench runs the operator without a limit and
 * says so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const V2_ROOT = "/sys/fs/cgroup";
const V1_ROOT = "/sys/fs/cgroup/memory";

export interface MemoryCgroup {
  readonly path: string;
  readonly limitMiB: number;
  /** Removes the cgroup once its processes are gone; never throws. */
  remove(): void;
}

/** A new cgroup limited to `limitMiB`, or the reason there cannot be one. */
export function createMemoryCgroup(
  name: string,
  limitMiB: number,
): MemoryCgroup | { readonly error: string } {
  const bytes = String(limitMiB * 1024 * 1024);
  const attempts: string[] = [];
  const v2 = join(V2_ROOT, "cgroup.controllers");
  const hierarchies = [
    {
      name: "cgroup v2",
      root: V2_ROOT,
      limitFile: "memory.max",
      usable: existsSync(v2) && readFileSync(v2, "utf8").split(/\s+/).includes("memory"),
    },
    {
      name: "cgroup v1",
      root: V1_ROOT,
      limitFile: "memory.limit_in_bytes",
      usable: existsSync(join(V1_ROOT, "memory.limit_in_bytes")),
    },
  ];
  for (const h of hierarchies.filter((x) => x.usable)) {
    const path = join(h.root, name);
    try {
      mkdirSync(path);
      writeFileSync(join(path, h.limitFile), bytes);
      return cgroup(path, limitMiB);
    } catch (err) {
      attempts.push(`${h.name} ${path}: ${String(err)}`);
    }
  }
  return { error: attempts.length > 0 ? attempts.join("; ") : "no memory cgroup controller found" };
}

function cgroup(path: string, limitMiB: number): MemoryCgroup {
  return {
    path,
    limitMiB,
    remove: () => {
      try {
        rmdirSync(path);
      } catch {
        // still busy or already gone: a leftover empty cgroup is harmless
      }
    },
  };
}

/** argv that puts the process into `cgroup` and then runs `command` in its place (same pid). */
export function inCgroup(cgroup: MemoryCgroup, command: string, args: readonly string[]): [string, string[]] {
  return ["/bin/sh", ["-c", `echo $$ > '${cgroup.path}/cgroup.procs' && exec "$0" "$@"`, command, ...args]];
}
