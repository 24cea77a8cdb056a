/**
 * A steady stream of Vertex AI-style predictions for tests, the demo and the benchmark: `concurrency`
 * clients each send one POST {"instances": [...]} at a time, back to back, and count each answer by
 * the deployed model that made it (`deployedModelId` of the JSON answer, see
 * examples/model-server/server.ts).
 *
 *     const load = startLoad({ url: `${gateway}/v1/endpoints/fraud:predict`, concurrency: 8,
 *                              keepAliveShare: 0.5, requestTimeoutMs: 5000 });
 *     load.mark("after the weight change");   // a new step window
 *     const summary = await load.stop();      // waits for the requests in flight
 *
 * Part of the clients (`keepAliveShare`) keep one connection open and reuse it, like a service
 * calling the endpoint through a connection pool; the others open a connection per request, like
 * short-lived callers. Both matter when traffic moves: a reused connection stays on the backend
 * it was opened to unless the proxy in between balances per request.
 *
 * A request that fails (an HTTP status other than 200, an answer without a deployedModelId, a
 * socket error, the timeout) is counted by reason and never retried: a rollout that drops requests
 * shows as failures, not as latency.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

import { percentile } from "./stats.ts";

export interface LoadOptions {
  /** The predict URL, e.g. http://127.0.0.1:8080/v1/endpoints/fraud:predict. */
  readonly url: string;
  /** How many clients send at the same time, each one request at a time. */
  readonly concurrency: number;
  /** The part of the clients (0 to 1) that reuse one connection; the rest open one per request. */
  readonly keepAliveShare: number;
  /** A request not answered within this long fails with reason "timeout". */
  readonly requestTimeoutMs: number;
  /** The JSON body (default {"instances": [{"feature": 1}]}). */
  readonly body?: unknown;
  /** Sent with every request besides the content headers (an Authorization header). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The clock for latencies, in milliseconds (default performance.now). */
  readonly now?: () => number;
}

export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

export interface Counts {
  /** Requests sent (those in flight included until stop()). */
  readonly sent: number;
  /** Answered 200 with a deployedModelId. */
  readonly ok: number;
  readonly failed: number;
  /** Failed requests by reason: "HTTP 503: <start of the body>", "ECONNRESET", "timeout", ... */
  readonly failures: Readonly<Record<string, number>>;
  /** Successful answers by deployedModelId. */
  readonly byModel: Readonly<Record<string, number>>;
}

export interface WindowSummary extends Counts {
  readonly label: string;
  /** Latency of the window's answered requests (ok or HTTP error), in ms; undefined when none. */
  readonly latencyMs: Latency | undefined;
}

export interface LoadSummary extends Counts {
  /** Requests sent by the clients that reuse a connection and by those that open one per request. */
  readonly byConnection: { readonly keepAlive: number; readonly perRequest: number };
  /** One per step window, in order: the first is "start", then one per mark(). */
  readonly windows: readonly WindowSummary[];
}

export interface Load {
  /** Starts a new step window: requests sent from now on count in it; returns its index in windows. */
  mark(label: string): number;
  /** The counts so far, without stopping. */
  summary(): LoadSummary;
  /** Stops sending, waits for the requests in flight, closes every connection. */
  stop(): Promise<LoadSummary>;
}

export class LoadOptionsError extends Error {
  override readonly name = "LoadOptionsError";
}

const SNIPPET = 80;

class Window {
  sent = 0;
  ok = 0;
  failed = 0;
  readonly failures = new Map<string, number>();
  readonly byModel = new Map<string, number>();
  readonly latencies: number[] = [];
  readonly label: string;
  constructor(label: string) {
    this.label = label;
  }
}

