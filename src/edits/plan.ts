/**
 * The writes of the kubectl plugin and of the Vertex AI API server, as pure functions, in one place:
 * from the endpoint as read (raw, and parsed) and a request, the whole endpoint to write back, or a
 * Refusal saying why not. The caller replaces
 * the object at the resourceVersion it read (a precondition: never a blind overwrite) after
 * checking it with the API's own rules (validateUpdate), and re-plans from a fresh read on a
 * conflict.
 *
 * Entries are copied as their authors wrote them (raw), never with defaults filled in: an
 * existing entry's containerSpec is immutable, so writing it back with a default added would be
 * refused.
 */
import { canRollOnto } from "../rollout/admission.ts";
import { validateUpdate, type ModelEndpoint } from "../api/index.ts";
import {
  viewOf,
  type EndpointView,
  type ModelView,
  type RawDeployedModel,
  type RawEndpoint,
} from "./endpoint.ts";

/**
 * A change the endpoint's state does not allow; the message says what to do instead, in terms of
 * the endpoint's fields. `pluginHint` says it with the kubectl plugin's flags, for its users.
 */
export class Refusal extends Error {
  override readonly name = "Refusal";
  readonly pluginHint: string | undefined;

  constructor(message: string, pluginHint?: string) {
    super(message);
    this.pluginHint = pluginHint;
  }
}

/** A spec edit the plugin would write: the new endpoint, and what it adds or removes. */
export interface EditPlan {
  /** The endpoint to write (metadata as read, so its resourceVersion is the precondition). */
  readonly next: RawEndpoint;
  /** The deployed model added (deploy, rollback) or removed (undeploy). */
  readonly entry: RawDeployedModel;
  /** One line for the user: what the write does. */
  readonly summary: string;
}

export type Budget = { readonly replicas: number } | { readonly percent: number };

/** A rolling deployment's budgets, as far as the caller gives them (the API server defaults the rest). */
export interface Budgets {
  readonly maxSurge?: Budget;
  readonly maxUnavailable?: Budget;
  readonly progressDeadlineSeconds?: number;
}

/** A rolling deployment of a new model onto a deployed one. */
export interface DeployRequest {
  readonly id: string;
  /** spec.deployedModels[].model: "name@version". */
  readonly model: string;
  /**
   * The new entry's containerSpec as the caller gives it. The previous model's predictRoute and
   * healthRoute are carried over (a rolling deployment keeps its routes), and its ports when the
   * request gives none.
   */
  readonly containerSpec: Readonly<Record<string, unknown>>;
  /** The model to roll onto (default: the intended revision of the endpoint's only chain). */
  readonly previous?: string | undefined;
  readonly budgets: Budgets;
  readonly serviceAccount?: string | undefined;
}

/** A rollback: a new rolling deployment of the model `from` replaced, onto `from`. */
export interface RollbackRequest {
  /** The revision rolled back from (default: the newest rolling deployment). */
  readonly from?: string | undefined;
  /** The new entry's id (default: `<previous id>-r<revision>`). */
  readonly id?: string | undefined;
  readonly budgets: Budgets;
}

/** The removal of a deployed model, with the split that replaces spec.trafficSplit in the same write. */
export interface UndeployRequest {
  readonly id: string;
  readonly trafficSplit?: Readonly<Record<string, number>> | undefined;
}

/** rolloutOptions from the budget flags (only what was given; the API server defaults the rest). */
export function rolloutOptions(previous: string, budgets: Budgets): Record<string, unknown> {
  const options: Record<string, unknown> = { previousDeployedModel: previous };
  const { maxSurge, maxUnavailable, progressDeadlineSeconds } = budgets;
  if (maxSurge !== undefined) {
    if ("replicas" in maxSurge) options["maxSurgeReplicas"] = maxSurge.replicas;
    else options["maxSurgePercentage"] = maxSurge.percent;
  }
  if (maxUnavailable !== undefined) {
    if ("replicas" in maxUnavailable) options["maxUnavailableReplicas"] = maxUnavailable.replicas;
    else options["maxUnavailablePercentage"] = maxUnavailable.percent;
  }
  if (progressDeadlineSeconds !== undefined) options["progressDeadlineSeconds"] = progressDeadlineSeconds;
  return options;
}

function rawModels(raw: RawEndpoint): readonly RawDeployedModel[] {
  return raw.spec?.deployedModels ?? [];
}

function rawEntry(raw: RawEndpoint, id: string): RawDeployedModel | undefined {
  return rawModels(raw).find((m) => m.id === id);
}

function withModels(
  raw: RawEndpoint,
  deployedModels: readonly RawDeployedModel[],
  trafficSplit?: Readonly<Record<string, number>>,
): RawEndpoint {
  return {
    ...(raw.apiVersion === undefined ? {} : { apiVersion: raw.apiVersion }),
    ...(raw.kind === undefined ? {} : { kind: raw.kind }),
    ...(raw.metadata === undefined ? {} : { metadata: raw.metadata }),
    spec: { ...raw.spec, deployedModels, ...(trafficSplit === undefined ? {} : { trafficSplit }) },
  };
}

