/**
 * The generated CRD: equal to the committed file, deterministic, structural, bounded everywhere
 * CEL looks, and carrying every rule of the schemas.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { parse } from "yaml";
import { describe, expect, it } from "vitest";

import {
  CRD_NAME,
  MAX_DEPLOYED_MODELS,
  MAX_MODEL_VERSIONS,
  MAX_VERSION_ALIASES,
  MODEL_CRD_NAME,
} from "./constants.ts";
import {
  buildCrd,
  CRD_FILE,
  crdFile,
  CRDS,
  MODEL_CRD,
  MODEL_CRD_FILE,
  MODEL_ENDPOINT_CRD,
  MODEL_PRINTER_COLUMNS,
  PRINTER_COLUMNS,
  renderCrdYaml,
  toStructural,
  type CrdSource,
  type JsonSchema,
} from "./crd.ts";
import { MACHINE_TYPE_NAMES } from "./machine-types.ts";
import { MODEL_RULES } from "./model.ts";
import { rootRules } from "./resource.ts";
import type { Rule } from "./rule.ts";
import { SPEC_RULES } from "./spec.ts";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../..");

function openApiSchema(source: CrdSource = MODEL_ENDPOINT_CRD): JsonSchema {
  const crd = buildCrd(source) as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } };
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error("no version");
  return version.schema.openAPIV3Schema;
}

interface Visit {
  readonly path: string;
  readonly node: JsonSchema;
}

/** Every node of a schema, with its path (`spec.deployedModels[].id`). */
function nodes(schema: JsonSchema, path = ""): Visit[] {
  const out: Visit[] = [{ path, node: schema }];
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  for (const [name, child] of Object.entries(props ?? {}))
    out.push(...nodes(child, path ? `${path}.${name}` : name));
  if (schema.items !== undefined) out.push(...nodes(schema.items as JsonSchema, `${path}[]`));
  if (typeof schema.additionalProperties === "object") {
    out.push(...nodes(schema.additionalProperties as JsonSchema, `${path}{}`));
  }
  return out;
}

function at(path: string, source: CrdSource = MODEL_ENDPOINT_CRD): JsonSchema {
  const found = nodes(openApiSchema(source)).find((v) => v.path === path);
  if (found === undefined) throw new Error(`no schema node ${path}`);
  return found.node;
}

const bySource = CRDS.map((source) => [source.names.kind, source] as const);

describe.each(bySource)("the committed %s CRD", (_, source) => {
  it("is exactly what the schemas generate", () => {
    expect(readFileSync(join(repo, "crds", crdFile(source)), "utf8")).toBe(renderCrdYaml(source));
  });

  it("generation is deterministic", () => {
    expect(renderCrdYaml(source)).toBe(renderCrdYaml(source));
    expect(JSON.stringify(buildCrd(source))).toBe(JSON.stringify(parse(renderCrdYaml(source))));
  });
});

describe("the CRD files", () => {
  it("are one per kind, named <plural>.<group>.yaml; crds/ holds exactly them", () => {
    expect([CRD_FILE, MODEL_CRD_FILE]).toEqual([`${CRD_NAME}.yaml`, `${MODEL_CRD_NAME}.yaml`]);
    expect(CRDS.map(crdFile)).toEqual([CRD_FILE, MODEL_CRD_FILE]);
    expect(readdirSync(join(repo, "crds")).sort()).toEqual([CRD_FILE, MODEL_CRD_FILE].sort());
  });
});

