/**
 * The CustomResourceDefinitions of ModelEndpoint and Model, generated from the zod schemas.
 *
 * Why `z.toJSONSchema` and not a hand-written walk over zod's internals: it is zod's public,
 * maintained conversion, it already carries the `.meta()` annotations (descriptions, CEL rules,
 * list types) through, and what Kubernetes needs on top is a small, closed set of rewrites
 * (`toStructural` below). Anything outside that set (unions, refs, constants) makes the generator
 * throw instead of producing a schema the API server would reject or silently prune.
 */
import { stringify } from "yaml";
import { z } from "zod";

import {
  API_VERSION,
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  MODEL_CRD_NAME,
  MODEL_KIND,
  MODEL_LIST_KIND,
  MODEL_PLURAL,
  MODEL_SHORT_NAMES,
  MODEL_SINGULAR,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from "./constants.ts";
import { modelRootRules, ModelSchema, ModelSpecSchema, ModelStatusSchema } from "./model.ts";
import { ModelEndpointSchema, rootRules } from "./resource.ts";
import { toCelValidations, type CelValidation } from "./rule.ts";
import { ModelEndpointSpecSchema } from "./spec.ts";
import { ModelEndpointStatusSchema } from "./status.ts";

/** A node of a Kubernetes structural OpenAPI v3 schema (JSONSchemaProps), as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

export class SchemaGenerationError extends Error {
  override readonly name = "SchemaGenerationError";
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** The order keys are written in, so the YAML reads top-down and never reorders between runs. */
const KEY_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "maxProperties",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "items",
  "additionalProperties",
  "properties",
  "required",
  "x-kubernetes-validations",
];

/** Keys zod emits that Kubernetes' JSONSchemaProps has no place for, dropped on purpose. */
const DROPPED = new Set(["$schema", "propertyNames", "id", "$id"]);

/** Keys that would make the schema non-structural or that Kubernetes rejects. */
const FORBIDDEN = new Set(["anyOf", "oneOf", "allOf", "not", "$ref", "$defs", "definitions", "const"]);

function isJsonSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Rewrites one zod JSON-Schema node into Kubernetes' structural dialect:
 * - integers: zod's int32 bounds become `format: int32`, its safe-integer bounds `format: int64`;
 * - date-times: zod's regular expression is dropped in favour of `format: date-time`;
 * - `propertyNames` (map keys) is dropped: Kubernetes cannot constrain keys; CEL rules do;
 * - an object with `x-kubernetes-preserve-unknown-fields` (a loose zod object) loses zod's empty
 *   `properties` and catch-all `additionalProperties`: it is kept as written;
 * - keys are ordered (KEY_ORDER), properties keep their declaration order;
 * - with `rules: false`, CEL rules (`x-kubernetes-validations`) are left out at every depth.
 */
export function toStructural(
  node: JsonSchema,
  path = "<root>",
  options: { readonly rules: boolean } = { rules: true },
): JsonSchema {
  const out: JsonSchema = {};
  // An object kept as written (a loose zod object): no properties of its own to list.
  const preserved = node["x-kubernetes-preserve-unknown-fields"] === true;
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (!options.rules && key === "x-kubernetes-validations") continue;
    if (preserved && (key === "properties" || key === "additionalProperties")) continue;
    if (FORBIDDEN.has(key)) {
      throw new SchemaGenerationError(`${path}: '${key}' is not allowed in a structural schema`);
    }
    if (key === "properties") {
      if (!isJsonSchema(value)) throw new SchemaGenerationError(`${path}: properties is not an object`);
      const props: JsonSchema = {};
      for (const [name, child] of Object.entries(value)) {
        if (!isJsonSchema(child)) throw new SchemaGenerationError(`${path}.${name}: not a schema`);
        props[name] = toStructural(child, `${path}.${name}`, options);
      }
      out[key] = props;
    } else if (key === "items" || key === "additionalProperties") {
      if (value === false) continue;
      if (!isJsonSchema(value)) throw new SchemaGenerationError(`${path}: ${key} must be a schema`);
      out[key] = toStructural(value, `${path}[]`, options);
    } else {
      out[key] = value;
    }
  }
  if (out.type === undefined) throw new SchemaGenerationError(`${path}: no type`);
  if (out.type === "integer") {
    if (out.minimum === INT32_MIN || out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
    if (out.maximum === INT32_MAX) {
      delete out.maximum;
      out.format = "int32";
    } else if (out.maximum === Number.MAX_SAFE_INTEGER) {
      delete out.maximum;
      out.format = "int64";
    }
  }
  if (out.type === "string" && out.format === "date-time") delete out.pattern;
  if (out.properties !== undefined && out.additionalProperties !== undefined) {
    throw new SchemaGenerationError(`${path}: both properties and additionalProperties`);
  }
  return orderKeys(out);
}

