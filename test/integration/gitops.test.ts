/**
 * GitOps health on real status objects: endpoints driven through a rollout, a failure and a revert
 * by the operator on the real control plane, read back from the API server and judged by
 *
 * - the Argo CD health check, the Lua text of docs/gitops.md, run on a Lua VM (fengari);
 * - kstatus (sigs.k8s.io/cli-utils, what Flux uses), built from scripts/kstatus;
 * - `kubectl wait --for=condition=...`, which must not return before the rollout is over.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { cacheDir } from "../../src/testing/binaries.ts";
import { createNamespace, kubeConfig } from "./context.ts";
import {
  applyEndpoint,
  Endpoints,
  firstDeployment,
  installCrd,
  kubectl,
  rollingEntry,
  type EndpointObject,
} from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { PodGate } from "./scenario.ts";

/** The part of fengari (Lua 5.3 in JavaScript; the package has no types) that the test uses. */
interface Fengari {
  readonly lua: {
    readonly LUA_OK: number;
    readonly lua_pcall: (L: unknown, nargs: number, nresults: number, msgh: number) => number;
    readonly lua_tojsstring: (L: unknown, index: number) => string;
  };
  readonly lauxlib: {
    readonly luaL_newstate: () => unknown;
    readonly luaL_loadstring: (L: unknown, chunk: Uint8Array) => number;
  };
  readonly lualib: { readonly luaL_openlibs: (L: unknown) => void };
  readonly to_luastring: (text: string) => Uint8Array;
}
const { lua, lauxlib, lualib, to_luastring } = createRequire(import.meta.url)("fengari") as Fengari;

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..");

/** The Argo CD health check: the first ```lua block of docs/gitops.md. */
function argoHealthScript(): string {
  const doc = readFileSync(join(ROOT, "docs", "gitops.md"), "utf8");
  const match = /```lua\n([\s\S]*?)```/.exec(doc);
  if (match?.[1] === undefined) throw new Error("docs/gitops.md has no ```lua block");
  return match[1];
}

/** A Lua literal of a JSON value (null fields left out, as Argo CD's conversion does). */
function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  if (typeof value === "string") {
    const bytes = [...Buffer.from(value, "utf8")];
    return `"${bytes.map((b) => (b >= 32 && b < 127 && b !== 34 && b !== 92 ? String.fromCharCode(b) : `\\${b}`)).join("")}"`;
  }
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(", ")}}`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`);
  return `{${fields.join(", ")}}`;
}

/** Runs the health script with `obj` set, as Argo CD does; returns hs.status and hs.message. */
function argoHealth(obj: unknown): { status: string; message: string } {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  const chunk = `obj = ${luaLiteral(obj)}\nlocal hs = (function()\n${argoHealthScript()}\nend)()\nreturn hs.status, hs.message`;
  if (
    lauxlib.luaL_loadstring(L, to_luastring(chunk)) !== lua.LUA_OK ||
    lua.lua_pcall(L, 0, 2, 0) !== lua.LUA_OK
  ) {
    throw new Error(`Lua: ${lua.lua_tojsstring(L, -1)}`);
  }
  return { status: lua.lua_tojsstring(L, -2), message: lua.lua_tojsstring(L, -1) };
}

const KSTATUS_VERSION = "v0.37.2";

/** The kstatus helper, built once into the binaries cache from scripts/kstatus (Go, a few seconds). */
async function kstatusBinary(): Promise<string> {
  const dir = join(cacheDir(), "bin", `kstatus-${KSTATUS_VERSION}`);
  const bin = join(dir, "kstatus");
  if (existsSync(bin)) return bin;
  mkdirSync(join(cacheDir(), "bin"), { recursive: true });
  const tmp = mkdtempSync(join(cacheDir(), "bin", ".build-kstatus-"));
  await execFileAsync("go", ["build", "-trimpath", "-o", join(tmp, "kstatus"), "."], {
    cwd: join(ROOT, "scripts", "kstatus"),
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
  });
  renameSync(tmp, dir);
  return bin;
}

let kstatusBin = "";

async function kstatus(obj: unknown): Promise<{ status: string; message: string }> {
  const child = execFileAsync(kstatusBin, []);
  child.child.stdin?.end(JSON.stringify(obj));
  return JSON.parse((await child).stdout) as { status: string; message: string };
}

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace("gitops");
  endpoints = new Endpoints(kubeConfig(), ns);
  operator = new OperatorProcess({ namespaces: [ns] });
  [kstatusBin] = await Promise.all([kstatusBinary(), operator.start()]);
});

afterAll(async () => {
  await operator.stop();
  expect(operator.problems()).toEqual([]);
});

