/**
 * The Model resource: a model in the shape of Vertex AI's Model (`projects/P/locations/L/models/M`),
 * with its versions (`models/M@1`, `models/M@golden`), each holding the serving container that a
 * deployment of that version runs. Deploying a version copies its containerSpec into a
 * ModelEndpoint's deployed model; the endpoint never refers back to the Model.
 *
 * As for ModelEndpoint, the zod schemas are the single source: the CRD and its CEL rules are
 * generated from them (crd.ts), the types are inferred from them, and every admission rule is
 * written as CEL and as TypeScript side by side (rule.ts). See docs/api.md, "The Model API".
 */
import { z } from "zod";

import {
  API_VERSION,
  DEFAULT_VERSION_ALIAS,
  MAX_CONDITIONS,
  MAX_DESCRIPTION_LENGTH,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_LABELS,
  MAX_MODEL_NAME_LENGTH,
  MAX_MODEL_VERSIONS,
  MAX_VERSION_ALIAS_LENGTH,
  MAX_VERSION_ALIASES,
  MAX_VERSION_ID_LENGTH,
  MODEL_KIND,
} from "./constants.ts";
import { jsonEqual } from "./json.ts";
import { metadataNameRules, ObjectMetaSchema } from "./resource.ts";
import { celFormat, celRegex, matchesRule, withRules, type Rule } from "./rule.ts";
import { boundedRecord, ContainerSpecSchema, DNS_LABEL, refuseDuplicates } from "./spec.ts";
import { ConditionSchema, Timestamp } from "./status.ts";

// ---------------------------------------------------------------------------------------------
// Formats

/** A version id: a positive decimal number without leading zeros, as Vertex AI numbers versions. */
export const VERSION_ID = "^[1-9][0-9]*$";
/**
 * A version alias, as Vertex AI documents it (Model.versionAliases): a lowercase letter first, a
 * lowercase letter or digit last, letters (either case), digits and '-' in between, 2 to 128
 * characters. Starting with a letter keeps an alias apart from a version id.
 */
export const VERSION_ALIAS = "^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$";
/**
 * A label key: a lowercase letter first, then lowercase letters, digits, '_' and '-', at most 63
 * characters (Google Cloud's label rules, without the international characters they also allow).
 */
export const LABEL_KEY = `^[a-z][a-z0-9_-]{0,${MAX_LABEL_LENGTH - 1}}$`;
/** A label value: lowercase letters, digits, '_' and '-', possibly empty (at most 63, by maxLength). */
export const LABEL_VALUE = "^[a-z0-9_-]*$";

// ---------------------------------------------------------------------------------------------
// Labels

const labelKey = new RegExp(LABEL_KEY);
const firstBadKey = (labels: Record<string, string>) => Object.keys(labels).find((k) => !labelKey.test(k));
const labelKeyMessage = (key: string) =>
  `label key ${key} must start with a lowercase letter and have at most ${MAX_LABEL_LENGTH} lowercase letters, digits, underscores and dashes`;

const labelsRules: Rule<Record<string, string>>[] = [
  {
    kind: "plain",
    name: "labels.keyFormat",
    rule: `self.all(k, k.matches(${celRegex(LABEL_KEY)}))`,
    messageExpression: celFormat(
      labelKeyMessage("%s"),
      `self.filter(k, !k.matches(${celRegex(LABEL_KEY)}))[0]`,
      (x) => [x],
    ),
    message: `label keys must start with a lowercase letter and have at most ${MAX_LABEL_LENGTH} lowercase letters, digits, underscores and dashes`,
    check: (self) => firstBadKey(self) === undefined,
    describe: (self) => labelKeyMessage(firstBadKey(self) ?? ""),
  },
];

const LabelValueSchema = withRules(z.string().max(MAX_LABEL_LENGTH), [
  matchesRule(
    "labels.valueFormat",
    LABEL_VALUE,
    "label values may hold only lowercase letters, digits, '_' and '-'",
  ),
]);

/** Labels of a model or a version (Vertex AI's `labels`, Google Cloud's label rules). */
export const LabelsSchema = withRules(boundedRecord(LabelValueSchema, MAX_LABELS), labelsRules);