function orderKeys(node: JsonSchema): JsonSchema {
  const rank = (k: string) => {
    const i = KEY_ORDER.indexOf(k);
    return i === -1 ? KEY_ORDER.length : i;
  };
  const keys = Object.keys(node).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return Object.fromEntries(keys.map((k) => [k, node[k]]));
}

/**
 * The structural schema of one zod schema, as it is accepted on input (defaults are optional);
 * `rules: false` leaves its CEL rules out.
 */
export function structuralSchemaOf(
  schema: z.ZodType,
  options: { readonly rules: boolean } = { rules: true },
): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "throw",
    cycles: "throw",
    reused: "inline",
  });
  return toStructural(json, "<root>", options);
}

/** A printer column of `kubectl get` (additionalPrinterColumns). */
export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly description?: string;
  readonly jsonPath: string;
  readonly priority?: number;
}

/** What a CRD is generated from: its names, its schemas and the rules on its root. */
export interface CrdSource {
  readonly crdName: string;
  readonly names: {
    readonly kind: string;
    readonly listKind: string;
    readonly plural: string;
    readonly singular: string;
    readonly shortNames: readonly string[];
  };
  /** The whole object's schema: its description is the CRD schema's. */
  readonly root: z.ZodType;
  readonly spec: z.ZodType;
  readonly status: z.ZodType;
  /** The root's x-kubernetes-validations (rules on metadata.name). */
  readonly rootValidations: readonly CelValidation[];
  readonly printerColumns: readonly PrinterColumn[];
}

/** The openAPIV3Schema of a CRD's only version (default: ModelEndpoint's). */
export function openApiSchema(source: CrdSource = MODEL_ENDPOINT_CRD): JsonSchema {
  const rootDescription = z.globalRegistry.get(source.root)?.description;
  return {
    ...(rootDescription !== undefined ? { description: rootDescription } : {}),
    type: "object",
    properties: {
      apiVersion: { description: `Always ${API_VERSION}.`, type: "string" },
      kind: { description: `Always ${source.names.kind}.`, type: "string" },
      // Declared so that CEL rules can point at metadata.name (fieldPath); the rules are below.
      metadata: { type: "object", properties: { name: { type: "string" } } },
      spec: structuralSchemaOf(source.spec),
      // The status carries no CEL rules: the operator alone writes it, from a spec that passed them
      // (its machineSpec and placement are copies), and the API server evaluates every rule of the
      // object on every status write, which the operator makes once per wave of every rollout. Its
      // shape, bounds and formats stay; its zod schema keeps the rules' TypeScript twins.
      status: structuralSchemaOf(source.status, { rules: false }),
    },
    required: ["spec"],
    "x-kubernetes-validations": source.rootValidations,
  };
}

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

