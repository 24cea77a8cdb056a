/**
 * The ModelEndpoint API on a real kube-apiserver: the generated CRD installs and is served, every
 * example is accepted, every manifest of the admission table (src/testing/admission-cases.ts) gets
 * the expected answer, and the operator's own parser gives the same answer as the API server for
 * all of them.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";

import {
  CRD_NAME,
  GROUP,
  PLURAL,
  VERSION,
  parseModelEndpoint,
  validateCreate,
  validateUpdate,
  type ParseResult,
  type ValidationIssue,
} from "../../src/api/index.ts";
import {
  compareIssues,
  INVALID_CREATES,
  toJson,
  UPDATES,
  VALID_CREATES,
  type ExpectedIssue,
  type Json,
} from "../../src/testing/admission-cases.ts";
import { controlPlane, createNamespace, eventually, kubeConfig } from "./context.ts";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../..");
const examplesDir = join(repo, "examples");

const kc = kubeConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const apiextensions = kc.makeApiClient(ApiextensionsV1Api);

async function kubectl(args: readonly string[]): Promise<string> {
  const { kubectl: bin, kubeconfig } = controlPlane();
  try {
    const { stdout } = await run(bin, ["--kubeconfig", kubeconfig, ...args]);
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`kubectl ${args.join(" ")} failed: ${stderr}`, { cause: error });
  }
}

let ns = "";

beforeAll(async () => {
  ns = await createNamespace("api");
  await kubectl(["apply", "--server-side", "-f", join(repo, "crds")]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", `crd/${CRD_NAME}`]);
});

// ------------------------------------------------------------------------------------------------
// Talking to the API server

/** An issue as the API server reports it (a cause of a 422 Status). */
function causesOf(error: unknown): ValidationIssue[] {
  if (!(error instanceof ApiException)) throw error;
  const raw: unknown = error.body;
  const body = (typeof raw === "string" ? JSON.parse(raw) : raw) as {
    code?: number;
    message?: string;
    details?: { causes?: { field?: string; message?: string }[] };
  };
  if (error.code !== 422) throw new Error(`expected 422 Invalid, got ${error.code}: ${body.message ?? ""}`);
  return (body.details?.causes ?? []).map((c) => ({
    path: c.field === undefined || c.field === "<nil>" ? "" : c.field,
    message: c.message ?? "",
  }));
}

const target = { group: GROUP, version: VERSION, plural: PLURAL };

/** The issues the API server reports for creating `body` (dry run: nothing is stored). */
async function serverCreate(body: Json, dryRun = true): Promise<ValidationIssue[]> {
  try {
    await objects.createNamespacedCustomObject({
      ...target,
      namespace: ns,
      body,
      ...(dryRun ? { dryRun: "All" } : {}),
    });
    return [];
  } catch (error) {
    return causesOf(error);
  }
}

/** The issues the API server reports for replacing the stored object with `body`. */
async function serverUpdate(name: string, body: Json, dryRun: boolean): Promise<ValidationIssue[]> {
  const current = (await objects.getNamespacedCustomObject({ ...target, namespace: ns, name })) as {
    metadata: { resourceVersion: string };
  };
  const withVersion = {
    ...body,
    metadata: { ...(body.metadata as Json), name, resourceVersion: current.metadata.resourceVersion },
  };
  try {
    await objects.replaceNamespacedCustomObject({
      ...target,
      namespace: ns,
      name,
      body: withVersion,
      ...(dryRun ? { dryRun: "All" } : {}),
    });
    return [];
  } catch (error) {
    return causesOf(error);
  }
}

function parserIssues(result: ParseResult<unknown>): readonly ValidationIssue[] {
  return result.ok ? [] : result.issues;
}

/**
 * The API server and the parser agree: both report exactly the expected issues, and each rule
 * message of the parser is, word for word, the end of the API server's message at the same path.
 */
