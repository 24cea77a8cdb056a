/**
 * The typed client the controller writes with, and the list/watch sources its informers read from.
 *
 * One generic ResourceClient per resource type (pods, services, events, replicasets, leases, and
 * the ModelEndpoint custom resource) offers exactly the verbs a controller needs, each with the
 * precondition that makes it safe:
 *
 * - get / list (all pages) / create;
 * - replace: a full update, refused unless metadata.resourceVersion is set (never a blind write);
 * - mergePatch (RFC 7386 JSON merge patch), optionally conditional on a resourceVersion;
 * - jsonPatch (RFC 6902), conditional on the fields its `test` operations name;
 * - apply: server-side apply with a field manager (force takes over conflicting fields);
 * - delete with preconditions (uid, resourceVersion) and a propagation policy;
 * - the status subresource: mergePatchStatus, applyStatus, replaceStatus.
 *
 * Objects go and come as JSON (`Wire<T>`, see objects.ts). Every call takes an AbortSignal and a
 * timeout, and every failure is a KubeError (errors.ts): `NotFoundError`, `ConflictError`, ...
 */
import {
  classifyApiError,
  ConflictError,
  errorFromStatus,
  GoneError,
  InvalidError,
  NotFoundError,
  TerminalError,
} from "./errors.ts";
import type { ListResult, ListWatch, WatchEvent, WatchOptions } from "./informer.ts";
import type { EventSink } from "./events.ts";
import type { LeaseClient } from "./leaderelection.ts";
import type { Event, KubeObject, Lease, Pod, ReplicaSet, Service } from "./objects.ts";
import {
  KubeConfigTransport,
  type Credentials,
  type KubeConfigTransportOptions,
  type Query,
  type Transport,
} from "./transport.ts";

/** Names a resource on the API server. `T` is the type of its objects. */
export interface ResourceType<T extends KubeObject> {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  /** The URL segment, "replicasets". */
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Carries T; never set. */
  readonly __object?: T;
}

export const PODS: ResourceType<Pod> = {
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
};
export const SERVICES: ResourceType<Service> = {
  group: "",
  version: "v1",
  plural: "services",
  kind: "Service",
  namespaced: true,
};
export const EVENTS: ResourceType<Event> = {
  group: "events.k8s.io",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};
export const REPLICASETS: ResourceType<ReplicaSet> = {
  group: "apps",
  version: "v1",
  plural: "replicasets",
  kind: "ReplicaSet",
  namespaced: true,
};
export const LEASES: ResourceType<Lease> = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

export const PODDISRUPTIONBUDGETS: ResourceType<KubeObject> = {
  group: "policy",
  version: "v1",
  plural: "poddisruptionbudgets",
  kind: "PodDisruptionBudget",
  namespaced: true,
};
/** discovery.k8s.io EndpointSlices: which endpoints of a Service are ready, as the data plane sees them. */
export const ENDPOINTSLICES: ResourceType<KubeObject> = {
  group: "discovery.k8s.io",
  version: "v1",
  plural: "endpointslices",
  kind: "EndpointSlice",
  namespaced: true,
};
/** Gateway API's HTTPRoute (a CRD: served only where the Gateway API is installed). */
export const HTTPROUTES: ResourceType<KubeObject> = {
  group: "gateway.networking.k8s.io",
  version: "v1",
  plural: "httproutes",
  kind: "HTTPRoute",
  namespaced: true,
};

/** The ModelEndpoint custom resource, typed by the caller (the API package owns its schema). */
export function modelEndpoints<T extends KubeObject = KubeObject>(): ResourceType<T> {
  return {
    group: "serving.modelendpoint.io",
    version: "v1alpha1",
    plural: "modelendpoints",
    kind: "ModelEndpoint",
    namespaced: true,
  };
}

/** One operation of a JSON patch (RFC 6902); the operator uses `test` and `replace`. */
export interface JsonPatchOperation {
  readonly op: "test" | "replace" | "add" | "remove";
  /** A JSON pointer, e.g. "/spec/replicas". */
  readonly path: string;
  readonly value?: unknown;
}

/** Per-call options. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's default request timeout. */
  readonly timeoutMs?: number;
}