/** The endpoint with a rolling deployment of `image` onto m1 (3 replicas, surge 1). */
function withRollout(name: string, image: string, deadlineSeconds: number): object {
  const manifest = firstDeployment(name, "m1", 3) as { spec: { deployedModels: object[] } };
  manifest.spec.deployedModels.push(
    rollingEntry("m2", "m1", image, {
      maxSurgeReplicas: 1,
      maxUnavailableReplicas: 0,
      progressDeadlineSeconds: deadlineSeconds,
    }),
  );
  return manifest;
}

describe("health of real ModelEndpoints", () => {
  it("a converged endpoint is Healthy for Argo CD and Current for kstatus", async () => {
    await applyEndpoint(ns, firstDeployment("steady", "m1", 2));
    await endpoints.waitForCondition("steady", "Ready", "True");
    const obj = await endpoints.get("steady");
    expect(argoHealth(obj)).toEqual({
      status: "Healthy",
      message: expect.stringContaining("AllReplicasAvailable"),
    });
    expect((await kstatus(obj)).status).toBe("Current");
  });

  it("an endpoint whose latest generation is not yet observed is Progressing / InProgress", async () => {
    const obj = await endpoints.get("steady");
    const stale = { ...obj, metadata: { ...obj.metadata, generation: obj.metadata.generation + 1 } };
    expect(argoHealth(stale).status).toBe("Progressing");
    expect(await kstatus(stale)).toMatchObject({
      status: "InProgress",
      message: expect.stringContaining("latest observed generation"),
    });
    const { status: _, ...fresh } = obj;
    expect(argoHealth(fresh).status).toBe("Progressing");
  });

  it("a rollout in progress is Progressing / InProgress; kubectl wait --for=condition=Degraded returns with its failure", async () => {
    await applyEndpoint(ns, firstDeployment("rolling", "m1", 3));
    await endpoints.waitForCondition("rolling", "Ready", "True");
    await applyEndpoint(ns, withRollout("rolling", "registry.example/fraud:2.0-unready", 8));
    await endpoints.waitForCondition("rolling", "Progressing", "True");
    const obj = await endpoints.get("rolling");
    expect(obj.status?.deployedModels?.find((m) => m.id === "m2")?.state).toBe("BEING_DEPLOYED");
    expect(argoHealth(obj)).toEqual({
      status: "Progressing",
      message: expect.stringContaining("NewRevisionProgressing"),
    });
    expect((await kstatus(obj)).status).toBe("InProgress");
    // Degraded arrives with the failure (deadline 8 s); Ready=True again only once reverted.
    await kubectl(["wait", "-n", ns, "--for=condition=Degraded", "modelendpoint/rolling", "--timeout=60s"]);
    expect((await endpoints.model("rolling", "m2"))?.state).toBe("FAILED");
  });

  it("a failed and reverted rollout is Degraded for Argo CD, and Failed for kstatus (Stalled=True)", async () => {
    await endpoints.waitForCondition("rolling", "Ready", "True");
    const reverted: EndpointObject = await endpoints.get("rolling");
    const degraded = reverted.status?.conditions?.find((c) => c.type === "Degraded");
    expect(degraded).toMatchObject({ status: "True", reason: "ProgressDeadlineExceeded" });
    expect(argoHealth(reverted)).toEqual({
      status: "Degraded",
      message: expect.stringMatching(/^ProgressDeadlineExceeded: m2 FAILED/),
    });
    expect(reverted.status?.conditions?.find((c) => c.type === "Stalled")).toMatchObject({
      status: "True",
      reason: "ProgressDeadlineExceeded",
    });
    expect((await kstatus(reverted)).status).toBe("Failed");
  });

  it("a successful rollout: kubectl wait returns only once it completed, then Healthy / Current", async () => {
    await applyEndpoint(ns, firstDeployment("good", "m1", 3));
    await endpoints.waitForCondition("good", "Ready", "True");
    await applyEndpoint(ns, withRollout("good", "registry.example/fraud:2.0", 60));
    await kubectl(["wait", "-n", ns, "--for=condition=Ready", "modelendpoint/good", "--timeout=60s"]);
    const obj = await endpoints.get("good");
    expect(obj.status?.observedGeneration).toBe(obj.metadata.generation);
    expect(obj.status?.deployedModels?.find((m) => m.id === "m2")?.state).toBe("DEPLOYED");
    expect(argoHealth(obj).status).toBe("Healthy");
    expect((await kstatus(obj)).status).toBe("Current");
  });

  it("a git revert of a rollout is Progressing / InProgress while it rolls back, then Healthy / Current", async () => {
    await applyEndpoint(ns, firstDeployment("revert", "m1", 3));
    await endpoints.waitForCondition("revert", "Ready", "True");
    await applyEndpoint(ns, withRollout("revert", "registry.example/fraud:2.0", 60));
    await kubectl(["wait", "-n", ns, "--for=condition=Ready", "modelendpoint/revert", "--timeout=60s"]);
    expect((await endpoints.model("revert", "m1"))?.state).toBe("REPLACED");

    // The commit that added m2 is reverted: the manifest of the first deployment again. m1's new
    // pods are held not Ready for a moment, so the rollback is seen in progress.
    const gate = await PodGate.start(kubeConfig(), ns, "revert", "m1");
    await applyEndpoint(ns, firstDeployment("revert", "m1", 3));
    await endpoints.waitForCondition("revert", "Progressing", "True");
    const during = await endpoints.get("revert");
    expect(during.status?.deployedModels?.map((m) => [m.id, m.state])).toEqual([["m1", "BEING_DEPLOYED"]]);
    expect(during.status?.trafficSplit).toEqual({ m2: 100 });
    expect(argoHealth(during)).toEqual({
      status: "Progressing",
      message: expect.stringContaining("m2 left spec"),
    });
    expect((await kstatus(during)).status).toBe("InProgress");

    await gate.open();
    await kubectl(["wait", "-n", ns, "--for=condition=Ready", "modelendpoint/revert", "--timeout=60s"]);
    await gate.stop();
    const after = await endpoints.get("revert");
    expect(after.status?.deployedModels?.map((m) => [m.id, m.state])).toEqual([["m1", "DEPLOYED"]]);
    expect(after.status?.trafficSplit).toEqual({ m1: 100 });
    expect(argoHealth(after).status).toBe("Healthy");
    expect((await kstatus(after)).status).toBe("Current");
  });

  it("a split whose model serves nothing past its deadline is Degraded / Failed, and healthy again once it serves", async () => {
    await applyEndpoint(ns, firstDeployment("dark", "m1", 2));
    await endpoints.waitForCondition("dark", "Ready", "True");
    await applyEndpoint(ns, withRollout("dark", "registry.example/fraud:2.0", 5));
    await endpoints.waitForCondition("dark", "Ready", "True");
    expect((await endpoints.model("dark", "m2"))?.state).toBe("DEPLOYED");

    // Every pod of the deployed revision stops being Ready (the label kwok's stages act on).
    const selector = "serving.modelendpoint.io/endpoint=dark,serving.modelendpoint.io/deployed-model=m2";
    await kubectl(["label", "pods", "-n", ns, "-l", selector, "sim.modelendpoint.io/unready=true"]);
    await kubectl(["wait", "-n", ns, "--for=condition=Degraded", "modelendpoint/dark", "--timeout=60s"]);
    const dark = await endpoints.get("dark");
    const degraded = dark.status?.conditions?.find((c) => c.type === "Degraded");
    expect(degraded).toMatchObject({
      status: "True",
      reason: "TrafficNotServed",
      message: expect.stringContaining(
        "m1, m2 (traffic 100%): nothing serves, no Ready replica of m2 for 5s",
      ),
    });
    expect(dark.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("False");
    expect(argoHealth(dark)).toEqual({
      status: "Degraded",
      message: expect.stringMatching(/^TrafficNotServed/),
    });
    expect((await kstatus(dark)).status).toBe("Failed");
    const events = await kubectl(["get", "events", "-n", ns, "--field-selector", "involvedObject.name=dark"]);
    expect(events).toContain("TrafficNotServed");

    await kubectl(["label", "pods", "-n", ns, "-l", selector, "sim.modelendpoint.io/unready-"]);
    await kubectl(["wait", "-n", ns, "--for=condition=Ready", "modelendpoint/dark", "--timeout=60s"]);
    const back = await endpoints.get("dark");
    expect(back.status?.conditions?.find((c) => c.type === "Degraded")?.status).toBe("False");
    expect(argoHealth(back).status).toBe("Healthy");
    expect((await kstatus(back)).status).toBe("Current");
  });

  // Ready, Progressing and Degraded as status / reason; what the check makes of them.
  it.each([
    [
      "replicas lost after converging",
      "False/ReplicasUnavailable",
      "False/RolloutComplete",
      "False/AsExpected",
      "Progressing",
    ],
    [
      "no serving revision",
      "False/NoServingRevision",
      "False/RolloutComplete",
      "False/AsExpected",
      "Degraded",
    ],
    [
      "a split that nothing serves",
      "False/ReplicasUnavailable",
      "False/RolloutComplete",
      "True/TrafficNotServed",
      "Degraded",
    ],
    ["an invalid spec", "False/InvalidSpec", "False/InvalidSpec", "True/InvalidSpec", "Degraded"],
  ])(
    "the check reads %s (Ready %s, Progressing %s, Degraded %s) as %s",
    (_label, ready, progressing, degraded, health) => {
      const conditions = Object.entries({ Ready: ready, Progressing: progressing, Degraded: degraded }).map(
        ([type, value]) => {
          const [status, reason] = value.split("/");
          return { type, status, reason, message: "m" };
        },
      );
      const obj = { metadata: { generation: 3 }, status: { observedGeneration: 3, conditions } };
      expect(argoHealth(obj).status).toBe(health);
      expect(argoHealth({ ...obj, status: { observedGeneration: 3 } }).status).toBe("Progressing");
    },
  );
});
