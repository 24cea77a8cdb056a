/**
 * The operator's own validation of ModelEndpoint objects: the same rules as the CRD, so an object
 * that never went through admission (created before a CRD upgrade, restored from a backup, written
 * with validation off) gets a clear status error instead of undefined behaviour.
 *
 *     const parsed = parseModelEndpoint(obj);
 *     if (!parsed.ok) return reportInvalid(parsed.issues);   // [{path, message, rule?}]
 *     plan(parsed.value);                                      // typed, defaults applied
 *
 * It answers as the API server does: the same field paths; a rule's message is the CEL rule's
 * message word for word; a schema error reads like the API server's ("should be greater than or
 * equal to 1"); and, as on the API server, the rules are only checked once the object has no
 * schema error (otherwise one issue says that some rules were not checked).
 *
 * What it does not do: ratcheting (the API server lets an update keep an unchanged value that a
 * newer rule forbids); validateUpdate applies every rule to the new object.
 */
import { z } from "zod";

import { ModelEndpointSchema, type ModelEndpoint } from "./resource.ts";
import { fieldPathSegments, transitionRuleMessage, transitionRules, type TransitionRule } from "./rule.ts";
import { SPEC_RULES, type DeployedModel } from "./spec.ts";

/** One reason an object is invalid. */
export interface ValidationIssue {
  /** Kubernetes field path, e.g. `spec.deployedModels[1].rolloutOptions.maxSurgePercentage`. */
  readonly path: string;
  readonly message: string;
  /** The name of the rule that failed (see SPEC_RULES); absent for schema errors. */
  readonly rule?: string;
}

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

/** The API server's note when schema errors kept it from checking the rules. */
export const RULES_NOT_CHECKED =
  "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/** A zod schema without its optional/default wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

/**
 * A zod issue path as the API server writes field paths: `spec.deployedModels[0].id`. A map key
 * (a segment under a record) reads `.key` in schema errors but `[key]` in CEL rule errors, as the
 * API server writes them.
 */
export function formatPath(
  path: readonly PropertyKey[],
  fromRule = false,
  root: z.ZodType = ModelEndpointSchema,
): string {
  let out = "";
  let schema: z.ZodType | undefined = root;
  for (const segment of path) {
    const node: z.ZodType | undefined = schema === undefined ? undefined : unwrap(schema);
    if (typeof segment === "number") {
      out += `[${segment}]`;
      schema = node instanceof z.ZodArray ? (node.element as z.ZodType) : undefined;
    } else if (node instanceof z.ZodRecord) {
      out += fromRule ? `[${String(segment)}]` : `.${String(segment)}`;
      schema = node.valueType as z.ZodType;
    } else {
      out += out === "" ? String(segment) : `.${String(segment)}`;
      schema =
        node instanceof z.ZodObject ? (node.shape as Record<string, z.ZodType>)[String(segment)] : undefined;
    }
  }
  return out;
}

const K8S_TYPES: Record<string, string> = { int: "integer", record: "object", map: "object" };
/** zod's string formats by their OpenAPI names, as the API server names them. */
const OPENAPI_FORMATS: Record<string, string> = { datetime: "date-time" };

