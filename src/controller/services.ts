/**
 * The Services of an endpoint: the endpoint's own Service (the pods that serve traffic) and one per
 * deployed model in spec. What is wanted is a pure function of the endpoint; the sync writes the
 * difference with what the cache holds.
 */
import type { ModelEndpoint } from "../api/resource.ts";
import { TerminalError } from "../kube/errors.ts";
import type { DeepReadonly, Service } from "../kube/objects.ts";
import {
  buildEndpointService,
  buildModelService,
  grpcPort,
  SERVICE_PORT,
  servingPort,
  type OwnerEndpoint,
} from "./objects.ts";
import type { Writer } from "./writer.ts";

/** Services of an endpoint to create and to delete. */
export interface ServiceChanges {
  readonly create: readonly Service[];
  readonly delete: readonly DeepReadonly<Service>[];
}

/** What making the Services exist ran into. */
export interface ServiceSync {
  /** Services this endpoint needs whose names someone else's object holds (refused for good). */
  readonly conflicts: readonly { readonly name: string; readonly message: string }[];
  /** The first other failure, retried with backoff. */
  readonly failure: Error | undefined;
}

/**
 * The endpoint's Service and one per deployed model in spec, and one per model that left spec but
 * still has a ReplicaSet (`withReplicaSet`, by deployed model id): a removed revision draining, or
 * one whose last pods are on their way out. The gateway routes to a model by its Service, and drops
 * it from the route before its pods go: the Service goes with the ReplicaSet, after that.
 *
 * `routed`: a Gateway routes to the endpoint, so its models' Services get a ClusterIP (a gateway may
 * need one to accept a backend). Otherwise they are headless: nothing balances over their ClusterIP
 * (the endpoint's own Service carries the traffic), and the Vertex API's per-model `:predict` reads
 * their EndpointSlices, which a headless Service has as well.
 */
export function findWantedServices(
  ref: OwnerEndpoint,
  endpoint: ModelEndpoint,
  withReplicaSet: readonly string[] = [],
  routed = false,
): Service[] {
  const ids = endpoint.spec.deployedModels.map((dm) => dm.id);
  const draining = [...new Set(withReplicaSet.filter((id) => !ids.includes(id)))].sort();
  // A model's Service is made once (containerSpec is immutable); a draining one exists already
  // (made again only if someone deleted it, then on port 80 when headless: its pods' port is no
  // longer in spec).
  const headless = (port: number): { headlessPort?: number } => (routed ? {} : { headlessPort: port });
  return [
    buildEndpointService(ref),
    ...endpoint.spec.deployedModels.map((dm) =>
      buildModelService(ref, dm.id, {
        grpc: grpcPort(dm.containerSpec),
        ...headless(servingPort(dm.containerSpec)),
      }),
    ),
    ...draining.map((id) => buildModelService(ref, id, headless(SERVICE_PORT))),
  ];
}

/** A Service without a ClusterIP. */
function isHeadless(svc: DeepReadonly<Service>): boolean {
  return svc.spec?.clusterIP === "None";
}

/**
 * The changes that make `owned` (the Services this endpoint controls, from the cache) what is
 * `wanted`: create what is missing, delete what is no longer wanted (a removed model's Service).
 * A headless Service where a ClusterIP is wanted (the endpoint is routed through a Gateway now) is
 * deleted, and created again by the next pass, which sees it gone: a ClusterIP cannot be added to a
 * Service. A ClusterIP Service where a headless one would do is kept: nothing is gained by taking
 * it away from whoever uses its address.
 */
export function findServiceChanges(
  owned: readonly DeepReadonly<Service>[],
  wanted: readonly Service[],
): ServiceChanges {
  const wantedByName = new Map(wanted.map((s) => [s.metadata?.name ?? "", s]));
  const have = new Set(owned.map((s) => s.metadata?.name ?? ""));
  const stale = (s: DeepReadonly<Service>): boolean => {
    const want = wantedByName.get(s.metadata?.name ?? "");
    return want === undefined || (isHeadless(s) && !isHeadless(want));
  };
  return {
    create: wanted.filter((s) => !have.has(s.metadata?.name ?? "")),
    delete: owned.filter(stale),
  };
}

/**
 * Makes the Service changes. Every Service is attempted; a name taken by someone else's object is a
 * conflict (reported in status), any other failure is returned to be retried once the rest of the
 * pass is done. The Services do not depend on one another: written at once.
 */
export async function syncServices(
  writer: Writer,
  ref: OwnerEndpoint,
  changes: ServiceChanges,
): Promise<ServiceSync> {
  const { attempt, result } = collectOutcomes();
  await Promise.all([
    ...changes.create.map((svc) =>
      attempt(svc.metadata?.name ?? "", () => writer.createService(svc, ref.uid)),
    ),
    ...changes.delete.map((svc) =>
      attempt(svc.metadata?.name ?? "", () =>
        writer.deleteService(ref.namespace, svc.metadata?.name ?? "", svc.metadata?.uid ?? ""),
      ),
    ),
  ]);
  const { problems, failure } = result();
  return { conflicts: problems, failure };
}

/**
 * Runs writes that do not depend on one another and sorts their failures: a TerminalError (a name
 * held by someone else's object, a refusal) is a problem for the status, the first other error is
 * returned to be retried with backoff.
 */
export function collectOutcomes(): {
  attempt: (name: string, write: () => Promise<void>) => Promise<void>;
  result: () => { problems: { name: string; message: string }[]; failure: Error | undefined };
} {
  const problems: { name: string; message: string }[] = [];
  let failure: Error | undefined;
  return {
    attempt: async (name, write) => {
      try {
        await write();
      } catch (err) {
        if (err instanceof TerminalError) problems.push({ name, message: err.message });
        else failure ??= err instanceof Error ? err : new Error(String(err));
      }
    },
    result: () => ({ problems, failure }),
  };
}
