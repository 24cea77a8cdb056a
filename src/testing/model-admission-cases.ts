/**
 * The Model admission table: manifests the Model CRD must refuse (one per rule and edge,
 * boundaries included), manifests it must accept, and updates it must allow or refuse. The
 * integration suite sends every case to a real API server (test/integration/model-crd.test.ts);
 * the unit suite runs the same cases through the parser (src/api/model.test.ts); both must give
 * the expected answer, so they agree with each other. docs/api.md lists every case.
 *
 * An expected issue names the field path and a fragment of the message; for CEL rules the
 * fragment is the rule's whole message.
 */
import { API_VERSION, MODEL_KIND } from "../api/constants.ts";
import {
  container,
  issue,
  notChecked,
  type CreateCase,
  type Json,
  type UpdateCase,
} from "./admission-cases.ts";

// ------------------------------------------------------------------------------------------------
// Building blocks

interface VersionJson extends Json {
  id: string;
}

/** Version `id`, serving image tag `<id>.0`. */
function version(id: string, extra: Json = {}): VersionJson {
  return { id, containerSpec: container(`${id}.0`), ...extra };
}

function model(versions: Json[], spec: Json = {}, name = "fraud-detector"): Json {
  return {
    apiVersion: API_VERSION,
    kind: MODEL_KIND,
    metadata: { name },
    spec: { displayName: "Fraud detector", versions, ...spec },
  };
}

const v = (i: number) => `spec.versions[${i}]`;

const LABEL_KEY_RULE =
  "must start with a lowercase letter and have at most 63 lowercase letters, digits, underscores and dashes";

/** The rule messages, as users read them. */
export const MODEL_MESSAGES = {
  nameFormat: "metadata.name must be a DNS label",
  nameLength: "metadata.name must be at most 63 characters, as a Vertex AI model id",
  labelKey: (key: string) => `label key ${key} ${LABEL_KEY_RULE}`,
  labelValue: "label values may hold only lowercase letters, digits, '_' and '-'",
  idFormat: "version id must be a positive whole number without leading zeros",
  aliasFormat:
    "alias must have 2 to 128 characters: a lowercase letter first, a lowercase letter or digit last, and letters, digits and '-' in between",
  ascending: (id: string, before: string) =>
    `version ${id} is listed after version ${before}: versions must be listed in ascending order of id`,
  sharedAlias: (alias: string) =>
    `alias ${alias} is on more than one version: an alias names exactly one version of the model`,
  addedBelow: (id: string) =>
    `version ${id} is added with an id that is not above every existing version: a new version must have the highest id (ids only grow, as on Vertex AI)`,
  containerSpecImmutable:
    "containerSpec of an existing version is immutable: add the new container as a new version",
  createTimeImmutable: "createTime of a version cannot change or be removed once set",
} as const;

const M = MODEL_MESSAGES;

const T1 = "2026-11-27T10:00:00Z";
const T2 = "2026-11-28T10:00:00Z";

// ------------------------------------------------------------------------------------------------
// Creates the API must refuse

