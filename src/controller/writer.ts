/**
 * Act: the writes a reconcile makes, each with the precondition that keeps it safe when the cache
 * it was planned from is already stale:
 *
 * - scaling a ReplicaSet is conditional on the resourceVersion the plan saw (a 409 means something
 *   changed since; the next pass plans again from fresh counts);
 * - deletions are conditional on the uid the plan saw;
 * - the status is replaced with the resourceVersion it was computed from;
 * - creating an object that already exists is success when this endpoint controls it (the cache
 *   had not seen it yet) and a terminal error when something else does;
 * - creating an object the API server finds invalid (422) is a terminal error: the object is built
 *   from an immutable spec entry, so the same request can never succeed, and the engine fails the
 *   rollout at once with the API server's reason (ReplicaSetCreateFailed) instead of retrying it
 *   silently until the progress deadline. Example: requests above limits in containerSpec.resources
 *   pass the CRD's rules but not Kubernetes' pod validation.
 */
import { ConflictError, ignoreNotFound, InvalidError, TerminalError } from "../kube/errors.ts";
import { HTTPROUTES, PODDISRUPTIONBUDGETS } from "../kube/client.ts";
import type { KubeClient, ResourceClient, ResourceType } from "../kube/client.ts";
import type { KubeObject, Pod, ReplicaSet, Service } from "../kube/objects.ts";
import { LABEL_SERVING } from "./objects.ts";
import { controlledBy } from "./ownership.ts";

export const FIELD_MANAGER = "model-endpoint-operator";

/**
 * A write attempted while this replica does not hold the leader lease. Not a TerminalError: it says
 * nothing about the object, so it must never fail a rollout; the work queue retries, and the retry
 * finds the replica standing by and does nothing.
 */
export class NotLeaderError extends Error {
  override readonly name = "NotLeaderError";
}

/** The writes the reconciler makes; one implementation over the API server, one recording in tests. */
export interface Writer {
  createReplicaSet(rs: ReplicaSet, ownerUid: string): Promise<void>;
  /** Sets spec.replicas from `from` to `to`; a ConflictError when it is no longer `from`. */
  scaleReplicaSet(namespace: string, name: string, from: number, to: number): Promise<void>;
  deleteReplicaSet(namespace: string, name: string, uid: string): Promise<void>;
  setPodServing(namespace: string, name: string, serving: boolean): Promise<void>;
  createService(svc: Service, ownerUid: string): Promise<void>;
  deleteService(namespace: string, name: string, uid: string): Promise<void>;
  /**
   * Makes an owned data-plane object (HTTPRoute, PodDisruptionBudget) what `obj` says: created when
   * `exists` is false (a name held by someone else is a TerminalError), else applied (server-side
   * apply, taking over the fields the operator writes).
   */
  putOwned(type: OwnedType, obj: KubeObject, ownerUid: string, exists: boolean): Promise<void>;
  deleteOwned(type: OwnedType, namespace: string, name: string, uid: string): Promise<void>;
  /** Replaces the status of `endpoint` (its metadata.resourceVersion is the precondition). */
  replaceStatus(endpoint: KubeObject): Promise<void>;
}

/** The owned data-plane resources beside ReplicaSets and Services. */
export type OwnedType = "httproutes" | "poddisruptionbudgets";

const OWNED_TYPES: Record<OwnedType, ResourceType<KubeObject>> = {
  httproutes: HTTPROUTES,
  poddisruptionbudgets: PODDISRUPTIONBUDGETS,
};

/** Counts every write, for the api_writes_total metric. */
export type WriteCounter = (verb: string, resource: string) => void;

async function createOwned<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  ownerUid: string,
): Promise<void> {
  const namespace = obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? "";
  try {
    await client.create(obj, { fieldManager: FIELD_MANAGER });
  } catch (err) {
    if (err instanceof InvalidError) {
      throw new TerminalError(
        `the API server refused ${client.type.kind} ${namespace}/${name}: ${err.status?.message ?? err.message}`,
        { cause: err },
      );
    }
    if (!(err instanceof ConflictError)) throw err;
    // AlreadyExists: ours (the cache lags) is fine; anyone else's is a name clash a retry cannot fix.
    const existing = await client.get(namespace, name);
    if (!controlledBy(existing, ownerUid)) {
      throw new TerminalError(
        `${client.type.kind} ${namespace}/${name} already exists and is not owned by this ModelEndpoint; delete or rename it`,
        { cause: err },
      );
    }
  }
}

export class ApiWriter implements Writer {
  readonly #client: KubeClient;
  readonly #endpoints: ResourceClient<KubeObject>;
  readonly #count: WriteCounter;

  constructor(client: KubeClient, count: WriteCounter = () => undefined) {
    this.#client = client;
    this.#endpoints = client.modelEndpoints();
    this.#count = count;
  }

