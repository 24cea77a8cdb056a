/**
 * EndpointService on ModelEndpoints: each method reads the endpoint, decides the whole object to
 * write with the shared edits (src/edits/plan.ts, the same the kubectl plugin uses), and replaces
 * it at the resourceVersion it read. A write conflict is planned again from a fresh read (up to
 * three times) before the caller gets ABORTED. The API server's own rules (the CRD's CEL) have the
 * last word: their refusal comes back as INVALID_ARGUMENT with the rule's message.
 */
import { API_VERSION, KIND, type ModelEndpoint } from "../api/index.ts";
import { parseEndpoint, viewOf, type RawDeployedModel, type RawEndpoint } from "../edits/endpoint.ts";
import {
  planDeploy,
  planRollback,
  planUndeploy,
  Refusal,
  type Budgets,
  type EditPlan,
} from "../edits/plan.ts";
import { NotFoundError } from "../kube/errors.ts";
import type { KubeObject } from "../kube/objects.ts";
import type { ResourceClient } from "../kube/client.ts";
import { readPlanReplace, type Replaceable } from "../edits/replace.ts";
import type { Reads } from "./reads.ts";
import {
  CANCELLED_ANNOTATION,
  cancelledDeployments,
  DESCRIPTION_ANNOTATION,
  MAX_CANCELLED,
  stateOf,
  toVertexEndpoint,
} from "./convert.ts";
import { checkEndpointId, newDeployedModelId, newEndpointId, parseModelName, type Parent } from "./names.ts";
import { operationId, type OperationKind } from "./operations.ts";
import { fromKubeError, RpcError } from "./status.ts";
import type {
  DeployModelRequest,
  Endpoint,
  EndpointPatch,
  MutateDeployedModelRequest,
  UndeployModelRequest,
} from "./wire.ts";
import type { z } from "zod";

/** How often a request that waits on the cluster reads the endpoint again. */
const POLL_MS = 500;

/** A model version's container, as the Model resource holds it. */
export interface ResolvedModel {
  /** "name@version" for the ModelEndpoint entry. */
  readonly ref: string;
  readonly containerSpec: Readonly<Record<string, unknown>>;
}

/** Resolves `projects/P/locations/L/models/M[@version|@alias]` in a namespace. */
export type ModelResolver = (namespace: string, model: string, version: string) => Promise<ResolvedModel>;

/** What a method needs of the cluster, with the caller's identity. */
export interface Cluster {
  readonly endpoints: ResourceClient<KubeObject>;
  readonly resolveModel: ModelResolver;
}

/** A started long-running operation: its kind and the deployed model it waits for. */
export interface Started {
  readonly endpointId: string;
  readonly kind: OperationKind;
  readonly model: string;
  readonly operationId: string;
}

function started(endpointId: string, kind: OperationKind, model = ""): Started {
  return { endpointId, kind, model, operationId: operationId(kind, model) };
}

export async function readEndpoint(
  endpoints: Reads,
  parent: Parent,
  id: string,
): Promise<{ raw: RawEndpoint; endpoint: ModelEndpoint }> {
  try {
    const raw = (await endpoints.get(parent.namespace, id)) as RawEndpoint;
    return { raw, endpoint: parseEndpoint(raw) };
  } catch (err) {
    throw fromKubeError(err, `endpoint ${id}`);
  }
}

/** The endpoint, or undefined when it does not exist. */
export async function findEndpoint(
  endpoints: Reads,
  parent: Parent,
  id: string,
): Promise<ModelEndpoint | undefined> {
  try {
    return parseEndpoint(await endpoints.get(parent.namespace, id));
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw fromKubeError(err, `endpoint ${id}`);
  }
}

/**
 * Reads the endpoint until `done` holds of it (undefined: it does not exist) or `waitMs` has passed;
 * resolves with the last read.
 */
export async function pollEndpoint(
  endpoints: Reads,
  parent: Parent,
  id: string,
  done: (endpoint: ModelEndpoint | undefined) => boolean,
  waitMs: number,
): Promise<ModelEndpoint | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const endpoint = await findEndpoint(endpoints, parent, id);
    if (done(endpoint) || Date.now() >= deadline) return endpoint;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Reads the endpoint, plans the whole next object with `plan`, and replaces it at the version read;
 * on a conflict, again from a fresh read.
 */
