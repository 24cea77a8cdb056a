/**
 * The API (`serving.modelendpoint.io/v1alpha1`: ModelEndpoint and Model): schemas, types, names,
 * rules, the operator-side parsers and the Model's version resolver. Everything the rest of the
 * operator (and the Vertex AI API server) needs from the API comes from here.
 */
export * from "./constants.ts";
export {
  ACCELERATOR_TYPES,
  MACHINE_TYPES,
  MACHINE_TYPE_NAMES,
  GPU_RESOURCE,
  allowedAccelerators,
  isAcceleratorType,
  isMachineType,
  machineAccelerator,
  type Accelerator,
  type AcceleratorType,
  type ContainerResources,
  type MachineShape,
  type MachineSpecInput,
  type MachineType,
} from "./machine-types.ts";
export {
  ContainerSpecSchema,
  DedicatedResourcesSchema,
  DeployedModelSchema,
  DeployedModelsSchema,
  EnvVarSchema,
  MachineSpecSchema,
  PlacementSchema,
  TolerationSchema,
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
  type Placement,
  type Toleration,
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
export {
  LABEL_KEY,
  LABEL_VALUE,
  LabelsSchema,
  MODEL_RULES,
  ModelSchema,
  ModelSpecSchema,
  ModelStatusSchema,
  ModelVersionSchema,
  ModelVersionsSchema,
  VERSION_ALIAS,
  VERSION_ID,
  compareVersionIds,
  modelRootRules,
  type Model,
  type ModelInput,
  type ModelSpec,
  type ModelStatus,
  type ModelVersion,
} from "./model.ts";
export { parseModel, validateModelUpdate } from "./model-parse.ts";
export {
  defaultModelVersion,
  nextModelVersionId,
  resolveModelVersion,
  type ModelVersionError,
  type ModelVersionErrorReason,
  type ModelVersionResult,
} from "./model-version.ts";
export {
  buildCrd,
  crdFile,
  renderCrdYaml,
  CRD_FILE,
  CRDS,
  MODEL_CRD,
  MODEL_CRD_FILE,
  MODEL_ENDPOINT_CRD,
  MODEL_PRINTER_COLUMNS,
  PRINTER_COLUMNS,
  type CrdSource,
} from "./crd.ts";
export type { CelValidation, PlainRule, Rule, TransitionRule } from "./rule.ts";
