/**
 * A start-up check of the permissions the operator needs (docs/operator.md "Permissions"), asked
 * of the API server itself with SelfSubjectAccessReviews (which every authenticated identity may
 * create). A missing permission otherwise shows only where it bites: a cache that never fills (a
 * missing list or watch), a Lease never taken (a missing leases grant: the replica stands by
 * forever), a write refused in the middle of a rollout. Each missing one is logged at error level
 * at start-up, naming the verb, the resource and the namespace, so the first lines of the log say
 * what to grant. The check never stops the operator: a permission may be granted later, and an
 * API server that refuses the reviews themselves only loses this early warning.
 */
import { reviewSelf } from "../kube/access-review.ts";
import type { Transport } from "../kube/transport.ts";

export interface Permission {
  readonly verb: string;
  /** "" for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Undefined: every namespace (a cluster-wide watch). */
  readonly namespace?: string;
  readonly name?: string;
}

export interface PermissionOptions {
  /** Watched namespaces; empty = all. */
  readonly namespaces: readonly string[];
  /** The Lease of leader election, when it is on. */
  readonly lease?: { readonly namespace: string; readonly name: string };
  /** The cluster serves Gateway API: HTTPRoutes are owned too. */
  readonly gatewayApi?: boolean;
}

/** Watched namespaces checked at most: they are granted alike (one Role each, from one chart). */
export const MAX_CHECKED_NAMESPACES = 10;

type Grant = readonly [string, string, string | undefined, readonly string[]];
/** With Gateway API: the endpoint's HTTPRoute, and the EndpointSlices its weights wait for. */
const GATEWAY_GRANTS: readonly Grant[] = [
  [
    "gateway.networking.k8s.io",
    "httproutes",
    undefined,
    ["get", "list", "watch", "create", "patch", "delete"],
  ],
  ["discovery.k8s.io", "endpointslices", undefined, ["list", "watch"]],
];

/** What the operator needs, per watched namespace (or cluster-wide), and on its Lease. */
export function requiredPermissions(options: PermissionOptions): Permission[] {
  const scopes: (string | undefined)[] =
    options.namespaces.length === 0 ? [undefined] : options.namespaces.slice(0, MAX_CHECKED_NAMESPACES);
  const grants: readonly Grant[] = [
    ["serving.modelendpoint.io", "modelendpoints", undefined, ["get", "list", "watch"]],
    ["serving.modelendpoint.io", "modelendpoints", "status", ["update"]],
    ["apps", "replicasets", undefined, ["get", "list", "watch", "create", "patch", "delete"]],
    ["", "pods", undefined, ["list", "watch", "patch"]],
    ["", "services", undefined, ["get", "list", "watch", "create", "delete"]],
    ["policy", "poddisruptionbudgets", undefined, ["get", "list", "watch", "create", "patch", "delete"]],
    ...(options.gatewayApi === true ? GATEWAY_GRANTS : []),
    ["events.k8s.io", "events", undefined, ["create", "patch"]],
    // Autoscaling reads the pods' CPU (docs/autoscaling.md).
    ["metrics.k8s.io", "pods", undefined, ["list"]],
  ];
  const needed: Permission[] = [];
  for (const namespace of scopes) {
    for (const [group, resource, subresource, verbs] of grants) {
      for (const verb of verbs) {
        needed.push({
          verb,
          group,
          resource,
          ...(subresource === undefined ? {} : { subresource }),
          ...(namespace === undefined ? {} : { namespace }),
        });
      }
    }
  }
  if (options.lease !== undefined) {
    const { namespace, name } = options.lease;
    needed.push({ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace });
    for (const verb of ["get", "update"])
      needed.push({ verb, group: "coordination.k8s.io", resource: "leases", namespace, name });
  }
  return needed;
}

/** "list pods in namespace ml", "update modelendpoints/status in every namespace". */
export function describePermission(p: Permission): string {
  const resource = `${p.resource}${p.subresource === undefined ? "" : `/${p.subresource}`}${p.group === "" ? "" : `.${p.group}`}`;
  const name = p.name === undefined ? "" : ` named ${p.name}`;
  return `${p.verb} ${resource}${name} ${p.namespace === undefined ? "in every namespace" : `in namespace ${p.namespace}`}`;
}

/** The outcome of the check: what is missing, or why the check itself could not be made. */
export type PermissionCheck =
  | { readonly checked: true; readonly missing: readonly Permission[] }
  | { readonly checked: false; readonly error: string };

/** Asks the API server, one SelfSubjectAccessReview per permission. */
export async function checkPermissions(
  transport: Transport,
  needed: readonly Permission[],
  signal?: AbortSignal,
): Promise<PermissionCheck> {
  const missing: Permission[] = [];
  try {
    for (const p of needed) {
      if (!(await reviewSelf(transport, p, signal)).allowed) missing.push(p);
    }
  } catch (err) {
    return { checked: false, error: err instanceof Error ? err.message : String(err) };
  }
  return { checked: true, missing };
}