async function edit(
  cluster: Cluster,
  parent: Parent,
  id: string,
  plan: (raw: RawEndpoint, endpoint: ModelEndpoint) => RawEndpoint,
): Promise<ModelEndpoint> {
  // No checkPlan here, unlike the plugin: the API server's own refusal carries the CRD rule's
  // message, which the caller gets as INVALID_ARGUMENT (a Refusal of a plan is FAILED_PRECONDITION).
  let written: unknown;
  try {
    ({ written } = await readPlanReplace(
      cluster.endpoints as Replaceable<RawEndpoint>,
      parent.namespace,
      id,
      (raw) => ({ next: plan(raw, parseEndpoint(raw)) }),
    ));
  } catch (err) {
    if (err instanceof Refusal) throw new RpcError("FAILED_PRECONDITION", err.message);
    if (err instanceof RpcError) throw err;
    throw fromKubeError(err, `endpoint ${id}`);
  }
  return parseEndpoint(written);
}

export async function createEndpoint(
  cluster: Cluster,
  parent: Parent,
  requestedId: string | undefined,
  body: z.output<typeof Endpoint>,
): Promise<Started> {
  const id = requestedId === undefined || requestedId === "" ? newEndpointId() : checkEndpointId(requestedId);
  if (body.trafficSplit !== undefined && Object.keys(body.trafficSplit).length > 0) {
    throw new RpcError("INVALID_ARGUMENT", "a new endpoint has no deployed model to give traffic to", [
      { field: "endpoint.trafficSplit", description: "must be empty on create" },
    ]);
  }
  const object = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: id,
      namespace: parent.namespace,
      ...(body.labels === undefined ? {} : { labels: body.labels }),
      ...(body.description === undefined
        ? {}
        : { annotations: { [DESCRIPTION_ANNOTATION]: body.description } }),
    },
    spec: { displayName: body.displayName, trafficSplit: {}, deployedModels: [] },
  };
  try {
    await cluster.endpoints.create(object);
  } catch (err) {
    throw fromKubeError(err, `endpoint ${id}`);
  }
  return started(id, "createEndpoint");
}

/** States of deployed models that Vertex no longer shows: REPLACED ones are undeployed, FAILED ones reverted. */
const RETIRED: ReadonlySet<string> = new Set(["REPLACED", "FAILED"]);

/**
 * deleteEndpoint: refused, as on Vertex, while the endpoint has deployed models (any but REPLACED
 * and FAILED ones, which Vertex no longer holds).
 */
export async function deleteEndpoint(cluster: Cluster, parent: Parent, id: string): Promise<Started> {
  const { endpoint } = await readEndpoint(cluster.endpoints, parent, id);
  const deployed = viewOf(endpoint).models.filter((m) => !RETIRED.has(m.state));
  if (deployed.length > 0) {
    throw new RpcError(
      "FAILED_PRECONDITION",
      `endpoint ${id} has deployed models (${deployed.map((m) => `${m.id}: ${m.state}`).join(", ")}): undeploy them first`,
    );
  }
  try {
    await cluster.endpoints.delete(parent.namespace, id);
  } catch (err) {
    throw fromKubeError(err, `endpoint ${id}`);
  }
  return started(id, "deleteEndpoint");
}

export async function updateEndpoint(
  cluster: Cluster,
  parent: Parent,
  id: string,
  body: z.output<typeof EndpointPatch>,
  mask: readonly string[],
): Promise<Record<string, unknown>> {
  const next = await edit(cluster, parent, id, (raw) => {
    if (body.etag !== undefined && body.etag !== raw.metadata?.resourceVersion) {
      throw new RpcError(
        "ABORTED",
        `endpoint ${id} changed since etag ${body.etag} (now ${raw.metadata?.resourceVersion ?? ""})`,
      );
    }
    const metadata = { ...raw.metadata } as Record<string, unknown>;
    const spec = { ...raw.spec } as Record<string, unknown>;
    for (const path of mask) {
      if (path === "displayName") spec["displayName"] = body.displayName;
      if (path === "trafficSplit") spec["trafficSplit"] = body.trafficSplit ?? {};
      if (path === "labels") {
        const kept = Object.entries((metadata["labels"] ?? {}) as Record<string, string>).filter(([k]) =>
          k.includes("/"),
        );
        metadata["labels"] = { ...Object.fromEntries(kept), ...(body.labels ?? {}) };
      }
      if (path === "description") {
        metadata["annotations"] = {
          ...((metadata["annotations"] ?? {}) as Record<string, string>),
          [DESCRIPTION_ANNOTATION]: body.description ?? "",
        };
      }
    }
    return { ...raw, metadata, spec };
  });
  return toVertexEndpoint(parent, next, { allDeploymentStates: true });
}

