/**
 * The suite's gateway (Traefik) alone, without the operator: two reference model servers on
 * addresses of their own on the loopback device, a selectorless Service with a hand-made
 * EndpointSlice for each, and an HTTPRoute that rewrites the Vertex-style path to the servers'
 * predict route and splits traffic by backendRef weights. What it shows about Traefik is written
 * up in docs/controlplane.md "The gateway".
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { configFromEnv, startServer } from "../../examples/model-server/server.ts";
import { findBinaries } from "../../src/testing/binaries.ts";
import { startGateway } from "../../src/testing/gateway.ts";
import { startLoad, type Load, type WindowSummary } from "../../src/testing/load.ts";
import { controlPlane, createNamespace, eventually, gateway } from "./context.ts";

/** Addresses for the two servers: outside 127.0.0.0/8 (EndpointSlices refuse it), /32 on lo. */
const ADDRESSES = { m1: "10.197.53.11", m2: "10.197.53.12" } as const;
const ROUTE_PATH = "/v1/endpoints/demo:predict";
const SERVER_PREDICT = "/predict";

function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const kubectl = (args: readonly string[], input?: string): Promise<string> =>
  run(controlPlane().kubectl, [`--kubeconfig=${controlPlane().kubeconfig}`, ...args], input);

const apply = (objects: readonly unknown[]): Promise<string> =>
  kubectl(
    ["apply", "--server-side", "--force-conflicts", "--field-manager=gateway-test", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  );

/** Adds `address`/32 to lo, replacing one left by an interrupted run. */
async function addLoopback(address: string): Promise<void> {
  await run("ip", ["addr", "del", `${address}/32`, "dev", "lo"]).catch(() => undefined);
  await run("ip", ["addr", "add", `${address}/32`, "dev", "lo"]);
}

type Model = keyof typeof ADDRESSES;
const MODELS: readonly Model[] = ["m1", "m2"];

function service(ns: string, model: Model): unknown {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `demo-${model}`, namespace: ns },
    spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  };
}

function endpointSlice(
  ns: string,
  model: Model,
  port: number,
  conditions: { ready: boolean; serving?: boolean; terminating?: boolean } = { ready: true },
): unknown {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `demo-${model}`,
      namespace: ns,
      labels: { "kubernetes.io/service-name": `demo-${model}` },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port, protocol: "TCP" }],
    endpoints: [{ addresses: [ADDRESSES[model]], conditions }],
  };
}

/** An HTTPRoute on the suite's Gateway: `path`, rule-level and backendRef-level filters, weights. */
function route(
  ns: string,
  name: string,
  rule: {
    path: unknown;
    filters?: unknown[];
    /** Default: all to m1. */
    weights?: Readonly<Record<Model, number>>;
    backendFilters?: unknown[];
  },
): unknown {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: ns },
    spec: {
      parentRefs: [gateway().parentRef],
      rules: [
        {
          matches: [{ path: rule.path }],
          ...(rule.filters ? { filters: rule.filters } : {}),
          backendRefs: MODELS.map((model) => ({
            name: `demo-${model}`,
            port: 80,
            weight: (rule.weights ?? { m1: 1, m2: 0 })[model],
            ...(rule.backendFilters ? { filters: rule.backendFilters } : {}),
          })),
        },
      ],
    },
  };
}

const fullPathRewrite = {
  type: "URLRewrite",
  urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: SERVER_PREDICT } },
};

