/**
 * What the chaos run reads and writes on the control plane, as a user and as "someone else" would:
 * ModelEndpoints applied with `kubectl apply --server-side` (as GitOps tools do), reads and the
 * faults' writes through client-node with the admin identity, straight to the API server (not
 * through the operator's proxy). The API server is down now and then during a run, so every call
 * here retries until it succeeds or its time is up.
 */
import { setTimeout as delay } from "node:timers/promises";

import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";

import { GROUP, LABEL_ENDPOINT, PLURAL, VERSION } from "../../src/api/constants.ts";
import type { ControlPlane } from "../../src/testing/controlplane.ts";

export { LABEL_ENDPOINT } from "../../src/api/constants.ts";
export { SIM_UNREADY_LABEL as LABEL_UNREADY } from "../../src/testing/kwok-stages.ts";

export interface ContainerSpec {
  readonly imageUri: string;
  readonly healthRoute: string;
  readonly predictRoute: string;
}

export interface EntrySpec {
  readonly id: string;
  readonly model: string;
  readonly containerSpec: ContainerSpec;
  readonly dedicatedResources?: {
    readonly machineSpec: { readonly machineType: string };
    readonly minReplicaCount: number;
    readonly maxReplicaCount: number;
  };
  readonly rolloutOptions?: Readonly<Record<string, string | number>>;
}

export interface EndpointSpec {
  readonly displayName: string;
  readonly trafficSplit: Readonly<Record<string, number>>;
  readonly deployedModels: readonly EntrySpec[];
}

export interface ModelStatus {
  readonly id: string;
  readonly revisionNumber?: number;
  readonly state?: string;
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicaCount?: number;
  readonly reason?: string;
  readonly message?: string;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface StoredEndpoint {
  readonly metadata: {
    readonly name: string;
    readonly uid: string;
    readonly generation: number;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly spec: unknown;
  readonly status?: {
    readonly observedGeneration?: number;
    readonly trafficSplit?: Record<string, number>;
    readonly conditions?: readonly Condition[];
    readonly deployedModels?: readonly ModelStatus[];
  };
}

/** Calls `fn` until it resolves; between failures waits `intervalMs`; throws after `timeoutMs`. */
export async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await delay(options.intervalMs ?? 500);
    }
  }
}

/** True when `stored` holds every field of `applied` with the same value (defaults may add more). */
export function holdsEveryField(applied: unknown, stored: unknown): boolean {
  if (Array.isArray(applied)) {
    return (
      Array.isArray(stored) &&
      stored.length === applied.length &&
      applied.every((item, i) => holdsEveryField(item, stored[i]))
    );
  }
  if (typeof applied === "object" && applied !== null) {
    if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return false;
    const s = stored as Record<string, unknown>;
    return Object.entries(applied).every(([k, v]) => holdsEveryField(v, s[k]));
  }
  return applied === stored;
}

export class Cluster {
  readonly namespace: string;
  readonly #cp: ControlPlane;
  readonly #custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;

  constructor(cp: ControlPlane, kc: KubeConfig, namespace: string) {
    this.#cp = cp;
    this.namespace = namespace;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  /** `kubectl apply --server-side` of the endpoint, the way a user or a GitOps tool writes it. */
  async apply(name: string, spec: EndpointSpec, timeoutMs = 120_000): Promise<void> {
    const manifest = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "ModelEndpoint",
      metadata: { name, namespace: this.namespace },
      spec,
    };
    await retrying(
      `apply ${name}`,
      () =>
        this.#cp.kubectl(["apply", "--server-side", "--field-manager=chaos-user", "-f", "-"], {
          input: JSON.stringify(manifest),
        }),
      { timeoutMs },
    );
  }

  async get(name: string, timeoutMs = 120_000): Promise<StoredEndpoint> {
    return retrying(
      `get ${name}`,
      async () =>
        (await this.#custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: this.namespace,
          plural: PLURAL,
          name,
        })) as StoredEndpoint,
      { timeoutMs },
    );
  }

  /** Merge-patches the endpoint's metadata (never its spec): a concurrent writer. */
  async patchMetadata(
    name: string,
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> },
  ): Promise<void> {
    await this.#custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL, name, body: { metadata } },
      mergePatch(),
    );
  }

  async pods(endpoint: string): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${LABEL_ENDPOINT}=${endpoint}`,
    });
    return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
  }

  async deletePod(name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ namespace: this.namespace, name, gracePeriodSeconds: 0 });
  }

  async labelPod(name: string, labels: Record<string, string | null>): Promise<void> {
    await this.core.patchNamespacedPod(
      { namespace: this.namespace, name, body: { metadata: { labels } } },
      mergePatch(),
    );
  }

  /** Merge-patches spec.replicas; returns the generation that made. */
  async scaleReplicaSet(name: string, replicas: number): Promise<number> {
    const rs = await this.apps.patchNamespacedReplicaSet(
      { namespace: this.namespace, name, body: { spec: { replicas } } },
      mergePatch(),
    );
    return rs.metadata?.generation ?? 0;
  }

  async annotateReplicaSet(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.apps.patchNamespacedReplicaSet(
      { namespace: this.namespace, name, body: { metadata: { annotations } } },
      mergePatch(),
    );
  }

  async labelReplicaSet(name: string, labels: Record<string, string | null>): Promise<void> {
    await this.apps.patchNamespacedReplicaSet(
      { namespace: this.namespace, name, body: { metadata: { labels } } },
      mergePatch(),
    );
  }
}

/** client-node sends JSON patch for a plain object body unless told otherwise. */
const mergePatch = () => setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
