/**
 * The CRD walk of `npm run bench:cel`: every rule found with its path and subtree, variants that
 * keep exactly the rules asked for (and leave the committed CRD alone), and whether an object
 * reaches a rule's path.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { describe, expect, it } from "vitest";
import { parse } from "yaml";

import { findRules, pathPresent, ruleLabel, withRules, type CrdDocument } from "../../bench/lib/cel-rules.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

const crd = (): CrdDocument => ({
  spec: {
    versions: [
      {
        name: "v1",
        schema: {
          openAPIV3Schema: {
            "x-kubernetes-validations": [{ rule: "self.metadata.name != ''", message: "a name" }],
            properties: {
              spec: {
                properties: {
                  items: {
                    "x-kubernetes-validations": [{ rule: "self.all(x, oldSelf.exists(o, o == x))" }],
                    items: {
                      properties: {
                        id: { "x-kubernetes-validations": [{ rule: "self != ''", message: "id" }] },
                      },
                    },
                  },
                  labels: {
                    additionalProperties: {
                      "x-kubernetes-validations": [{ rule: "size(self) < 64", message: "short" }],
                    },
                  },
                },
              },
              status: {
                "x-kubernetes-validations": [
                  { rule: "true", message: "first" },
                  { rule: "1 == 1", message: "second" },
                ],
              },
            },
          },
        },
      },
    ],
  },
});

describe("findRules", () => {
  it("finds every rule with its path, subtree and whether it reads oldSelf", () => {
    const rules = findRules(crd());
    expect(rules.map((r) => [r.key, r.subtree, r.usesOldSelf])).toEqual([
      ["v1#0", "root", false],
      ["v1.spec.items#0", "spec", true],
      ["v1.spec.items[].id#0", "spec", false],
      ["v1.spec.labels{}#0", "spec", false],
      ["v1.status#0", "status", false],
      ["v1.status#1", "status", false],
    ]);
    expect(rules[0]?.label).toBe(". a name");
    expect(rules[1]?.label).toBe(".spec.items self.all(x, oldSelf.exists(o, o == x))");
  });

  it("labels a rule by its path and the first 60 characters of its message", () => {
    expect(ruleLabel(".spec", { rule: "true", message: `${"x".repeat(70)}\n  y` })).toBe(
      `.spec ${"x".repeat(60)}`,
    );
  });

  it("finds the committed ModelEndpoint CRD's rules, on its root and spec (its status has none)", () => {
    const committed = parse(
      readFileSync(join(ROOT, "crds", "modelendpoints.serving.modelendpoint.io.yaml"), "utf8"),
    ) as CrdDocument;
    const rules = findRules(committed);
    expect(rules.length).toBeGreaterThan(10);
    expect(new Set(rules.map((r) => r.subtree))).toEqual(new Set(["root", "spec"]));
    expect(new Set(rules.map((r) => r.key)).size).toBe(rules.length);
  });
});

describe("withRules", () => {
  it("keeps exactly the rules asked for and drops emptied lists", () => {
    const original = crd();
    const before = JSON.stringify(original);
    const noStatus = withRules(original, (r) => r.subtree !== "status");
    expect(findRules(noStatus).map((r) => r.key)).toEqual([
      "v1#0",
      "v1.spec.items#0",
      "v1.spec.items[].id#0",
      "v1.spec.labels{}#0",
    ]);
    expect(noStatus.spec.versions[0]?.schema.openAPIV3Schema.properties?.["status"]).toEqual({});
    expect(JSON.stringify(original)).toBe(before);
  });

  it("keeps the second rule of a list alone under its own key", () => {
    const only = withRules(crd(), (r) => r.key === "v1.status#1");
    expect(only.spec.versions[0]?.schema.openAPIV3Schema.properties?.["status"]).toEqual({
      "x-kubernetes-validations": [{ rule: "1 == 1", message: "second" }],
    });
    expect(findRules(only)).toHaveLength(1);
  });

  it("removes every rule", () => {
    expect(findRules(withRules(crd(), () => false))).toEqual([]);
  });
});

describe("pathPresent", () => {
  const obj = {
    metadata: { name: "a" },
    spec: { items: [{ other: 1 }, { id: "x" }], labels: { a: "b" }, empty: {} },
  };

  it("follows properties, any list element and any map value", () => {
    expect(pathPresent(obj, "")).toBe(true);
    expect(pathPresent(obj, ".spec.items")).toBe(true);
    expect(pathPresent(obj, ".spec.items[].id")).toBe(true);
    expect(pathPresent(obj, ".spec.labels{}")).toBe(true);
  });

  it("is false where nothing is", () => {
    expect(pathPresent(obj, ".status")).toBe(false);
    expect(pathPresent(obj, ".spec.items[].missing")).toBe(false);
    expect(pathPresent(obj, ".spec.empty{}")).toBe(false);
    expect(pathPresent(obj, ".spec.labels[]")).toBe(false);
  });
});