/** POSTs one prediction through the gateway; resolves with the status and the deployedModelId. */
async function predictOnce(path: string): Promise<{ status: number; model?: string }> {
  const res = await fetch(`${gateway().url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: [1] }),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  return { status: 200, model: (JSON.parse(text) as { deployedModelId: string }).deployedModelId };
}

/** Awaits an answer through the gateway on `path` that `wanted` accepts. */
async function awaitAnswer(
  path: string,
  what: string,
  wanted: (answer: { status: number; model?: string }) => boolean,
): Promise<void> {
  await eventually(what, async () => wanted(await predictOnce(path)));
}

/** Awaits `count` successful answers in a fresh window of `load`; returns that window. */
async function window(load: Load, label: string, count: number): Promise<WindowSummary> {
  load.mark(label);
  const index = load.summary().windows.length - 1;
  return eventually(`${count} answers in window "${label}"`, () => {
    const w = load.summary().windows[index];
    return Promise.resolve(w && w.ok + w.failed >= count ? w : undefined);
  });
}

describe("the gateway (Traefik) on the local control plane", () => {
  let ns = "";
  const ports: Partial<Record<Model, number>> = {};
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    ns = await createNamespace("gateway");
    for (const model of MODELS) {
      await addLoopback(ADDRESSES[model]);
      stops.push(() =>
        run("ip", ["addr", "del", `${ADDRESSES[model]}/32`, "dev", "lo"]).then(() => undefined),
      );
      const server = await startServer(
        configFromEnv({
          AIP_HTTP_PORT: "0",
          MODEL_SERVER_HOST: ADDRESSES[model],
          AIP_PREDICT_ROUTE: SERVER_PREDICT,
          AIP_DEPLOYED_MODEL_ID: model,
          AIP_MODEL_NAME: "demo",
          MODEL_SERVER_SHUTDOWN_DELAY_SECONDS: "0",
        }),
      );
      stops.push(server.stop);
      ports[model] = server.port;
    }
    await apply(MODELS.flatMap((model) => [service(ns, model), endpointSlice(ns, model, ports[model] ?? 0)]));
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("splits predictions 90/10 by backendRef weight, rewrites the path, then moves all traffic to m2", async () => {
    await apply([
      route(ns, "demo", {
        path: { type: "Exact", value: ROUTE_PATH },
        filters: [fullPathRewrite],
        weights: { m1: 90, m2: 10 },
      }),
    ]);
    // The route is served once Traefik has read it and both Services' EndpointSlices.
    await eventually("both models answer through the gateway", async () => {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 20; i++) seen.add((await predictOnce(ROUTE_PATH)).model);
      return seen.has("m1") && seen.has("m2");
    });

    const load = startLoad({
      url: `${gateway().url}${ROUTE_PATH}`,
      concurrency: 8,
      keepAliveShare: 0.5,
      requestTimeoutMs: 5_000,
    });
    try {
      const split = await window(load, "90/10", 1000);
      expect(split.failed, JSON.stringify(split.failures)).toBe(0);
      const share = (split.byModel["m1"] ?? 0) / split.ok;
      expect(share).toBeGreaterThanOrEqual(0.85);
      expect(share).toBeLessThanOrEqual(0.95);

      await apply([
        route(ns, "demo", {
          path: { type: "Exact", value: ROUTE_PATH },
          filters: [fullPathRewrite],
          weights: { m1: 0, m2: 100 },
        }),
      ]);
      // Keep-alive clients included: Traefik balances per request, so every answer moves.
      const moved = await eventually("a window of 200 answers, all from m2", async () => {
        const w = await window(load, "0/100", 200);
        return w.byModel["m1"] === undefined && w.failed === 0 ? w : undefined;
      });
      expect(moved.byModel).toEqual({ m2: moved.ok });
    } finally {
      const summary = await load.stop();
      expect(summary.failed, JSON.stringify(summary.failures)).toBe(0);
    }
  });

  it("rewrites a PathPrefix match with ReplacePrefixMatch", async () => {
    await apply([
      route(ns, "prefix", {
        path: { type: "PathPrefix", value: "/v1/prefix" },
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
          },
        ],
      }),
    ]);
    // /v1/prefix/predict -> /predict
    await awaitAnswer("/v1/prefix/predict", "/v1/prefix/predict answered by m1", (a) => a.model === "m1");
  });

  it("ignores a URLRewrite filter on a backendRef: the request reaches the server unrewritten", async () => {
    await apply([
      route(ns, "backend-filter", {
        path: { type: "Exact", value: "/v1/backend-filter:predict" },
        backendFilters: [fullPathRewrite],
      }),
    ]);
    // The server answers 404 for any path but its predict route: the route is served, not rewritten.
    await awaitAnswer("/v1/backend-filter:predict", "a 404 from the server", (a) => a.status === 404);
  });

  it("sends no request to an endpoint that is not ready, serving and terminating or not", async () => {
    await apply([
      route(ns, "readiness", {
        path: { type: "Exact", value: "/v1/readiness:predict" },
        filters: [fullPathRewrite],
      }),
    ]);
    await awaitAnswer("/v1/readiness:predict", "m1 answers", (a) => a.model === "m1");
    await apply([endpointSlice(ns, "m1", ports.m1 ?? 0, { ready: false, serving: true, terminating: true })]);
    // Its only backend has no ready endpoint: Traefik answers 503 itself.
    await awaitAnswer("/v1/readiness:predict", "a 503 from the gateway", (a) => a.status === 503);
    await apply([endpointSlice(ns, "m1", ports.m1 ?? 0, { ready: true })]);
    await awaitAnswer("/v1/readiness:predict", "m1 answers again", (a) => a.model === "m1");
  });

  it("startGateway says so when Traefik exits before serving, with the end of its log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meo-gateway-"));
    try {
      const fake = join(dir, "traefik");
      writeFileSync(fake, "#!/bin/sh\necho 'command traefik error: bad flag'\nexit 1\n", { mode: 0o755 });
      const binaries = { ...findBinaries(), traefik: fake };
      await expect(startGateway({ kubeconfig: controlPlane().kubeconfig, binaries, dir })).rejects.toThrow(
        /traefik exited; last lines of .*traefik\.log:\ncommand traefik error: bad flag/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