/** Checks a planned endpoint with the API's rules, as the API server will; throws a Refusal. */
export function checkPlan(raw: RawEndpoint, next: RawEndpoint): void {
  const result = validateUpdate(raw, next);
  if (!result.ok) {
    throw new Refusal(
      `the API would refuse this change:\n${result.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
    );
  }
}

/** A model's state in words for a refusal: "m1 is REPLACED". */
function stateOf(m: ModelView): string {
  return `${m.id} is ${m.state}${m.reason === undefined ? "" : ` (${m.reason})`}`;
}

/**
 * The model to roll onto when --previous is not given: the intended revision of the endpoint's
 * only rollout chain.
 */
function defaultPrevious(view: EndpointView): ModelView {
  const intended = view.models.filter((m) => m.intended);
  const [only] = intended;
  if (only === undefined) throw new Refusal(`${view.name} has no deployed model to roll onto`);
  if (intended.length > 1) {
    throw new Refusal(
      `${view.name} has ${intended.length} rollout chains (${intended.map((m) => m.id).join(", ")}): name the model to roll onto (rolloutOptions.previousDeployedModel)`,
      "pass --previous",
    );
  }
  return only;
}

/** A new rolling deployment of `cmd.model` onto `cmd.previous`. */
export function planDeploy(raw: RawEndpoint, endpoint: ModelEndpoint, cmd: DeployRequest): EditPlan {
  const view = viewOf(endpoint);
  const previous =
    cmd.previous === undefined ? defaultPrevious(view) : view.models.find((m) => m.id === cmd.previous);
  if (previous === undefined) {
    throw new Refusal(`${cmd.previous ?? ""} is not a deployed model of ${view.name}`);
  }
  if (view.models.some((m) => m.id === cmd.id))
    throw new Refusal(`${cmd.id} is already a deployed model of ${view.name}`);
  const taken = view.models.find((m) => m.previous === previous.id);
  if (taken !== undefined) {
    throw new Refusal(
      `${taken.id} already rolls onto ${previous.id}: roll onto ${taken.id} instead, or undeploy ${taken.id} first`,
    );
  }
  // R10, as the operator judges it: onto a DEPLOYED model or an in-progress rolling deployment.
  if (!canRollOnto(previous.state, previous.previous !== undefined)) {
    throw new Refusal(
      `${stateOf(previous)}: a rolling deployment goes onto a DEPLOYED model or an in-progress rolling deployment` +
        (previous.intended ? "" : `; roll onto ${previous.chain}'s current revision instead`),
    );
  }
  const from = rawEntry(raw, previous.id)?.containerSpec ?? {};
  const containerSpec: Record<string, unknown> = structuredClone({ ...cmd.containerSpec });
  if (containerSpec["ports"] === undefined && from["ports"] !== undefined)
    containerSpec["ports"] = structuredClone(from["ports"]);
  // A rolling deployment must keep its previous model's routes (both unset, or the same value).
  for (const route of ["predictRoute", "healthRoute"]) {
    if (from[route] !== undefined) containerSpec[route] = from[route];
  }
  const entry: RawDeployedModel = {
    id: cmd.id,
    model: cmd.model,
    containerSpec,
    rolloutOptions: rolloutOptions(previous.id, cmd.budgets),
    ...(cmd.serviceAccount === undefined ? {} : { serviceAccount: cmd.serviceAccount }),
  };
  return {
    next: withModels(raw, [...rawModels(raw), entry]),
    entry,
    summary: `${view.name}: ${cmd.id} (${cmd.model}, ${typeof containerSpec["imageUri"] === "string" ? containerSpec["imageUri"] : ""}) rolls onto ${previous.id}`,
  };
}

/** The revision `rollback` starts from when --from is not given. */
function defaultFrom(view: EndpointView): ModelView {
  const inProgress = view.models.filter((m) => m.state === "BEING_DEPLOYED" && m.previous !== undefined);
  const candidates =
    inProgress.length > 0 ? inProgress : view.models.filter((m) => m.intended && m.previous !== undefined);
  const [only] = candidates;
  if (only === undefined) {
    throw new Refusal(
      `${view.name} has no rolling deployment to roll back (every chain is at its first revision)`,
    );
  }
  if (candidates.length > 1) {
    throw new Refusal(
      `${view.name} has several revisions to roll back from (${candidates.map((m) => m.id).join(", ")}): name the one to roll back from`,
      "pass --from",
    );
  }
  return only;
}

/**
 * `rollback`, Vertex AI's recipe: a new rolling deployment of the previous model (same model,
 * same container) onto the newest revision, even an in-progress one. Being the chain's highest
 * revision, it is what the chain converges on (R9).
 */