/** zod's issues phrased as the API server phrases the same schema violations. */
function kubernetesMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "Required value";
      return `must be of type ${K8S_TYPES[issue.expected] ?? issue.expected}`;
    case "too_big":
      if (issue.origin === "string") return `may not be more than ${String(issue.maximum)} bytes`;
      if (issue.origin === "array")
        return `must have at most ${String(issue.maximum)} ${issue.maximum === 1 ? "item" : "items"}`;
      return `should be less than or equal to ${String(issue.maximum)}`;
    case "too_small":
      if (issue.origin === "string") return `should be at least ${String(issue.minimum)} chars long`;
      if (issue.origin === "array") return `should have at least ${String(issue.minimum)} items`;
      return `should be greater than or equal to ${String(issue.minimum)}`;
    case "invalid_value":
      return `supported values: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      if (issue.format === "regex" && issue.pattern !== undefined) return `should match '${issue.pattern}'`;
      return `must be of type ${OPENAPI_FORMATS[issue.format] ?? issue.format}`;
    default:
      return undefined;
  }
}

function ruleOf(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code !== "custom") return undefined;
  const rule: unknown = issue.params?.rule;
  return typeof rule === "string" ? rule : undefined;
}

/**
 * Schema errors after which the API server does not evaluate CEL rules: a wrong type, a missing
 * field, a value outside an enum, a string or list over its maximum length, a map over its
 * maximum size. Range, minimum-length and duplicate errors do not stop the rules.
 */
function blocksRules(issue: z.core.$ZodIssue): boolean {
  switch (issue.code) {
    case "invalid_type":
    case "invalid_value":
    case "invalid_format":
      return true;
    case "too_big":
      return issue.origin === "string" || issue.origin === "array";
    case "custom":
      return issue.params?.blocking === true;
    default:
      return false;
  }
}

/** zod issues -> ValidationIssues, with rule issues only when the API server would check rules. */
function toResult<T>(result: z.ZodSafeParseResult<T>, root: z.ZodType): ParseResult<T> {
  if (result.success) return { ok: true, value: result.data };
  const blocked = result.error.issues.some(blocksRules);
  const issues: ValidationIssue[] = [];
  for (const i of result.error.issues) {
    const rule = ruleOf(i);
    if (rule !== undefined && blocked) continue;
    issues.push({
      path: formatPath(i.path, rule !== undefined, root),
      message: i.message,
      ...(rule !== undefined ? { rule } : {}),
    });
  }
  if (blocked) issues.push({ path: "", message: RULES_NOT_CHECKED });
  return { ok: false, issues };
}

/**
 * Validates an object as the operator reads it (from a cache or the API server): the schema and
 * every rule that holds on a single object. Rules about a change (immutability, rules judged when a
 * deployed model is added) need the previous object: see validateUpdate.
 */
export function parseModelEndpoint(obj: unknown): ParseResult<ModelEndpoint> {
  return parseWith(ModelEndpointSchema, obj);
}

/** Validates `obj` against `schema` (a whole object: its paths start at the root), as the API server would. */
export function parseWith<T>(schema: z.ZodType<T>, obj: unknown): ParseResult<T> {
  return toResult(schema.safeParse(obj, { error: kubernetesMessage }), schema);
}

/** What the API server checks when `obj` is created: parseModelEndpoint plus the create-time rules. */
export function validateCreate(obj: unknown): ParseResult<ModelEndpoint> {
  return validateUpdate(undefined, obj);
}

/**
 * What the API server checks when `oldObj` is replaced by `newObj` (or, with `oldObj` undefined,
 * when `newObj` is created): the schema, every rule, and the transition rules (immutability, and
 * the rules judged once when a deployed model is added). When `oldObj` is given but does not parse
 * itself, nothing reliable can be said about the change and only `newObj` is validated.
 */
export function validateUpdate(oldObj: unknown, newObj: unknown): ParseResult<ModelEndpoint> {
  return validateTransition(ModelEndpointSchema, oldObj, newObj, transitionIssues);
}

/** A failed transition rule, at its zod path. */
export interface TransitionIssue {
  readonly path: PropertyKey[];
  readonly message: string;
  readonly rule: string;
}

/**
 * validateUpdate for any resource: `schema` and its plain rules on `newObj`, and the transition
 * rules that `issuesOf` finds between the parsed new and old objects (old undefined on create).
 * When `oldObj` is given but does not parse itself, only `newObj` is validated.
 */
export function validateTransition<T>(
  schema: z.ZodType<T>,
  oldObj: unknown,
  newObj: unknown,
  issuesOf: (value: T, old: T | undefined) => TransitionIssue[],
): ParseResult<T> {
  let old: T | undefined;
  if (oldObj !== undefined) {
    const oldParsed = parseWith(schema, oldObj);
    if (!oldParsed.ok) return parseWith(schema, newObj);
    old = oldParsed.value;
  }
  // A root refinement runs after every plain rule, even a failed one, as the API server evaluates
  // all its CEL rules together.
  const refined = schema.superRefine((value, ctx) => {
    for (const issue of issuesOf(value, old)) {
      ctx.addIssue({
        code: "custom",
        message: issue.message,
        path: issue.path,
        params: { rule: issue.rule },
      });
    }
  });
  return toResult(refined.safeParse(newObj, { error: kubernetesMessage }), schema);
}

/**
 * Evaluates one node's transition rules into `issues`: the rules with a create form when `oldSelf`
 * is undefined (the node is new), all of them otherwise.
 */
export function checkTransitions<T>(
  issues: TransitionIssue[],
  rules: readonly TransitionRule<T>[],
  self: T,
  oldSelf: T | undefined,
  at: PropertyKey[],
): void {
  for (const rule of rules) {
    if (oldSelf === undefined && rule.onCreate === undefined) continue;
    if (rule.check(self, oldSelf)) continue;
    issues.push({
      path: [...at, ...fieldPathSegments(rule.fieldPath)],
      message: transitionRuleMessage(rule, self, oldSelf),
      rule: rule.name,
    });
  }
}

function transitionIssues(obj: ModelEndpoint, old: ModelEndpoint | undefined): TransitionIssue[] {
  const issues: TransitionIssue[] = [];
  const models = obj.spec.deployedModels;
  const oldModels = old?.spec.deployedModels;
  checkTransitions(issues, transitionRules(SPEC_RULES.deployedModels), models, oldModels, [
    "spec",
    "deployedModels",
  ]);
  models.forEach((m, i) => {
    const before: DeployedModel | undefined = oldModels?.find((o) => o.id === m.id);
    if (before === undefined) return;
    const at = ["spec", "deployedModels", i];
    checkTransitions(issues, transitionRules(SPEC_RULES.deployedModel), m, before, at);
    if (m.dedicatedResources !== undefined && before.dedicatedResources !== undefined) {
      checkTransitions(
        issues,
        transitionRules(SPEC_RULES.dedicatedResources),
        m.dedicatedResources,
        before.dedicatedResources,
        [...at, "dedicatedResources"],
      );
    }
  });
  return issues;
}
