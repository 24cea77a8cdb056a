/**
 * Which objects belong to which ModelEndpoint: the label every owned object carries, the cache
 * index that files owned objects under their endpoint's key, and the controller ownerReference
 * that tells this endpoint's objects from a same-named predecessor's leftovers or someone else's.
 */
import { LABEL_ENDPOINT } from "../api/constants.ts";
import type { DeepReadonly, KubeObject } from "../kube/objects.ts";

/** The cache index that files owned objects under their endpoint's key ("namespace/name"). */
export const ENDPOINT_INDEX = "endpoint";

/** The label selector of the informers of owned objects: every owned object carries the label. */
export const OWNED_LABEL_SELECTOR = LABEL_ENDPOINT;

/** Files an owned object (labelled with its endpoint) under "namespace/endpoint". */
export function indexByEndpoint(obj: DeepReadonly<KubeObject>): readonly string[] {
  const endpoint = obj.metadata?.labels?.[LABEL_ENDPOINT];
  return endpoint === undefined ? [] : [`${obj.metadata?.namespace ?? ""}/${endpoint}`];
}

/** The object's controller ownerReference names the object with this uid. */
export function controlledBy(obj: DeepReadonly<KubeObject>, uid: string): boolean {
  return obj.metadata?.ownerReferences?.some((r) => r.controller === true && r.uid === uid) ?? false;
}
