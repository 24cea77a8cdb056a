/**
 * The endpoint's data-plane objects besides its Services: the HTTPRoute that serves predictions
 * through Gateway API (when the endpoint names a Gateway, or the operator has a default one), and a
 * PodDisruptionBudget per rollout chain, so a node drain never takes more of a chain's pods at once
 * than its rollout budget allows. What is wanted is a pure function of the endpoint and the pass's
 * new status; the sync applies the difference with what the cache holds.
 *
 * The route:
 * - matches the endpoint's predict paths exactly: `/v1/endpoints/<e>:predict` and the Vertex-style
 *   `/v1/projects/<namespace>/locations/<location>/endpoints/<e>:predict`;
 * - rewrites the path to the predict route of the models that receive traffic (ReplaceFullPath, a
 *   rule-level URLRewrite filter: Gateway API's extended HTTPRoutePathRewrite feature). Chains
 *   with different routes never share traffic (Traffic rule 5, RouteConflict) and a rolling
 *   deployment keeps its previous model's routes (R10), so one rewrite, the engine's
 *   plan.predictRoute, serves every backend, a removed revision still draining included;
 * - sends each model its exact share: one backendRef per deployed model with traffic, to the
 *   model's own Service, weight = its percentage in status.trafficSplit, which the engine computes
 *   per request for a routed endpoint (snapshot.exactWeights) (core feature). With no model
 *   receiving traffic the rule has no backend and the gateway answers 404 or 500 itself.
 */
import { LABEL_DEPLOYED_MODEL, LABEL_ENDPOINT } from "../api/constants.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import type { ParentRef } from "../api/spec.ts";
import { NotFoundError } from "../kube/errors.ts";
import type { Transport } from "../kube/transport.ts";
import type { DeepReadonly, KubeObject, Service } from "../kube/objects.ts";
import { calculateBudgets } from "../rollout/budgets.ts";
import { findRoot } from "../rollout/chains.ts";
import { sameJson } from "../rollout/json.ts";
import { recordedLinks } from "../rollout/summary.ts";
import type { Action, EndpointStatus, Plan } from "../rollout/types.ts";
import {
  LABEL_MANAGED_BY,
  MANAGED_BY,
  modelServiceName,
  ownerReference,
  SERVICE_PORT,
  type OwnerEndpoint,
} from "./objects.ts";
import { collectOutcomes } from "./services.ts";
import type { OwnedType, Writer } from "./writer.ts";

/** The location of the Vertex-style predict path when none is configured. */
export const DEFAULT_LOCATION = "us-central1";

/**
 * Whether the cluster serves Gateway API HTTPRoutes (gateway.networking.k8s.io/v1), asked once at
 * start-up: the operator watches and owns HTTPRoutes only then.
 */
