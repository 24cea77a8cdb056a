/**
 * The operator's own validation of Model objects: the same rules as the Model CRD, answered as the
 * API server answers (see parse.ts for how: paths, messages, rules checked only without schema
 * errors). A Vertex AI API server checks a Model it is about to write with validateModelUpdate, so
 * a refused upload is explained before anything is sent.
 *
 *     const parsed = parseModel(obj);
 *     if (!parsed.ok) return refuse(parsed.issues);   // [{path, message, rule?}]
 *     resolveModelVersion(parsed.value, "golden");
 */
import { MODEL_RULES, ModelSchema, type Model, type ModelVersion } from "./model.ts";
import {
  checkTransitions,
  parseWith,
  validateTransition,
  type ParseResult,
  type TransitionIssue,
} from "./parse.ts";
import { transitionRules } from "./rule.ts";

/** Validates a Model as read or about to be created: the schema and every rule on a single object. */
export function parseModel(obj: unknown): ParseResult<Model> {
  return parseWith(ModelSchema, obj);
}

/**
 * What the API server checks when `oldObj` is replaced by `newObj`: parseModel on `newObj`, and the
 * transition rules (an existing version's containerSpec and createTime, ids of added versions).
 * With `oldObj` undefined this is a create, which no transition rule applies to.
 */
export function validateModelUpdate(oldObj: unknown, newObj: unknown): ParseResult<Model> {
  return validateTransition(ModelSchema, oldObj, newObj, modelTransitionIssues);
}

function modelTransitionIssues(obj: Model, old: Model | undefined): TransitionIssue[] {
  const issues: TransitionIssue[] = [];
  if (old === undefined) return issues;
  const versions = obj.spec.versions;
  checkTransitions(issues, transitionRules(MODEL_RULES.versions), versions, old.spec.versions, [
    "spec",
    "versions",
  ]);
  versions.forEach((v, i) => {
    const before: ModelVersion | undefined = old.spec.versions.find((o) => o.id === v.id);
    if (before === undefined) return;
    checkTransitions(issues, transitionRules(MODEL_RULES.version), v, before, ["spec", "versions", i]);
  });
  return issues;
}
