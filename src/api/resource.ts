/**
 * The whole ModelEndpoint object: apiVersion, kind, metadata, spec and status.
 */
import { z } from "zod";

import { API_VERSION, KIND, MAX_DEPLOYED_MODEL_ID_LENGTH, MAX_ENDPOINT_NAME_LENGTH } from "./constants.ts";
import { DNS_1035_LABEL, ModelEndpointSpecSchema } from "./spec.ts";
import { ModelEndpointStatusSchema } from "./status.ts";
import { celRegex, withRules, type Rule } from "./rule.ts";

/**
 * The metadata fields the operator reads. Everything else Kubernetes sets is kept as is (the object
 * is loose), so a parsed object can be written back.
 */
export const ObjectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.output<typeof ObjectMetaSchema>;

const ModelEndpointBase = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMetaSchema,
  spec: ModelEndpointSpecSchema,
  status: ModelEndpointStatusSchema.optional(),
});
type ModelEndpointBase = z.output<typeof ModelEndpointBase>;

/**
 * The two rules on a resource's metadata.name: its format (`pattern`) and its length. Only
 * metadata.name (and generateName) are visible to CEL on the root object.
 */
export function metadataNameRules<T extends { metadata: { name: string } }>(
  prefix: string,
  format: { readonly pattern: string; readonly message: string },
  length: { readonly max: number; readonly message: string },
): Rule<T>[] {
  const re = new RegExp(format.pattern);
  return [
    {
      kind: "plain",
      name: `${prefix}.nameFormat`,
      rule: `self.metadata.name.matches(${celRegex(format.pattern)})`,
      message: format.message,
      fieldPath: ".metadata.name",
      check: (self) => re.test(self.metadata.name),
    },
    {
      kind: "plain",
      name: `${prefix}.nameLength`,
      rule: `size(self.metadata.name) <= ${length.max}`,
      message: length.message,
      fieldPath: ".metadata.name",
      check: (self) => self.metadata.name.length <= length.max,
    },
  ];
}

/** Rules on the root object. */
export const rootRules: Rule<ModelEndpointBase>[] = metadataNameRules(
  "metadata",
  {
    pattern: DNS_1035_LABEL,
    message:
      "metadata.name must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter " +
      "and ending with a letter or digit (it names the endpoint's Service)",
  },
  {
    max: MAX_ENDPOINT_NAME_LENGTH,
    message:
      `metadata.name must be at most ${MAX_ENDPOINT_NAME_LENGTH} characters, so that the name ` +
      `<endpoint>-<deployed model id> of derived objects fits in 63 (ids have at most ${MAX_DEPLOYED_MODEL_ID_LENGTH})`,
  },
);

export const ModelEndpointSchema = withRules(ModelEndpointBase, rootRules).describe(
  "An online-prediction endpoint: deployed models (revisions) of ML models, a traffic split between " +
    "them, and rolling deployments from one revision to the next.",
);

/** A ModelEndpoint as the operator uses it: validated, with defaults applied. */
export type ModelEndpoint = z.output<typeof ModelEndpointSchema>;
/** A ModelEndpoint as a user may write it (defaults not applied). */
export type ModelEndpointInput = z.input<typeof ModelEndpointSchema>;