/** A request's trafficSplit with "0" (the model being deployed) named by its id. */
function withNewModel(
  split: Readonly<Record<string, number>> | undefined,
  id: string,
): Record<string, number> | undefined {
  if (split === undefined) return undefined;
  return Object.fromEntries(Object.entries(split).map(([k, v]) => [k === "0" ? id : k, v]));
}

/** What the server fills in where a deployModel request says nothing. */
export interface DeployDefaults {
  /**
   * rolloutOptions.progressDeadlineSeconds of a rolling deployment that does not give one (the
   * client libraries cannot: the field is this server's extension); undefined: the CRD's 600.
   */
  readonly progressDeadlineSeconds?: number | undefined;
}

/** Vertex's rolloutOptions budgets as the shared edits take them. */
function budgetsOf(
  options: NonNullable<z.output<typeof DeployModelRequest>["deployedModel"]["rolloutOptions"]>,
  defaults: DeployDefaults,
): Budgets {
  const pick = (replicas: number | undefined, percent: number | undefined) =>
    replicas !== undefined ? { replicas } : percent !== undefined ? { percent } : undefined;
  const maxSurge = pick(options.maxSurgeReplicas, options.maxSurgePercentage);
  const maxUnavailable = pick(options.maxUnavailableReplicas, options.maxUnavailablePercentage);
  const progressDeadlineSeconds = options.progressDeadlineSeconds ?? defaults.progressDeadlineSeconds;
  return {
    ...(maxSurge === undefined ? {} : { maxSurge }),
    ...(maxUnavailable === undefined ? {} : { maxUnavailable }),
    ...(progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds }),
  };
}

/**
 * The endpoint without its FAILED rolling deployments onto `previous` (those without a key in
 * spec.trafficSplit). On Vertex a failed rolling deployment leaves no deployed model, so another
 * may roll onto the same model at once; here the FAILED entry stays (its status says why) until the
 * next rolling deployment onto that model removes it in the same write.
 */
function withoutFailedRollouts(
  raw: RawEndpoint,
  endpoint: ModelEndpoint,
  previous: string,
): { raw: RawEndpoint; endpoint: ModelEndpoint } {
  const split = raw.spec?.trafficSplit ?? {};
  const failed = new Set(
    endpoint.spec.deployedModels
      .filter(
        (m) =>
          m.rolloutOptions?.previousDeployedModel === previous &&
          stateOf(endpoint, m.id) === "FAILED" &&
          !(m.id in split),
      )
      .map((m) => m.id),
  );
  if (failed.size === 0) return { raw, endpoint };
  const next: RawEndpoint = {
    ...raw,
    spec: { ...raw.spec, deployedModels: (raw.spec?.deployedModels ?? []).filter((m) => !failed.has(m.id)) },
  };
  return { raw: next, endpoint: parseEndpoint(next) };
}

/**
 * deployModel. With rolloutOptions: a rolling deployment onto previousDeployedModel (compute and
 * traffic inherited; a rollback is the same call naming the older model onto the in-progress one).
 * Without: a new model with its own dedicatedResources, and the request's trafficSplit ("0" is the
 * new model; an endpoint without traffic gives it 100).
 */
