/**
 * Node.js's compile cache, filled the way the image fills its own (Dockerfile): the process's
 * script is run once with `--help` and the Node.js options it will run with. A process started
 * with `env` then loads its modules type-stripped from the cache and never loads the type
 * stripper (10-30 MiB resident), as the image's processes do; the bench measures what ships.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { NODE } from "../../src/testing/operator-process.ts";

export interface CompileCache {
  /** `env` with NODE_COMPILE_CACHE set to the filled cache. */
  readonly env: NodeJS.ProcessEnv;
  /** Deletes the cache. */
  remove(): void;
}

/** Fills a new cache by running `node ...nodeArgs --help` (nodeArgs: Node's options, then the script). */
export function fillCompileCache(
  nodeArgs: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CompileCache {
  const dir = mkdtempSync(join(tmpdir(), "bench-compile-cache-"));
  const remove = (): void => {
    rmSync(dir, { recursive: true, force: true });
  };
  const cached = { ...env, NODE_COMPILE_CACHE: dir };
  try {
    execFileSync(NODE, [...nodeArgs, "--help"], { env: cached, stdio: "ignore" });
  } catch (err) {
    remove();
    throw err;
  }
  return { env: cached, remove };
}