export async function servesHttpRoutes(transport: Transport): Promise<boolean> {
  try {
    const list = (await transport.request({ method: "GET", path: "/apis/gateway.networking.k8s.io/v1" })) as {
      resources?: { name?: string }[];
    };
    return list.resources?.some((r) => r.name === "httproutes") ?? false;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** The operator's data-plane settings (flags --gateway and --location). */
export interface DataPlaneSettings {
  /** The Gateway of endpoints without spec.gateway; undefined: they get no route. */
  readonly defaultGateway?: { readonly namespace: string; readonly name: string } | undefined;
  /** The location in the Vertex-style predict path. */
  readonly location: string;
  /**
   * How long a model's weight is out of the route before its last pods are taken away (scaled to
   * 0, or its ReplicaSet deleted): the time the gateway needs to apply a route change. Default
   * DEFAULT_ROUTE_DRAIN_MS.
   */
  readonly routeDrainMs?: number;
}

/** See DataPlaneSettings.routeDrainMs. */
export const DEFAULT_ROUTE_DRAIN_MS = 2_000;

/**
 * The deployed models whose Service has at least one ready endpoint in its EndpointSlices: what a
 * gateway balances over. A model is given weight only then; a weighted backend with no ready
 * endpoint would have its share answered 503 by the gateway (weighted round robin does not skip it).
 */
function findReachableModels(slices: readonly DeepReadonly<KubeObject>[]): Set<string> {
  const reachable = new Set<string>();
  for (const slice of slices) {
    const id = slice.metadata?.labels?.[LABEL_DEPLOYED_MODEL];
    const endpoints = (slice as DeepReadonly<{ endpoints?: { conditions?: { ready?: boolean } }[] }>)
      .endpoints;
    if (id !== undefined && endpoints?.some((e) => e.conditions?.ready === true) === true) reachable.add(id);
  }
  return reachable;
}

/** The models a plan takes the last pods from: scaled to 0, or their ReplicaSet deleted. */
function findRetiringModels(actions: readonly Action[]): Set<string> {
  return new Set(
    actions
      .filter((a) => (a.kind === "scaleReplicaSet" && a.to === 0) || a.kind === "deleteReplicaSet")
      .map((a) => a.deployedModelId),
  );
}

/** The weight an HTTPRoute gives each backend, by backend (Service) name. */
function backendWeights(route: DeepReadonly<KubeObject> | undefined): Map<string, number> {
  const weights = new Map<string, number>();
  for (const rule of (route as DeepReadonly<HttpRoute> | undefined)?.spec?.rules ?? []) {
    for (const b of rule.backendRefs ?? []) weights.set(b.name, b.weight);
  }
  return weights;
}

/** What decides the endpoint's route in one pass. */
export interface RouteInputs {
  readonly ref: OwnerEndpoint;
  readonly endpoint: ModelEndpoint;
  readonly settings: DataPlaneSettings;
  /** The plan of this pass: its effective split, the route served and its actions. */
  readonly plan: Pick<Plan, "actions" | "predictRoute"> & {
    readonly status: Pick<EndpointStatus, "trafficSplit">;
  };
  /** The Services this pass wants (the endpoint's and one per model). */
  readonly wantedServices: readonly Service[];
  /**
   * The Services the endpoint controls now and keeps (not those this pass deletes), and the
   * EndpointSlices of its namespace-index.
   */
  readonly ownedServices: readonly DeepReadonly<Service>[];
  readonly slices: readonly DeepReadonly<KubeObject>[];
  /** The endpoint's HTTPRoute as the cache holds it. */
  readonly current: DeepReadonly<KubeObject> | undefined;
}

/** The route to have, and whether it takes weight away from a model the plan retires. */
export interface RouteDecision {
  readonly route: HttpRoute | undefined;
  /** The current route weights a model this plan scales to 0 or deletes: its steps wait (drain). */
  readonly drained: boolean;
}

/**
 * The endpoint's route for this pass. A model is weighted when it has a share in the plan's split
 * (the engine gives none to a model whose last pods the plan takes away: Traffic rule 6), a wanted
 * Service, and a ready endpoint in that Service's EndpointSlices (what the gateway balances over).
 */
export function decideRoute(input: RouteInputs): RouteDecision {
  const { ref, plan } = input;
  // Slices are controlled by the endpoint's Services, not by the endpoint.
  const serviceUids = new Set(input.ownedServices.map((svc) => svc.metadata?.uid ?? ""));
  const reachable = findReachableModels(
    input.slices.filter((o) => o.metadata?.ownerReferences?.some((r) => serviceUids.has(r.uid)) ?? false),
  );
  const served = new Set(
    input.wantedServices
      .flatMap((svc) => svc.metadata?.labels?.[LABEL_DEPLOYED_MODEL] ?? [])
      .filter((id) => reachable.has(id)),
  );
  const route = buildHttpRoute(
    ref,
    input.endpoint,
    input.settings,
    plan.status.trafficSplit,
    plan.predictRoute,
    served,
  );
  const weights = backendWeights(input.current);
  const drained =
    route !== undefined &&
    [...findRetiringModels(plan.actions)].some(
      (id) => (weights.get(modelServiceName(ref.name, id)) ?? 0) > 0,
    );
  return { route, drained };
}

/** A gateway.networking.k8s.io/v1 HTTPRoute, as far as the operator writes it. */
export interface HttpRoute extends KubeObject {
  spec?: {
    parentRefs: { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string }[];
    hostnames?: string[];
    rules: {
      matches: { path: { type: "Exact"; value: string } }[];
      filters?: {
        type: "URLRewrite";
        urlRewrite: { path: { type: "ReplaceFullPath"; replaceFullPath: string } };
      }[];
      backendRefs?: { kind: "Service"; name: string; port: number; weight: number }[];
    }[];
  };
}

/** A policy/v1 PodDisruptionBudget, as far as the operator writes it. */
export interface PodDisruptionBudget extends KubeObject {
  spec?: {
    maxUnavailable: number;
    selector: {
      matchLabels: Record<string, string>;
      matchExpressions?: { key: string; operator: "In"; values: string[] }[];
    };
    unhealthyPodEvictionPolicy: "AlwaysAllow";
  };
}

/** The paths a client predicts on, the same whatever models serve. */
export function predictPaths(namespace: string, endpoint: string, location: string): string[] {
  return [
    `/v1/endpoints/${endpoint}:predict`,
    `/v1/projects/${namespace}/locations/${location}/endpoints/${endpoint}:predict`,
  ];
}

/** The Gateways the endpoint's route attaches to: its own, else the operator's default, else none. */
export function findParentRefs(
  endpoint: ModelEndpoint,
  settings: DataPlaneSettings,
): readonly ParentRef[] | undefined {
  if (endpoint.spec.gateway !== undefined) return endpoint.spec.gateway.parentRefs;
  return settings.defaultGateway === undefined ? undefined : [settings.defaultGateway];
}

function labels(ref: OwnerEndpoint): Record<string, string> {
  return { [LABEL_ENDPOINT]: ref.name, [LABEL_MANAGED_BY]: MANAGED_BY };
}

/**
 * The endpoint's HTTPRoute, or undefined when it has no Gateway. `split`: the effective split the
 * pass decided (status.trafficSplit); `rewrite`: the predict route of the models with traffic (the
 * plan's predictRoute); `served`: the ids the gateway may be sent to.
 */
export function buildHttpRoute(
  ref: OwnerEndpoint,
  endpoint: ModelEndpoint,
  settings: DataPlaneSettings,
  split: Readonly<Record<string, number>>,
  rewrite: string | undefined,
  served: ReadonlySet<string>,
): HttpRoute | undefined {
  const parents = findParentRefs(endpoint, settings);
  if (parents === undefined) return undefined;
  // Without the rewrite a model would get the public path and answer 404: no backend then.
  const targets =
    rewrite === undefined
      ? []
      : Object.entries(split)
          .filter(([id, share]) => share > 0 && served.has(id))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const hostnames = endpoint.spec.gateway?.hostnames;
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: labels(ref),
      ownerReferences: [ownerReference(ref)],
    },
    spec: {
      parentRefs: parents.map((p) => ({
        group: "gateway.networking.k8s.io",
        kind: "Gateway",
        name: p.name,
        namespace: p.namespace ?? ref.namespace,
        ...(p.sectionName === undefined ? {} : { sectionName: p.sectionName }),
      })),
      ...(hostnames === undefined || hostnames.length === 0 ? {} : { hostnames: [...hostnames] }),
      rules: [
        {
          matches: predictPaths(ref.namespace, ref.name, settings.location).map((value) => ({
            path: { type: "Exact" as const, value },
          })),
          ...(rewrite === undefined
            ? {}
            : {
                filters: [
                  {
                    type: "URLRewrite" as const,
                    urlRewrite: { path: { type: "ReplaceFullPath" as const, replaceFullPath: rewrite } },
                  },
                ],
              }),
          backendRefs: targets.map(([id, share]) => ({
            kind: "Service" as const,
            name: modelServiceName(ref.name, id),
            port: SERVICE_PORT,
            weight: share,
          })),
        },
      ],
    },
  };
}