export interface Selector {
  /** "app=x,tier!=db" */
  readonly labelSelector?: string;
  /** "status.phase=Running" */
  readonly fieldSelector?: string;
}

export interface ApplyOptions extends CallOptions {
  /** Who owns the applied fields, "model-endpoint-operator". */
  readonly fieldManager: string;
  /** Take over fields another manager owns (default true: the controller is the source of truth). */
  readonly force?: boolean;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only if the object still has this uid / resourceVersion (ConflictError otherwise). */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan";
  readonly gracePeriodSeconds?: number;
}

/** Verbs on one resource type. `namespace` is "" for a cluster-scoped resource. */
export class ResourceClient<T extends KubeObject> {
  readonly type: ResourceType<T>;
  private readonly transport: Transport;
  /** Page size of lists. */
  private readonly pageSize: number;

  constructor(transport: Transport, type: ResourceType<T>, pageSize = 500) {
    this.transport = transport;
    this.type = type;
    this.pageSize = pageSize;
  }

  async get(namespace: string, name: string, options: CallOptions = {}): Promise<T> {
    return (await this.call("GET", this.path(namespace, name), options)) as T;
  }

  /** Every object (following `continue` pages) and the list's resourceVersion. */
  async list(
    namespace: string | undefined,
    selector: Selector = {},
    options: CallOptions = {},
  ): Promise<ListResult<T>> {
    // A continue token expires after a few minutes (410); then the list starts over, once per page.
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let resourceVersion: string;
      let token: string | undefined;
      try {
        do {
          const page = (await this.call("GET", this.path(namespace), options, {
            ...selector,
            limit: this.pageSize,
            continue: token,
          })) as ListPage<T> | undefined;
          for (const item of page?.items ?? []) items.push(this.withTypeMeta(item));
          resourceVersion = page?.metadata?.resourceVersion ?? "";
          token = page?.metadata?.continue === "" ? undefined : page?.metadata?.continue;
        } while (token !== undefined);
        return { items, resourceVersion };
      } catch (err) {
        if (!(err instanceof GoneError) || token === undefined || attempt >= 3) throw err;
      }
    }
  }

  async create(obj: T, options: CallOptions & { readonly fieldManager?: string } = {}): Promise<T> {
    const { namespace } = this.identify(obj, false);
    return (await this.call("POST", this.path(namespace), options, fieldManager(options), obj)) as T;
  }

  /** A full update; metadata.resourceVersion must be set and still current (ConflictError if not). */
  async replace(obj: T, options: CallOptions = {}): Promise<T> {
    const { namespace, name } = this.identify(obj, true);
    return (await this.call("PUT", this.path(namespace, name), options, {}, obj)) as T;
  }

  /**
   * A JSON merge patch. With `resourceVersion`, the patch applies only to that version of the
   * object (ConflictError otherwise): use it when replacing lists such as finalizers.
   */
  async mergePatch(
    namespace: string,
    name: string,
    patch: object,
    options: CallOptions & { readonly resourceVersion?: string } = {},
  ): Promise<T> {
    return this.patch(this.path(namespace, name), mergeBody(patch, options.resourceVersion), options);
  }

  /**
   * A JSON patch (RFC 6902). A `test` operation makes it conditional on one field rather than on the
   * whole object's resourceVersion: a failed test is a ConflictError, as a stale resourceVersion is
   * (the API server's own answer, a 422 without causes, cannot be told from other refusals).
   */
  async jsonPatch(
    namespace: string,
    name: string,
    operations: readonly JsonPatchOperation[],
    options: CallOptions = {},
  ): Promise<T> {
    try {
      return await this.patch(this.path(namespace, name), operations, options, "application/json-patch+json");
    } catch (err) {
      // The API server answers a failed test with a bare 422 ("the server rejected our request due
      // to an error in our request", no causes); a patch that leaves an invalid object gets a 422
      // that names the field.
      const tested = operations.filter((o) => o.op === "test").map((o) => o.path);
      if (err instanceof InvalidError && err.causes.length === 0 && tested.length > 0) {
        throw new ConflictError(
          `409 Conflict: ${this.type.kind} ${namespace}/${name} changed: ${tested.join(", ")} no longer holds the value tested`,
          { code: 409, ...(err.status === undefined ? {} : { status: err.status }), cause: err },
        );
      }
      throw err;
    }
  }

  /** Server-side apply of `obj` (apiVersion, kind, metadata.name required). */
  async apply(obj: T, options: ApplyOptions): Promise<T> {
    const { namespace, name } = this.identify(obj, false);
    return this.applyAt(this.path(namespace, name), obj, options);
  }

  async delete(namespace: string, name: string, options: DeleteOptions = {}): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      ...(options.preconditions === undefined ? {} : { preconditions: options.preconditions }),
      ...(options.propagationPolicy === undefined ? {} : { propagationPolicy: options.propagationPolicy }),
      ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }),
    };
    await this.call("DELETE", this.path(namespace, name), options, {}, body);
  }

  async mergePatchStatus(
    namespace: string,
    name: string,
    patch: object,
    options: CallOptions & { readonly resourceVersion?: string } = {},
  ): Promise<T> {
    return this.patch(
      `${this.path(namespace, name)}/status`,
      mergeBody(patch, options.resourceVersion),
      options,
    );
  }

  async applyStatus(obj: T, options: ApplyOptions): Promise<T> {
    const { namespace, name } = this.identify(obj, false);
    return this.applyAt(`${this.path(namespace, name)}/status`, obj, options);
  }

  /** Replaces the status; metadata.resourceVersion is the precondition. */
  async replaceStatus(obj: T, options: CallOptions = {}): Promise<T> {
    const { namespace, name } = this.identify(obj, true);
    return (await this.call("PUT", `${this.path(namespace, name)}/status`, options, {}, obj)) as T;
  }

  /** The list/watch source of an informer over this resource. */
  listWatch(namespace?: string, selector: Selector = {}): ListWatch<T> {
    return {
      list: ({ signal }) => this.list(namespace, selector, { signal }),
      watch: (options) => this.watch(namespace, selector, options),
    };
  }

  private async *watch(
    namespace: string | undefined,
    selector: Selector,
    options: WatchOptions,
  ): AsyncIterable<WatchEvent<T>> {
    const query: Query = {
      ...selector,
      watch: true,
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: options.allowWatchBookmarks,
      timeoutSeconds: options.timeoutSeconds,
    };
    for await (const raw of this.transport.stream({
      path: this.path(namespace),
      query,
      signal: options.signal,
    })) {
      yield toWatchEvent<T>(raw);
    }
  }

  private async patch(
    path: string,
    body: object,
    options: CallOptions,
    contentType = "application/merge-patch+json",
  ): Promise<T> {
    return (await this.call("PATCH", path, options, {}, body, contentType)) as T;
  }

  private async applyAt(path: string, obj: T, options: ApplyOptions): Promise<T> {
    const query = { fieldManager: options.fieldManager, force: options.force ?? true };
    // JSON is YAML, so the apply-patch+yaml content type takes the JSON body as it is.
    return (await this.call("PATCH", path, options, query, obj, "application/apply-patch+yaml")) as T;
  }

  private async call(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: CallOptions,
    query: Query = {},
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    try {
      return await this.transport.request({
        method,
        path,
        query,
        ...(body === undefined ? {} : { body }),
        ...(contentType === undefined ? {} : { contentType }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
    } catch (err) {
      throw classifyApiError(err);
    }
  }

  private path(namespace: string | undefined, name?: string): string {
    const { group, version, plural, namespaced } = this.type;
    const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
    const scope =
      namespaced && namespace !== undefined && namespace !== "" ? `/namespaces/${seg(namespace)}` : "";
    return `${base}${scope}/${plural}${name === undefined ? "" : `/${seg(name)}`}`;
  }

  private identify(obj: T, needsResourceVersion: boolean): { namespace: string; name: string } {
    const name = obj.metadata?.name ?? "";
    const namespace = obj.metadata?.namespace ?? "";
    if (name === "" && obj.metadata?.generateName === undefined) {
      throw new TerminalError(`${this.type.kind} without metadata.name`);
    }
    if (this.type.namespaced && namespace === "") {
      throw new TerminalError(`${this.type.kind} ${name} without metadata.namespace`);
    }
    if (needsResourceVersion && (obj.metadata?.resourceVersion ?? "") === "") {
      throw new TerminalError(
        `replacing ${this.type.kind} ${namespace}/${name} needs metadata.resourceVersion`,
      );
    }
    return { namespace, name };
  }

  /** List items come without apiVersion and kind; set them so cached objects look like watched ones. */
  private withTypeMeta(item: T): T {
    if (item.apiVersion !== undefined && item.kind !== undefined) return item;
    const { group, version, kind } = this.type;
    return { ...item, apiVersion: group === "" ? version : `${group}/${version}`, kind };
  }
}

interface ListPage<T> {
  readonly items?: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

function toWatchEvent<T>(raw: unknown): WatchEvent<T> {
  const event = raw as { type?: unknown; object?: unknown } | null;
  const type = event?.type;
  if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
    return { type, object: event?.object as T };
  }
  if (type === "BOOKMARK") {
    const rv = (event?.object as KubeObject | undefined)?.metadata?.resourceVersion ?? "";
    return { type, resourceVersion: rv };
  }
  if (type === "ERROR") return { type, error: errorFromStatus(event?.object) };
  return { type: "ERROR", error: new TerminalError(`unexpected watch event ${JSON.stringify(type)}`) };
}

function mergeBody(patch: object, resourceVersion: string | undefined): object {
  if (resourceVersion === undefined) return patch;
  const metadata = (patch as { metadata?: object }).metadata ?? {};
  return { ...patch, metadata: { ...metadata, resourceVersion } };
}

function fieldManager(options: { readonly fieldManager?: string }): Query {
  return options.fieldManager === undefined ? {} : { fieldManager: options.fieldManager };
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

export interface KubeClientOptions extends KubeConfigTransportOptions {
  /** Page size of lists (default 500). */
  readonly pageSize?: number;
}

/** The client facade: one ResourceClient per resource the operator uses. */
export class KubeClient {
  readonly transport: Transport;
  readonly pods: ResourceClient<Pod>;
  readonly services: ResourceClient<Service>;
  readonly events: ResourceClient<Event>;
  readonly replicaSets: ResourceClient<ReplicaSet>;
  readonly leases: ResourceClient<Lease>;
  private readonly pageSize: number;

  constructor(transport: Transport, options: { readonly pageSize?: number } = {}) {
    this.transport = transport;
    this.pageSize = options.pageSize ?? 500;
    this.pods = this.resource(PODS);
    this.services = this.resource(SERVICES);
    this.events = this.resource(EVENTS);
    this.replicaSets = this.resource(REPLICASETS);
    this.leases = this.resource(LEASES);
  }

  /** A client for the API server of `kubeConfig` (loaded by the caller: file, default or in-cluster). */
  static fromKubeConfig(kubeConfig: Credentials, options: KubeClientOptions = {}): KubeClient {
    return new KubeClient(new KubeConfigTransport(kubeConfig, options), options);
  }

  resource<T extends KubeObject>(type: ResourceType<T>): ResourceClient<T> {
    return new ResourceClient(this.transport, type, this.pageSize);
  }

  /** The ModelEndpoint client, typed by the caller. */
  modelEndpoints<T extends KubeObject = KubeObject>(): ResourceClient<T> {
    return this.resource(modelEndpoints<T>());
  }

  /** The Lease a LeaderElector campaigns for. */
  leaseClient(namespace: string, name: string, options: { readonly timeoutMs?: number } = {}): LeaseClient {
    const leases = this.leases;
    const call = (signal: AbortSignal): CallOptions => ({ signal, ...options });
    return {
      async get(signal) {
        try {
          return await leases.get(namespace, name, call(signal));
        } catch (err) {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        }
      },
      create: (lease, signal) => leases.create(lease, call(signal)),
      update: (lease, signal) => leases.replace(lease, call(signal)),
    };
  }

  /** Where an EventRecorder writes. */
  eventSink(options: CallOptions = {}): EventSink {
    return {
      create: (event) => this.events.create(event, options),
      patch: (namespace, name, patch) => this.events.mergePatch(namespace, name, patch, options),
    };
  }
}