export function planRollback(raw: RawEndpoint, endpoint: ModelEndpoint, cmd: RollbackRequest): EditPlan {
  const view = viewOf(endpoint);
  const from = cmd.from === undefined ? defaultFrom(view) : view.models.find((m) => m.id === cmd.from);
  if (from === undefined) throw new Refusal(`${cmd.from ?? ""} is not a deployed model of ${view.name}`);
  if (from.previous === undefined) {
    throw new Refusal(`${from.id} is the first revision of its chain: there is nothing to roll back to`);
  }
  if (from.state !== "BEING_DEPLOYED" && from.state !== "DEPLOYED") {
    throw new Refusal(
      `${stateOf(from)}: only a DEPLOYED or in-progress revision can be rolled back` +
        (from.state === "FAILED" ? ` (a FAILED rollout has already reverted to ${from.previous})` : ""),
    );
  }
  const taken = view.models.find((m) => m.previous === from.id);
  if (taken !== undefined) throw new Refusal(`${taken.id} already rolls onto ${from.id}`);
  const previous = rawEntry(raw, from.previous);
  if (previous?.containerSpec === undefined) {
    throw new Refusal(
      `${from.previous}, the model ${from.id} replaced, is no longer in the endpoint: deploy its model again ` +
        `as a rolling deployment onto ${from.id}`,
      `kubectl modelendpoint deploy ${view.name} <id> --previous ${from.id} --image ... --model ...`,
    );
  }
  const revision = (from.revision ?? 1) + 1;
  const id = cmd.id ?? `${previous.id}-r${revision}`;
  if (id.length > 22)
    throw new Refusal(`the default id ${id} is longer than 22 characters: give an id`, "pass --id");
  if (view.models.some((m) => m.id === id))
    throw new Refusal(`${id} is already a deployed model: give another id`, "pass --id");
  const entry: RawDeployedModel = {
    id,
    ...(previous.model === undefined ? {} : { model: previous.model }),
    containerSpec: structuredClone(previous.containerSpec),
    rolloutOptions: rolloutOptions(from.id, cmd.budgets),
    ...(previous["serviceAccount"] === undefined ? {} : { serviceAccount: previous["serviceAccount"] }),
  };
  return {
    next: withModels(raw, [...rawModels(raw), entry]),
    entry,
    summary: `${view.name}: ${id} (revision ${revision}) rolls ${previous.id}'s model ${previous.model ?? ""} back onto ${from.id} (${from.state})`,
  };
}

/** `undeploy`: removes a deployed model that receives no traffic (or whose share --traffic-split moves). */
export function planUndeploy(raw: RawEndpoint, endpoint: ModelEndpoint, cmd: UndeployRequest): EditPlan {
  const view = viewOf(endpoint);
  const model = view.models.find((m) => m.id === cmd.id);
  const entry = rawEntry(raw, cmd.id);
  if (model === undefined || entry === undefined)
    throw new Refusal(`${cmd.id} is not a deployed model of ${view.name}`);
  const split = cmd.trafficSplit ?? raw.spec?.trafficSplit ?? {};
  const share = split[cmd.id] ?? 0;
  if (share > 0) {
    throw new Refusal(
      `${cmd.id} has ${share}% of spec.trafficSplit: move it in the same change with a new traffic split ` +
        `(e.g. ${suggestSplit(view, cmd.id)})`,
      "pass --traffic-split",
    );
  }
  if (model.traffic > 0) {
    throw new Refusal(
      `${cmd.id} serves ${model.traffic}% of the traffic right now (status.trafficSplit): ` +
        "wait until its rollout chain has moved off it",
      `follow it with: kubectl modelendpoint rollout status ${view.name}`,
    );
  }
  const remaining = rawModels(raw).filter((m) => m.id !== cmd.id);
  const next = withModels(
    raw,
    remaining,
    cmd.trafficSplit === undefined ? undefined : { ...cmd.trafficSplit },
  );
  return {
    next,
    entry,
    summary: `${view.name}: ${cmd.id} (${model.state}) removed; the operator retires its ${model.replicas} replicas`,
  };
}

/** "m2=100": the model's share moved to its chain's intended revision, for a refusal's hint. */
function suggestSplit(view: EndpointView, id: string): string {
  const model = view.models.find((m) => m.id === id);
  const heir = view.models.find((m) => m.chain === model?.chain && m.intended && m.id !== id);
  const split = new Map<string, number>();
  for (const m of view.models) if (m.specTraffic > 0) split.set(m.id, m.specTraffic);
  if (heir !== undefined) {
    split.set(heir.id, (split.get(heir.id) ?? 0) + (split.get(id) ?? 0));
    split.delete(id);
  }
  return [...split].map(([k, v]) => `${k}=${v}`).join(",");
}