function add(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function counts(parts: readonly Window[]): Counts {
  const failures: Record<string, number> = {};
  const byModel: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  for (const w of parts) {
    sent += w.sent;
    ok += w.ok;
    failed += w.failed;
    for (const [k, v] of w.failures) failures[k] = (failures[k] ?? 0) + v;
    for (const [k, v] of w.byModel) byModel[k] = (byModel[k] ?? 0) + v;
  }
  return { sent, ok, failed, failures, byModel };
}

function windowSummary(w: Window): WindowSummary {
  const l = w.latencies;
  return {
    label: w.label,
    ...counts([w]),
    latencyMs: l.length === 0 ? undefined : { p50: percentile(l, 50), p99: percentile(l, 99) },
  };
}

type Outcome = { readonly model: string } | { readonly reason: string };

/** What an answer means: the deployed model that made it, or why it failed. */
export function judgeAnswer(status: number, body: string): Outcome {
  const snippet = body.replace(/\s+/g, " ").trim().slice(0, SNIPPET);
  if (status !== 200) return { reason: `HTTP ${status}: ${snippet}` };
  try {
    const model = (JSON.parse(body) as { deployedModelId?: unknown }).deployedModelId;
    if (typeof model === "string" && model !== "") return { model };
  } catch {
    // reported below
  }
  return { reason: `HTTP 200 without deployedModelId: ${snippet}` };
}

function errorReason(err: unknown): string {
  if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) return "timeout";
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? err.message : String(err);
}

/** Starts the clients at once; see the module comment. */
export function startLoad(options: LoadOptions): Load {
  const { concurrency, keepAliveShare, requestTimeoutMs } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new LoadOptionsError(`concurrency must be a whole number >= 1, not ${concurrency}`);
  if (!(keepAliveShare >= 0 && keepAliveShare <= 1))
    throw new LoadOptionsError(`keepAliveShare must be from 0 to 1, not ${keepAliveShare}`);
  if (!(requestTimeoutMs > 0))
    throw new LoadOptionsError(`requestTimeoutMs must be above 0, not ${requestTimeoutMs}`);
  const url = new URL(options.url);
  const body = Buffer.from(JSON.stringify(options.body ?? { instances: [{ feature: 1 }] }));
  const now = options.now ?? ((): number => performance.now());

  let current = new Window("start");
  const windows: Window[] = [current];
  const byConnection = { keepAlive: 0, perRequest: 0 };
  const agents: Agent[] = [];
  let stopping = false;

  /** One request; resolves with its outcome, never rejects. */
  const send = (agent: Agent | false): Promise<Outcome> =>
    new Promise((resolve) => {
      const req = request(
        url,
        {
          method: "POST",
          agent,
          signal: AbortSignal.timeout(requestTimeoutMs),
          headers: {
            ...options.headers,
            "content-type": "application/json",
            "content-length": body.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            resolve(judgeAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
          });
          res.on("error", (err) => {
            resolve({ reason: errorReason(err) });
          });
        },
      );
      req.on("error", (err) => {
        resolve({ reason: errorReason(err) });
      });
      req.end(body);
    });

  const client = async (keepAlive: boolean): Promise<void> => {
    // One connection per keep-alive client: it reuses it for every request while the server lets it.
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    while (!stopping) {
      const window = current;
      window.sent++;
      if (keepAlive) byConnection.keepAlive++;
      else byConnection.perRequest++;
      const started = now();
      const outcome = await send(agent);
      if ("model" in outcome) {
        window.ok++;
        add(window.byModel, outcome.model);
        window.latencies.push(now() - started);
      } else {
        window.failed++;
        add(window.failures, outcome.reason);
        if (outcome.reason.startsWith("HTTP ")) window.latencies.push(now() - started);
      }
    }
  };

  const keepAliveClients = Math.round(concurrency * keepAliveShare);
  const running = Array.from({ length: concurrency }, (_, i) => client(i < keepAliveClients));

  const summary = (): LoadSummary => ({
    ...counts(windows),
    byConnection: { ...byConnection },
    windows: windows.map(windowSummary),
  });

  let stopped: Promise<LoadSummary> | undefined;
  return {
    mark: (label) => {
      current = new Window(label);
      return windows.push(current) - 1;
    },
    summary,
    stop: () => {
      stopping = true;
      stopped ??= Promise.all(running).then(() => {
        for (const agent of agents) agent.destroy();
        return summary();
      });
      return stopped;
    },
  };
}
