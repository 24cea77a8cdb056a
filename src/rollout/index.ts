/**
 * The rollout engine: pure planning of rolling deployments, reverts, rollbacks and traffic for one
 * ModelEndpoint. The controller gathers a {@link Snapshot}, calls {@link plan} with its clock's
 * `now`, applies the actions in order, records the events, writes the status when it changed and
 * requeues after `requeueAfterMs`. See docs/rollout.md.
 */
export { plan } from "./plan.ts";
export {
  calculateBudgets,
  calculateProgressDeadlineSeconds,
  DEFAULT_BUDGET_PERCENTAGE,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
} from "./budgets.ts";
export type { BudgetOptions, Budgets } from "./budgets.ts";
export { calculateServingCounts } from "./traffic.ts";
export type { ChainSupply } from "./traffic.ts";
export { countersSettling, recordsMemory, statusMayWait } from "./settling.ts";
export {
  ACTION_EVENT_REASONS,
  ConditionReason,
  ConditionType,
  DEPLOYED_MODEL_STATES,
  EventReason,
  FailureReason,
  REFUSAL_REASONS,
} from "./types.ts";
export type {
  Action,
  ActionError,
  Condition,
  ConditionStatus,
  ContainerSpec,
  CreateReplicaSet,
  DedicatedResources,
  DeleteReplicaSet,
  DeployedModelSpec,
  DeployedModelState,
  DeployedModelStatus,
  EndpointRef,
  EndpointSpec,
  EndpointStatus,
  Instant,
  MachineSpec,
  Plan,
  PlanEvent,
  PodPhase,
  PodSnapshot,
  RecordedCondition,
  RecordedDeployedModelStatus,
  RecordedStatus,
  ReplicaSetSnapshot,
  ResolvedDeployedModel,
  RolloutOptions,
  ScaleReplicaSet,
  SetPodServing,
  Snapshot,
} from "./types.ts";
