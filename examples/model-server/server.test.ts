/**
 * The reference model server as a process, over real HTTP on the loopback interface: the Vertex AI
 * custom-container contract (routes and port from AIP_*), predictions, errors, and a graceful stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { afterEach, describe, expect, it } from "vitest";

import { configFromEnv, predict } from "./server.ts";

const SERVER = join(import.meta.dirname, "server.ts");

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every JSON log line so far. */
  readonly lines: Record<string, unknown>[];
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL");
});

/** Starts the server with `env` on a free loopback port; resolves once it logged that it listens. */
async function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, AIP_HTTP_PORT: "0", MODEL_SERVER_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  running.push(child);
  const lines: Record<string, unknown>[] = [];
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    reader.on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry["msg"] === "listening") resolve(entry["port"] as number);
    });
    child.once("exit", (code) => {
      reject(new Error(`the server exited with ${String(code)} before listening`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}`, lines };
}

const ENV = {
  AIP_HEALTH_ROUTE: "/v1/endpoints/fraud/deployedModels/m1",
  AIP_PREDICT_ROUTE: "/v1/endpoints/fraud/deployedModels/m1:predict",
  AIP_DEPLOYED_MODEL_ID: "m2",
  AIP_MODEL_NAME: "fraud-detector",
  AIP_VERSION_NAME: "2",
};

const post = (url: string, body: string) =>
  fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });

describe("the reference model server", () => {
  it("answers its health route and predicts on its predict route, naming its model", async () => {
    const server = await start(ENV);
    const health = await fetch(server.url + ENV.AIP_HEALTH_ROUTE);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const res = await post(
      server.url + ENV.AIP_PREDICT_ROUTE,
      JSON.stringify({ instances: [{ amount: 12 }, [1, 2]] }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: Record<string, unknown>[] };
    expect(body).toMatchObject({ deployedModelId: "m2", model: "fraud-detector", modelVersionId: "2" });
    expect(body.predictions).toHaveLength(2);
    expect(body.predictions[0]).toMatchObject({ model: "fraud-detector", deployedModelId: "m2" });
    const config = configFromEnv(ENV);
    expect(body.predictions).toEqual([predict(config, { amount: 12 }), predict(config, [1, 2])]);
  });

  it("refuses what is not a prediction request, each with its own error", async () => {
    const server = await start(ENV);
    const predictUrl = server.url + ENV.AIP_PREDICT_ROUTE;
    const cases: [Promise<Response>, number, string][] = [
      [post(predictUrl, "{not json"), 400, "the body is not JSON"],
      [post(predictUrl, JSON.stringify({ instance: 1 })), 400, 'the body needs "instances": a list'],
      [fetch(predictUrl), 405, "use POST"],
      [fetch(`${server.url}/predict`), 404, "no route /predict"],
      [
        post(predictUrl, JSON.stringify({ instances: ["x".repeat(1.6 * 1024 * 1024)] })),
        413,
        "request body above 1.5 MB",
      ],
    ];
    for (const [request, code, message] of cases) {
      const res = await request;
      expect(res.status, message).toBe(code);
      expect(await res.json()).toEqual({ error: { code, message } });
    }
    // And it keeps serving.
    expect((await fetch(server.url + ENV.AIP_HEALTH_ROUTE)).status).toBe(200);
  });

  it("with MODEL_SERVER_UNHEALTHY=true fails health but still predicts", async () => {
    const server = await start({ ...ENV, MODEL_SERVER_UNHEALTHY: "true" });
    const health = await fetch(server.url + ENV.AIP_HEALTH_ROUTE);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unhealthy" });
    const answer = await post(server.url + ENV.AIP_PREDICT_ROUTE, JSON.stringify({ instances: [1] }));
    expect(answer.status).toBe(200);
  });

  it("logs one line per request with ENABLE_ACCESS_LOGGING=true, and none without", async () => {
    const logged = await start({ ...ENV, ENABLE_ACCESS_LOGGING: "true" });
    expect((await post(logged.url + ENV.AIP_PREDICT_ROUTE, JSON.stringify({ instances: [1] }))).status).toBe(
      200,
    );
    await expect
      .poll(() => logged.lines.filter((l) => l["msg"] === "request"))
      .toEqual([expect.objectContaining({ method: "POST", path: ENV.AIP_PREDICT_ROUTE, status: 200 })]);
    expect(configFromEnv(ENV).accessLogging).toBe(false);
    expect(configFromEnv({ ...ENV, ENABLE_ACCESS_LOGGING: "false" }).accessLogging).toBe(false);
  });

  it("on SIGTERM: health fails at once, requests in flight and new ones still succeed, then it exits 0", async () => {
    const server = await start({
      ...ENV,
      // A prediction takes longer than the drain delay, so the first one is still in flight when
      // the server stops accepting: it must finish all the same.
      MODEL_SERVER_LATENCY_MS: "1500",
      MODEL_SERVER_SHUTDOWN_DELAY_SECONDS: "1",
    });
    const inFlight = post(server.url + ENV.AIP_PREDICT_ROUTE, JSON.stringify({ instances: [1] }));
    const exited = once(server.child, "exit");
    server.child.kill("SIGTERM");
    await expect.poll(async () => (await fetch(server.url + ENV.AIP_HEALTH_ROUTE)).status).toBe(503);
    const during = await post(server.url + ENV.AIP_PREDICT_ROUTE, JSON.stringify({ instances: [2] }));
    expect(during.status).toBe(200);
    expect(during.headers.get("connection")).toBe("close");
    expect((await inFlight).status).toBe(200);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(server.lines.map((l) => l["msg"])).toEqual(["listening", "signal", "draining", "stopped"]);
  });

  it("says which setting is wrong when the environment is", () => {
    expect(() => configFromEnv({ AIP_HTTP_PORT: "http" })).toThrow(
      'AIP_HTTP_PORT must be a non-negative number, not "http"',
    );
  });
});