// ---------------------------------------------------------------------------------------------
// A version

const VersionIdSchema = withRules(z.string().max(MAX_VERSION_ID_LENGTH), [
  matchesRule(
    "modelVersion.idFormat",
    VERSION_ID,
    "version id must be a positive whole number without leading zeros, such as 1, 2 or 10 (Vertex AI numbers versions 1, 2, 3, ...)",
  ),
]);

const AliasSchema = withRules(z.string().max(MAX_VERSION_ALIAS_LENGTH), [
  matchesRule(
    "modelVersion.aliasFormat",
    VERSION_ALIAS,
    "alias must have 2 to 128 characters: a lowercase letter first, a lowercase letter or digit last, " +
      "and letters, digits and '-' in between (so that it cannot be taken for a version id)",
  ),
]);

const ModelVersionBase = z.object({
  id: VersionIdSchema.describe(
    "The version id, unique in the model: 1, 2, 3, ... (models/<name>@<id>). A version added to an " +
      "existing model must have a higher id than every version it has.",
  ),
  aliases: z
    .array(AliasSchema)
    .max(MAX_VERSION_ALIASES)
    .superRefine((list, ctx) => {
      // The API server refuses duplicates in a set itself (x-kubernetes-list-type: set).
      refuseDuplicates(list, ctx, (a) => a);
    })
    .meta({ "x-kubernetes-list-type": "set" })
    .optional()
    .describe(
      "Other names of this version (models/<name>@<alias>), unique across the model's versions. " +
        `'${DEFAULT_VERSION_ALIAS}' marks the default version; without it the default is the highest id. May change.`,
    ),
  displayName: z
    .string()
    .max(MAX_DISPLAY_NAME_LENGTH)
    .optional()
    .describe("Display name of this version; the model's when unset. May change."),
  description: z
    .string()
    .max(MAX_DESCRIPTION_LENGTH)
    .optional()
    .describe("Description of this version (Vertex AI versionDescription). May change."),
  labels: LabelsSchema.optional().describe("Labels of this version; the model's when unset. May change."),
  containerSpec: ContainerSpecSchema.describe(
    "The serving container of this version (Vertex AI ModelContainerSpec), copied into a ModelEndpoint " +
      "when the version is deployed. Immutable: a new container is a new version.",
  ),
  createTime: Timestamp.optional().describe("When the version was created. Cannot change once set."),
});
type ModelVersionBase = z.output<typeof ModelVersionBase>;

/**
 * Two RFC 3339 timestamps name the same instant, as CEL compares `format: date-time` fields (as
 * timestamps, not as strings): same milliseconds and the same digits below them.
 */
function sameInstant(a: string, b: string): boolean {
  const below = (t: string) => (/\.\d{3}(\d*)/.exec(t)?.[1] ?? "").replace(/0+$/, "");
  return Date.parse(a) === Date.parse(b) && below(a) === below(b);
}

const modelVersionRules: Rule<ModelVersionBase>[] = [
  {
    kind: "transition",
    name: "modelVersion.containerSpecImmutable",
    rule: "self.containerSpec == oldSelf.containerSpec",
    message: "containerSpec of an existing version is immutable: add the new container as a new version",
    fieldPath: ".containerSpec",
    check: (self, old) => jsonEqual(self.containerSpec, old?.containerSpec),
  },
  {
    kind: "transition",
    name: "modelVersion.createTimeImmutable",
    rule: "!has(oldSelf.createTime) || (has(self.createTime) && self.createTime == oldSelf.createTime)",
    message: "createTime of a version cannot change or be removed once set",
    fieldPath: ".createTime",
    check: (self, old) =>
      old?.createTime === undefined ||
      (self.createTime !== undefined && sameInstant(self.createTime, old.createTime)),
  },
];

export const ModelVersionSchema = withRules(ModelVersionBase, modelVersionRules).describe(
  "One version of the model (Vertex AI's Model at models/<name>@<id>).",
);
export type ModelVersion = z.output<typeof ModelVersionSchema>;

// ---------------------------------------------------------------------------------------------
// The list of versions: rules across versions.

