/**
 * Small helpers the parts of the local harness share (the control plane, the gateway, tests): a
 * free local port, waiting for a condition, running kubectl.
 */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/** A wait that ran out of time; the message says what was awaited and the last error seen. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/** kubectl failed; the message holds its arguments and its stderr. */
export class KubectlError extends Error {
  override readonly name = "KubectlError";
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; the socket is closed before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Polls `probe` every `intervalMs` until it returns true, `check` throws, or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; check?: () => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.check?.();
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new WaitTimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${what}${detail}`);
    }
    await delay(options.intervalMs ?? 200);
  }
}

/** Runs `kubectl` against `kubeconfig` (stdin: `input`); resolves with stdout. */
export function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectl,
      [`--kubeconfig=${kubeconfig}`, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new KubectlError(`kubectl ${args.join(" ")} failed: ${stderr.trim() || err.message}`, {
              cause: err,
            }),
          );
        } else {
          resolve(stdout);
        }
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
