/**
 * The Vertex AI API server (src/vertex/main.ts) as a process against the suite's control plane, for
 * the test files that drive it over HTTP.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join, resolve } from "node:path";

import { freePort, waitFor } from "../../src/testing/harness.ts";
import { controlPlane } from "./context.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** GET `url` (https with `ca` when given): its status and body. */
export function get(url: string, ca?: Buffer, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, { ca, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        done({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", fail);
    req.end();
  });
}

export class VertexServers {
  readonly #processes: ChildProcess[] = [];

  /**
   * Starts a server with `args` (beside --kubeconfig and --port); resolves with its URL and port
   * once it answers.
   */
  async start(
    args: readonly string[],
    options: { ca?: Buffer } = {},
  ): Promise<{ url: string; port: number }> {
    const port = await freePort();
    let log = "";
    const server = spawn(
      join(ROOT, "node_modules", ".bin", "node"),
      [
        join(ROOT, "src", "vertex", "main.ts"),
        `--kubeconfig=${controlPlane().kubeconfig}`,
        `--port=${String(port)}`,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#processes.push(server);
    server.stdout.on("data", (d: Buffer) => (log += d.toString()));
    server.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const url = `${options.ca === undefined ? "http" : "https"}://127.0.0.1:${String(port)}`;
    await waitFor(
      `the Vertex AI API server on ${url}`,
      async () => (await get(`${url}/`, options.ca)).status === 501,
      {
        timeoutMs: 30_000,
        check: () => {
          if (server.exitCode !== null) throw new Error(`the server exited: ${log}`);
        },
      },
    );
    return { url, port };
  }

  /** Stops every server this started. */
  stop(): void {
    for (const server of this.#processes) server.kill("SIGTERM");
  }
}
