/**
 * Where the server's reads come from. `Reads` is the part of a ResourceClient a read needs, so a
 * method reads the same way from the API server (a write's fresh read, with the caller's identity)
 * or from the server's informer caches (`Caches`: ModelEndpoints, Models and the operator's
 * EndpointSlices, watched with the server's own read-only identity), where each read is first
 * authorized for the caller (access.ts).
 */
import { ENDPOINTSLICES, type KubeClient, type ResourceType, type Selector } from "../kube/client.ts";
import { NotFoundError } from "../kube/errors.ts";
import { Informer } from "../kube/informer.ts";
import type { Logger } from "../kube/logger.ts";
import type { DeepReadonly, KubeObject } from "../kube/objects.ts";
import { modelEndpoints } from "../kube/client.ts";
import { OWNED_LABEL_SELECTOR } from "../controller/ownership.ts";
import type { ReadAccess } from "./access.ts";
import { MODELS } from "./models.ts";

export interface Reads {
  /** The object; a NotFoundError when there is none. */
  get(namespace: string, name: string): Promise<KubeObject>;
  list(namespace: string, selector?: Selector): Promise<{ readonly items: readonly KubeObject[] }>;
  /**
   * After a write: resolves once these reads show the object at `resourceVersion` or later
   * (undefined: gone), or after SETTLE_MS, so that a GET right after a write sees it. Reads from
   * the API server are there already and have no such method.
   */
  settle?(namespace: string, name: string, resourceVersion: string | undefined): Promise<void>;
}

/** How long a request waits at most for the caches to show its own write. */
export const SETTLE_MS = 2_000;

/** Has the cache caught up with `wanted` (undefined: the object is gone)? */
export function caughtUp(cached: string | undefined, wanted: string | undefined): boolean {
  if (wanted === undefined || cached === undefined) return cached === wanted;
  if (cached === wanted) return true;
  // Opaque to clients in general; etcd's are integers, and a later write has a larger one.
  return /^\d+$/.test(cached) && /^\d+$/.test(wanted) && BigInt(cached) > BigInt(wanted);
}

/** The reads of one caller: the endpoints, models and EndpointSlices it may see. */
export interface View {
  readonly endpoints: Reads;
  readonly models: Reads;
  readonly slices: Reads;
}

/** Asks whether the caller may; throws when not. */
export type Authorize = (access: ReadAccess) => Promise<void>;

/** Equality terms `k=v,k2=v2` of a label selector, which is all the server's reads use. */
function labelMatcher(selector: Selector | undefined): (obj: DeepReadonly<KubeObject>) => boolean {
  const terms = (selector?.labelSelector ?? "")
    .split(",")
    .filter((t) => t !== "")
    .map((t) => {
      const at = t.indexOf("=");
      if (at < 0 || t.includes("!") || t.includes("=="))
        throw new Error(`cached reads match k=v label selectors only, not ${t}`);
      return [t.slice(0, at).trim(), t.slice(at + 1).trim()] as const;
    });
  if (selector?.fieldSelector !== undefined) throw new Error("cached reads take no field selector");
  return (obj) => terms.every(([k, v]) => obj.metadata?.labels?.[k] === v);
}

/** Reads of an informer's cache, each authorized first. */
export function cachedReads(
  informer: Pick<Informer<KubeObject>, "store" | "subscribe">,
  type: ResourceType<KubeObject>,
  authorize: Authorize,
): Reads {
  const store = informer.store;
  const access = (verb: "get" | "list", namespace: string): ReadAccess => ({
    verb,
    group: type.group,
    resource: type.plural,
    namespace,
  });
  return {
    async get(namespace, name) {
      await authorize(access("get", namespace));
      const found = store.get(`${namespace}/${name}`);
      if (found === undefined) {
        throw new NotFoundError(`${type.plural}.${type.group} "${name}" not found`, { code: 404 });
      }
      return found as unknown as KubeObject;
    },
    async list(namespace, selector) {
      await authorize(access("list", namespace));
      const matches = labelMatcher(selector);
      return { items: store.list(namespace).filter(matches) as unknown as readonly KubeObject[] };
    },
    settle(namespace, name, resourceVersion) {
      const key = `${namespace}/${name}`;
      const current = (): boolean => caughtUp(store.get(key)?.metadata?.resourceVersion, resourceVersion);
      if (current()) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          unsubscribe();
          resolve();
        };
        const timer = setTimeout(done, SETTLE_MS);
        const unsubscribe = informer.subscribe((event) => {
          if (event.key === key && current()) done();
        });
      });
    },
  };
}

/** The copy kept of an object: without managedFields, which no answer uses. */
function slim<T extends KubeObject>(obj: T): T {
  if (obj.metadata !== undefined) delete (obj.metadata as { managedFields?: unknown }).managedFields;
  return obj;
}

/** The server's informers, watched with its own identity in every namespace. */
export class Caches {
  private readonly endpoints: Informer<KubeObject>;
  private readonly models: Informer<KubeObject>;
  private readonly slices: Informer<KubeObject>;
  private readonly informers: readonly Informer<KubeObject>[];

  constructor(client: KubeClient, logger?: Logger) {
    const make = (name: string, type: ResourceType<KubeObject>, selector: Selector = {}) =>
      new Informer<KubeObject>({
        name,
        listWatch: client.resource(type).listWatch(undefined, selector),
        transform: slim,
        ...(logger === undefined ? {} : { logger }),
      });
    this.endpoints = make("modelendpoints", modelEndpoints());
    this.models = make("models", MODELS);
    // The EndpointSlices of the operator's Services carry the Services' labels.
    this.slices = make("endpointslices", ENDPOINTSLICES, { labelSelector: OWNED_LABEL_SELECTOR });
    this.informers = [this.endpoints, this.models, this.slices];
  }

  /** Starts every informer; resolves when all have listed once (false: stopped first). */
  async start(signal?: AbortSignal): Promise<boolean> {
    for (const informer of this.informers) informer.start();
    const synced = await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    return synced.every(Boolean);
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** The reads of a caller that `authorize` vets. */
  view(authorize: Authorize): View {
    return {
      endpoints: cachedReads(this.endpoints, modelEndpoints(), authorize),
      models: cachedReads(this.models, MODELS, authorize),
      slices: cachedReads(this.slices, ENDPOINTSLICES, authorize),
    };
  }
}
