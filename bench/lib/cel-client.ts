/**
 * One HTTPS client of the API server for `npm run bench:cel`: the admin's client certificate, one
 * kept-alive connection, JSON in and out, and the client-side time of each request. Plain `https`
 * rather than the operator's client, so that nothing but the request itself is timed.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { performance } from "node:perf_hooks";

import { parse } from "yaml";

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  /** Warning headers (e.g. on a CRD create). */
  readonly warnings: readonly string[];
  /** Client-side time from the request's start to the response's last byte. */
  readonly ms: number;
}

interface KubeconfigFile {
  clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
}

export class ApiClient {
  readonly #server: URL;
  readonly #agent: Agent;

  constructor(kubeconfigPath: string) {
    const kc = parse(readFileSync(kubeconfigPath, "utf8")) as KubeconfigFile;
    const cluster = kc.clusters[0]?.cluster;
    const user = kc.users[0]?.user;
    if (cluster === undefined || user === undefined) throw new Error(`${kubeconfigPath}: no cluster or user`);
    const b64 = (s: string): Buffer => Buffer.from(s, "base64");
    this.#server = new URL(cluster.server);
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: b64(cluster["certificate-authority-data"]),
      cert: b64(user["client-certificate-data"]),
      key: b64(user["client-key-data"]),
    });
  }

  call(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.#server),
        {
          method,
          agent: this.#agent,
          timeout: 30_000,
          headers: {
            Accept: "application/json",
            "User-Agent": "model-endpoint-operator-bench-cel",
            ...(payload === undefined
              ? {}
              : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const warning = res.headers["warning"];
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              warnings: warning === undefined ? [] : Array.isArray(warning) ? warning : [warning],
              ms: performance.now() - started,
            });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** call(), throwing unless the answer is one of `ok`; returns the parsed body. */
  async json<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    ok: readonly number[] = [200, 201],
  ): Promise<T> {
    const res = await this.call(method, path, body);
    if (!ok.includes(res.status))
      throw new Error(`${method} ${path} answered ${String(res.status)}: ${res.body.slice(0, 2000)}`);
    return JSON.parse(res.body) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}
