/**
 * A reference model server that follows Vertex AI's custom-container contract, with Node.js alone
 * (no framework, no dependency): run it as `node server.ts` (Node.js >= 24 runs TypeScript).
 *
 * - Listens on AIP_HTTP_PORT (default 8080; 0 picks a free port) on MODEL_SERVER_HOST (default all
 *   interfaces).
 * - GET AIP_HEALTH_ROUTE answers 200 {"status":"ok"} while serving, 503 {"status":"draining"} once
 *   it was asked to stop.
 * - POST AIP_PREDICT_ROUTE takes {"instances": [...], "parameters": {...}} and answers
 *   {"predictions": [...], "deployedModelId", "model", "modelVersionId"}: one prediction per
 *   instance, naming the model and deployed model that made it, with a score derived from the
 *   instance (the same instance always gets the same score from the same model).
 * - SIGTERM (or SIGINT): health fails at once so the endpoint drops the pod; requests keep being
 *   served for MODEL_SERVER_SHUTDOWN_DELAY_SECONDS (default 5: time for every load balancer to see
 *   it), with `Connection: close` so keep-alive clients move on; then it stops accepting, finishes
 *   the requests in flight and exits 0.
 * - MODEL_SERVER_UNHEALTHY=true makes health answer 503 {"status":"unhealthy"} always: a model
 *   that never becomes ready, to watch a rollout fail and revert.
 * - MODEL_SERVER_LATENCY_MS (default 0) adds that much time to each prediction, to make requests
 *   be in flight during a rollout.
 *
 * Errors are JSON {"error": {"code", "message"}}: 400 for a body that is not JSON or has no
 * instances list, 404 for another path, 405 for another method, 413 above 1.5 MB (Vertex AI's
 * online prediction limit). One JSON log line per event on stdout.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Vertex AI refuses online prediction requests above 1.5 MB. */
const MAX_BODY_BYTES = 1.5 * 1024 * 1024;

export interface ServerConfig {
  readonly port: number;
  readonly host: string | undefined;
  readonly healthRoute: string;
  readonly predictRoute: string;
  readonly deployedModelId: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly latencyMs: number;
  readonly shutdownDelayMs: number;
  /** Health always fails (a model that never becomes ready: for rollout-failure demos and tests). */
  readonly unhealthy: boolean;
  /** One log line per request (ENABLE_ACCESS_LOGGING=true: the deployed model's enableAccessLogging). */
  readonly accessLogging: boolean;
}

/** Reads the configuration from the AIP_* environment the operator gives every model pod. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const number = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`${name} must be a non-negative number, not "${raw}"`);
    return value;
  };
  const deployedModelId = env["AIP_DEPLOYED_MODEL_ID"] ?? "local";
  return {
    port: number("AIP_HTTP_PORT", 8080),
    host: env["MODEL_SERVER_HOST"] === "" ? undefined : env["MODEL_SERVER_HOST"],
    healthRoute: env["AIP_HEALTH_ROUTE"] ?? "/health",
    predictRoute: env["AIP_PREDICT_ROUTE"] ?? "/predict",
    deployedModelId,
    modelName: env["AIP_MODEL_NAME"] ?? "model",
    modelVersion: env["AIP_VERSION_NAME"] ?? "",
    latencyMs: number("MODEL_SERVER_LATENCY_MS", 0),
    shutdownDelayMs: number("MODEL_SERVER_SHUTDOWN_DELAY_SECONDS", 5) * 1000,
    unhealthy: env["MODEL_SERVER_UNHEALTHY"] === "true",
    accessLogging: env["ENABLE_ACCESS_LOGGING"] === "true",
  };
}

/** One prediction: the model that made it and a score in [0, 1) derived from the instance. */
export function predict(config: ServerConfig, instance: unknown): Record<string, unknown> {
  const digest = createHash("sha256")
    .update(`${config.modelName}@${config.modelVersion}\n${JSON.stringify(instance)}`)
    .digest();
  return {
    score: digest.readUInt32BE(0) / 2 ** 32,
    model: config.modelName,
    modelVersionId: config.modelVersion,
    deployedModelId: config.deployedModelId,
  };
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
}

function send(res: ServerResponse, status: number, body: unknown, close: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text);
}

const fail = (code: number, message: string) => ({ error: { code, message } });

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Starts the server; resolves with its address once it listens. */
export async function startServer(
  config: ServerConfig,
): Promise<{ port: number; stop: () => Promise<void> }> {
  let draining = false;
  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    const started = performance.now();
    res.on("close", () => {
      inFlight--;
      if (config.accessLogging) {
        const ms = Math.round((performance.now() - started) * 10) / 10;
        log({ msg: "request", method: req.method, path: req.url, status: res.statusCode, ms });
      }
    });
    // A client that goes away mid-request (an aborted upload) must not take the server down.
    handle(req, res).catch((err: unknown) => {
      log({ msg: "request failed", error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 400, fail(400, "the request could not be read"), true);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === config.healthRoute) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        send(res, 405, fail(405, "use GET"), draining);
        return;
      }
      if (config.unhealthy) send(res, 503, { status: "unhealthy" }, draining);
      else send(res, draining ? 503 : 200, { status: draining ? "draining" : "ok" }, draining);
      return;
    }
    if (path !== config.predictRoute) {
      send(res, 404, fail(404, `no route ${path}`), draining);
      return;
    }
    if (req.method !== "POST") {
      send(res, 405, fail(405, "use POST"), draining);
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      send(res, 413, fail(413, "request body above 1.5 MB"), true);
      return;
    }
    let request: unknown;
    try {
      request = JSON.parse(body.toString("utf8"));
    } catch {
      send(res, 400, fail(400, "the body is not JSON"), draining);
      return;
    }
    const instances = (request as { instances?: unknown } | null)?.instances;
    if (!Array.isArray(instances)) {
      send(res, 400, fail(400, 'the body needs "instances": a list'), draining);
      return;
    }
    if (config.latencyMs > 0) await new Promise((done) => setTimeout(done, config.latencyMs));
    send(
      res,
      200,
      {
        predictions: instances.map((instance) => predict(config, instance)),
        deployedModelId: config.deployedModelId,
        model: config.modelName,
        modelVersionId: config.modelVersion,
      },
      draining,
    );
  }

  await new Promise<void>((listening, failed) => {
    server.once("error", failed);
    server.listen(config.port, config.host, () => {
      listening();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const stop = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    log({ msg: "draining", inFlight, shutdownDelayMs: config.shutdownDelayMs });
    await new Promise((done) => setTimeout(done, config.shutdownDelayMs));
    const closed = new Promise<void>((done) =>
      server.close(() => {
        done();
      }),
    );
    server.closeIdleConnections();
    await closed;
    log({ msg: "stopped" });
  };
  return { port, stop };
}

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  // Signal handlers first: whoever reads "listening" may signal the very next moment.
  const started = startServer(config);
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string): void => {
    log({ msg: "signal", signal });
    stopping ??= started.then(({ stop }) => stop()).then(() => process.exit(0));
  };
  process.on("SIGTERM", () => {
    onSignal("SIGTERM");
  });
  process.on("SIGINT", () => {
    onSignal("SIGINT");
  });
  const { port } = await started;
  log({
    msg: "listening",
    port,
    healthRoute: config.healthRoute,
    predictRoute: config.predictRoute,
    deployedModelId: config.deployedModelId,
    model: config.modelName,
  });
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`model server failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