/**
 * The order of version ids, which is their numeric order: ids are decimal numbers without leading
 * zeros, so a longer id is a higher one and ids of one length compare as strings. CEL compares
 * them the same way (`idBelow`), without a conversion that could fail on a malformed id.
 */
export function compareVersionIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** CEL: version id `a` is below version id `b` (see compareVersionIds). */
function idBelow(a: string, b: string): string {
  return `(size(${a}) < size(${b}) || (size(${a}) == size(${b}) && ${a} < ${b}))`;
}

/**
 * The first version listed after one with a higher id, with that one. (Equal ids are the list-map's
 * `Duplicate value`, not an order error.)
 */
function firstOutOfOrder(list: readonly ModelVersion[]): [ModelVersion, ModelVersion] | undefined {
  for (let i = 1; i < list.length; i++) {
    const [before, v] = [list[i - 1], list[i]];
    if (before !== undefined && v !== undefined && compareVersionIds(v.id, before.id) < 0) return [v, before];
  }
  return undefined;
}

/** The first alias that more than one version has, in list order. */
function firstSharedAlias(list: readonly ModelVersion[]): string | undefined {
  const holders = (a: string) => list.filter((w) => w.aliases?.includes(a) ?? false).length;
  for (const v of list) {
    const shared = v.aliases?.find((a) => holders(a) > 1);
    if (shared !== undefined) return shared;
  }
  return undefined;
}

/** The first version added by this write whose id is not above every version of the old list. */
function firstAddedBelow(
  list: readonly ModelVersion[],
  old: readonly ModelVersion[],
): ModelVersion | undefined {
  return list.find(
    (v) => !old.some((o) => o.id === v.id) && !old.every((o) => compareVersionIds(o.id, v.id) < 0),
  );
}

const outOfOrderMessage = (id: string, before: string) =>
  `version ${id} is listed after version ${before}: versions must be listed in ascending order of id`;
const sharedAliasMessage = (alias: string) =>
  `alias ${alias} is on more than one version: an alias names exactly one version of the model`;
const addedBelowMessage = (id: string) =>
  `version ${id} is added with an id that is not above every existing version: a new version must have the highest id (ids only grow, as on Vertex AI)`;

/** CEL: alias `a` is on one version only. */
const aliasUniqueCel = (a: string) => `self.exists_one(w, has(w.aliases) && ${a} in w.aliases)`;
/** CEL: version `v` existed before this write, or its id is above every old version's. */
const addedAboveCel = (v: string) =>
  `oldSelf.exists(o, o.id == ${v}.id) || oldSelf.all(o, ${idBelow("o.id", `${v}.id`)})`;

const modelVersionsRules: Rule<ModelVersion[]>[] = [
  {
    kind: "plain",
    name: "versions.ascending",
    rule: `self.all(i, v, i == 0 || !${idBelow("v.id", "self[i - 1].id")})`,
    messageExpression:
      `'${outOfOrderMessage("%s", "%s")}'.format(` +
      `self.transformList(i, v, i > 0 && ${idBelow("v.id", "self[i - 1].id")}, [v.id, self[i - 1].id])[0])`,
    message: "versions must be listed in ascending order of id",
    check: (self) => firstOutOfOrder(self) === undefined,
    describe: (self) => {
      const [v, before] = firstOutOfOrder(self) ?? [];
      return outOfOrderMessage(v?.id ?? "", before?.id ?? "");
    },
  },
  {
    kind: "plain",
    name: "versions.uniqueAliases",
    rule: `self.all(v, !has(v.aliases) || v.aliases.all(a, ${aliasUniqueCel("a")}))`,
    messageExpression: celFormat(
      sharedAliasMessage("%s"),
      // Indexing `self` (not a filter's result) keeps the bounds of the version's aliases known
      // to CEL's cost estimator; through a filter's result they are not, and the cost explodes.
      `self[self.transformList(i, v, has(v.aliases) && v.aliases.exists(a, !${aliasUniqueCel("a")}), i)[0]]`,
      (x) => [`${x}.aliases.filter(a, !${aliasUniqueCel("a")})[0]`],
    ),
    message: "an alias names exactly one version of the model: no two versions may have the same alias",
    check: (self) => firstSharedAlias(self) === undefined,
    describe: (self) => sharedAliasMessage(firstSharedAlias(self) ?? ""),
  },
  {
    kind: "transition",
    name: "versions.addedAbove",
    rule: `self.all(v, ${addedAboveCel("v")})`,
    messageExpression: celFormat(
      addedBelowMessage("%s"),
      `self.filter(v, !(${addedAboveCel("v")}))[0]`,
      (x) => [`${x}.id`],
    ),
    message: "a version added to a model must have a higher id than every version the model has",
    check: (self, old) => old === undefined || firstAddedBelow(self, old) === undefined,
    describe: (self, old) =>
      addedBelowMessage(old === undefined ? "" : (firstAddedBelow(self, old)?.id ?? "")),
  },
];