/**
 * One PodDisruptionBudget per rollout chain, named `<endpoint>-<root id>`, over the pods of every
 * member of the chain (status.deployedModels, removed members included). maxUnavailable is the
 * chain's rollout budget (its intended model's rolloutOptions, resolved against its replica count;
 * 25% for a chain of one model), at least 1: a budget of 0 would block node maintenance for good,
 * so a surge-only chain gives up one pod at a time.
 *
 * The only chain of an endpoint selects by the endpoint's label alone. kube-controller-manager's
 * disruption controller converts the selector of every budget in the namespace on each pod event,
 * so a budget's requirements are paid per pod event times budgets (BENCHMARKS.md, the fleet's
 * kube-controller-manager profile). A model that leaves spec stays in status, in a chain of its
 * own, while it drains, so the pods of an endpoint with one chain are that chain's.
 */
export function buildDisruptionBudgets(
  ref: OwnerEndpoint,
  endpoint: ModelEndpoint,
  status: Pick<EndpointStatus, "deployedModels">,
): PodDisruptionBudget[] {
  const previous = recordedLinks(status.deployedModels);
  const chains = new Map<string, string[]>();
  for (const m of status.deployedModels) {
    const root = findRoot(m.id, previous);
    chains.set(root, [...(chains.get(root) ?? []), m.id]);
  }
  const specs = new Map(endpoint.spec.deployedModels.map((dm) => [dm.id, dm]));
  return [...chains.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([root, ids]) => {
      // The newest member still in spec decides the budget (the chain's latest rolloutOptions).
      const latest = [...ids].reverse().find((id) => specs.has(id));
      const inSpec = latest === undefined ? undefined : specs.get(latest);
      const replicas =
        status.deployedModels.find((m) => m.id === latest)?.dedicatedResources?.minReplicaCount ?? 1;
      const budget = calculateBudgets(inSpec?.rolloutOptions, replicas).maxUnavailable;
      return {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: {
          name: `${ref.name}-${root}`,
          namespace: ref.namespace,
          labels: { ...labels(ref), [LABEL_DEPLOYED_MODEL]: root },
          ownerReferences: [ownerReference(ref)],
        },
        spec: {
          maxUnavailable: Math.max(1, budget),
          selector: {
            matchLabels: { [LABEL_ENDPOINT]: ref.name },
            ...(chains.size === 1
              ? {}
              : {
                  matchExpressions: [
                    { key: LABEL_DEPLOYED_MODEL, operator: "In" as const, values: [...ids].sort() },
                  ],
                }),
          },
          unhealthyPodEvictionPolicy: "AlwaysAllow" as const,
        },
      };
    });
}