export async function deployModel(
  cluster: Cluster,
  parent: Parent,
  endpointId: string,
  body: z.output<typeof DeployModelRequest>,
  defaults: DeployDefaults = {},
): Promise<Started> {
  const dm = body.deployedModel;
  const id = dm.id === undefined || dm.id === "" ? newDeployedModelId() : dm.id;
  const ref = parseModelName(parent, dm.model);
  const model = await cluster.resolveModel(parent.namespace, ref.model, ref.version);
  const split = withNewModel(body.trafficSplit, id);
  await edit(cluster, parent, endpointId, (raw, endpoint): RawEndpoint => {
    if (dm.rolloutOptions !== undefined) {
      if (dm.dedicatedResources !== undefined) {
        throw new RpcError(
          "INVALID_ARGUMENT",
          "a rolling deployment inherits dedicatedResources from its previous deployed model: leave deployedModel.dedicatedResources out",
          [{ field: "deployedModel.dedicatedResources", description: "not allowed with rolloutOptions" }],
        );
      }
      const previous = dm.rolloutOptions.previousDeployedModel;
      const base = withoutFailedRollouts(raw, endpoint, previous);
      const planned: EditPlan = planDeploy(base.raw, base.endpoint, {
        id,
        model: model.ref,
        containerSpec: model.containerSpec,
        previous,
        budgets: budgetsOf(dm.rolloutOptions, defaults),
        serviceAccount: dm.serviceAccount,
      });
      return split === undefined
        ? planned.next
        : { ...planned.next, spec: { ...planned.next.spec, trafficSplit: split } };
    }
    if (dm.dedicatedResources?.minReplicaCount === undefined) {
      throw new RpcError("INVALID_ARGUMENT", "deployedModel.dedicatedResources.minReplicaCount is required", [
        {
          field: "deployedModel.dedicatedResources.minReplicaCount",
          description: "required without rolloutOptions",
        },
      ]);
    }
    const existing = raw.spec?.deployedModels ?? [];
    if (existing.some((m) => m.id === id)) {
      throw new RpcError("ALREADY_EXISTS", `deployed model ${id} already exists in endpoint ${endpointId}`);
    }
    const entry: RawDeployedModel = {
      id,
      model: model.ref,
      containerSpec: structuredClone({ ...model.containerSpec }),
      dedicatedResources: dm.dedicatedResources,
      ...(dm.serviceAccount === undefined ? {} : { serviceAccount: dm.serviceAccount }),
    };
    const current = raw.spec?.trafficSplit ?? {};
    const trafficSplit = split ?? (Object.keys(current).length === 0 ? { [id]: 100 } : current);
    return { ...raw, spec: { ...raw.spec, deployedModels: [...existing, entry], trafficSplit } };
  });
  return started(endpointId, "deployModel", id);
}

/**
 * undeployModel: refused while the model has a share, unless the request's trafficSplit moves it
 * (Vertex: "or if this field unassigns any traffic to it"). A DEPLOYED model that serves right now
 * (status.trafficSplit) is not removed under its traffic: the split is written first, and the model
 * removed once the operator has moved its traffic away (waiting up to `waitMs`; past that, the
 * refusal says it still serves, and the split stays written).
 */
export async function undeployModel(
  cluster: Cluster,
  parent: Parent,
  endpointId: string,
  body: z.output<typeof UndeployModelRequest>,
  waitMs: number,
): Promise<Started> {
  const id = body.deployedModelId;
  const { endpoint } = await readEndpoint(cluster.endpoints, parent, endpointId);
  // As on Vertex, the last deployed model goes whatever its share, and the split ends empty.
  const last = viewOf(endpoint).models.every((m) => m.id === id || RETIRED.has(m.state));
  const split = last ? {} : body.trafficSplit;
  if (split !== undefined && (split[id] ?? 0) === 0) {
    const serves = (e: ModelEndpoint | undefined) => (e?.status?.trafficSplit?.[id] ?? 0) > 0;
    if (stateOf(endpoint, id) === "DEPLOYED" && serves(endpoint)) {
      await edit(cluster, parent, endpointId, (raw) => ({
        ...raw,
        spec: { ...raw.spec, trafficSplit: split },
      }));
      await pollEndpoint(cluster.endpoints, parent, endpointId, (e) => !serves(e), waitMs);
    }
  }
  await edit(cluster, parent, endpointId, (raw, endpoint) =>
    withoutRetiredChain(planUndeploy(raw, endpoint, { id, trafficSplit: split }).next, endpoint, id),
  );
  return started(endpointId, "undeployModel", body.deployedModelId);
}

/**
 * `next` without the REPLACED and FAILED revisions of `id`'s rollout chain once no other member is
 * left: on Vertex they no longer exist, and kept here, the last of them would be deployed again
 * (a chain whose newest revision is removed returns to the one before).
 */
