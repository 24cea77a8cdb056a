/**
 * The schemas and the parser: round trips, defaults, what a parsed object looks like to the
 * operator, the discriminated result, and properties over generated valid endpoints.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { describe, expect, expectTypeOf, it } from "vitest";

import { API_VERSION, KIND, MAX_DEPLOYED_MODEL_ID_LENGTH, MODEL_KIND } from "./constants.ts";
import {
  findRolloutCycles,
  formatPath,
  parseModel,
  parseModelEndpoint,
  RULES_NOT_CHECKED,
  validateCreate,
  validateUpdate,
  type DeployedModel,
  type ModelEndpoint,
  type ParseResult,
  type RolloutOptions,
} from "./index.ts";

const examples = resolve(import.meta.dirname, "../../examples");

function exampleObjects(): { file: string; object: unknown }[] {
  return readdirSync(examples)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(examples, file), "utf8")).map((d) => ({
        file,
        object: d.toJS() as unknown,
      })),
    );
}

function mustParse(obj: unknown): ModelEndpoint {
  const result = parseModelEndpoint(obj);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

const minimal = {
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { name: "fraud" },
  spec: {
    deployedModels: [
      {
        id: "m1",
        model: "fraud-detector@1",
        containerSpec: { imageUri: "registry.example/fraud:1.0" },
        dedicatedResources: { minReplicaCount: 1 },
      },
      {
        id: "m2",
        model: "fraud-detector@2",
        containerSpec: { imageUri: "registry.example/fraud:2.0" },
        rolloutOptions: { previousDeployedModel: "m1" },
      },
    ],
  },
};

describe("round trips", () => {
  it("the examples are ModelEndpoints, and one Model", () => {
    expect(exampleObjects().map((e) => [e.file, (e.object as { kind: string }).kind])).toEqual([
      ["01-first-deployment.yaml", KIND],
      ["02-rolling-deployment.yaml", KIND],
      ["03-rollback.yaml", KIND],
      ["04-traffic-split.yaml", KIND],
      ["05-model.yaml", MODEL_KIND],
      ["06-gpu-model.yaml", KIND],
      ["07-autoscaled-model.yaml", KIND],
    ]);
  });

  it.each(exampleObjects().map((e) => [e.file, e.object] as const))(
    "%s parses, and its JSON parses to the same",
    (_, obj) => {
      const parse = (o: unknown): unknown => {
        if ((obj as { kind: string }).kind !== MODEL_KIND) return mustParse(o);
        const result = parseModel(o);
        if (!result.ok) throw new Error(JSON.stringify(result.issues));
        return result.value;
      };
      const once = parse(obj);
      const twice = parse(JSON.parse(JSON.stringify(once)));
      expect(twice).toEqual(once);
    },
  );

  it("keeps what Kubernetes adds to metadata and the status the operator wrote", () => {
    const stored = {
      ...minimal,
      metadata: {
        name: "fraud",
        namespace: "ml",
        uid: "8d5c",
        generation: 3,
        resourceVersion: "42",
        creationTimestamp: "2026-11-27T10:00:00Z",
        managedFields: [{ manager: "kubectl" }],
        finalizers: ["x"],
      },
      status: {
        observedGeneration: 3,
        deployedModels: [{ id: "m1", revisionNumber: 1, state: "DEPLOYED", replicas: 1, readyReplicas: 1 }],
        trafficSplit: { m1: 100 },
      },
    };
    const value = mustParse(stored);
    expect(value.metadata).toEqual(stored.metadata);
    expect(value.status).toEqual(stored.status);
  });

  it("drops fields the schema does not know, as the API server prunes them", () => {
    const value = mustParse({ ...minimal, spec: { ...minimal.spec, unknownField: 1 } });
    expect(value.spec).not.toHaveProperty("unknownField");
  });
});

describe("defaults", () => {
  it("fills trafficSplit, deployedModels and progressDeadlineSeconds as the CRD does", () => {
    const value = mustParse(minimal);
    expect(value.spec.trafficSplit).toEqual({});
    expect(value.spec.deployedModels[1]?.rolloutOptions?.progressDeadlineSeconds).toBe(600);
    expect(mustParse({ ...minimal, spec: {} }).spec.deployedModels).toEqual([]);
  });

  it("leaves budgets, ports, routes and logging flags unset: the operator resolves them", () => {
    const m2 = mustParse(minimal).spec.deployedModels[1];
    expect(m2?.rolloutOptions).toEqual({ previousDeployedModel: "m1", progressDeadlineSeconds: 600 });
    expect(m2?.containerSpec).toEqual({ imageUri: "registry.example/fraud:2.0" });
    expect(m2).not.toHaveProperty("disableContainerLogging");
  });
});

describe("the result", () => {
  it("is a discriminated union", () => {
    const result = parseModelEndpoint(minimal);
    expectTypeOf(result).toEqualTypeOf<ParseResult<ModelEndpoint>>();
    if (result.ok) {
      expectTypeOf(result.value.spec.deployedModels).toEqualTypeOf<DeployedModel[]>();
      expectTypeOf(result.value.spec.trafficSplit).toEqualTypeOf<Record<string, number>>();
    } else {
      expectTypeOf(result.issues[0]?.path).toEqualTypeOf<string | undefined>();
    }
    expectTypeOf<RolloutOptions["progressDeadlineSeconds"]>().toEqualTypeOf<number>();
    expectTypeOf<RolloutOptions["maxSurgeReplicas"]>().toEqualTypeOf<number | undefined>();
  });

  it("refuses what is not a ModelEndpoint, with paths", () => {
    expect(parseModelEndpoint(null)).toEqual({
      ok: false,
      issues: [
        { path: "", message: "must be of type object" },
        { path: "", message: RULES_NOT_CHECKED },
      ],
    });
    const wrongKind = parseModelEndpoint({ ...minimal, kind: "Deployment" });
    expect(wrongKind.ok).toBe(false);
    expect(!wrongKind.ok && wrongKind.issues[0]).toEqual({
      path: "kind",
      message: 'supported values: "ModelEndpoint"',
    });
  });

  it("names the rule that failed", () => {
    const result = parseModelEndpoint({ ...minimal, spec: { ...minimal.spec, trafficSplit: { m1: 10 } } });
    expect(result).toEqual({
      ok: false,
      issues: [
        {
          path: "spec.trafficSplit",
          message: "trafficSplit percentages must sum to 100, or trafficSplit must be empty (no traffic)",
          rule: "spec.trafficSplitSum",
        },
      ],
    });
  });

  it("formats paths as the API server does", () => {
    expect(formatPath(["spec", "deployedModels", 3, "rolloutOptions", "maxSurgeReplicas"])).toBe(
      "spec.deployedModels[3].rolloutOptions.maxSurgeReplicas",
    );
    expect(formatPath(["spec", "trafficSplit", "m1"])).toBe("spec.trafficSplit.m1");
    expect(
      formatPath(["spec", "deployedModels", 0, "containerSpec", "resources", "limits", "cpu"], true),
    ).toBe("spec.deployedModels[0].containerSpec.resources.limits[cpu]");
    expect(formatPath([])).toBe("");
  });
});

describe("parseModelEndpoint and validateUpdate", () => {
  it("parse ignores the rules judged when an entry is added: a removed previous model is fine later", () => {
    const later = { ...minimal, spec: { deployedModels: [minimal.spec.deployedModels[1]] } };
    expect(parseModelEndpoint(later).ok).toBe(true);
    expect(validateUpdate(minimal, later).ok).toBe(true);
    expect(validateCreate(later).ok).toBe(false);
  });

  it("an update from an object that does not parse validates the new object alone", () => {
    const changed = { ...minimal, spec: { ...minimal.spec, displayName: "x" } };
    expect(validateUpdate({ kind: "Nonsense" }, changed)).toEqual(parseModelEndpoint(changed));
  });

  it("reports a cycle that reached the cluster without admission", () => {
    const cycle = {
      ...minimal,
      spec: {
        deployedModels: [
          { ...minimal.spec.deployedModels[1], id: "a", rolloutOptions: { previousDeployedModel: "b" } },
          { ...minimal.spec.deployedModels[1], id: "b", rolloutOptions: { previousDeployedModel: "a" } },
        ],
      },
    };
    const result = parseModelEndpoint(cycle);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues).toEqual([
      {
        path: "spec.deployedModels",
        message:
          "deployed models a, b form a rollout cycle: every chain must start at a model deployed without rolloutOptions",
        rule: "deployedModels.noCycle",
      },
    ]);
  });
});

describe("findRolloutCycles", () => {
  const m = (id: string, previous?: string) =>
    ({
      id,
      model: "x",
      containerSpec: { imageUri: "i" },
      ...(previous === undefined
        ? {}
        : { rolloutOptions: { previousDeployedModel: previous, progressDeadlineSeconds: 600 } }),
    }) satisfies DeployedModel;

  it.each([
    ["a chain", [m("a"), m("b", "a"), m("c", "b")], []],
    ["a dangling previous", [m("b", "gone"), m("c", "b")], []],
    ["a two-cycle and a tail", [m("a", "b"), m("b", "a"), m("c", "a")], ["a", "b"]],
    ["a three-cycle", [m("x", "z"), m("y", "x"), m("z", "y")], ["x", "y", "z"]],
    ["a self-loop", [m("s", "s")], ["s"]],
  ] as const)("%s", (_, list, cycle) => {
    expect(findRolloutCycles(list)).toEqual(cycle);
  });
});

// ------------------------------------------------------------------------------------------------
// Properties over generated valid endpoints: chains of rolling deployments and a split over them.

const idArb = fc.stringMatching(
  new RegExp(`^[a-z0-9]([-a-z0-9]{0,${MAX_DEPLOYED_MODEL_ID_LENGTH - 2}}[a-z0-9])?$`),
);

const endpointArb = fc
  .uniqueArray(idArb, { minLength: 0, maxLength: 12 })
  .chain((ids) =>
    fc.record({
      ids: fc.constant(ids),
      // for each id: roll onto one of the earlier entries that nothing rolls onto yet, or be a root
      parents: fc.array(fc.nat(), { minLength: ids.length, maxLength: ids.length }),
      shares: fc.array(fc.nat({ max: 100 }), { minLength: ids.length, maxLength: ids.length }),
      empty: fc.boolean(),
    }),
  )
  .map(({ ids, parents, shares, empty }) => {
    const taken = new Set<string>();
    const models = ids.map((id, i) => {
      const free = ids.slice(0, i).filter((p) => !taken.has(p));
      const pick = parents[i] ?? 0;
      const previous = pick % 3 === 0 || free.length === 0 ? undefined : free[pick % free.length];
      if (previous !== undefined) taken.add(previous);
      return {
        id,
        model: `model@${i}`,
        containerSpec: { imageUri: `registry.example/m:${i}`, predictRoute: "/predict" },
        ...(previous === undefined
          ? { dedicatedResources: { minReplicaCount: 1 + (pick % 5) } }
          : { rolloutOptions: { previousDeployedModel: previous, maxSurgePercentage: pick % 101 } }),
      };
    });
    // A split over the first ids that sums to 100.
    const split: Record<string, number> = {};
    let left = 100;
    ids.forEach((id, i) => {
      if (left === 0) return;
      const share = i === ids.length - 1 ? left : Math.min(left, shares[i] ?? 0);
      split[id] = share;
      left -= share;
    });
    const trafficSplit = empty || ids.length === 0 ? {} : split;
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: "ep" },
      spec: { trafficSplit, deployedModels: models },
    };
  });

describe("properties", () => {
  it("a generated valid endpoint is accepted on create, round-trips, and has no cycle", () => {
    fc.assert(
      fc.property(endpointArb, (obj) => {
        const created = validateCreate(obj);
        expect(created.ok ? [] : created.issues).toEqual([]);
        const value = mustParse(obj);
        expect(mustParse(JSON.parse(JSON.stringify(value)))).toEqual(value);
        expect(findRolloutCycles(value.spec.deployedModels)).toEqual([]);
      }),
    );
  });

  it("an unchanged object is always a valid update", () => {
    fc.assert(
      fc.property(endpointArb, (obj) => {
        expect(validateUpdate(obj, structuredClone(obj)).ok).toBe(true);
      }),
    );
  });

  it("changing any entry's image is refused, at that entry", () => {
    fc.assert(
      fc.property(
        endpointArb.filter((o) => o.spec.deployedModels.length > 0),
        fc.nat(),
        (obj, n) => {
          const i = n % obj.spec.deployedModels.length;
          const after = structuredClone(obj);
          const target = after.spec.deployedModels[i];
          if (target === undefined) return;
          target.containerSpec.imageUri += "-changed";
          const result = validateUpdate(obj, after);
          expect(!result.ok && result.issues.map((x) => x.path)).toEqual([
            `spec.deployedModels[${i}].containerSpec`,
          ]);
        },
      ),
    );
  });
});
