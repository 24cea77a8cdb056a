/**
 * How far the caches can be trusted. Expectations, as the Deployment controller keeps them: objects
 * this replica wrote whose new version its cache has not shown yet (a pass that would plan from such
 * a stale view waits for the watch event instead, so it neither repeats a step nor runs into a 409).
 * And the live check before a step that cannot be undone.
 */
import { jsonEqual } from "../api/json.ts";
import type { Clock } from "../kube/clock.ts";
import type { DeepReadonly, KubeObject } from "../kube/objects.ts";

/** An expectation older than this is dropped, so a lost watch event never stalls an endpoint. */
const MAX_WAIT_MS = 10_000;

/** An object as the cache shows it now: its cache key ("replicasets/ns/name") and resourceVersion. */
export interface CachedVersion {
  readonly key: string;
  readonly version: string;
}

export class Expectations {
  readonly #clock: Clock;
  /** Endpoint key -> object key -> the resourceVersion the cache still shows ("" just created). */
  readonly #awaiting = new Map<string, Map<string, { readonly staleVersion: string; readonly at: number }>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Remembers that `objectKey`, which belongs to endpoint `endpointKey`, was written while the cache
   * showed `staleVersion` ("" for an object just created).
   */
  expect(endpointKey: string, objectKey: string, staleVersion: string): void {
    const awaiting =
      this.#awaiting.get(endpointKey) ?? new Map<string, { staleVersion: string; at: number }>();
    awaiting.set(objectKey, { staleVersion, at: this.#clock.now() });
    this.#awaiting.set(endpointKey, awaiting);
  }

  /**
   * True while an object this replica wrote for the endpoint still shows its old version in `views`
   * (or, just created, is not cached yet). Met expectations and those older than 10 s are dropped.
   */
  isBehind(endpointKey: string, views: readonly CachedVersion[]): boolean {
    const awaiting = this.#awaiting.get(endpointKey);
    if (awaiting === undefined) return false;
    const now = this.#clock.now();
    const cached = new Map(views.map((v) => [v.key, v.version]));
    for (const [key, awaited] of awaiting) {
      const version = cached.get(key) ?? "";
      if (now - awaited.at > MAX_WAIT_MS || version !== awaited.staleVersion) awaiting.delete(key);
    }
    if (awaiting.size === 0) this.#awaiting.delete(endpointKey);
    return awaiting.size > 0;
  }

  /** The endpoint is gone: nothing of it is awaited any more. */
  forget(endpointKey: string): void {
    this.#awaiting.delete(endpointKey);
  }
}

/**
 * True when the API server holds a newer spec or status of the endpoint than the cache (or no
 * endpoint at all). A pass acts on the cache's view: creating the ReplicaSet or Service of a model
 * the user already removed, or deleting the ReplicaSet of a model "not in spec" that the cache
 * has simply not seen yet, cannot be undone, and no precondition on the ReplicaSet or Service
 * guards against a stale endpoint. So a pass that would do such a thing (see `cannotBeUndone` in actions.ts)
 * first reads the endpoint and compares generation (spec) and status; a stale cache waits for its
 * watch (or for the informer's watchdog to restart a silent one). Metadata-only changes (labels,
 * annotations that other tools write all the time) do not count. A pass that only moves a replica
 * count between non-zero values or relabels pods skips the read: the ReplicaSet's resourceVersion
 * guards the scale, the status write is guarded by the endpoint's, and the next pass, planned from
 * the fresh cache, undoes any such step.
 *
 * Seen under faults: a replica that took the Lease while its endpoint watch was relisting after
 * an API server restart planned from a 15 s old spec, deleted the ReplicaSets of the two newest
 * revisions as "left spec" and recreated one the user had removed.
 */
export async function isCacheStale(
  readLive: (namespace: string, name: string) => Promise<KubeObject | undefined>,
  raw: DeepReadonly<KubeObject>,
): Promise<boolean> {
  const live = await readLive(raw.metadata?.namespace ?? "", raw.metadata?.name ?? "");
  if (live === undefined) return true;
  const status = (o: DeepReadonly<KubeObject>): unknown => (o as { status?: unknown }).status ?? {};
  return (
    live.metadata?.uid !== raw.metadata?.uid ||
    live.metadata?.generation !== raw.metadata?.generation ||
    !jsonEqual(status(live), status(raw))
  );
}