  async createReplicaSet(rs: ReplicaSet, ownerUid: string): Promise<void> {
    this.#count("create", "replicasets");
    await createOwned(this.#client.replicaSets, rs, ownerUid);
  }

  async scaleReplicaSet(namespace: string, name: string, from: number, to: number): Promise<void> {
    this.#count("patch", "replicasets");
    // Conditional on the replica count the plan saw, not on the object's resourceVersion: the
    // ReplicaSet controller rewrites the status many times a second during a rollout, and a step
    // refused for a status write it does not depend on costs a round trip and a new pass.
    await this.#client.replicaSets.jsonPatch(namespace, name, [
      { op: "test", path: "/spec/replicas", value: from },
      { op: "replace", path: "/spec/replicas", value: to },
    ]);
  }

  async deleteReplicaSet(namespace: string, name: string, uid: string): Promise<void> {
    this.#count("delete", "replicasets");
    await ignoreNotFound(
      this.#client.replicaSets.delete(namespace, name, {
        preconditions: { uid },
        propagationPolicy: "Background",
      }),
    );
  }

  async setPodServing(namespace: string, name: string, serving: boolean): Promise<void> {
    this.#count("patch", "pods");
    // A merge patch of one label: null removes it. No resourceVersion: the kubelet (kwok) updates
    // pod status all the time, and a stale label is harmless (a not-Ready pod is never a ready endpoint).
    const patch: Pod = {
      metadata: { labels: { [LABEL_SERVING]: serving ? "true" : (null as unknown as string) } },
    };
    await this.#client.pods.mergePatch(namespace, name, patch);
  }

  async createService(svc: Service, ownerUid: string): Promise<void> {
    this.#count("create", "services");
    await createOwned(this.#client.services, svc, ownerUid);
  }

  async deleteService(namespace: string, name: string, uid: string): Promise<void> {
    this.#count("delete", "services");
    await ignoreNotFound(this.#client.services.delete(namespace, name, { preconditions: { uid } }));
  }

  async putOwned(type: OwnedType, obj: KubeObject, ownerUid: string, exists: boolean): Promise<void> {
    const client = this.#client.resource(OWNED_TYPES[type]);
    if (!exists) {
      this.#count("create", type);
      await createOwned(client, obj, ownerUid);
      return;
    }
    this.#count("patch", type);
    await client.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
  }

  async deleteOwned(type: OwnedType, namespace: string, name: string, uid: string): Promise<void> {
    this.#count("delete", type);
    await ignoreNotFound(
      this.#client.resource(OWNED_TYPES[type]).delete(namespace, name, { preconditions: { uid } }),
    );
  }

  async replaceStatus(endpoint: KubeObject): Promise<void> {
    this.#count("update", "modelendpoints/status");
    await this.#endpoints.replaceStatus(endpoint);
  }
}

/**
 * A Writer that calls `before` ahead of each write of `inner` and lets it refuse the write by
 * throwing: the lease check of `GuardedWriter`, or a count of a pass's writes.
 */
export class HookedWriter implements Writer {
  readonly #inner: Writer;
  readonly #before: () => void;

  constructor(inner: Writer, before: () => void) {
    this.#inner = inner;
    this.#before = before;
  }

  async createReplicaSet(...args: Parameters<Writer["createReplicaSet"]>): Promise<void> {
    this.#before();
    await this.#inner.createReplicaSet(...args);
  }
  async scaleReplicaSet(...args: Parameters<Writer["scaleReplicaSet"]>): Promise<void> {
    this.#before();
    await this.#inner.scaleReplicaSet(...args);
  }
  async deleteReplicaSet(...args: Parameters<Writer["deleteReplicaSet"]>): Promise<void> {
    this.#before();
    await this.#inner.deleteReplicaSet(...args);
  }
  async setPodServing(...args: Parameters<Writer["setPodServing"]>): Promise<void> {
    this.#before();
    await this.#inner.setPodServing(...args);
  }
  async createService(...args: Parameters<Writer["createService"]>): Promise<void> {
    this.#before();
    await this.#inner.createService(...args);
  }
  async deleteService(...args: Parameters<Writer["deleteService"]>): Promise<void> {
    this.#before();
    await this.#inner.deleteService(...args);
  }
  async putOwned(...args: Parameters<Writer["putOwned"]>): Promise<void> {
    this.#before();
    await this.#inner.putOwned(...args);
  }
  async deleteOwned(...args: Parameters<Writer["deleteOwned"]>): Promise<void> {
    this.#before();
    await this.#inner.deleteOwned(...args);
  }
  async replaceStatus(...args: Parameters<Writer["replaceStatus"]>): Promise<void> {
    this.#before();
    await this.#inner.replaceStatus(...args);
  }
}

/** A Writer that refuses every write unless this replica leads right now. */
export class GuardedWriter extends HookedWriter {
  constructor(inner: Writer, isLeader: () => boolean) {
    super(inner, () => {
      if (!isLeader()) throw new NotLeaderError("not the leader: write refused");
    });
  }
}

/** A Writer that counts the writes made through it (one reconcile pass's, for its log line). */
export function countingWriter(inner: Writer): { readonly writer: Writer; readonly count: () => number } {
  let count = 0;
  const writer = new HookedWriter(inner, () => {
    count++;
  });
  return { writer, count: () => count };
}
