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
  KIND,
  MODEL_CRD_NAME,
  MODEL_KIND,
  MODEL_PLURAL,
  PLURAL,
  VERSION,
  parseModelEndpoint,
  validateCreate,
  validateUpdate,
} from "../../src/api/index.ts";
import {
  INVALID_CREATES,
  toJson,
  UPDATES,
  VALID_CREATES,
  type Json,
} from "../../src/testing/admission-cases.ts";
import { Admission, causesOf, expectCreateCase, expectUpdateCase, parserIssues } from "./admission.ts";
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

const target = { group: GROUP, version: VERSION, plural: PLURAL };

let ns = "";
let admission: Admission;

beforeAll(async () => {
  ns = await createNamespace("api");
  admission = new Admission(objects, { ...target, namespace: ns });
  await kubectl(["apply", "--server-side", "-f", join(repo, "crds")]);
  await kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    `crd/${CRD_NAME}`,
    `crd/${MODEL_CRD_NAME}`,
  ]);
});

// ------------------------------------------------------------------------------------------------

describe("the CRD", () => {
  it("installs, becomes Established and is served as modelendpoints / mep", async () => {
    const crd = await apiextensions.readCustomResourceDefinition({ name: CRD_NAME });
    const established = crd.status?.conditions?.find((c) => c.type === "Established");
    expect(established?.status).toBe("True");
    expect(crd.spec.names.shortNames).toEqual(["mep"]);
    expect(crd.spec.versions.map((v) => v.name)).toEqual([VERSION]);
    const resources = await kubectl(["api-resources", "--api-group", GROUP, "-o", "name"]);
    expect(resources.trim().split("\n").sort()).toEqual(
      [`${PLURAL}.${GROUP}`, `${MODEL_PLURAL}.${GROUP}`].sort(),
    );
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

  const kinds = (file: string) =>
    parseAllDocuments(readFileSync(join(examplesDir, file), "utf8")).map((d) => (d.toJS() as Json).kind);
  // The Model example is model-crd.test.ts's.
  const endpointFiles = files.filter((f) => kinds(f).every((k) => k === KIND));

  it("there are examples of a first deployment, a rolling deployment, a rollback, a split, a model, GPUs and autoscaling", () => {
    expect(files).toEqual([
      "01-first-deployment.yaml",
      "02-rolling-deployment.yaml",
      "03-rollback.yaml",
      "04-traffic-split.yaml",
      "05-model.yaml",
      "06-gpu-model.yaml",
      "07-autoscaled-model.yaml",
    ]);
    expect(endpointFiles).toEqual([...files.slice(0, 4), "06-gpu-model.yaml", "07-autoscaled-model.yaml"]);
    expect(kinds("05-model.yaml")).toEqual([MODEL_KIND]);
  });

  it.each(endpointFiles)("%s is accepted on its own (create) and by the parser", async (file) => {
    for (const doc of parseAllDocuments(readFileSync(join(examplesDir, file), "utf8"))) {
      const body = doc.toJS() as Json;
      expect(await admission.create(body)).toEqual([]);
      expect(parserIssues(validateCreate(body))).toEqual([]);
    }
  });

  it("`kubectl apply -f examples/` applies them in order (01 -> 02 -> 03 are updates)", async () => {
    const exNs = await createNamespace("api-examples");
    const out = await kubectl(["apply", "-n", exNs, "-f", examplesDir]);
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/fraud created");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/fraud configured");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/recommender created");
    expect(out).toContain("model.serving.modelendpoint.io/fraud-detector created");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/summarizer created");
    expect(out).toContain("modelendpoint.serving.modelendpoint.io/ranker created");
    const stored = JSON.parse(await kubectl(["get", "mep", "-n", exNs, "-o", "json"])) as {
      items: unknown[];
    };
    expect(stored.items).toHaveLength(4);
    for (const item of stored.items) expect(parserIssues(parseModelEndpoint(item))).toEqual([]);
  });
});

describe("admission refuses each invalid manifest, and the parser agrees", () => {
  it.each(INVALID_CREATES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    await expectCreateCase(admission, c, validateUpdate);
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
    await expectCreateCase(admission, c, validateUpdate);
  });
});

describe("updates: transition rules on the API server and in the parser", () => {
  it.each(UPDATES.map((c, i) => [c.name, c, i] as const))("%s", async (_, c, i) => {
    await expectUpdateCase(admission, c, `update-${i}`, validateUpdate);
  });
});

describe("status", () => {
  it("takes the status the operator writes, and `kubectl get mep` shows it in columns", async () => {
    const name = "status-columns";
    const created = toJson({ ...(VALID_CREATES[1]?.object ?? {}), metadata: { name } });
    expect(await admission.create(created, false)).toEqual([]);
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
      await admission.create(toJson({ ...(VALID_CREATES[0]?.object ?? {}), metadata: { name } }), false),
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
