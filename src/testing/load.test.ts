/**
 * The load generator against the reference model server, started in this process on 127.0.0.1.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { configFromEnv, startServer } from "../../examples/model-server/server.ts";
import { judgeAnswer, startLoad, type Load } from "./load.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const PREDICT = "/v1/endpoints/demo/deployedModels/m:predict";
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A reference server for deployed model `id`; returns its port. */
async function modelServer(id: string, env: Record<string, string> = {}): Promise<number> {
  const server = await startServer(
    configFromEnv({
      AIP_HTTP_PORT: "0",
      MODEL_SERVER_HOST: "127.0.0.1",
      AIP_PREDICT_ROUTE: PREDICT,
      AIP_DEPLOYED_MODEL_ID: id,
      AIP_MODEL_NAME: "demo",
      MODEL_SERVER_SHUTDOWN_DELAY_SECONDS: "0",
      ...env,
    }),
  );
  cleanups.push(server.stop);
  return server.port;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => {
          done();
        });
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An HTTP front that forwards each request to the backend port `target()` names at that moment. */
async function switchingFront(target: () => number): Promise<string> {
  return listen(
    createServer((req, res) => {
      const upstream = request(
        { host: "127.0.0.1", port: target(), path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    }),
  );
}

/** Awaits `done(load)` by polling the running load's counts. */
async function until(load: Load, done: (sent: number) => boolean): Promise<void> {
  while (!done(load.summary().sent)) await new Promise((resolve) => setImmediate(resolve));
}

function startedLoad(url: string, concurrency: number, keepAliveShare = 0.5): Load {
  const load = startLoad({ url, concurrency, keepAliveShare, requestTimeoutMs: 5_000 });
  cleanups.push(async () => {
    await load.stop();
  });
  return load;
}

describe("startLoad", () => {
  it("counts answers per deployed model, overall and per step window", async () => {
    const ports = { a: await modelServer("m1"), b: await modelServer("m2") };
    let target = ports.a;
    const front = await switchingFront(() => target);
    const load = startedLoad(`${front}${PREDICT}`, 4);
    await until(load, (sent) => sent >= 40);
    load.mark("to m2");
    target = ports.b;
    await until(load, (sent) => sent >= 80);
    const summary = await load.stop();

    expect(summary.failed).toBe(0);
    expect(summary.ok).toBe(summary.sent);
    const [first, second] = summary.windows;
    expect(first?.label).toBe("start");
    expect(first?.byModel["m1"]).toBeGreaterThanOrEqual(36);
    // A request counts in the window it was sent in: the (at most 4) in flight at the switch
    // reached the front after it.
    expect(first?.byModel["m2"] ?? 0).toBeLessThanOrEqual(4);
    expect(second?.label).toBe("to m2");
    expect(Object.keys(second?.byModel ?? {})).toEqual(["m2"]);
    expect((summary.byModel["m1"] ?? 0) + (summary.byModel["m2"] ?? 0)).toBe(summary.ok);
    expect(second?.latencyMs?.p99).toBeGreaterThanOrEqual(second?.latencyMs?.p50 ?? Infinity);
  });

  it("counts a failing server's answers and dropped connections as failures by reason", async () => {
    let n = 0;
    const failing = await listen(
      createServer((req, res) => {
        req.resume();
        if (n++ % 2 === 0) {
          res.writeHead(503, { "content-type": "application/json" });
          res.end('{"error": {"code": 503,\n "message": "overloaded"}}');
        } else {
          req.socket.destroy();
        }
      }),
    );
    const load = startedLoad(`${failing}${PREDICT}`, 2);
    await until(load, (sent) => sent >= 20);
    const summary = await load.stop();

    expect(summary.ok).toBe(0);
    expect(summary.failed).toBe(summary.sent);
    expect(Object.keys(summary.failures).sort()).toEqual([
      "ECONNRESET",
      'HTTP 503: {"error": {"code": 503, "message": "overloaded"}}',
    ]);
    expect(summary.byModel).toEqual({});
  });

  it("names an answer without deployedModelId and a wrong route", async () => {
    const port = await modelServer("m1");
    const load = startedLoad(`http://127.0.0.1:${port}/nope`, 1);
    await until(load, (sent) => sent >= 3);
    const summary = await load.stop();
    expect(Object.keys(summary.failures)).toEqual([
      'HTTP 404: {"error":{"code":404,"message":"no route /nope"}}',
    ]);
    expect(judgeAnswer(200, '{"predictions": []}')).toEqual({
      reason: 'HTTP 200 without deployedModelId: {"predictions": []}',
    });
  });

  it("uses both kinds of clients: one connection per keep-alive client, one per request for the others", async () => {
    const proxy = await TcpProxy.start({ port: await modelServer("m1") });
    cleanups.push(() => proxy.stop());
    const load = startedLoad(`http://127.0.0.1:${proxy.port}${PREDICT}`, 4, 0.5);
    await until(load, (sent) => sent >= 200);
    const summary = await load.stop();

    expect(summary.failed).toBe(0);
    expect(summary.byConnection.keepAlive).toBeGreaterThan(2);
    expect(summary.byConnection.perRequest).toBeGreaterThan(0);
    expect(summary.byConnection.keepAlive + summary.byConnection.perRequest).toBe(summary.sent);
    // Two keep-alive clients, two connections; every other request opened its own.
    expect(proxy.stats().accepted).toBe(2 + summary.byConnection.perRequest);
  });

  it("stop() waits for the requests in flight and counts their answers", async () => {
    const port = await modelServer("m1", { MODEL_SERVER_LATENCY_MS: "200" });
    const load = startedLoad(`http://127.0.0.1:${port}${PREDICT}`, 3);
    await until(load, (sent) => sent >= 3);
    const summary = await load.stop();
    expect(summary.sent).toBeGreaterThanOrEqual(3);
    expect(summary.ok).toBe(summary.sent);
    expect(summary.byModel).toEqual({ m1: summary.sent });
  });

  it("refuses options that cannot work", () => {
    const base = { url: "http://127.0.0.1:1/", concurrency: 1, keepAliveShare: 0, requestTimeoutMs: 10 };
    expect(() => startLoad({ ...base, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => startLoad({ ...base, keepAliveShare: 1.5 })).toThrow(/keepAliveShare/);
    expect(() => startLoad({ ...base, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
  });
});