/** The columns of `kubectl get modelendpoints` (the operator writes the status strings they show). */
export const PRINTER_COLUMNS = [
  {
    name: "Revision",
    type: "string",
    description: "<id>@<revision> of each rollout chain's intended deployed model",
    jsonPath: ".status.revision",
  },
  {
    name: "State",
    type: "string",
    description: "State of each rollout chain's intended deployed model",
    jsonPath: ".status.state",
  },
  {
    name: "Replicas",
    type: "string",
    description: "Ready replicas / desired replicas",
    jsonPath: ".status.ready",
  },
  { name: "Traffic", type: "string", description: "Effective traffic split", jsonPath: ".status.traffic" },
  { name: "Ready", type: "string", description: "The Ready condition", jsonPath: `${readyCondition}.status` },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  {
    name: "Message",
    type: "string",
    priority: 1,
    description: "Message of the Ready condition",
    jsonPath: `${readyCondition}.message`,
  },
] as const satisfies readonly PrinterColumn[];

/**
 * The columns of `kubectl get models`. A column cannot compute the default version (an alias or
 * the highest id), but versions are listed in ascending order of id, so the last is the newest.
 */
export const MODEL_PRINTER_COLUMNS = [
  {
    name: "Display Name",
    type: "string",
    description: "The model's display name",
    jsonPath: ".spec.displayName",
  },
  {
    name: "Newest",
    type: "string",
    description: "Id of the newest version",
    jsonPath: ".spec.versions[-1:].id",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
] as const satisfies readonly PrinterColumn[];

export const MODEL_ENDPOINT_CRD: CrdSource = {
  crdName: CRD_NAME,
  names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
  root: ModelEndpointSchema,
  spec: ModelEndpointSpecSchema,
  status: ModelEndpointStatusSchema,
  rootValidations: rootRules.flatMap((r) => toCelValidations(r)),
  printerColumns: PRINTER_COLUMNS,
};

export const MODEL_CRD: CrdSource = {
  crdName: MODEL_CRD_NAME,
  names: {
    kind: MODEL_KIND,
    listKind: MODEL_LIST_KIND,
    plural: MODEL_PLURAL,
    singular: MODEL_SINGULAR,
    shortNames: MODEL_SHORT_NAMES,
  },
  root: ModelSchema,
  spec: ModelSpecSchema,
  status: ModelStatusSchema,
  rootValidations: modelRootRules.flatMap((r) => toCelValidations(r)),
  printerColumns: MODEL_PRINTER_COLUMNS,
};

/** Every CRD of the API, each written to its own file under crds/. */
export const CRDS: readonly CrdSource[] = [MODEL_ENDPOINT_CRD, MODEL_CRD];

/** The whole CRD object (default: ModelEndpoint's). */
export function buildCrd(source: CrdSource = MODEL_ENDPOINT_CRD): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: source.crdName },
    spec: {
      group: GROUP,
      names: { ...source.names, shortNames: [...source.names.shortNames] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: source.printerColumns,
          schema: { openAPIV3Schema: openApiSchema(source) },
        },
      ],
    },
  };
}

/** The file a CRD is written to under crds/: `<plural>.<group>.yaml`. */
export function crdFile(source: CrdSource): string {
  return `${source.crdName}.yaml`;
}

/** The file name the ModelEndpoint CRD is written to under crds/. */
export const CRD_FILE = crdFile(MODEL_ENDPOINT_CRD);
/** The file name the Model CRD is written to under crds/. */
export const MODEL_CRD_FILE = crdFile(MODEL_CRD);

const HEADER =
  "# Generated from the zod schemas in src/api by scripts/gen-crds.ts (`make crds`). Do not edit:\n" +
  "# `make crds-check` fails when this file and the schemas differ.\n";

/** A CRD as the YAML committed under crds/ (default: ModelEndpoint's). */
export function renderCrdYaml(source: CrdSource = MODEL_ENDPOINT_CRD): string {
  return HEADER + stringify(buildCrd(source), { lineWidth: 0, aliasDuplicateObjects: false });
}