/** What to apply (missing or different) and what to delete (no longer wanted). */
export interface ObjectChanges<T extends KubeObject> {
  readonly apply: readonly T[];
  readonly delete: readonly DeepReadonly<KubeObject>[];
}

/** Compares spec and labels: what the operator writes; the rest is the API server's or others'. */
export function findObjectChanges<T extends KubeObject & { spec?: unknown }>(
  owned: readonly DeepReadonly<KubeObject & { spec?: unknown }>[],
  wanted: readonly T[],
): ObjectChanges<T> {
  const have = new Map(owned.map((o) => [o.metadata?.name ?? "", o]));
  const want = new Set(wanted.map((o) => o.metadata?.name ?? ""));
  return {
    apply: wanted.filter((w) => {
      const h = have.get(w.metadata?.name ?? "");
      if (h === undefined) return true;
      const labelsMatch = Object.entries(w.metadata?.labels ?? {}).every(
        ([k, v]) => h.metadata?.labels?.[k] === v,
      );
      return !labelsMatch || !sameJson(h.spec, w.spec);
    }),
    delete: owned.filter((o) => !want.has(o.metadata?.name ?? "")),
  };
}

/** The data-plane objects of one pass, by type: what is wanted, what the cache holds. */
export interface DataPlaneWork {
  readonly type: OwnedType;
  readonly owned: readonly DeepReadonly<KubeObject & { spec?: unknown }>[];
  readonly wanted: readonly (KubeObject & { spec?: unknown })[];
}

/** What making the data-plane objects exist ran into (see ServiceSync). */
export interface DataPlaneSync {
  readonly problems: readonly { readonly name: string; readonly message: string }[];
  readonly failure: Error | undefined;
}

/**
 * Applies what differs, deletes what is no longer wanted. A name held by someone else's object is a
 * problem for the status; another failure is returned to be retried.
 */
export async function syncDataPlane(
  writer: Writer,
  ref: OwnerEndpoint,
  work: readonly DataPlaneWork[],
): Promise<DataPlaneSync> {
  const { attempt, result } = collectOutcomes();
  const writes = work.flatMap(({ type, owned, wanted }) => {
    const changes = findObjectChanges(owned, wanted);
    const names = new Set(owned.map((o) => o.metadata?.name ?? ""));
    return [
      ...changes.apply.map((obj) => {
        const name = obj.metadata?.name ?? "";
        return attempt(name, () => writer.putOwned(type, obj, ref.uid, names.has(name)));
      }),
      ...changes.delete.map((obj) => {
        const name = obj.metadata?.name ?? "";
        return attempt(name, () => writer.deleteOwned(type, ref.namespace, name, obj.metadata?.uid ?? ""));
      }),
    ];
  });
  await Promise.all(writes);
  return result();
}
