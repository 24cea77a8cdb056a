/**
 * A ModelEndpoint as Vertex AI's `Endpoint` message: what GET, list and the long-running
 * operations' responses carry. Pure functions of the object as read.
 *
 * - `deployedModels`: the spec's entries joined with their status. Without `allDeploymentStates`
 *   only DEPLOYED models are listed, as on Vertex (a model still BEING_DEPLOYED, FAILED, or
 *   REPLACED by a completed rolling deployment is not); with it, every entry.
 * - `model` / `modelVersionId`: an entry's `model` "name@version" as the Model resource name and
 *   its version id.
 * - `dedicatedResources`: the entry's own, or the one its rollout chain inherits (status).
 * - `trafficSplit`: the effective split (status.trafficSplit), as Vertex reports it.
 * - `etag`: the resourceVersion; `labels`: metadata.labels without a prefix (Kubernetes' own and
 *   the operator's `serving.modelendpoint.io/` ones are left out); `description`: an annotation.
 */
import type { ModelEndpoint } from "../api/index.ts";
import { splitModel } from "../controller/objects.ts";
import { endpointName, modelName, type Parent } from "./names.ts";

export const DESCRIPTION_ANNOTATION = "serving.modelendpoint.io/description";
/**
 * The deployed models whose deployModel operation was cancelled (operations.cancel), comma-separated,
 * the newest last: their operations end CANCELLED, whatever the operator does with them since.
 */
export const CANCELLED_ANNOTATION = "serving.modelendpoint.io/cancelled-deployments";
/** Cancelled deployments remembered per endpoint; older ones then end as their model does. */
export const MAX_CANCELLED = 20;

/** The deployed models whose deployments were cancelled. */
export function cancelledDeployments(annotations: Readonly<Record<string, string>> | undefined): string[] {
  return (annotations?.[CANCELLED_ANNOTATION] ?? "").split(",").filter((id) => id !== "");
}

type StatusModel = NonNullable<NonNullable<ModelEndpoint["status"]>["deployedModels"]>[number];
type SpecModel = ModelEndpoint["spec"]["deployedModels"][number];

export interface VertexDeployedModel {
  readonly id: string;
  readonly model: string;
  /** Left out when the entry names no version. */
  readonly modelVersionId?: string;
  readonly displayName?: string;
  readonly createTime?: string;
  readonly dedicatedResources?: unknown;
  readonly rolloutOptions?: Record<string, unknown>;
  readonly serviceAccount?: string;
  readonly status?: { message?: string; lastUpdateTime?: string; availableReplicaCount?: number };
}

/**
 * Timestamp fields as proto3 JSON carries them: an unknown time is left out, since "" is not a
 * Timestamp (the client libraries fail to decode the whole message on one).
 */
export function timestamps(fields: Readonly<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  );
}

/**
 * An entry's `model` ("name@version", as the pods' AIP_MODEL_NAME / AIP_VERSION_NAME read it) as
 * Vertex names it: the Model resource and its version id (left out when the entry names none).
 */
export function modelOf(parent: Parent, ref: string): { model: string; modelVersionId?: string } {
  const { name, version } = splitModel(ref);
  return { model: modelName(parent, name), ...(version === "" ? {} : { modelVersionId: version }) };
}

export function toDeployedModel(
  parent: Parent,
  entry: SpecModel,
  status: StatusModel | undefined,
): VertexDeployedModel {
  const resources = entry.dedicatedResources ?? status?.dedicatedResources;
  const rollout = entry.rolloutOptions;
  const serviceAccount = entry.serviceAccount ?? status?.serviceAccount;
  return {
    id: entry.id,
    ...modelOf(parent, entry.model),
    ...(status?.createTime === undefined ? {} : { createTime: status.createTime }),
    ...(resources === undefined ? {} : { dedicatedResources: resources }),
    ...(rollout === undefined
      ? {}
      : {
          rolloutOptions: {
            ...rollout,
            ...(status?.revisionNumber === undefined ? {} : { revisionNumber: status.revisionNumber }),
          },
        }),
    ...(serviceAccount === undefined ? {} : { serviceAccount }),
    ...(status === undefined
      ? {}
      : {
          status: {
            ...(status.message === undefined ? {} : { message: status.message }),
            ...(status.lastUpdateTime === undefined ? {} : { lastUpdateTime: status.lastUpdateTime }),
            availableReplicaCount: status.availableReplicaCount ?? 0,
          },
        }),
  };
}

/** The deployed model's state, as the operator reports it ("PENDING" before it has seen it). */
export function stateOf(endpoint: ModelEndpoint, id: string): string {
  return endpoint.status?.deployedModels?.find((m) => m.id === id)?.state ?? "PENDING";
}

export function toVertexEndpoint(
  parent: Parent,
  endpoint: ModelEndpoint,
  options: { readonly allDeploymentStates: boolean },
): Record<string, unknown> {
  const meta = endpoint.metadata;
  const statuses = new Map((endpoint.status?.deployedModels ?? []).map((m) => [m.id, m]));
  const models = endpoint.spec.deployedModels
    .filter((m) => options.allDeploymentStates || statuses.get(m.id)?.state === "DEPLOYED")
    .map((m) => toDeployedModel(parent, m, statuses.get(m.id)));
  const labels = Object.fromEntries(Object.entries(meta.labels ?? {}).filter(([k]) => !k.includes("/")));
  const description = meta.annotations?.[DESCRIPTION_ANNOTATION];
  return {
    name: endpointName(parent, meta.name),
    displayName: endpoint.spec.displayName ?? meta.name,
    ...(description === undefined ? {} : { description }),
    deployedModels: models,
    trafficSplit: { ...(endpoint.status?.trafficSplit ?? {}) },
    ...(Object.keys(labels).length === 0 ? {} : { labels }),
    etag: meta.resourceVersion ?? "",
    ...timestamps({
      createTime: meta.creationTimestamp,
      updateTime: latestUpdate(endpoint) ?? meta.creationTimestamp,
    }),
  };
}

/** The newest lastUpdateTime of the status' models or conditions. */
function latestUpdate(endpoint: ModelEndpoint): string | undefined {
  const times = [
    ...(endpoint.status?.deployedModels ?? []).map((m) => m.lastUpdateTime),
    ...(endpoint.status?.conditions ?? []).map((c) => c.lastTransitionTime),
  ].filter((t): t is string => typeof t === "string");
  return times.sort().at(-1);
}
