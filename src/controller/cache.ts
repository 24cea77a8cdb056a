/**
 * What the operator keeps of each cached object: only what it reads, so that the caches of a fleet
 * stay small (the informers' transforms).
 */
import type { KubeObject, Pod, ReplicaSet } from "../kube/objects.ts";

/** Drops what the operator never reads from cached objects, to keep memory low at fleet size. */
export function slimMeta<T extends KubeObject>(obj: T): T {
  if (obj.metadata) {
    delete obj.metadata.managedFields;
    if (obj.metadata.annotations)
      delete obj.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"];
  }
  return obj;
}

export function slimPod(pod: Pod): Pod {
  slimMeta(pod);
  // Only labels, owners, readiness and the CPU requests (the autoscaler's denominator) are read.
  const requests = (pod.spec?.containers ?? []).flatMap((c) => {
    const cpu = c.resources?.requests?.["cpu"];
    return cpu === undefined ? [] : [{ name: c.name, resources: { requests: { cpu } } }];
  });
  delete pod.spec;
  if (requests.length > 0) pod.spec = { containers: requests };
  if (pod.status) {
    pod.status = {
      ...(pod.status.phase === undefined ? {} : { phase: pod.status.phase }),
      ...(pod.status.conditions === undefined ? {} : { conditions: pod.status.conditions }),
      ...(pod.status.containerStatuses === undefined
        ? {}
        : {
            containerStatuses: pod.status.containerStatuses.map((c) => ({
              name: c.name,
              ready: c.ready,
              restartCount: c.restartCount,
              image: c.image,
              imageID: c.imageID,
              ...(c.state === undefined ? {} : { state: c.state }),
            })),
          }),
    };
  }
  return pod;
}

export function slimReplicaSet(rs: ReplicaSet): ReplicaSet {
  slimMeta(rs);
  // The template is never read back (the operator builds it from the spec).
  if (rs.spec?.template) delete rs.spec.template;
  return rs;
}
