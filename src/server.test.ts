import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";

import { startServer, type OperatorServer } from "./server.ts";

let server: OperatorServer | undefined;
afterEach(async () => {
  await server?.close();
});

describe("the operator's HTTP port", () => {
  it("serves /metrics, /healthz and /readyz with the reasons it is not ready", async () => {
    const registry = new Registry();
    let reasons: string[] = ["caches not synced"];
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      registry,
      health: { notReadyReasons: () => reasons },
    });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain("caches not synced");
    reasons = [];
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });
});