function expectAgreement(
  server: readonly ValidationIssue[],
  parser: readonly ValidationIssue[],
  expected: readonly ExpectedIssue[],
  parserAlso: readonly ExpectedIssue[] = [],
): void {
  expect(compareIssues(server, expected), "API server").toEqual([]);
  expect(compareIssues(parser, [...expected, ...parserAlso]), "parser").toEqual([]);
  for (const issue of parser.filter(
    (i) => i.rule !== undefined && !parserAlso.some((p) => p.path === i.path),
  )) {
    const same = server.some((s) => s.path === issue.path && s.message.endsWith(issue.message));
    expect(same, `API server message for rule ${issue.rule ?? ""} at ${issue.path}`).toBe(true);
  }
}

// ------------------------------------------------------------------------------------------------

describe("the CRD", () => {
  it("installs, becomes Established and is served as modelendpoints / mep", async () => {
    const crd = await apiextensions.readCustomResourceDefinition({ name: CRD_NAME });
    const established = crd.status?.conditions?.find((c) => c.type === "Established");
    expect(established?.status).toBe("True");
    expect(crd.spec.names.shortNames).toEqual(["mep"]);
    expect(crd.spec.versions.map((v) => v.name)).toEqual([VERSION]);
    const resources = await kubectl(["api-resources", "--api-group", GROUP, "-o", "name"]);
    expect(resources.trim()).toBe(`${PLURAL}.${GROUP}`);
  });

  it("reapplying the committed CRD changes nothing", async () => {
    const out = await kubectl(["apply", "--server-side", "-f", join(repo, "crds")]);
    expect(out).toContain("serverside-applied");
    const diff = await run(controlPlane().kubectl, [
      "--kubeconfig",
      controlPlane().kubeconfig,
      "diff",
      "--server-side",
      "-f",
      join(repo, "crds"),
    ]).then(
      () => "",
      (error: unknown) => (error as { stdout?: string }).stdout ?? String(error),
    );
    expect(diff).toBe("");
  });
});

describe("the examples", () => {
  const files = readdirSync(examplesDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it("there are examples of a first deployment, a rolling deployment, a rollback and a split", () => {
    expect(files).toEqual([
      "01-first-deployment.yaml",
      "02-rolling-deployment.yaml",
      "03-rollback.yaml",
      "04-traffic-split.yaml",
    ]);
  });

  it.each(files)("%s is accepted on its own (create) and by the parser", async (file) => {
    for (const doc of parseAllDocuments(readFileSync(join(examplesDir, file), "utf8"))) {
      const body = doc.toJS() as Json;
      expect(await serverCreate(body)).toEqual([]);
      expect(parserIssues(validateCreate(body))).toEqual([]);
    }
  });

  it("`kubectl apply -f examples/` applies them in order (01 -> 02 -> 03 are updates)", async () => {
    const exNs = await createNamespace("api-examples");
    const out = await kubectl(["apply", "-n", exNs, "-f", examplesDir]);
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/fraud created");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/fraud configured");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/recommender created");
    const stored = JSON.parse(await kubectl(["get", "mep", "-n", exNs, "-o", "json"])) as {
      items: unknown[];
    };
    expect(stored.items).toHaveLength(2);
    for (const item of stored.items) expect(parserIssues(parseModelEndpoint(item))).toEqual([]);
  });
});

describe("admission refuses each invalid manifest, and the parser agrees", () => {
  it.each(INVALID_CREATES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const body = toJson(c.object);
    expectAgreement(await serverCreate(body), parserIssues(validateCreate(body)), c.expect, c.parserAlso);
  });
});

describe("what a kubectl user sees", () => {
  it("`kubectl apply` of a bad manifest fails with the rule's message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mep-"));
    try {
      const bad = INVALID_CREATES.find((c) => c.name === "trafficSplit: sums to 90");
      if (bad === undefined) throw new Error("case not found");
      const file = join(dir, "bad.json");
      writeFileSync(file, JSON.stringify(toJson(bad.object)));
      const error = await kubectl(["apply", "-n", ns, "-f", file]).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain(
        "spec.trafficSplit: Invalid value: trafficSplit percentages must sum to 100, or trafficSplit must be empty (no traffic)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("admission accepts each valid manifest, and the parser agrees", () => {
  it.each(VALID_CREATES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const body = toJson(c.object);
    expect(await serverCreate(body)).toEqual([]);
    expect(parserIssues(validateCreate(body))).toEqual([]);
  });
});

