/**
 * The ModelEndpoint API (`serving.modelendpoint.io/v1alpha1`): schemas, types, names, rules and the
 * operator-side parser. Everything the rest of the operator needs from the API comes from here.
 */
export * from "./constants.ts";
export {
  MACHINE_TYPES,
  MACHINE_TYPE_NAMES,
  GPU_RESOURCE,
  isMachineType,
  machineTypeResources,
  resolveContainerResources,
  type ContainerResources,
  type MachineShape,
  type MachineType,
} from "./machine-types.ts";
export {
  ContainerSpecSchema,
  DedicatedResourcesSchema,
  DeployedModelSchema,
  DeployedModelsSchema,
  EnvVarSchema,
  MachineSpecSchema,
  ModelEndpointSpecSchema,
  PortSchema,
  ResourceRequirementsSchema,
  RolloutOptionsSchema,
  SPEC_RULES,
  findRolloutCycles,
  type ContainerSpec,
  type DedicatedResources,
  type DeployedModel,
  type EnvVar,
  type MachineSpec,
  type ModelEndpointSpec,
  type ModelEndpointSpecInput,
  type Port,
  type ResourceRequirements,
  type RolloutOptions,
} from "./spec.ts";
export {
  ConditionSchema,
  DeployedModelStatusSchema,
  ModelEndpointStatusSchema,
  type Condition,
  type DeployedModelStatus,
  type ModelEndpointStatus,
} from "./status.ts";
export {
  ModelEndpointSchema,
  ObjectMetaSchema,
  rootRules,
  type ModelEndpoint,
  type ModelEndpointInput,
  type ObjectMeta,
} from "./resource.ts";
export {
  parseModelEndpoint,
  validateCreate,
  validateUpdate,
  formatPath,
  RULES_NOT_CHECKED,
  type ParseResult,
  type ValidationIssue,
} from "./parse.ts";
export { buildCrd, renderCrdYaml, CRD_FILE, PRINTER_COLUMNS } from "./crd.ts";
export type { CelValidation, PlainRule, Rule, TransitionRule } from "./rule.ts";
