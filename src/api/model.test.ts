/**
 * The Model API: the parser against the Model admission table (every rule refused where the API
 * server refuses it, with the same paths and messages), the parsed shape, the version resolver, and
 * properties over generated valid models.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";

import { casesMissingFrom, compareIssues, parserUpdateProblems, toJson } from "../testing/admission-cases.ts";
import {
  MODEL_INVALID_CREATES,
  MODEL_UPDATES,
  MODEL_VALID_CREATES,
} from "../testing/model-admission-cases.ts";
import { API_VERSION, MAX_MODEL_VERSIONS, MODEL_KIND } from "./constants.ts";
import {
  compareVersionIds,
  defaultModelVersion,
  MODEL_RULES,
  nextModelVersionId,
  parseModel,
  resolveModelVersion,
  RULES_NOT_CHECKED,
  validateModelUpdate,
  type Model,
  type ModelVersion,
  type ModelVersionResult,
  type ParseResult,
} from "./index.ts";

function issuesOf(result: ParseResult<unknown>) {
  return result.ok ? [] : result.issues;
}

function mustParse(obj: unknown): Model {
  const result = parseModel(obj);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

// ------------------------------------------------------------------------------------------------
// The admission table

describe("the parser refuses what admission refuses", () => {
  it.each(MODEL_INVALID_CREATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const result = parseModel(toJson(c.object));
    expect(result.ok).toBe(false);
    expect(compareIssues(issuesOf(result), c.expect)).toEqual([]);
  });
});

describe("the parser accepts what admission accepts", () => {
  it.each(MODEL_VALID_CREATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expect(issuesOf(parseModel(toJson(c.object)))).toEqual([]);
  });
});

describe("the parser judges updates as admission does", () => {
  it.each(MODEL_UPDATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expect(parserUpdateProblems(c, validateModelUpdate)).toEqual([]);
  });
});

describe("the table", () => {
  it("refuses something by every rule of the Model", () => {
    const failed = new Set<string>();
    for (const c of MODEL_INVALID_CREATES) {
      for (const i of issuesOf(parseModel(toJson(c.object)))) if (i.rule !== undefined) failed.add(i.rule);
    }
    for (const c of MODEL_UPDATES) {
      const before = toJson(c.before[c.before.length - 1] ?? {});
      for (const i of issuesOf(validateModelUpdate(before, toJson(c.after)))) {
        if (i.rule !== undefined) failed.add(i.rule);
      }
    }
    const rules = [
      ...Object.values(MODEL_RULES)
        .flat()
        .map((r) => r.name),
      "labels.valueFormat",
      "modelVersion.idFormat",
      "modelVersion.aliasFormat",
    ];
    expect(rules.filter((r) => !failed.has(r))).toEqual([]);
  });

  it("docs/api.md lists every case with its messages", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/api.md"), "utf8");
    expect(casesMissingFrom(doc, [...MODEL_INVALID_CREATES, ...MODEL_UPDATES])).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
// The parsed object

const container = (tag: string) => ({ imageUri: `registry.example/fraud:${tag}` });

function modelOf(versions: { id: string; aliases?: string[] }[], name = "fraud-detector") {
  return {
    apiVersion: API_VERSION,
    kind: MODEL_KIND,
    metadata: { name },
    spec: {
      displayName: "Fraud detector",
      versions: versions.map((v) => ({ ...v, containerSpec: container(`${v.id}.0`) })),
    },
  };
}

describe("parseModel", () => {
  it("is a discriminated union over the inferred types", () => {
    const result = parseModel(modelOf([{ id: "1" }]));
    expectTypeOf(result).toEqualTypeOf<ParseResult<Model>>();
    if (result.ok) expectTypeOf(result.value.spec.versions).toEqualTypeOf<ModelVersion[]>();
    expectTypeOf<ModelVersion["aliases"]>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<ModelVersion["containerSpec"]["imageUri"]>().toEqualTypeOf<string>();
  });

  it("keeps metadata and status, and drops unknown fields as the API server prunes them", () => {
    const stored = {
      ...modelOf([{ id: "1" }]),
      metadata: { name: "fraud-detector", namespace: "ml", generation: 2, creationTimestamp: "x" },
      status: {
        observedGeneration: 2,
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "Ok",
            message: "",
            lastTransitionTime: "2026-11-27T10:00:00Z",
          },
        ],
      },
    };
    const value = mustParse({ ...stored, spec: { ...stored.spec, artifactUri: "gs://x" } });
    expect(value.metadata).toEqual(stored.metadata);
    expect(value.status).toEqual(stored.status);
    expect(value.spec).not.toHaveProperty("artifactUri");
  });

  it("refuses what is not a Model, with paths", () => {
    expect(parseModel(null)).toEqual({
      ok: false,
      issues: [
        { path: "", message: "must be of type object" },
        { path: "", message: RULES_NOT_CHECKED },
      ],
    });
    const result = parseModel({ ...modelOf([{ id: "1" }]), kind: "ModelEndpoint" });
    expect(!result.ok && result.issues[0]).toEqual({ path: "kind", message: 'supported values: "Model"' });
  });

  it("names the rule that failed, at the path the API server names", () => {
    expect(parseModel(modelOf([{ id: "2" }, { id: "1" }]))).toEqual({
      ok: false,
      issues: [
        {
          path: "spec.versions",
          message: "version 1 is listed after version 2: versions must be listed in ascending order of id",
          rule: "versions.ascending",
        },
      ],
    });
  });

  it("validateModelUpdate from an object that does not parse validates the new object alone", () => {
    const next = modelOf([{ id: "1" }]);
    expect(validateModelUpdate({ kind: "Nonsense" }, next)).toEqual(parseModel(next));
    expect(validateModelUpdate(undefined, next)).toEqual(parseModel(next));
  });
});

// ------------------------------------------------------------------------------------------------
// The resolver

describe("compareVersionIds", () => {
  it.each([
    ["1", "2", -1],
    ["2", "1", 1],
    ["9", "10", -1],
    ["10", "9", 1],
    ["100", "99", 1],
    ["12", "12", 0],
    ["19", "21", -1],
  ] as const)("%s vs %s", (a, b, sign) => {
    expect(Math.sign(compareVersionIds(a, b))).toBe(sign);
  });
});

describe("resolveModelVersion", () => {
  const model = mustParse(
    modelOf([
      { id: "1", aliases: ["stable"] },
      { id: "2" },
      { id: "10", aliases: ["candidate", "goldenV2"] },
    ]),
  );
  const pinned = mustParse(
    modelOf([
      { id: "1", aliases: ["default"] },
      { id: "2", aliases: ["golden"] },
    ]),
  );

  const idOf = (result: ModelVersionResult) => (result.ok ? result.version.id : result.error.reason);

  it.each([
    ["", "10"],
    ["default", "10"],
    ["1", "1"],
    ["2", "2"],
    ["10", "10"],
    ["stable", "1"],
    ["candidate", "10"],
    ["goldenV2", "10"],
  ])("%j names version %s (the default: the highest id, 10 above 2)", (ref, id) => {
    expect(idOf(resolveModelVersion(model, ref))).toBe(id);
  });

  it.each([
    ["", "1"],
    ["default", "1"],
    ["golden", "2"],
    ["2", "2"],
  ])("with the alias default on version 1, %j names version %s", (ref, id) => {
    expect(idOf(resolveModelVersion(pinned, ref))).toBe(id);
  });

  it("a version id the model does not have", () => {
    expect(resolveModelVersion(model, "3")).toEqual({
      ok: false,
      error: {
        reason: "VersionNotFound",
        model: "fraud-detector",
        ref: "3",
        message: "model fraud-detector has no version 3",
      },
    });
  });

  it("an alias no version has", () => {
    expect(resolveModelVersion(model, "golden")).toEqual({
      ok: false,
      error: {
        reason: "AliasNotFound",
        model: "fraud-detector",
        ref: "golden",
        message: "model fraud-detector has no version with the alias golden",
      },
    });
  });

  it.each(["0", "01", "-1", "1.0", "Golden", "g", "golden-", "gold_en", "2nd", " 1", "stable "])(
    "%j is neither an id nor an alias",
    (ref) => {
      const result = resolveModelVersion(model, ref);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toMatchObject({ reason: "InvalidReference", ref });
      expect(!result.ok && result.error.message).toContain(
        "is neither a version id (1, 2, 3, ...) nor a version alias",
      );
    },
  );

  it("a model without versions (not valid, but typed) has no default", () => {
    const empty: Model = { ...model, spec: { ...model.spec, versions: [] } };
    expect(defaultModelVersion(empty)).toBeUndefined();
    expect(resolveModelVersion(empty, "")).toMatchObject({
      ok: false,
      error: { reason: "VersionNotFound", message: "model fraud-detector has no versions" },
    });
    expect(nextModelVersionId(empty)).toBe("1");
  });
});

describe("nextModelVersionId", () => {
  it.each([
    [["1"], "2"],
    [["1", "2"], "3"],
    [["9"], "10"],
    [["2", "5", "17"], "18"],
    [["9999999999"], "10000000000"],
  ])("after %j comes %s", (ids, next) => {
    expect(nextModelVersionId(mustParse(modelOf(ids.map((id) => ({ id })))))).toBe(next);
  });
});

// ------------------------------------------------------------------------------------------------
// Properties over generated valid models: ascending ids with gaps, aliases unique across versions.

const aliasArb = fc.stringMatching(/^[a-z][a-zA-Z0-9-]{0,10}[a-z0-9]$/);

const modelArb = fc
  .record({
    gaps: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 12 }),
    aliases: fc.uniqueArray(aliasArb, { maxLength: 10 }),
    owners: fc.array(fc.nat(), { maxLength: 10 }),
    pinDefault: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ gaps, aliases, owners, pinDefault }) => {
    let id = 0;
    const ids = gaps.map((g) => String((id += g)));
    const versions = ids.map((vid) => ({ id: vid, aliases: [] as string[], containerSpec: container(vid) }));
    // "default" only when the case pins it, on the version `pinDefault` picks.
    const named = aliases.filter((a) => a !== "default");
    named.forEach((a, i) => versions[(owners[i] ?? 0) % versions.length]?.aliases.push(a));
    if (pinDefault !== undefined) versions[pinDefault % versions.length]?.aliases.push("default");
    return {
      apiVersion: API_VERSION,
      kind: MODEL_KIND,
      metadata: { name: "m" },
      spec: {
        displayName: "M",
        versions: versions.map((v) => (v.aliases.length === 0 ? { ...v, aliases: undefined } : v)),
      },
    };
  });

describe("properties", () => {
  it("a generated model is valid, round-trips, and an unchanged update is allowed", () => {
    fc.assert(
      fc.property(modelArb, (obj) => {
        const json = toJson(obj);
        expect(issuesOf(parseModel(json))).toEqual([]);
        const value = mustParse(json);
        expect(mustParse(JSON.parse(JSON.stringify(value)))).toEqual(value);
        expect(issuesOf(validateModelUpdate(json, structuredClone(json)))).toEqual([]);
      }),
    );
  });

  it("every id and every alias resolves to its version; the default is the pinned or the newest", () => {
    fc.assert(
      fc.property(modelArb, (obj) => {
        const model = mustParse(toJson(obj));
        for (const v of model.spec.versions) {
          expect(resolveModelVersion(model, v.id)).toEqual({ ok: true, version: v });
          for (const a of v.aliases ?? [])
            expect(resolveModelVersion(model, a)).toEqual({ ok: true, version: v });
        }
        const pinned = model.spec.versions.find((v) => v.aliases?.includes("default"));
        const last = model.spec.versions[model.spec.versions.length - 1];
        expect(resolveModelVersion(model, "")).toEqual({ ok: true, version: pinned ?? last });
      }),
    );
  });

  it("appending a version with the next id is allowed; one below the newest is refused", () => {
    fc.assert(
      fc.property(
        modelArb.filter((o) => o.spec.versions.length < MAX_MODEL_VERSIONS),
        (obj) => {
          const model = mustParse(toJson(obj));
          const next = nextModelVersionId(model);
          const appended = toJson({
            ...obj,
            spec: {
              ...obj.spec,
              versions: [...obj.spec.versions, { id: next, containerSpec: container("new") }],
            },
          });
          expect(issuesOf(validateModelUpdate(toJson(obj), appended))).toEqual([]);
          const newest = Number(next) - 1;
          const missing = Array.from({ length: newest - 1 }, (_, i) => String(i + 1)).find(
            (id) => !model.spec.versions.some((v) => v.id === id),
          );
          if (missing === undefined) return;
          const inserted = [...obj.spec.versions, { id: missing, containerSpec: container("old") }].sort(
            (a, b) => compareVersionIds(a.id, b.id),
          );
          const result = validateModelUpdate(
            toJson(obj),
            toJson({ ...obj, spec: { ...obj.spec, versions: inserted } }),
          );
          expect(issuesOf(result).map((i) => i.rule)).toEqual(["versions.addedAbove"]);
        },
      ),
    );
  });

  it("changing any version's image is refused, at that version", () => {
    fc.assert(
      fc.property(modelArb, fc.nat(), (obj, n) => {
        const i = n % obj.spec.versions.length;
        const after = structuredClone(obj);
        const target = after.spec.versions[i];
        if (target === undefined) return;
        target.containerSpec.imageUri += "-changed";
        const result = validateModelUpdate(toJson(obj), toJson(after));
        expect(issuesOf(result).map((x) => x.path)).toEqual([`spec.versions[${i}].containerSpec`]);
      }),
    );
  });
});
