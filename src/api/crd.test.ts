/**
 * The generated CRD: equal to the committed file, deterministic, structural, bounded everywhere
 * CEL looks, and carrying every rule of the schemas.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { parse } from "yaml";
import { describe, expect, it } from "vitest";

import { CRD_NAME, MAX_DEPLOYED_MODELS } from "./constants.ts";
import { buildCrd, CRD_FILE, PRINTER_COLUMNS, renderCrdYaml, toStructural, type JsonSchema } from "./crd.ts";
import { MACHINE_TYPE_NAMES } from "./machine-types.ts";
import { rootRules } from "./resource.ts";
import { SPEC_RULES } from "./spec.ts";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../..");

function openApiSchema(): JsonSchema {
  const crd = buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } };
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

function at(path: string): JsonSchema {
  const found = nodes(openApiSchema()).find((v) => v.path === path);
  if (found === undefined) throw new Error(`no schema node ${path}`);
  return found.node;
}

describe("the committed CRD", () => {
  it("is exactly what the schemas generate", () => {
    expect(readFileSync(join(repo, "crds", CRD_FILE), "utf8")).toBe(renderCrdYaml());
  });

  it("generation is deterministic", () => {
    expect(renderCrdYaml()).toBe(renderCrdYaml());
    expect(JSON.stringify(buildCrd())).toBe(JSON.stringify(parse(renderCrdYaml())));
  });
});

describe("scripts/gen-crds.ts", () => {
  const script = join(repo, "scripts", "gen-crds.ts");

  it("writes the CRD, then --check passes; after an edit --check fails and says what differs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crds-"));
    try {
      await run(process.execPath, [script, "--dir", dir]);
      const file = join(dir, CRD_FILE);
      expect(readFileSync(file, "utf8")).toBe(renderCrdYaml());
      const ok = await run(process.execPath, [script, "--check", "--dir", dir]);
      expect(ok.stdout).toContain("matches the schemas");

      writeFileSync(file, readFileSync(file, "utf8").replace("maxItems: 32", "maxItems: 33"));
      const failed = await run(process.execPath, [script, "--check", "--dir", dir]).then(
        () => undefined,
        (error: unknown) => error as { code: number; stderr: string },
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toContain("differs from the schemas in src/api");
      expect(failed?.stderr).toContain("+                   maxItems: 32");
      expect(failed?.stderr).toContain("make crds");

      rmSync(file);
      const missing = await run(process.execPath, [script, "--check", "--dir", dir]).then(
        () => undefined,
        (error: unknown) => error as { code: number; stderr: string },
      );
      expect(missing?.code).toBe(1);
      expect(missing?.stderr).toContain("is missing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
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

describe("the schema is structural", () => {
  const all = nodes(openApiSchema());

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

  it("every required field is a declared property", () => {
    for (const { path, node } of all) {
      const props = Object.keys((node.properties as Record<string, unknown> | undefined) ?? {});
      for (const name of (node.required as string[] | undefined) ?? []) expect(props, path).toContain(name);
    }
  });

  it("list-map keys are required fields of the items", () => {
    const maps = all.filter((v) => v.node["x-kubernetes-list-type"] === "map");
    expect(maps.map((v) => v.path)).toEqual([
      "spec.deployedModels",
      "status.conditions",
      "status.deployedModels",
    ]);
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
        if (node.type === "string") return node.maxLength === undefined && node.enum === undefined;
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

  it("carries every rule of the schemas, the create forms with optionalOldSelf", () => {
    const inCrd = nodes(openApiSchema()).flatMap(
      (v) =>
        (v.node["x-kubernetes-validations"] as { rule: string; optionalOldSelf?: boolean }[] | undefined) ??
        [],
    );
    const rules = [...rootRules, ...Object.values(SPEC_RULES).flat()];
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
    for (const { path, node } of nodes(openApiSchema())) {
      const validations = (node["x-kubernetes-validations"] as { rule: string }[] | undefined) ?? [];
      if (!validations.some((v) => v.rule.includes("oldSelf"))) continue;
      let prefix = path.indexOf("[]");
      while (prefix !== -1) {
        expect(at(path.slice(0, prefix))["x-kubernetes-list-type"], path).toBe("map");
        prefix = path.indexOf("[]", prefix + 2);
      }
    }
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
