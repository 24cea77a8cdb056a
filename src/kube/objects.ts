/**
 * Kubernetes objects as they travel on the wire, and the keys the runtime files them under.
 *
 * client-node's model classes type timestamps as Date, but a watch stream (and any JSON the
 * operator reads itself) carries RFC 3339 strings, and client-node's own deserializer leaves
 * MicroTime fields (Lease.spec.renewTime, Event.eventTime) as strings while typing them as Date.
 * The runtime therefore keeps objects exactly as the API server sent them and types them with
 * `Wire<T>`: the client-node model with every Date replaced by string. Informer caches and the
 * client facade return the same shapes, so a timestamp read from a cache compares equal to the one
 * returned by a write.
 */
import type {
  EventsV1Event,
  V1Lease,
  V1ObjectMeta,
  V1OwnerReference,
  V1Pod,
  V1ReplicaSet,
  V1Service,
} from "@kubernetes/client-node";

/** A client-node model type as JSON: Date (and MicroTime) fields are strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** A value no code may change: what informer caches hand out. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export type ObjectMeta = Wire<V1ObjectMeta>;
export type OwnerReference = Wire<V1OwnerReference>;

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export type Pod = Wire<V1Pod>;
export type ReplicaSet = Wire<V1ReplicaSet>;
export type Service = Wire<V1Service>;
export type Lease = Wire<V1Lease>;
/** An events.k8s.io/v1 Event. */
export type Event = Wire<EventsV1Event>;

/** The cache key of an object: "namespace/name", or "name" for a cluster-scoped one. */
export function objectKey(obj: DeepReadonly<KubeObject>): string {
  const name = obj.metadata?.name ?? "";
  const namespace = obj.metadata?.namespace ?? "";
  return namespace === "" ? name : `${namespace}/${name}`;
}

/** The inverse of objectKey. */
export function splitKey(key: string): { readonly namespace: string; readonly name: string } {
  const slash = key.indexOf("/");
  return slash < 0
    ? { namespace: "", name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Freezes `value` and everything reachable from it; returns it typed as DeepReadonly. */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value as DeepReadonly<T>;
}

/** A metav1.MicroTime: RFC 3339 with microseconds, as the API server writes it. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The owner reference marked controller: true, if any. */
export function controllerOf(obj: DeepReadonly<KubeObject>): DeepReadonly<OwnerReference> | undefined {
  return obj.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/**
 * The key of the object's controlling owner when that owner is a `kind` (owners live in the same
 * namespace as what they own): how a controller maps a change of a child to its owner's key.
 */
export function controllerKey(obj: DeepReadonly<KubeObject>, kind: string): string | undefined {
  const owner = controllerOf(obj);
  if (owner?.kind !== kind) return undefined;
  const namespace = obj.metadata?.namespace ?? "";
  return namespace === "" ? owner.name : `${namespace}/${owner.name}`;
}
