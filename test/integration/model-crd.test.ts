/**
 * The Model CRD on the suite's real API server: it installs and is served as models / mdl, every
 * manifest of the Model admission table (src/testing/model-admission-cases.ts) gets the expected
 * answer with the exact message, the operator's parser gives the same answer, and a kubectl user
 * who applies the example sees its columns, cannot change an existing version's container, and can
 * append a version.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { ApiextensionsV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";

import {
  GROUP,
  MODEL_CRD_NAME,
  MODEL_PLURAL,
  VERSION,
  parseModel,
  resolveModelVersion,
  validateModelUpdate,
} from "../../src/api/index.ts";
import type { Json } from "../../src/testing/admission-cases.ts";
import {
  MODEL_INVALID_CREATES,
  MODEL_MESSAGES,
  MODEL_UPDATES,
  MODEL_VALID_CREATES,
} from "../../src/testing/model-admission-cases.ts";
import { Admission, expectCreateCase, expectUpdateCase } from "./admission.ts";
import { createNamespace, kubeConfig } from "./context.ts";
import { kubectl } from "./endpoints.ts";

const repo = resolve(import.meta.dirname, "../..");
const example = join(repo, "examples", "05-model.yaml");

const kc = kubeConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const target = { group: GROUP, version: VERSION, plural: MODEL_PLURAL };

let ns = "";
let admission: Admission;

beforeAll(async () => {
  ns = await createNamespace("model-crd");
  admission = new Admission(objects, { ...target, namespace: ns });
  await kubectl(["apply", "--server-side", "-f", join(repo, "crds")]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", `crd/${MODEL_CRD_NAME}`]);
});

describe("the Model CRD", () => {
  it("is Established and served as models / mdl, namespaced", async () => {
    const crd = await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: MODEL_CRD_NAME });
    expect(crd.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({ kind: "Model", plural: "models", shortNames: ["mdl"] });
    const resources = await kubectl(["api-resources", "--api-group", GROUP, "--namespaced", "-o", "wide"]);
    expect(resources).toMatch(/^models\s+mdl\s+serving\.modelendpoint\.io\/v1alpha1\s+true\s+Model\s/m);
  });
});

describe("admission refuses each invalid Model, with the exact message, and the parser agrees", () => {
  it.each(MODEL_INVALID_CREATES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    await expectCreateCase(admission, c, validateModelUpdate);
  });
});

describe("admission accepts each valid Model, and the parser agrees", () => {
  it.each(MODEL_VALID_CREATES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    await expectCreateCase(admission, c, validateModelUpdate);
  });
});

describe("updates: the transition rules on the API server and in the parser", () => {
  it.each(MODEL_UPDATES.map((c, i) => [c.name, c, i] as const))("%s", async (_, c, i) => {
    await expectUpdateCase(admission, c, `update-${i}`, validateModelUpdate);
  });
});

describe("what a kubectl user sees", () => {
  interface ExampleVersion extends Json {
    id: string;
    containerSpec: Json & { imageUri: string };
  }
  const manifest = () =>
    parse(readFileSync(example, "utf8")) as Json & { spec: { versions: ExampleVersion[] } };
  const apply = (m: Json) => kubectl(["apply", "-n", ns, "-f", "-"], stringify(m));
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => "",
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );

  it("applies the example, shows its columns, refuses a changed container, appends a version", async () => {
    expect(await kubectl(["apply", "-n", ns, "-f", example])).toContain(
      "model.serving.modelendpoint.io/fraud-detector created",
    );
    const table = (await kubectl(["get", "mdl", "fraud-detector", "-n", ns])).trim().split("\n");
    expect(table[0]).toMatch(/^NAME\s+DISPLAY NAME\s+NEWEST\s+AGE$/);
    expect(table[1]).toMatch(/^fraud-detector\s+Fraud detector\s+2\s+\S+$/);

    // Version 2's image changed in place: refused, and the stored object keeps the old one.
    const changed = manifest();
    const v2 = changed.spec.versions[1];
    if (v2 === undefined) throw new Error("the example has no version 2");
    v2.containerSpec.imageUri = "registry.example/fraud:2.1";
    expect(await failure(apply(changed))).toContain(
      `spec.versions[1].containerSpec: Invalid value: ${MODEL_MESSAGES.containerSpecImmutable}`,
    );
    const stored = parseModel(
      JSON.parse(await kubectl(["get", "mdl", "fraud-detector", "-n", ns, "-o", "json"])),
    );
    expect(stored.ok && stored.value.spec.versions[1]?.containerSpec.imageUri).toBe(
      "registry.example/fraud:2.0",
    );

    // The same image as version 3, appended, with the alias moved to it: accepted.
    const appended = manifest();
    const [, second] = appended.spec.versions;
    if (second === undefined) throw new Error("the example has no version 2");
    delete second.aliases;
    appended.spec.versions.push({ ...v2, id: "3", aliases: ["golden"], createTime: "2026-12-02T09:00:00Z" });
    expect(await apply(appended)).toContain("model.serving.modelendpoint.io/fraud-detector configured");
    expect(
      await kubectl(["get", "mdl", "fraud-detector", "-n", ns, "-o", "jsonpath={.spec.versions[-1:].id}"]),
    ).toBe("3");

    // What the Vertex AI API server does with it: models/fraud-detector@golden is version 3.
    const model = parseModel(
      JSON.parse(await kubectl(["get", "mdl", "fraud-detector", "-n", ns, "-o", "json"])),
    );
    if (!model.ok) throw new Error(JSON.stringify(model.issues));
    const golden = resolveModelVersion(model.value, "golden");
    expect(golden.ok && golden.version.containerSpec.imageUri).toBe("registry.example/fraud:2.1");
    expect(resolveModelVersion(model.value, "")).toEqual(golden);
    expect(resolveModelVersion(model.value, "2")).toMatchObject({ ok: true, version: { id: "2" } });
  });
});