function withoutRetiredChain(next: RawEndpoint, endpoint: ModelEndpoint, id: string): RawEndpoint {
  const models = viewOf(endpoint).models;
  const chain = models.find((m) => m.id === id)?.chain;
  const members = models.filter((m) => m.chain === chain && m.id !== id);
  if (members.length === 0 || members.some((m) => !RETIRED.has(m.state))) return next;
  const gone = new Set(members.map((m) => m.id));
  const split = Object.entries(next.spec?.trafficSplit ?? {}).filter(([k]) => !gone.has(k));
  return {
    ...next,
    spec: {
      ...next.spec,
      deployedModels: (next.spec?.deployedModels ?? []).filter((m) => !gone.has(m.id)),
      trafficSplit: Object.fromEntries(split),
    },
  };
}

/**
 * operations.cancel of a deployModel operation. A rolling deployment still in progress is rolled
 * back (the model it replaces is deployed again onto it, with the CRD's default budgets) and its
 * operation ends CANCELLED. An operation already
 * done is left as it is (cancel is best effort, as google.longrunning says). A first deployment
 * (no previous model) is refused: undeployModel stops it.
 */
export async function cancelDeployment(
  cluster: Cluster,
  parent: Parent,
  endpointId: string,
  model: string,
): Promise<void> {
  const rollback = newDeployedModelId();
  // Thrown through edit() (an RpcError passes it unchanged) when the operation is done already.
  const done = new RpcError("CANCELLED", "nothing to cancel");
  try {
    // Judged on each fresh read: a deployment that completed meanwhile is not rolled back.
    await edit(cluster, parent, endpointId, (raw, current) => {
      const row = viewOf(current).models.find((m) => m.id === model);
      if (row === undefined)
        throw new RpcError("NOT_FOUND", `deployed model ${model} is not in endpoint ${endpointId}`);
      if (row.state !== "BEING_DEPLOYED" && row.state !== "PENDING") throw done;
      if (row.previous === undefined) {
        throw new RpcError(
          "FAILED_PRECONDITION",
          `deployed model ${model} is a first deployment, not a rolling deployment: undeployModel stops it`,
        );
      }
      const next = planRollback(raw, current, { from: model, id: rollback, budgets: {} }).next;
      const annotations = (next.metadata?.["annotations"] ?? {}) as Record<string, string>;
      const cancelled = [...cancelledDeployments(annotations), model].slice(-MAX_CANCELLED);
      return {
        ...next,
        metadata: {
          ...next.metadata,
          annotations: { ...annotations, [CANCELLED_ANNOTATION]: cancelled.join(",") },
        },
      };
    });
  } catch (err) {
    if (err !== done) throw err;
  }
}

/** mutateDeployedModel: the replica counts (dedicatedResources.min/maxReplicaCount) of a chain's root. */
export async function mutateDeployedModel(
  cluster: Cluster,
  parent: Parent,
  endpointId: string,
  body: z.output<typeof MutateDeployedModelRequest>,
  mask: readonly string[],
): Promise<Started> {
  const id = body.deployedModel.id;
  await edit(cluster, parent, endpointId, (raw) => {
    const models = raw.spec?.deployedModels ?? [];
    const entry = models.find((m) => m.id === id);
    if (entry === undefined)
      throw new RpcError("NOT_FOUND", `deployed model ${id} not found in endpoint ${endpointId}`);
    if (entry.rolloutOptions !== undefined) {
      throw new RpcError(
        "FAILED_PRECONDITION",
        `deployed model ${id} is a rolling deployment: its replicas are its chain's; mutate the chain's first model (${entry.rolloutOptions.previousDeployedModel ?? "?"} or its root)`,
      );
    }
    const resources = { ...((entry["dedicatedResources"] ?? {}) as Record<string, unknown>) };
    const asked = body.deployedModel.dedicatedResources ?? {};
    for (const path of mask) {
      const field = path.replace(/^dedicatedResources\./, "") as keyof typeof asked;
      if (asked[field] !== undefined) resources[field] = asked[field];
    }
    return {
      ...raw,
      spec: {
        ...raw.spec,
        deployedModels: models.map((m) => (m.id === id ? { ...m, dedicatedResources: resources } : m)),
      },
    };
  });
  return started(endpointId, "mutateDeployedModel", id);
}