export const MODEL_INVALID_CREATES: readonly CreateCase[] = [
  {
    name: "model metadata.name: a dot (a subdomain, not a label)",
    object: model([version("1")], {}, "fraud.detector"),
    expect: [issue("metadata.name", M.nameFormat)],
  },
  {
    name: "model metadata.name: 64 characters (limit 63)",
    object: model([version("1")], {}, `f${"r".repeat(63)}`),
    expect: [issue("metadata.name", M.nameLength)],
  },
  {
    name: "model displayName: missing",
    object: { ...model([version("1")]), spec: { versions: [version("1")] } },
    expect: [issue("spec.displayName", "Required value"), notChecked],
  },
  {
    name: "model displayName: empty",
    object: model([version("1")], { displayName: "" }),
    expect: [issue("spec.displayName", "should be at least 1 chars long")],
  },
  {
    name: "model displayName: 129 characters (limit 128)",
    object: model([version("1")], { displayName: "d".repeat(129) }),
    expect: [issue("spec.displayName", "may not be more than 128 bytes"), notChecked],
  },
  {
    name: "model description: 8193 characters (limit 8192)",
    object: model([version("1")], { description: "d".repeat(8193) }),
    expect: [issue("spec.description", "may not be more than 8192 bytes"), notChecked],
  },
  {
    name: "model labels: a key with an uppercase letter",
    object: model([version("1")], { labels: { team: "risk", Owner: "ml" } }),
    expect: [issue("spec.labels", M.labelKey("Owner"))],
  },
  {
    name: "model labels: a key starting with a digit",
    object: model([version("1")], { labels: { "1team": "risk" } }),
    expect: [issue("spec.labels", M.labelKey("1team"))],
  },
  {
    name: "model labels: a key of 64 characters (limit 63)",
    object: model([version("1")], { labels: { [`k${"e".repeat(63)}`]: "x" } }),
    // The message names the key; the fragment leaves its 64 characters out.
    expect: [issue("spec.labels", LABEL_KEY_RULE)],
  },
  {
    name: "model labels: a key with a dot",
    object: model([version("1")], { labels: { "team.name": "risk" } }),
    expect: [issue("spec.labels", M.labelKey("team.name"))],
  },
  {
    name: "model labels: a value with an uppercase letter",
    object: model([version("1")], { labels: { team: "Risk" } }),
    expect: [issue("spec.labels[team]", M.labelValue)],
  },
  {
    name: "model labels: a value of 64 characters (limit 63)",
    object: model([version("1")], { labels: { team: "r".repeat(64) } }),
    expect: [issue("spec.labels.team", "may not be more than 63 bytes"), notChecked],
  },
  {
    name: "model labels: 65 labels (limit 64)",
    object: model([version("1")], {
      labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, "x"])),
    }),
    expect: [issue("spec.labels", "must have at most 64 items"), notChecked],
  },
  {
    name: "model versions: missing",
    object: { ...model([]), spec: { displayName: "Fraud detector" } },
    expect: [issue("spec.versions", "Required value"), notChecked],
  },
  {
    name: "model versions: empty",
    object: model([]),
    expect: [issue("spec.versions", "should have at least 1 items")],
  },
  {
    name: "model versions: 65 versions (limit 64)",
    object: model(Array.from({ length: 65 }, (_, i) => version(String(i + 1)))),
    expect: [issue("spec.versions", "must have at most 64 items"), notChecked],
  },
  {
    name: "version id: 0",
    object: model([version("0")]),
    expect: [issue(`${v(0)}.id`, M.idFormat)],
  },
  {
    name: "version id: a leading zero",
    object: model([version("01")]),
    expect: [issue(`${v(0)}.id`, M.idFormat)],
  },
  {
    name: "version id: not a number",
    object: model([version("v1")]),
    expect: [issue(`${v(0)}.id`, M.idFormat)],
  },
  {
    name: "version id: 11 digits (limit 10)",
    object: model([version("12345678901")]),
    expect: [issue(`${v(0)}.id`, "may not be more than 10 bytes"), notChecked],
  },
  {
    name: "version id: duplicate",
    object: model([version("1"), version("1", { containerSpec: container("other") })]),
    expect: [issue(v(1), "Duplicate value")],
  },
  {
    name: "versions: not in ascending order of id",
    object: model([version("1"), version("3"), version("2")]),
    expect: [issue("spec.versions", M.ascending("2", "3"))],
  },
  {
    name: "versions: 10 before 9 (ids compare as numbers)",
    object: model([version("10"), version("9")]),
    expect: [issue("spec.versions", M.ascending("9", "10"))],
  },
  {
    name: "version containerSpec: missing",
    object: model([{ id: "1" }]),
    expect: [issue(`${v(0)}.containerSpec`, "Required value"), notChecked],
  },
  {
    name: "version containerSpec: the ModelEndpoint rules apply (an image with a space)",
    object: model([version("1", { containerSpec: container("1.0 latest") })]),
    expect: [
      issue(
        `${v(0)}.containerSpec.imageUri`,
        "imageUri must be a container image reference without whitespace",
      ),
    ],
  },
  {
    name: "version displayName: 129 characters (limit 128)",
    object: model([version("1", { displayName: "d".repeat(129) })]),
    expect: [issue(`${v(0)}.displayName`, "may not be more than 128 bytes"), notChecked],
  },
  {
    name: "version labels: a key with an uppercase letter",
    object: model([version("1", { labels: { Stage: "prod" } })]),
    expect: [issue(`${v(0)}.labels`, M.labelKey("Stage"))],
  },
  {
    name: "version createTime: not a date-time",
    object: model([version("1", { createTime: "yesterday" })]),
    expect: [issue(`${v(0)}.createTime`, "must be of type date-time"), notChecked],
  },
  {
    name: "alias: starts with an uppercase letter",
    object: model([version("1", { aliases: ["Golden"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: starts with a digit",
    object: model([version("1", { aliases: ["2nd"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: one character",
    object: model([version("1", { aliases: ["g"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: ends with a dash",
    object: model([version("1", { aliases: ["golden-"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: ends with an uppercase letter",
    object: model([version("1", { aliases: ["goldeN"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: an underscore",
    object: model([version("1", { aliases: ["gold_en"] })]),
    expect: [issue(`${v(0)}.aliases[0]`, M.aliasFormat)],
  },
  {
    name: "alias: 129 characters (limit 128)",
    object: model([version("1", { aliases: [`g${"o".repeat(128)}`] })]),
    expect: [issue(`${v(0)}.aliases[0]`, "may not be more than 128 bytes"), notChecked],
  },
  {
    name: "alias: twice on one version",
    object: model([version("1", { aliases: ["golden", "stable", "golden"] })]),
    expect: [issue(`${v(0)}.aliases[2]`, 'Duplicate value: "golden"')],
  },
  {
    name: "alias: on two versions",
    object: model([version("1", { aliases: ["stable", "golden"] }), version("2", { aliases: ["golden"] })]),
    expect: [issue("spec.versions", M.sharedAlias("golden"))],
  },
  {
    name: "alias: default on two versions",
    object: model([version("1", { aliases: ["default"] }), version("2", { aliases: ["default"] })]),
    expect: [issue("spec.versions", M.sharedAlias("default"))],
  },
  {
    name: "aliases: 17 on one version (limit 16)",
    object: model([version("1", { aliases: Array.from({ length: 17 }, (_, i) => `a${i}`) })]),
    expect: [issue(`${v(0)}.aliases`, "must have at most 16 items"), notChecked],
  },
];

// ------------------------------------------------------------------------------------------------
// Creates the API must accept

export const MODEL_VALID_CREATES: readonly CreateCase[] = [
  { name: "one version, nothing optional", object: model([version("1")]), expect: [] },
  {
    name: "two versions, aliases, labels, descriptions and creation times",
    object: model(
      [
        version("1", { aliases: ["stable"], description: "trained on 2026-10", createTime: T1 }),
        version("2", {
          aliases: ["candidate", "goldenV2"],
          displayName: "Fraud detector v2",
          labels: { stage: "canary", owner: "" },
          createTime: T2,
        }),
      ],
      { description: "Scores card payments", labels: { team: "risk", "cost-center": "ml_42" } },
    ),
    expect: [],
  },
  {
    name: "the default alias on an older version",
    object: model([version("1", { aliases: ["default"] }), version("2")]),
    expect: [],
  },
  { name: "ids 9 and 10 (in numeric order)", object: model([version("9"), version("10")]), expect: [] },
  { name: "ids with gaps", object: model([version("2"), version("5"), version("17")]), expect: [] },
  {
    name: "64 versions, 16 aliases of 128 characters, 64 labels",
    object: model(
      Array.from({ length: 64 }, (_, i) =>
        version(String(i + 1), {
          ...(i === 0
            ? {
                aliases: Array.from(
                  { length: 16 },
                  (_, j) => `a${String(j).padStart(2, "0")}${"x".repeat(125)}`,
                ),
              }
            : {}),
        }),
      ),
      { labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, "x".repeat(63)])) },
    ),
    expect: [],
  },
  {
    name: "a model name of 63 characters",
    object: model([version("1")], {}, `f${"r".repeat(62)}`),
    expect: [],
  },
  {
    name: "an all-digit model name (as Vertex AI generates them)",
    object: model([version("1")], {}, "4567890123"),
    expect: [],
  },
];

// ------------------------------------------------------------------------------------------------
// Updates

const two = (first: Json = {}, second: Json = {}) => model([version("1", first), version("2", second)]);

export const MODEL_UPDATES: readonly UpdateCase[] = [
  {
    name: "containerSpec.imageUri of an existing version changed",
    before: [two()],
    after: model([version("1", { containerSpec: container("1.1") }), version("2")]),
    expect: [issue(`${v(0)}.containerSpec`, M.containerSpecImmutable)],
  },
  {
    name: "containerSpec.env of an existing version added",
    before: [two()],
    after: two({}, { containerSpec: container("2.0", { env: [{ name: "MODE", value: "fast" }] }) }),
    expect: [issue(`${v(1)}.containerSpec`, M.containerSpecImmutable)],
  },
  {
    name: "version added below the newest",
    before: [model([version("1"), version("3")])],
    after: model([version("1"), version("2"), version("3")]),
    expect: [issue("spec.versions", M.addedBelow("2"))],
  },
  {
    name: "version added below the oldest",
    before: [model([version("2")])],
    after: model([version("1"), version("2")]),
    expect: [issue("spec.versions", M.addedBelow("1"))],
  },
  {
    name: "version added with a higher id, listed first",
    before: [two()],
    after: model([version("3"), version("1"), version("2")]),
    expect: [issue("spec.versions", M.ascending("1", "3"))],
  },
  {
    name: "createTime of an existing version changed",
    before: [two({ createTime: T1 })],
    after: two({ createTime: T2 }),
    expect: [issue(`${v(0)}.createTime`, M.createTimeImmutable)],
  },
  {
    name: "createTime of an existing version removed",
    before: [two({ createTime: T1 })],
    after: two(),
    expect: [issue(`${v(0)}.createTime`, M.createTimeImmutable)],
  },
  {
    name: "version appended",
    before: [two()],
    after: model([version("1"), version("2"), version("3")]),
    expect: [],
  },
  {
    name: "version appended after a gap",
    before: [two()],
    after: model([version("1"), version("2"), version("7")]),
    expect: [],
  },
  { name: "oldest version removed", before: [two()], after: model([version("2")]), expect: [] },
  {
    name: "every version replaced by a newer one",
    before: [two()],
    after: model([version("3")]),
    expect: [],
  },
  {
    name: "alias moved to another version",
    before: [two({ aliases: ["golden"] })],
    after: two({}, { aliases: ["golden"] }),
    expect: [],
  },
  {
    name: "default alias moved to an older version",
    before: [two({}, { aliases: ["default"] })],
    after: two({ aliases: ["default"] }),
    expect: [],
  },
  {
    name: "version displayName, description and labels changed",
    before: [two()],
    after: two({ displayName: "First", description: "the first", labels: { stage: "retired" } }),
    expect: [],
  },
  {
    name: "createTime set on an existing version",
    before: [two()],
    after: two({ createTime: T1 }),
    expect: [],
  },
  {
    name: "createTime rewritten as the same instant in another offset",
    before: [two({ createTime: T1 })],
    after: two({ createTime: "2026-11-27T11:00:00.000+01:00" }),
    expect: [],
  },
  {
    name: "model displayName, description and labels changed",
    before: [two()],
    after: {
      ...two(),
      spec: { ...(two().spec as Json), displayName: "Fraud", description: "d", labels: { a: "b" } },
    },
    expect: [],
  },
  {
    name: "the newest version removed, then its id given to a new container",
    before: [two(), model([version("1")])],
    after: two({}, { containerSpec: container("9.0") }),
    expect: [],
  },
];