describe("updates: transition rules on the API server and in the parser", () => {
  it.each(UPDATES.map((c, i) => [c.name, c, i] as const))("%s", async (_, c, i) => {
    const name = `update-${i}`;
    const [first, ...rest] = c.before.map((state) => toJson({ ...state, metadata: { name } }));
    if (first === undefined) throw new Error("an update case needs a first state");
    expect(await serverCreate(first, false)).toEqual([]);
    let previous = first;
    for (const state of rest) {
      expect(await serverUpdate(name, state, false)).toEqual([]);
      previous = state;
    }
    const after = toJson({ ...c.after, metadata: { name } });
    expectAgreement(
      await serverUpdate(name, after, true),
      parserIssues(validateUpdate(previous, after)),
      c.expect,
    );
  });
});

describe("status", () => {
  it("takes the status the operator writes, and `kubectl get mep` shows it in columns", async () => {
    const name = "status-columns";
    const created = toJson({ ...(VALID_CREATES[1]?.object ?? {}), metadata: { name } });
    expect(await serverCreate(created, false)).toEqual([]);
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "RolloutInProgress",
          message: "m2: 1/3 new replicas available",
          lastTransitionTime: now,
          observedGeneration: 1,
        },
        {
          type: "Progressing",
          status: "True",
          reason: "RolloutInProgress",
          message: "rolling m1 -> m2",
          lastTransitionTime: now,
        },
      ],
      trafficSplit: { m1: 67, m2: 33 },
      deployedModels: [
        {
          id: "m1",
          revisionNumber: 1,
          state: "DEPLOYED",
          replicas: 2,
          readyReplicas: 2,
          availableReplicaCount: 2,
          createTime: now,
          lastUpdateTime: now,
          dedicatedResources: { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 3 },
        },
        {
          id: "m2",
          revisionNumber: 2,
          state: "BEING_DEPLOYED",
          replicas: 2,
          readyReplicas: 1,
          availableReplicaCount: 1,
          createTime: now,
          lastUpdateTime: now,
          message: "1/3 new replicas available",
          previousDeployedModel: "m1",
          reason: "RolloutInProgress",
          progressTime: now,
          dedicatedResources: { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 3 },
          serviceAccount: "default",
        },
      ],
      revision: "m2@2",
      state: "BEING_DEPLOYED",
      ready: "3/3",
      traffic: "m1=67,m2=33",
    };
    await objects.patchNamespacedCustomObjectStatus(
      { ...target, namespace: ns, name, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const stored = await objects.getNamespacedCustomObject({ ...target, namespace: ns, name });
    const parsed = parseModelEndpoint(stored);
    expect(parserIssues(parsed)).toEqual([]);
    expect(parsed.ok && parsed.value.status?.deployedModels?.[1]?.state).toBe("BEING_DEPLOYED");
    const table = await eventually("printer columns", async () => {
      const out = await kubectl(["get", "mep", name, "-n", ns]);
      return out.includes("m2@2") ? out : undefined;
    });
    const [header, row] = table.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual([
      "NAME",
      "REVISION",
      "STATE",
      "REPLICAS",
      "TRAFFIC",
      "READY",
      "AGE",
    ]);
    expect(row?.split(/\s+/).slice(0, 6)).toEqual([
      name,
      "m2@2",
      "BEING_DEPLOYED",
      "3/3",
      "m1=67,m2=33",
      "False",
    ]);
  });

  it("refuses a status the operator must not write", async () => {
    const name = "status-invalid";
    expect(
      await serverCreate(toJson({ ...(VALID_CREATES[0]?.object ?? {}), metadata: { name } }), false),
    ).toEqual([]);
    try {
      await objects.patchNamespacedCustomObjectStatus(
        {
          ...target,
          namespace: ns,
          name,
          body: { status: { deployedModels: [{ id: "m1", state: "RUNNING" }] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      expect.unreachable("the API server accepted state RUNNING");
    } catch (error) {
      const causes = causesOf(error);
      expect(causes.map((c) => c.path)).toContain("status.deployedModels[0].state");
    }
  });
});