export const ModelVersionsSchema = withRules(
  z
    .array(ModelVersionSchema)
    .min(1)
    .max(MAX_MODEL_VERSIONS)
    .superRefine((list, ctx) => {
      // The API server enforces list-map keys itself (x-kubernetes-list-type: map).
      refuseDuplicates(list, ctx, (v) => ({ id: v.id }));
    })
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"] }),
  modelVersionsRules,
);

// ---------------------------------------------------------------------------------------------
// spec, status, the object

export const ModelSpecSchema = z
  .object({
    displayName: z
      .string()
      .min(1)
      .max(MAX_DISPLAY_NAME_LENGTH)
      .describe("Display name of the model (Vertex AI displayName: required, up to 128 characters)."),
    description: z.string().max(MAX_DESCRIPTION_LENGTH).optional().describe("Description of the model."),
    labels: LabelsSchema.optional().describe(
      `Labels of the model (at most ${MAX_LABELS}): keys and values of lowercase letters, digits, '_' and '-', at most ${MAX_LABEL_LENGTH} characters, keys starting with a letter.`,
    ),
    versions: ModelVersionsSchema.describe(
      `The versions, keyed by id, in ascending order of id (1 to ${MAX_MODEL_VERSIONS}). Versions may be added ` +
        "(with a higher id than every existing one) and removed; an existing version's containerSpec never changes.",
    ),
  })
  .describe("The model and its versions, written by users or a Vertex AI API server (Vertex AI Model).");
export type ModelSpec = z.output<typeof ModelSpecSchema>;

export const ModelStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation the status was computed from."),
    conditions: z
      .array(ConditionSchema)
      .max(MAX_CONDITIONS)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
      .describe("Conditions of the model, as metav1.Condition."),
  })
  .describe("Observed state of the model. Reserved: no controller writes it yet.");
export type ModelStatus = z.output<typeof ModelStatusSchema>;

const ModelBase = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(MODEL_KIND),
  metadata: ObjectMetaSchema,
  spec: ModelSpecSchema,
  status: ModelStatusSchema.optional(),
});
type ModelBase = z.output<typeof ModelBase>;

/** Rules on the root object. */
export const modelRootRules: Rule<ModelBase>[] = metadataNameRules(
  "model",
  {
    pattern: DNS_LABEL,
    message:
      "metadata.name must be a DNS label: lowercase letters, digits and '-', starting and ending with a " +
      "letter or digit (it is the model id in models/<name>)",
  },
  {
    max: MAX_MODEL_NAME_LENGTH,
    message: `metadata.name must be at most ${MAX_MODEL_NAME_LENGTH} characters, as a Vertex AI model id`,
  },
);

export const ModelSchema = withRules(ModelBase, modelRootRules).describe(
  "A model and its versions (Vertex AI Model): each version holds the serving container that " +
    "deploying it to a ModelEndpoint runs.",
);

/** A Model as the operator uses it: validated. */
export type Model = z.output<typeof ModelSchema>;
/** A Model as a user may write it. */
export type ModelInput = z.input<typeof ModelSchema>;

/** Every rule table of the Model, by schema node, for validateModelUpdate, the docs and the tests. */
export const MODEL_RULES = {
  model: modelRootRules,
  versions: modelVersionsRules,
  version: modelVersionRules,
  labels: labelsRules,
} as const;
