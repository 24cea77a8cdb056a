/**
 * The CEL rules (`x-kubernetes-validations`) of a CRD's schema, found by walking it, and variants of
 * the CRD without some of them: what `npm run bench:cel` installs to price each rule group.
 */

/** An OpenAPI v3 schema node, as far as the walk needs it. */
export interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  "x-kubernetes-validations"?: CelRule[];
  [key: string]: unknown;
}

export interface CelRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly optionalOldSelf?: boolean;
  readonly [key: string]: unknown;
}

export interface CrdDocument {
  spec: { versions: { name: string; schema: { openAPIV3Schema: SchemaNode } }[] };
  [key: string]: unknown;
}

/** Where a rule sits in the object: the root, spec or status. */
export type Subtree = "root" | "spec" | "status";

export interface FoundRule {
  /** A stable key: "<version><path>#<index>", e.g. "v1alpha1.spec.deployedModels[]#2". */
  readonly key: string;
  readonly version: string;
  /** The JSON path of the node holding the rule: ".spec.deployedModels[].id" ("" for the root). */
  readonly path: string;
  /** Its index in that node's list. */
  readonly index: number;
  readonly subtree: Subtree;
  readonly rule: string;
  /** The path and the first 60 characters of the message, for tables. */
  readonly label: string;
  /** A transition rule (reads oldSelf). */
  readonly usesOldSelf: boolean;
}

const RULES = "x-kubernetes-validations";

/** The children of a schema node with the path segment each adds. */
function children(node: SchemaNode): [string, SchemaNode][] {
  const out: [string, SchemaNode][] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) out.push([`.${name}`, child]);
  if (node.items !== undefined) out.push(["[]", node.items]);
  if (typeof node.additionalProperties === "object") out.push(["{}", node.additionalProperties]);
  return out;
}

function subtreeOf(path: string): Subtree {
  if (path.startsWith(".spec")) return "spec";
  if (path.startsWith(".status")) return "status";
  return "root";
}

/** "<path> <first 60 characters of the message>" (the rule's text when it has no message). */
export function ruleLabel(path: string, rule: CelRule): string {
  const text = (rule.message ?? rule.messageExpression ?? rule.rule).replace(/\s+/g, " ");
  return `${path === "" ? "." : path} ${text.slice(0, 60)}`;
}

/** Every rule of every version of the CRD, in schema order (depth first, properties in order). */
export function findRules(crd: CrdDocument): FoundRule[] {
  const out: FoundRule[] = [];
  const visit = (version: string, node: SchemaNode, path: string): void => {
    (node[RULES] ?? []).forEach((rule, index) => {
      out.push({
        key: `${version}${path}#${String(index)}`,
        version,
        path,
        index,
        subtree: subtreeOf(path),
        rule: rule.rule,
        label: ruleLabel(path, rule),
        usesOldSelf: /\boldSelf\b/.test(rule.rule),
      });
    });
    for (const [segment, child] of children(node)) visit(version, child, path + segment);
  };
  for (const v of crd.spec.versions) visit(v.name, v.schema.openAPIV3Schema, "");
  return out;
}

/**
 * A deep copy of the CRD that keeps only the rules `keep` accepts (an emptied list is removed, so
 * the schema is one the API server takes). The committed CRD is never changed.
 */
export function withRules<T extends CrdDocument>(crd: T, keep: (rule: FoundRule) => boolean): T {
  const copy = structuredClone(crd);
  const kept = new Set(
    findRules(crd)
      .filter(keep)
      .map((r) => r.key),
  );
  const prune = (version: string, node: SchemaNode, path: string): void => {
    const rules = node[RULES];
    if (rules !== undefined) {
      const left = rules.filter((_, index) => kept.has(`${version}${path}#${String(index)}`));
      if (left.length === 0) delete node["x-kubernetes-validations"];
      else node[RULES] = left;
    }
    for (const [segment, child] of children(node)) prune(version, child, path + segment);
  };
  for (const v of copy.spec.versions) prune(v.name, v.schema.openAPIV3Schema, "");
  return copy;
}

/** ".spec.deployedModels[].id" as segments: ["spec", "[]", "deployedModels", ...]. */
function segments(path: string): string[] {
  return [...path.matchAll(/\.([^.[{]+)|(\[\])|(\{\})/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

/**
 * Whether `obj` has a value at a rule's path (a list or map segment: in any element), i.e. whether
 * the API server evaluates a rule there when it validates `obj`.
 */
export function pathPresent(obj: unknown, path: string): boolean {
  const walk = (value: unknown, rest: readonly string[]): boolean => {
    if (value === undefined || value === null) return false;
    const [head, ...tail] = rest;
    if (head === undefined) return true;
    if (head === "[]") return Array.isArray(value) && value.some((v) => walk(v, tail));
    if (typeof value !== "object" || Array.isArray(value)) return false;
    if (head === "{}") return Object.values(value).some((v) => walk(v, tail));
    return walk((value as Record<string, unknown>)[head], tail);
  };
  return walk(obj, segments(path));
}
