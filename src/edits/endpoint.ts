/**
 * What the plugin reads from a ModelEndpoint: its deployed models joined with their status, the
 * rollout chains they form, and each chain's intended revision (pure functions of the object).
 */
import { parseModelEndpoint, type ModelEndpoint } from "../api/index.ts";
import { findRoot, findShownIntended } from "../rollout/chains.ts";
import { formatSplit } from "../rollout/summary.ts";
import { deepFreeze } from "../kube/objects.ts";

/** The endpoint as read from the API server, before parsing: what writes send back. */
export interface RawEndpoint {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly [key: string]: unknown;
  };
  readonly spec?: {
    readonly trafficSplit?: Readonly<Record<string, number>>;
    readonly deployedModels?: readonly RawDeployedModel[];
    readonly [key: string]: unknown;
  };
  readonly status?: unknown;
}

/** A spec.deployedModels entry as written by its author (no defaults filled in). */
export interface RawDeployedModel {
  readonly id: string;
  readonly model?: string;
  readonly containerSpec?: { readonly [key: string]: unknown };
  readonly rolloutOptions?: { readonly previousDeployedModel?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** One deployed model as the plugin shows it. */
export interface ModelView {
  readonly id: string;
  /** The chain's root (the model deployed without rolloutOptions). */
  readonly chain: string;
  readonly revision: number | undefined;
  readonly previous: string | undefined;
  readonly model: string;
  readonly image: string;
  /** BEING_DEPLOYED, DEPLOYED, FAILED, REPLACED, or PENDING before the operator saw it. */
  readonly state: string;
  readonly replicas: number;
  readonly ready: number;
  readonly available: number;
  /** The chain's pool size N (the root's minReplicaCount), when known. */
  readonly pool: number | undefined;
  /** Effective traffic percent now (status.trafficSplit). */
  readonly traffic: number;
  /** The spec's share (spec.trafficSplit). */
  readonly specTraffic: number;
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly createTime: string | undefined;
  readonly lastUpdateTime: string | undefined;
  /** The chain's intended revision (R3, as the engine decides it: rollout/chains.ts findIntended). */
  readonly intended: boolean;
}

export interface EndpointView {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly observedGeneration: number | undefined;
  readonly conditions: readonly { type: string; status: string; reason: string; message: string }[];
  /** status.traffic, e.g. "m1=40,m2=60", or derived from status.trafficSplit. */
  readonly traffic: string;
  /** In spec order. */
  readonly models: readonly ModelView[];
}

export class EndpointError extends Error {
  override readonly name = "EndpointError";
}

/**
 * Parses of frozen objects (an informer's cache: an update is a new object), kept as long as the
 * object lives: a server answering reads from a cache parses each version once, not per request.
 */
const parsedFrozen = new WeakMap<object, ModelEndpoint>();

/** Parses an endpoint read from the API server; throws EndpointError listing what is wrong. */
export function parseEndpoint(raw: unknown): ModelEndpoint {
  const frozen = typeof raw === "object" && raw !== null && Object.isFrozen(raw);
  const known = frozen ? parsedFrozen.get(raw) : undefined;
  if (known !== undefined) return known;
  const parsed = parseModelEndpoint(raw);
  if (parsed.ok) {
    // Frozen as well: every caller shares it.
    if (frozen) parsedFrozen.set(raw, deepFreeze(parsed.value) as ModelEndpoint);
    return parsed.value;
  }
  const name = (raw as RawEndpoint | null)?.metadata?.name ?? "?";
  throw new EndpointError(
    `ModelEndpoint ${name} does not validate:\n${parsed.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
  );
}

/** The endpoint joined with its status (spec order; a model not yet in status is PENDING). */
export function viewOf(endpoint: ModelEndpoint): EndpointView {
  const status = endpoint.status;
  const recorded = new Map((status?.deployedModels ?? []).map((m) => [m.id, m]));
  const previous = new Map<string, string>();
  for (const m of endpoint.spec.deployedModels) {
    const prev = m.rolloutOptions?.previousDeployedModel ?? recorded.get(m.id)?.previousDeployedModel;
    if (prev !== undefined) previous.set(m.id, prev);
  }
  const effective = status?.trafficSplit ?? {};
  const rows = endpoint.spec.deployedModels.map((m) => {
    const s = recorded.get(m.id);
    const chain = findRoot(m.id, previous);
    const root = endpoint.spec.deployedModels.find((x) => x.id === chain);
    return {
      id: m.id,
      chain,
      revision: s?.revisionNumber,
      previous: previous.get(m.id),
      model: m.model,
      image: m.containerSpec.imageUri,
      state: s?.state ?? "PENDING",
      replicas: s?.replicas ?? 0,
      ready: s?.readyReplicas ?? 0,
      available: s?.availableReplicaCount ?? 0,
      pool:
        s?.dedicatedResources?.minReplicaCount ??
        root?.dedicatedResources?.minReplicaCount ??
        recorded.get(chain)?.dedicatedResources?.minReplicaCount,
      traffic: effective[m.id] ?? 0,
      specTraffic: endpoint.spec.trafficSplit[m.id] ?? 0,
      reason: s?.reason,
      message: s?.message,
      createTime: s?.createTime,
      lastUpdateTime: s?.lastUpdateTime,
    };
  });
  const intended = new Set<string>();
  for (const chain of new Set(rows.map((r) => r.chain))) {
    const pick = findShownIntended(rows.filter((r) => r.chain === chain));
    if (pick !== undefined) intended.add(pick.id);
  }
  return {
    namespace: endpoint.metadata.namespace ?? "",
    name: endpoint.metadata.name,
    generation: endpoint.metadata.generation ?? 0,
    observedGeneration: status?.observedGeneration,
    conditions: (status?.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
    })),
    traffic: status?.traffic ?? formatSplit(effective),
    models: rows.map((r) => ({ ...r, intended: intended.has(r.id) })),
  };
}

/** The members of `id`'s chain, oldest revision first. */
export function chainOf(view: EndpointView, id: string): ModelView[] {
  const chain = view.models.find((m) => m.id === id)?.chain;
  return view.models
    .filter((m) => m.chain === chain)
    .sort((a, b) => (a.revision ?? Number.MAX_SAFE_INTEGER) - (b.revision ?? Number.MAX_SAFE_INTEGER));
}
