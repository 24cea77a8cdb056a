/**
 * One validation rule, written twice: as a CEL expression for the API server (an entry of the CRD's
 * `x-kubernetes-validations`) and as a TypeScript predicate for the operator's own parser. Both
 * halves live side by side so they are reviewed together, and the integration suite checks on a
 * real API server that they agree.
 *
 * A *plain* rule sees one value (`self`) and holds on every write. A *transition* rule also sees the
 * value before the write (`oldSelf`): the API server evaluates it only on updates, where an old
 * value exists. Rules judged "when a deployed model is added" must also hold on create, where every
 * entry is added; such a rule carries a second CEL form, `onCreate`, evaluated with
 * `optionalOldSelf` and written `oldSelf.hasValue() || ...` so that it only acts on create (CEL's
 * cost estimator cannot bound the size of `oldSelf.value()`, so one form cannot serve both).
 */
import { z } from "zod";

/** Why a rule failed, as the API server reports it (the `reason` field of x-kubernetes-validations). */
export type RuleReason =
  "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";

interface RuleBase {
  /** A stable name (`<schema node>.<what>`), used by tests and docs. */
  readonly name: string;
  /** The CEL expression; true means valid. */
  readonly rule: string;
  /** The message the user sees (and the fallback when a messageExpression fails). */
  readonly message: string;
  /**
   * A CEL `messageExpression` naming the offending entries. List-level rules use it because the API
   * server can only attach their errors to the whole list. Its TypeScript twin is `describe`.
   */
  readonly messageExpression?: string;
  /** Path of the offending field relative to the rule's node, e.g. `.trafficSplit`. */
  readonly fieldPath?: string;
  readonly reason?: RuleReason;
}

export interface PlainRule<T> extends RuleBase {
  readonly kind: "plain";
  /** The TypeScript twin of `rule`. */
  readonly check: (self: T) => boolean;
  readonly describe?: (self: T) => string;
}

export interface TransitionRule<T> extends RuleBase {
  readonly kind: "transition";
  /** The CEL form evaluated on create (see above); the rule is update-only without it. */
  readonly onCreate?: { readonly rule: string; readonly messageExpression?: string };
  /** The TypeScript twin of both forms; `oldSelf` is undefined on create (only with `onCreate`). */
  readonly check: (self: T, oldSelf: T | undefined) => boolean;
  readonly describe?: (self: T, oldSelf: T | undefined) => string;
}

export type Rule<T> = PlainRule<T> | TransitionRule<T>;

/** An entry of a CRD schema's `x-kubernetes-validations`. */
export interface CelValidation {
  readonly rule: string;
  readonly message: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly reason?: RuleReason;
  readonly optionalOldSelf?: boolean;
}

/** The CRD form of a rule: one entry, or two for a transition rule with an `onCreate` form. */
export function toCelValidations<T>(rule: Rule<T>): CelValidation[] {
  const common = {
    message: rule.message,
    ...(rule.fieldPath !== undefined ? { fieldPath: rule.fieldPath } : {}),
    ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
  };
  const main: CelValidation = {
    rule: rule.rule,
    ...(rule.messageExpression !== undefined ? { messageExpression: rule.messageExpression } : {}),
    ...common,
  };
  if (rule.kind === "plain" || rule.onCreate === undefined) return [main];
  const { rule: createRule, messageExpression } = rule.onCreate;
  return [
    main,
    {
      rule: createRule,
      ...(messageExpression !== undefined ? { messageExpression } : {}),
      ...common,
      optionalOldSelf: true,
    },
  ];
}

/** The message a failed plain rule reports. */
export function plainRuleMessage<T>(rule: PlainRule<T>, self: T): string {
  return rule.describe !== undefined ? rule.describe(self) : rule.message;
}

/** The message a failed transition rule reports. */
export function transitionRuleMessage<T>(rule: TransitionRule<T>, self: T, oldSelf: T | undefined): string {
  return rule.describe !== undefined ? rule.describe(self, oldSelf) : rule.message;
}

/** `.a.b` -> ["a", "b"]: the zod issue path of a rule's fieldPath. */
export function fieldPathSegments(fieldPath: string | undefined): string[] {
  if (fieldPath === undefined || fieldPath === "") return [];
  return fieldPath.replace(/^\./, "").split(".");
}

/** The plain rules of a table. */
export function plainRules<T>(rules: readonly Rule<T>[]): PlainRule<T>[] {
  return rules.filter((r): r is PlainRule<T> => r.kind === "plain");
}

/** The transition rules of a table. */
export function transitionRules<T>(rules: readonly Rule<T>[]): TransitionRule<T>[] {
  return rules.filter((r): r is TransitionRule<T> => r.kind === "transition");
}

/**
 * Attaches rules to a schema node: every rule becomes an `x-kubernetes-validations` entry in the
 * generated CRD, and every plain rule also becomes a zod refinement, so `safeParse` applies it.
 * Transition rules need the old object; `validateUpdate` applies them.
 *
 * Zod runs refinements only when the value has the right shape (types), as the API server runs CEL
 * rules only on well-typed values; range errors elsewhere do not stop them, on either side.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: readonly Rule<z.output<S>>[]): S {
  const plain = plainRules(rules);
  const refined =
    plain.length === 0
      ? schema
      : schema.superRefine((value, ctx) => {
          for (const r of plain) {
            if (!r.check(value)) {
              ctx.addIssue({
                code: "custom",
                message: plainRuleMessage(r, value),
                path: fieldPathSegments(r.fieldPath),
                params: { rule: r.name },
              });
            }
          }
        });
  return refined.meta({
    ...(z.globalRegistry.get(schema) ?? {}),
    "x-kubernetes-validations": rules.flatMap((r) => toCelValidations(r)),
  });
}

/** A CEL raw-string literal of a regular expression. */
export function celRegex(pattern: string): string {
  return `r'${pattern}'`;
}

/** A plain rule "self matches pattern". */
export function matchesRule(name: string, pattern: string, message: string): Rule<string> {
  const re = new RegExp(pattern);
  return {
    kind: "plain",
    name,
    rule: `self.matches(${celRegex(pattern)})`,
    message,
    check: (self) => re.test(self),
  };
}

/**
 * A CEL messageExpression `'...%s...'.format([...])`: `format` with the arguments `args` gives for
 * the CEL expression `first` (the first offending entry, say). A format string cannot hold a quote.
 */
export function celFormat(format: string, first: string, args: (x: string) => string[]): string {
  if (format.includes("'")) throw new Error(`a CEL format string cannot hold a quote: ${format}`);
  return `'${format}'.format([${args(first).join(", ")}])`;
}