describe("scripts/gen-crds.ts", () => {
  const script = join(repo, "scripts", "gen-crds.ts");

  const check = (dir: string) =>
    run(process.execPath, [script, "--check", "--dir", dir]).then(
      (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
      (error: unknown) => error as { code: number; stdout: string; stderr: string },
    );

  // Three runs of the script, each a Node.js process that loads the schemas: seconds on a busy machine.
  it(
    "writes every CRD, then --check passes; after an edit --check fails and says what differs",
    { timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "crds-"));
      try {
        await run(process.execPath, [script, "--dir", dir]);
        for (const source of CRDS) {
          expect(readFileSync(join(dir, crdFile(source)), "utf8")).toBe(renderCrdYaml(source));
        }
        const ok = await check(dir);
        expect(ok.code).toBe(0);
        expect(ok.stdout).toContain(`${CRD_FILE} matches the schemas`);
        expect(ok.stdout).toContain(`${MODEL_CRD_FILE} matches the schemas`);

        // One file edited, the other removed: one run names both.
        const file = join(dir, CRD_FILE);
        writeFileSync(file, readFileSync(file, "utf8").replace("maxItems: 32", "maxItems: 33"));
        rmSync(join(dir, MODEL_CRD_FILE));
        const failed = await check(dir);
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain(`${CRD_FILE} differs from the schemas in src/api`);
        expect(failed.stderr).toContain("+                   maxItems: 32");
        expect(failed.stderr).toContain(`${MODEL_CRD_FILE} is missing`);
        expect(failed.stderr).toContain("make crds");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("the CRD's shape", () => {
  const crd = buildCrd() as {
    metadata: { name: string };
    spec: { scope: string; names: { shortNames: string[] }; versions: { subresources: unknown }[] };
  };

  it("is namespaced, named, short-named mep, with a status subresource", () => {
    expect(crd.metadata.name).toBe(CRD_NAME);
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names.shortNames).toEqual(["mep"]);
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
  });

  it("has printer columns whose paths exist in the status schema", () => {
    const statusFields = Object.keys(at("status").properties as Record<string, unknown>);
    for (const column of PRINTER_COLUMNS) {
      const field = /^\.status\.([a-zA-Z]+)/.exec(column.jsonPath)?.[1];
      if (field !== undefined) expect(statusFields).toContain(field);
    }
    expect(PRINTER_COLUMNS.map((c) => c.name)).toEqual([
      "Revision",
      "State",
      "Replicas",
      "Traffic",
      "Ready",
      "Age",
      "Message",
    ]);
  });
});

describe("the Model CRD's shape", () => {
  const crd = buildCrd(MODEL_CRD) as {
    metadata: { name: string };
    spec: {
      scope: string;
      names: { kind: string; plural: string; shortNames: string[] };
      versions: { subresources: unknown; additionalPrinterColumns: unknown }[];
    };
  };

  it("is namespaced, named, short-named mdl, with a status subresource", () => {
    expect(crd.metadata.name).toBe(MODEL_CRD_NAME);
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({ kind: "Model", plural: "models", shortNames: ["mdl"] });
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
  });

  it("has printer columns whose paths exist in the spec schema", () => {
    expect(crd.spec.versions[0]?.additionalPrinterColumns).toEqual(MODEL_PRINTER_COLUMNS);
    expect(MODEL_PRINTER_COLUMNS.map((c) => c.name)).toEqual(["Display Name", "Newest", "Age"]);
    expect(at("spec.displayName", MODEL_CRD).type).toBe("string");
    expect(at("spec.versions[].id", MODEL_CRD).type).toBe("string");
  });
});

describe.each(bySource)("the %s schema is structural", (_, source) => {
  const all = nodes(openApiSchema(source));

  it("every node has a type", () => {
    expect(all.filter((v) => typeof v.node.type !== "string").map((v) => v.path)).toEqual([]);
  });

  it("no node uses what a structural schema forbids", () => {
    const forbidden = ["anyOf", "oneOf", "allOf", "not", "$ref", "$schema", "const", "propertyNames"];
    const bad = all.flatMap((v) => forbidden.filter((k) => k in v.node).map((k) => `${v.path}: ${k}`));
    expect(bad).toEqual([]);
  });

  it("no node mixes properties and additionalProperties", () => {
    const mixed = all.filter(
      (v) => v.node.properties !== undefined && v.node.additionalProperties !== undefined,
    );
    expect(mixed.map((v) => v.path)).toEqual([]);
  });

  it("properties and items appear only on objects and arrays", () => {
    for (const { path, node } of all) {
      if (node.properties !== undefined || node.additionalProperties !== undefined) {
        expect(node.type, path).toBe("object");
      }
      if (node.items !== undefined) expect(node.type, path).toBe("array");
    }
  });

  it("rules sit on the spec and the root only: the status, which the operator alone writes, has none", () => {
    const ruled = (prefix: string) =>
      all.filter((v) => v.path.startsWith(prefix) && v.node["x-kubernetes-validations"] !== undefined);
    expect(ruled("status").map((v) => v.path)).toEqual([]);
    expect(ruled("spec").length).toBeGreaterThan(0);
  });

  it("every required field is a declared property", () => {
    for (const { path, node } of all) {
      const props = Object.keys((node.properties as Record<string, unknown> | undefined) ?? {});
      for (const name of (node.required as string[] | undefined) ?? []) expect(props, path).toContain(name);
    }
  });

  it("list-map keys are required fields of the items", () => {
    const maps = all.filter((v) => v.node["x-kubernetes-list-type"] === "map");
    expect(maps.map((v) => v.path)).toEqual(
      source === MODEL_CRD
        ? ["spec.versions", "status.conditions"]
        : ["spec.deployedModels", "status.conditions", "status.deployedModels"],
    );
    for (const { path, node } of maps) {
      const items = node.items as JsonSchema;
      for (const key of node["x-kubernetes-list-map-keys"] as string[]) {
        expect(items.required as string[], path).toContain(key);
      }
    }
  });

  it("every list, string and map under spec is bounded (CEL cost estimation)", () => {
    const unbounded = all
      .filter((v) => v.path.startsWith("spec"))
      .filter(({ node }) => {
        if (node.type === "array") return node.maxItems === undefined;
        // A date-time is a timestamp to CEL, of fixed size.
        if (node.type === "string")
          return node.maxLength === undefined && node.enum === undefined && node.format !== "date-time";
        if (node.type === "object" && node.additionalProperties !== undefined)
          return node.maxProperties === undefined;
        return false;
      })
      .map((v) => v.path);
    expect(unbounded).toEqual([]);
  });

  it("every list under status is bounded", () => {
    const unbounded = all.filter(
      (v) => v.path.startsWith("status") && v.node.type === "array" && v.node.maxItems === undefined,
    );
    expect(unbounded.map((v) => v.path)).toEqual([]);
  });
});

describe("the schema's content", () => {
  it("applies the documented defaults", () => {
    expect(at("spec.trafficSplit").default).toEqual({});
    expect(at("spec.deployedModels").default).toEqual([]);
    expect(at("spec.deployedModels[].rolloutOptions.progressDeadlineSeconds").default).toBe(600);
  });

  it("bounds the lists the rules iterate", () => {
    expect(at("spec.deployedModels").maxItems).toBe(MAX_DEPLOYED_MODELS);
    expect(at("spec.trafficSplit").maxProperties).toBe(MAX_DEPLOYED_MODELS);
    expect(at("spec.deployedModels[].id").maxLength).toBe(22);
  });

  it("writes integer formats and ranges as Kubernetes expects", () => {
    expect(at("spec.deployedModels[].dedicatedResources.minReplicaCount")).toMatchObject({
      type: "integer",
      format: "int32",
      minimum: 1,
    });
    expect(at("spec.trafficSplit{}")).toEqual({ type: "integer", minimum: 0, maximum: 100 });
    expect(at("status.observedGeneration")).toMatchObject({ type: "integer", format: "int64", minimum: 0 });
    expect(at("status.conditions[].lastTransitionTime")).toEqual({
      description: "When status last changed.",
      type: "string",
      format: "date-time",
    });
  });

  it("offers exactly the machine types of the table", () => {
    expect(at("spec.deployedModels[].dedicatedResources.machineSpec.machineType").enum).toEqual(
      MACHINE_TYPE_NAMES,
    );
  });
});

describe.each([
  ["ModelEndpoint", MODEL_ENDPOINT_CRD, [...rootRules, ...Object.values(SPEC_RULES).flat()]],
  ["Model", MODEL_CRD, Object.values(MODEL_RULES).flat()],
] as [string, CrdSource, Rule<never>[]][])("the %s CRD's rules", (_, source, rules) => {
  it("the CRD carries every rule of the schemas, the create forms with optionalOldSelf", () => {
    const inCrd = nodes(openApiSchema(source)).flatMap(
      (v) =>
        (v.node["x-kubernetes-validations"] as { rule: string; optionalOldSelf?: boolean }[] | undefined) ??
        [],
    );
    for (const rule of rules) {
      expect(inCrd.map((v) => v.rule)).toContain(rule.rule);
      if (rule.kind === "transition" && rule.onCreate !== undefined) {
        expect(inCrd).toContainEqual(
          expect.objectContaining({ rule: rule.onCreate.rule, optionalOldSelf: true }),
        );
      }
    }
  });

  it("transition rules sit only where the API server can correlate old and new (list-maps above)", () => {
    const withOldSelf = nodes(openApiSchema(source)).filter(({ node }) =>
      ((node["x-kubernetes-validations"] as { rule: string }[] | undefined) ?? []).some((v) =>
        v.rule.includes("oldSelf"),
      ),
    );
    expect(withOldSelf.length).toBeGreaterThan(0);
    for (const { path } of withOldSelf) {
      let prefix = path.indexOf("[]");
      while (prefix !== -1) {
        expect(at(path.slice(0, prefix), source)["x-kubernetes-list-type"], path).toBe("map");
        prefix = path.indexOf("[]", prefix + 2);
      }
    }
  });
});

describe("the Model schema's content", () => {
  it("bounds the lists the rules iterate, and requires a version", () => {
    expect(at("spec.versions", MODEL_CRD)).toMatchObject({ minItems: 1, maxItems: MAX_MODEL_VERSIONS });
    expect(at("spec.versions[].aliases", MODEL_CRD)).toMatchObject({
      maxItems: MAX_VERSION_ALIASES,
      "x-kubernetes-list-type": "set",
    });
    expect(at("spec.versions[].aliases[]", MODEL_CRD).maxLength).toBe(128);
    expect(at("spec.versions[].id", MODEL_CRD).maxLength).toBe(10);
    expect(at("spec.labels", MODEL_CRD).maxProperties).toBe(64);
    expect(at("spec.labels{}", MODEL_CRD).maxLength).toBe(63);
  });

  it("requires displayName and versions, and a version's id and containerSpec", () => {
    expect(at("spec", MODEL_CRD).required).toEqual(["displayName", "versions"]);
    expect(at("spec.displayName", MODEL_CRD)).toMatchObject({ minLength: 1, maxLength: 128 });
    expect(at("spec.versions[]", MODEL_CRD).required).toEqual(["id", "containerSpec"]);
  });

  it("a version's containerSpec is ModelEndpoint's, node for node", () => {
    expect(at("spec.versions[].containerSpec", MODEL_CRD)).toMatchObject({
      properties: at("spec.deployedModels[].containerSpec").properties as object,
      required: at("spec.deployedModels[].containerSpec").required as string[],
    });
  });

  it("writes createTime as a date-time and the status as conditions", () => {
    expect(at("spec.versions[].createTime", MODEL_CRD)).toMatchObject({
      type: "string",
      format: "date-time",
    });
    expect(Object.keys(at("status", MODEL_CRD).properties as object)).toEqual([
      "observedGeneration",
      "conditions",
    ]);
  });
});

describe("toStructural", () => {
  it("refuses unions, references and constants", () => {
    expect(() => toStructural({ anyOf: [{ type: "string" }, { type: "integer" }] })).toThrow(/anyOf/);
    expect(() => toStructural({ $ref: "#/x", type: "object" })).toThrow(/\$ref/);
    expect(() => toStructural({ type: "string", const: "x" })).toThrow(/const/);
  });

  it("refuses a node without a type, and properties with additionalProperties", () => {
    expect(() => toStructural({ type: "object", properties: { a: { description: "untyped" } } })).toThrow(
      /<root>\.a: no type/,
    );
    expect(() =>
      toStructural({
        type: "object",
        properties: { a: { type: "string" } },
        additionalProperties: { type: "string" },
      }),
    ).toThrow(/both properties and additionalProperties/);
  });

  it("drops zod's bounds and patterns in favour of Kubernetes formats, and orders keys", () => {
    expect(
      toStructural({
        maximum: 2147483647,
        minimum: -2147483648,
        type: "integer",
      }),
    ).toEqual({ type: "integer", format: "int32" });
    expect(toStructural({ type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toEqual({
      type: "integer",
      format: "int64",
      minimum: 0,
    });
    expect(toStructural({ pattern: "^\\d{4}-.*$", type: "string", format: "date-time" })).toEqual({
      type: "string",
      format: "date-time",
    });
    expect(
      Object.keys(
        toStructural({
          required: ["a"],
          properties: { a: { type: "string" } },
          type: "object",
          description: "d",
          $schema: "x",
          additionalProperties: false,
        }),
      ),
    ).toEqual(["description", "type", "properties", "required"]);
  });
});
