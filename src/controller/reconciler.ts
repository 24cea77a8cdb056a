/**
 * One reconcile of one ModelEndpoint, keyed by "namespace/name": gather -> decide -> act -> persist.
 *
 * 1. Gather: read the endpoint, its ReplicaSets and their pods from the informer caches (one
 *    snapshot; nothing is read from the API server).
 * 2. Decide: parse the endpoint with the API's own rules and ask the rollout engine for a plan (the
 *    actions of one safe step, the new status, the events).
 * 3. Act: make sure the Services exist, apply the actions in the plan's order, stopping at the first
 *    failure (the next pass plans again from what happened), record the events.
 * 4. Persist: write the status once, and only when it changed.
 *
 * A reconcile never throws for bad input: an endpoint that fails validation gets Ready=False with
 * reason InvalidSpec and the exact issues, and nothing it owns is touched. Errors writing to the API
 * server are thrown to the work queue, which retries with backoff; a write the API server refuses
 * for good (a TerminalError) is handed to the engine on the next pass, which fails the rollout.
 */
import { LABEL_ENDPOINT } from "../api/constants.ts";
import { jsonEqual } from "../api/json.ts";
import { isMachineType, resolveContainerResources, type ContainerResources } from "../api/machine-types.ts";
import { parseModelEndpoint, type ValidationIssue } from "../api/parse.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import type { DeployedModel } from "../api/spec.ts";
import type { Clock } from "../kube/clock.ts";
import { ForbiddenError, KubeError, TerminalError } from "../kube/errors.ts";
import type { EventInput } from "../kube/events.ts";
import type { Logger } from "../kube/logger.ts";
import type { DeepReadonly, KubeObject, Pod, ReplicaSet, Service } from "../kube/objects.ts";
import type { ReadonlyStore } from "../kube/store.ts";
import type { ReconcileResult } from "../kube/workqueue.ts";
import type { Metrics } from "../metrics.ts";
import type {
  Action,
  ActionError,
  CreateReplicaSet,
  EndpointStatus,
  EventReason,
  Instant,
  Plan,
  PlanEvent,
  Snapshot,
} from "../rollout/types.ts";
import {
  buildEndpointService,
  buildModelService,
  buildReplicaSet,
  defaultHealthRoute,
  defaultPredictRoute,
  LABEL_SERVING,
  type EndpointRef,
  type ResolvedDeployedModel,
} from "./objects.ts";
import { buildSnapshot } from "./snapshot.ts";
import { chainRoot, summarize } from "./summary.ts";
import type { Writer } from "./writer.ts";

/** The cache index that files owned objects under their endpoint's key ("namespace/name"). */
export const ENDPOINT_INDEX = "endpoint";

/** Files an owned object (labelled with its endpoint) under "namespace/endpoint". */
export function indexByEndpoint(obj: DeepReadonly<KubeObject>): readonly string[] {
  const endpoint = obj.metadata?.labels?.[LABEL_ENDPOINT];
  return endpoint === undefined ? [] : [`${obj.metadata?.namespace ?? ""}/${endpoint}`];
}

/** A pass waiting for the cache to show its own writes looks again after this long at the latest. */
const AWAIT_CACHE_BACKSTOP_MS = 1_000;
/** ... and stops waiting for a write the cache has not shown after this long. */
const AWAIT_CACHE_MAX_MS = 10_000;

/** Stable reasons of the conditions for an endpoint that does not validate. */
export const INVALID_SPEC = "InvalidSpec";

/**
 * Degraded (and, for the endpoint's own Service, Ready=False) while a Service the endpoint needs
 * exists under its name and belongs to someone else.
 */
export const SERVICE_CONFLICT = "ServiceConflict";

/**
 * Ready=False, a Warning event and an error log while the API server forbids a write the endpoint
 * needs (RBAC): the operator's identity lacks a permission of docs/operator.md "Permissions". The
 * pass is retried with backoff, so the endpoint carries on by itself once the permission is granted.
 */
export const PERMISSION_DENIED = "PermissionDenied";

/** A pass that a missing permission stopped looks again this often (and at any change). */
export const PERMISSION_RECHECK_MS = 10_000;

/** A pass that found its cached endpoint behind the API server's looks again this soon. */
const STALE_CACHE_RECHECK_MS = 500;

/** An endpoint held up by someone else's Service looks again this often: that object may go away. */
const SERVICE_CONFLICT_RECHECK_MS = 30_000;

/** A condition as written: the engine's, or one of the reconciler's own reasons. */
type WrittenCondition = Omit<EndpointStatus["conditions"][number], "reason"> & { readonly reason: string };

/** The status as written: the engine's, with conditions the reconciler may have overridden. */
type WrittenStatus = Omit<EndpointStatus, "conditions"> & {
  readonly conditions: readonly WrittenCondition[];
};

/** The endpoint a pass acts on, as that pass saw it. */
interface ActionTarget {
  readonly key: string;
  readonly ref: EndpointRef;
  readonly endpoint: ModelEndpoint;
  readonly replicaSets: readonly DeepReadonly<ReplicaSet>[];
}

/** Services of an endpoint to create and to delete. */
interface ServiceChanges {
  readonly create: readonly Service[];
  readonly delete: readonly DeepReadonly<Service>[];
}

/** What making the Services exist ran into. */
interface ServiceSync {
  /** Services this endpoint needs whose names someone else's object holds (refused for good). */
  readonly conflicts: readonly { readonly name: string; readonly message: string }[];
  /** The first other failure, retried with backoff. */
  readonly failure: Error | undefined;
}

/** What the event's `action` says was done, by the engine's event reason. */
const EVENT_ACTIONS: Readonly<Record<EventReason, string>> = {
  RolloutStarted: "Rollout",
  RollbackStarted: "Rollback",
  TrafficNotServed: "Alert",
  RolloutRefused: "Refuse",
  ReplicaSetCreated: "Create",
  ReplicaSetRecreated: "Create",
  ReplicaSetDeleted: "Delete",
  ScalingReplicaSet: "Scale",
  TrafficChanged: "ShiftTraffic",
  RolloutComplete: "Complete",
  RolloutFailed: "Fail",
  RolloutReverting: "Revert",
  RolloutReverted: "Revert",
  StatusRebuilt: "Rebuild",
};

export interface EventSinkLike {
  record(regarding: DeepReadonly<KubeObject>, input: EventInput): void;
}

export interface ReconcilerOptions {
  readonly endpoints: ReadonlyStore<KubeObject>;
  /** Indexed by ENDPOINT_INDEX. */
  readonly replicaSets: ReadonlyStore<ReplicaSet>;
  /** Indexed by ENDPOINT_INDEX. */
  readonly pods: ReadonlyStore<Pod>;
  /** Indexed by ENDPOINT_INDEX. */
  readonly services: ReadonlyStore<Service>;
  readonly writer: Writer;
  readonly events: EventSinkLike;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly planner: (snapshot: Snapshot, now: Instant) => Plan;
  /** False while this replica does not hold the leader lease: then nothing is written. */
  readonly canWrite?: () => boolean;
  /**
   * A live read of the endpoint (undefined when it is gone), to check before a pass acts that the
   * cache it planned from is current (see `#cacheIsStale`). Without it the cache is trusted.
   */
  readonly readLive?: (namespace: string, name: string) => Promise<KubeObject | undefined>;
}

export class Reconciler {
  readonly #o: ReconcilerOptions;
  /** Writes the API server refused for good, per endpoint key, for the engine's next pass. */
  readonly #actionErrors = new Map<string, ActionError[]>();
  /**
   * Objects this replica wrote whose new version the cache has not shown yet: cache key -> the
   * resourceVersion the cache still shows ("" for an object just created), and when it was written.
   * A pass that would plan from such a stale view waits for the watch event instead (the Deployment
   * controller's "expectations"), so it neither repeats a step nor runs into a 409.
   */
  readonly #awaiting = new Map<string, Map<string, { readonly staleVersion: string; readonly at: number }>>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    // Durations for the metrics are real elapsed time (monotonic, sub-millisecond); the injected
    // clock is the time the engine decides with.
    const started = performance.now();
    let result = "success";
    try {
      return await this.#reconcile(key);
    } catch (err) {
      result = "error";
      this.#o.metrics.reconcileErrors.inc({ reason: err instanceof KubeError ? err.kind : "internal" });
      // Reported already (status, event, log). Only a person granting the permission ends it, and
      // nothing about the endpoint need change when they do, so the pass looks again at a steady
      // pace instead of backing off towards minutes.
      if (err instanceof ForbiddenError) return { requeueAfterMs: PERMISSION_RECHECK_MS };
      throw err;
    } finally {
      this.#o.metrics.reconcileDuration.observe({ result }, (performance.now() - started) / 1000);
    }
  }

  #canWrite(): boolean {
    return this.#o.canWrite?.() ?? true;
  }

  async #reconcile(key: string): Promise<ReconcileResult | undefined> {
    const started = performance.now();
    const raw = this.#o.endpoints.get(key);
    const [namespace = "", name = ""] = key.split("/");
    if (raw === undefined) {
      // Deleted: the garbage collector removes what it owned (ownerReferences).
      this.#o.metrics.forgetEndpoint(namespace, name);
      this.#actionErrors.delete(key);
      this.#awaiting.delete(key);
      return undefined;
    }
    if (raw.metadata?.deletionTimestamp !== undefined) return undefined;
    const parsed = parseModelEndpoint(structuredClone(raw));
    if (!parsed.ok) {
      await this.#reportInvalid(raw, parsed.issues);
      return undefined;
    }
    const endpoint = parsed.value;
    const uid = endpoint.metadata.uid ?? "";
    const log = { namespace, endpoint: name };

    // Gather: only what this endpoint controls (a same-named predecessor's leftovers are not ours).
    const replicaSets = this.#o.replicaSets
      .byIndex(ENDPOINT_INDEX, key)
      .filter((rs) => controlledBy(rs, uid));
    const rsUids = new Set(replicaSets.map((rs) => rs.metadata?.uid ?? ""));
    const pods = this.#o.pods
      .byIndex(ENDPOINT_INDEX, key)
      .filter((p) => p.metadata?.ownerReferences?.some((r) => rsUids.has(r.uid)) ?? false);
    const views = [
      { key: `modelendpoints/${key}`, version: raw.metadata?.resourceVersion ?? "" },
      ...replicaSets.map((rs) => ({
        key: `replicasets/${namespace}/${rs.metadata?.name ?? ""}`,
        version: rs.metadata?.resourceVersion ?? "",
      })),
    ];
    if (this.#cacheIsBehind(key, views)) return { requeueAfterMs: AWAIT_CACHE_BACKSTOP_MS };
    const snapshot = buildSnapshot(
      endpoint,
      replicaSets,
      pods,
      this.#actionErrors.get(key) ?? [],
      (id) => effectiveRoutes(endpoint, id).healthRoute,
    );

    // Decide.
    const plan = this.#o.planner(snapshot, this.#o.clock.now());
    this.#o.metrics.decideDuration.observe((performance.now() - started) / 1000);
    if (!this.#canWrite()) return undefined;
    const ref: EndpointRef = { namespace, name, uid };
    const serviceChanges = this.#serviceChanges(ref, endpoint, key);
    if (
      (plan.actions.some(cannotBeUndone) ||
        serviceChanges.create.length + serviceChanges.delete.length > 0) &&
      (await this.#cacheIsStale(raw))
    ) {
      this.#o.logger.debug(log, "the cached endpoint is older than the API server's; waiting for the watch");
      return { requeueAfterMs: STALE_CACHE_RECHECK_MS };
    }

    // Act. A Service that cannot be made holds up neither the replica steps nor the status: the
    // plan's deadline decisions (R8) and refusals (R10) land whatever else fails.
    const services = await this.#syncServices(ref, serviceChanges);
    const failure = await this.#applyActions({ key, ref, endpoint, replicaSets }, plan.actions);
    for (const event of plan.events) this.#recordEvent(raw, event);
    this.#countRollouts(namespace, name, plan);
    const denied = [failure, services.failure].find((e) => e instanceof ForbiddenError);
    if (denied !== undefined) this.#reportForbidden(raw, denied);
    const status = this.#reportDenied(
      endpoint,
      this.#reportServiceConflicts(raw, endpoint, plan.status, services.conflicts),
      denied,
    );

    // Persist.
    await this.#forbiddenReported(raw, this.#writeStatus(raw, endpoint, status));
    this.#o.metrics.observeEndpoint(
      namespace,
      name,
      plan.status.deployedModels.map((m) => ({
        id: m.id,
        state: m.state,
        replicas: m.replicas,
        readyReplicas: m.readyReplicas,
        availableReplicas: m.availableReplicaCount,
        trafficPercent: plan.status.trafficSplit[m.id] ?? 0,
      })),
    );
    if (failure !== undefined) {
      if (failure instanceof TerminalError) {
        // Recorded for the engine: plan again at once so the rollout fails without waiting.
        this.#o.logger.warn({ ...log, err: failure.message }, "a write was refused for good; planning again");
        return { requeueAfterMs: 0 };
      }
      throw failure;
    }
    if (services.failure !== undefined) throw services.failure;
    this.#actionErrors.delete(key);
    if (services.conflicts.length > 0) {
      this.#o.logger.warn(
        { ...log, conflicts: services.conflicts.map((c) => c.name) },
        "a Service name is taken by someone else's object; looking again later",
      );
      return { requeueAfterMs: Math.min(plan.requeueAfterMs ?? Infinity, SERVICE_CONFLICT_RECHECK_MS) };
    }
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  /**
   * True when an object this replica wrote still shows its old version (or, just created, is not
   * cached yet). Entries older than AWAIT_CACHE_MAX_MS are dropped, so a lost event never stalls.
   */
  #cacheIsBehind(endpointKey: string, views: readonly { key: string; version: string }[]): boolean {
    const awaiting = this.#awaiting.get(endpointKey);
    if (awaiting === undefined) return false;
    const now = this.#o.clock.now();
    const cached = new Map(views.map((v) => [v.key, v.version]));
    for (const [key, awaited] of awaiting) {
      const version = cached.get(key) ?? "";
      if (now - awaited.at > AWAIT_CACHE_MAX_MS || version !== awaited.staleVersion) awaiting.delete(key);
    }
    if (awaiting.size === 0) this.#awaiting.delete(endpointKey);
    return awaiting.size > 0;
  }

  #expect(endpointKey: string, key: string, staleVersion: string): void {
    const awaiting =
      this.#awaiting.get(endpointKey) ?? new Map<string, { staleVersion: string; at: number }>();
    awaiting.set(key, { staleVersion, at: this.#o.clock.now() });
    this.#awaiting.set(endpointKey, awaiting);
  }

  /**
   * True when the API server holds a newer spec or status of the endpoint than the cache (or no
   * endpoint at all). A pass acts on the cache's view: creating the ReplicaSet or Service of a model
   * the user already removed, or deleting the ReplicaSet of a model "not in spec" that the cache
   * has simply not seen yet, cannot be undone, and no precondition on the ReplicaSet or Service
   * guards against a stale endpoint. So a pass that would do such a thing (see {@link cannotBeUndone})
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
  async #cacheIsStale(raw: DeepReadonly<KubeObject>): Promise<boolean> {
    if (this.#o.readLive === undefined) return false;
    const live = await this.#o.readLive(raw.metadata?.namespace ?? "", raw.metadata?.name ?? "");
    if (live === undefined) return true;
    const status = (o: DeepReadonly<KubeObject>): unknown => (o as { status?: unknown }).status ?? {};
    return (
      live.metadata?.uid !== raw.metadata?.uid ||
      live.metadata?.generation !== raw.metadata?.generation ||
      !jsonEqual(status(live), status(raw))
    );
  }

  /**
   * The endpoint Service and one Service per deployed model exist; those of removed models do not:
   * the Services of this endpoint to create and to delete.
   */
  #serviceChanges(ref: EndpointRef, endpoint: ModelEndpoint, key: string): ServiceChanges {
    const owned = this.#o.services.byIndex(ENDPOINT_INDEX, key).filter((s) => controlledBy(s, ref.uid));
    const have = new Set(owned.map((s) => s.metadata?.name ?? ""));
    const wanted = wantedServices(ref, endpoint);
    const want = new Set(wanted.map((s) => s.metadata?.name ?? ""));
    return {
      create: wanted.filter((s) => !have.has(s.metadata?.name ?? "")),
      delete: owned.filter((s) => !want.has(s.metadata?.name ?? "")),
    };
  }

  /**
   * Makes the Service changes. Every Service is attempted; a name taken by someone else's object is
   * a conflict (reported in status), any other failure is returned to be retried once the rest of
   * the pass is done. The Services do not depend on one another: written at once.
   */
  async #syncServices(ref: EndpointRef, changes: ServiceChanges): Promise<ServiceSync> {
    const conflicts: { name: string; message: string }[] = [];
    let failure: Error | undefined;
    const attempt = async (svcName: string, write: () => Promise<void>): Promise<void> => {
      try {
        await write();
      } catch (err) {
        if (err instanceof TerminalError) conflicts.push({ name: svcName, message: err.message });
        else failure ??= err instanceof Error ? err : new Error(String(err));
      }
    };
    await Promise.all([
      ...changes.create.map((svc) =>
        attempt(svc.metadata?.name ?? "", () => this.#o.writer.createService(svc, ref.uid)),
      ),
      ...changes.delete.map((svc) =>
        attempt(svc.metadata?.name ?? "", () =>
          this.#o.writer.deleteService(ref.namespace, svc.metadata?.name ?? "", svc.metadata?.uid ?? ""),
        ),
      ),
    ]);
    return { conflicts, failure };
  }

  /**
   * The engine's status, with Services someone else holds reported: Degraded=True and Stalled=True (reason
   * ServiceConflict), and Ready=False when it is the endpoint's own Service (nothing is served
   * through it). A Warning event says so when the report is new.
   */
  #reportServiceConflicts(
    raw: DeepReadonly<KubeObject>,
    endpoint: ModelEndpoint,
    status: EndpointStatus,
    conflicts: ServiceSync["conflicts"],
  ): WrittenStatus {
    if (conflicts.length === 0) return status;
    const message = conflicts.map((c) => c.message).join("; ");
    const recorded = endpoint.status?.conditions ?? [];
    const now = this.#o.clock.now();
    const override = (c: WrittenCondition, value: "True" | "False", text: string): WrittenCondition => ({
      ...c,
      status: value,
      reason: SERVICE_CONFLICT,
      message: text,
      lastTransitionTime: transitionTime(recorded, c.type, value, now),
    });
    const servesNothing = conflicts.some((c) => c.name === endpoint.metadata.name);
    const conditions = status.conditions.map((c): WrittenCondition => {
      if (c.type === "Degraded" || c.type === "Stalled")
        return override(c, "True", c.status === "True" ? `${message}; ${c.message}` : message);
      if (c.type === "Ready" && servesNothing) return override(c, "False", message);
      return c;
    });
    const before = recorded.find((c) => c.type === "Degraded");
    if (before?.reason !== SERVICE_CONFLICT) {
      this.#o.events.record(raw, {
        type: "Warning",
        reason: SERVICE_CONFLICT,
        action: "Create",
        note: message,
      });
    }
    return { ...status, conditions };
  }

  /** The status with Ready=False (reason PermissionDenied) while a write is forbidden. */
  #reportDenied(
    endpoint: ModelEndpoint,
    status: WrittenStatus,
    denied: ForbiddenError | undefined,
  ): WrittenStatus {
    if (denied === undefined) return status;
    const recorded = endpoint.status?.conditions ?? [];
    const message = forbiddenMessage(denied);
    const now = this.#o.clock.now();
    return {
      ...status,
      conditions: status.conditions.map((c): WrittenCondition =>
        c.type === "Ready"
          ? {
              ...c,
              status: "False",
              reason: PERMISSION_DENIED,
              message,
              lastTransitionTime: transitionTime(recorded, c.type, "False", now),
            }
          : c,
      ),
    };
  }

  /** A forbidden write, said where someone looks: a Warning event on the endpoint and an error log. */
  #reportForbidden(raw: DeepReadonly<KubeObject>, err: ForbiddenError): void {
    const note = forbiddenMessage(err);
    this.#o.logger.error(
      {
        namespace: raw.metadata?.namespace,
        endpoint: raw.metadata?.name,
        reason: PERMISSION_DENIED,
        err: err.status?.message ?? err.message,
      },
      "the API server forbids a write this endpoint needs; looking again every 10 s until the permission is granted",
    );
    this.#o.events.record(raw, { type: "Warning", reason: PERMISSION_DENIED, action: "Write", note });
  }

  /** Awaits a write; a 403 is reported (event, log) before it is thrown (see `reconcile`). */
  async #forbiddenReported(raw: DeepReadonly<KubeObject>, write: Promise<void>): Promise<void> {
    try {
      await write;
    } catch (err) {
      if (err instanceof ForbiddenError) this.#reportForbidden(raw, err);
      throw err;
    }
  }

  /**
   * Applies actions in order; returns the first failure (the rest are left to the next pass). Pod
   * labels that follow one another in the plan do not depend on each other and are written at once;
   * every other action waits for the one before it.
   */
  async #applyActions(on: ActionTarget, actions: readonly Action[]): Promise<Error | undefined> {
    for (const group of batchLabels(actions)) {
      const failures = await Promise.all(group.map((action) => this.#applyAction(on, action)));
      const failure = failures.find((f) => f !== undefined);
      if (failure !== undefined) return failure;
    }
    return undefined;
  }

  async #applyAction(on: ActionTarget, action: Action): Promise<Error | undefined> {
    const { key, ref, endpoint, replicaSets } = on;
    const byName = (name: string) => replicaSets.find((rs) => rs.metadata?.name === name);
    try {
      switch (action.kind) {
        case "createReplicaSet": {
          const rs = buildReplicaSet(
            ref,
            resolveForObjects(endpoint, action),
            action.replicas,
            { poolSize: action.poolSize, lineage: action.lineage, rolloutSettings: action.rolloutSettings },
            action.serving,
          );
          await this.#o.writer.createReplicaSet(rs, ref.uid);
          this.#expect(key, `replicasets/${ref.namespace}/${rs.metadata?.name ?? ""}`, "");
          break;
        }
        case "scaleReplicaSet": {
          const rv = byName(action.replicaSetName)?.metadata?.resourceVersion ?? "";
          await this.#o.writer.scaleReplicaSet(ref.namespace, action.replicaSetName, action.to, rv);
          this.#expect(key, `replicasets/${ref.namespace}/${action.replicaSetName}`, rv);
          break;
        }
        case "deleteReplicaSet": {
          const uid = byName(action.replicaSetName)?.metadata?.uid ?? "";
          await this.#o.writer.deleteReplicaSet(ref.namespace, action.replicaSetName, uid);
          break;
        }
        case "setPodServing":
          await this.#o.writer.setPodServing(ref.namespace, action.podName, action.serving);
          break;
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (err instanceof TerminalError) {
        this.#actionErrors.set(key, [
          ...(this.#actionErrors.get(key) ?? []),
          {
            deployedModelId: action.deployedModelId,
            action: action.kind,
            terminal: true,
            message: error.message,
          },
        ]);
      }
      return error;
    }
    return undefined;
  }

  #recordEvent(regarding: DeepReadonly<KubeObject>, event: PlanEvent): void {
    this.#o.events.record(regarding, {
      type: event.type,
      reason: event.reason,
      action: EVENT_ACTIONS[event.reason],
      note: event.message,
    });
  }

  #countRollouts(namespace: string, endpoint: string, plan: Plan): void {
    const m = this.#o.metrics;
    const nowMs = this.#o.clock.now();
    const startedAt = (id: string | undefined): number | undefined => {
      const created = plan.status.deployedModels.find((d) => d.id === id)?.createTime;
      return created === undefined ? undefined : Date.parse(created);
    };
    for (const event of plan.events) {
      const start = startedAt(event.deployedModelId);
      const seconds =
        start === undefined || Number.isNaN(start) ? undefined : Math.max(0, (nowMs - start) / 1000);
      // A rollback by removal is a rollout too: it ends with RolloutComplete (or RolloutFailed).
      if (event.reason === "RolloutStarted" || event.reason === "RollbackStarted") {
        m.rolloutsStarted.inc({ namespace, endpoint });
      }
      if (event.reason === "RolloutComplete") {
        m.rolloutsCompleted.inc({ namespace, endpoint });
        if (seconds !== undefined) m.rolloutDuration.observe({ outcome: "completed" }, seconds);
      }
      if (event.reason === "RolloutFailed" || event.reason === "RolloutRefused") {
        const reason =
          plan.status.deployedModels.find((d) => d.id === event.deployedModelId)?.reason ?? event.reason;
        m.rolloutsFailed.inc({ namespace, endpoint, reason });
        if (seconds !== undefined) m.rolloutDuration.observe({ outcome: "failed" }, seconds);
      }
    }
  }

  /** Writes the status when it differs from what the object holds; the object's resourceVersion guards it. */
  async #writeStatus(
    raw: DeepReadonly<KubeObject>,
    endpoint: ModelEndpoint,
    status: WrittenStatus,
  ): Promise<void> {
    const full = { ...status, ...summarize(status) };
    if (jsonEqual(endpoint.status ?? {}, full)) return;
    const next = structuredClone(raw) as KubeObject & { status?: unknown };
    next.status = full;
    await this.#o.writer.replaceStatus(next);
    const key = `${endpoint.metadata.namespace ?? ""}/${endpoint.metadata.name}`;
    this.#expect(key, `modelendpoints/${key}`, raw.metadata?.resourceVersion ?? "");
    this.#o.metrics.statusWrites.inc();
  }

  /**
   * An endpoint that does not validate (it bypassed admission, e.g. created before a CRD upgrade):
   * conditions say exactly what is wrong; everything it owns is left as it is.
   */
  async #reportInvalid(raw: DeepReadonly<KubeObject>, issues: readonly ValidationIssue[]): Promise<void> {
    if (!this.#canWrite()) return;
    const message = `spec is invalid: ${issues
      .slice(0, 10)
      .map((i) => `${i.path}: ${i.message}`)
      .join("; ")}${issues.length > 10 ? `; and ${issues.length - 10} more` : ""}`;
    const current = (raw as { status?: Record<string, unknown> }).status ?? {};
    const generation = raw.metadata?.generation ?? 0;
    const previous = (current["conditions"] ?? []) as readonly {
      type?: string;
      status?: string;
      lastTransitionTime?: string;
    }[];
    const now = this.#o.clock.now();
    const condition = (type: string, status: "True" | "False") => ({
      type,
      status,
      reason: INVALID_SPEC,
      message,
      lastTransitionTime: transitionTime(previous, type, status, now),
      observedGeneration: generation,
    });
    const status = {
      ...current,
      observedGeneration: generation,
      conditions: [
        condition("Ready", "False"),
        condition("Progressing", "False"),
        condition("Degraded", "True"),
        condition("Stalled", "True"),
      ],
    };
    if (jsonEqual(current, status)) return;
    this.#o.events.record(raw, { type: "Warning", reason: INVALID_SPEC, action: "Validate", note: message });
    const next = structuredClone(raw) as KubeObject & { status?: unknown };
    next.status = status;
    await this.#forbiddenReported(raw, this.#o.writer.replaceStatus(next));
    this.#o.metrics.statusWrites.inc();
  }
}

/**
 * A condition's lastTransitionTime: kept from the recorded condition of that type when its status
 * does not flip, else now (RFC 3339 in whole seconds, as the engine writes it).
 */
function transitionTime(
  recorded: readonly { type?: string; status?: string; lastTransitionTime?: string }[],
  type: string,
  status: string,
  nowMs: number,
): string {
  const old = recorded.find((c) => c.type === type);
  if (old?.status === status && old.lastTransitionTime) return old.lastTransitionTime;
  return new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * What a 403 means for the user, with the API server's own words, e.g. 'the operator may not do
 * this: pods "fraud-m1-x7k2p" is forbidden: User "system:serviceaccount:ops:meo" cannot patch
 * resource "pods" in API group "" in the namespace "ml"; grant what docs/operator.md
 * "Permissions" lists'.
 */
function forbiddenMessage(err: ForbiddenError): string {
  return `the operator may not do this: ${err.status?.message ?? err.message}; grant what docs/operator.md "Permissions" lists`;
}

/**
 * The plan's actions in order, runs of pod labels grouped (they are applied at once). Pods that
 * start serving and pods that stop are separate groups: traffic is added before it is taken away.
 */
function batchLabels(actions: readonly Action[]): Action[][] {
  const groups: Action[][] = [];
  for (const action of actions) {
    const last = groups.at(-1);
    const first = last?.[0];
    if (
      action.kind === "setPodServing" &&
      first?.kind === "setPodServing" &&
      first.serving === action.serving
    )
      last?.push(action);
    else groups.push([action]);
  }
  return groups;
}

/**
 * Actions a stale view must not take: creating or deleting a ReplicaSet, and scaling one to zero
 * (which takes a model out of service). Scaling between non-zero counts and pod labels are steps
 * the next pass corrects.
 */
function cannotBeUndone(action: Action): boolean {
  switch (action.kind) {
    case "createReplicaSet":
    case "deleteReplicaSet":
      return true;
    case "scaleReplicaSet":
      return action.to === 0;
    case "setPodServing":
      return false;
  }
}

/** The endpoint's Service and one per deployed model. */
function wantedServices(ref: EndpointRef, endpoint: ModelEndpoint): Service[] {
  return [
    buildEndpointService(ref),
    ...endpoint.spec.deployedModels.map((dm) => buildModelService(ref, dm.id)),
  ];
}

function controlledBy(obj: DeepReadonly<KubeObject>, uid: string): boolean {
  return obj.metadata?.ownerReferences?.some((r) => r.controller === true && r.uid === uid) ?? false;
}

/**
 * The ReplicaSet inputs of a CreateReplicaSet: the entry's own containerSpec (as parsed, typed),
 * the engine's resolved compute and identity (R2), and routes. A route the entry leaves out
 * defaults to Vertex's path for the chain's root model, so every revision of a chain answers on
 * the same URL (R10 requires a rolling deployment's routes to equal its previous model's).
 */
export function resolveForObjects(endpoint: ModelEndpoint, action: CreateReplicaSet): ResolvedDeployedModel {
  const entry: DeployedModel | undefined = endpoint.spec.deployedModels.find(
    (d) => d.id === action.deployedModelId,
  );
  const containerSpec = entry?.containerSpec ?? { imageUri: "" };
  const machineType = action.model.dedicatedResources?.machineSpec?.["machineType"];
  const knownMachine =
    typeof machineType === "string" && isMachineType(machineType) ? machineType : undefined;
  return {
    id: action.deployedModelId,
    model: action.model.model,
    revision: action.revision,
    containerSpec,
    ...effectiveRoutes(endpoint, action.deployedModelId),
    resources: resolveContainerResources(explicitResources(containerSpec.resources), knownMachine),
    machineType: typeof machineType === "string" ? machineType : undefined,
    serviceAccount: action.model.serviceAccount,
    disableContainerLogging: action.model.disableContainerLogging,
    enableAccessLogging: action.model.enableAccessLogging,
  };
}

/**
 * A deployed model's routes: its own, else its chain root's, else Vertex's default path for the
 * chain root, so every revision of a chain answers on the same URL.
 */
export function effectiveRoutes(
  endpoint: ModelEndpoint,
  id: string,
): { readonly predictRoute: string; readonly healthRoute: string } {
  const previous = new Map<string, string>();
  for (const d of endpoint.spec.deployedModels) {
    if (d.rolloutOptions) previous.set(d.id, d.rolloutOptions.previousDeployedModel);
  }
  for (const s of endpoint.status?.deployedModels ?? []) {
    if (s.previousDeployedModel !== undefined && !previous.has(s.id))
      previous.set(s.id, s.previousDeployedModel);
  }
  const root = chainRoot(id, previous);
  const own = endpoint.spec.deployedModels.find((d) => d.id === id)?.containerSpec;
  const rootSpec = endpoint.spec.deployedModels.find((d) => d.id === root)?.containerSpec;
  const name = endpoint.metadata.name;
  return {
    predictRoute: own?.predictRoute ?? rootSpec?.predictRoute ?? defaultPredictRoute(name, root),
    healthRoute: own?.healthRoute ?? rootSpec?.healthRoute ?? defaultHealthRoute(name, root),
  };
}

function explicitResources(r: DeployedModel["containerSpec"]["resources"]): ContainerResources | undefined {
  if (r === undefined) return undefined;
  return { ...(r.requests ? { requests: r.requests } : {}), ...(r.limits ? { limits: r.limits } : {}) };
}

/** Labels the reconciler reads on pods (exported for the runtime's informer selectors). */
export const OWNED_LABEL_SELECTOR = LABEL_ENDPOINT;
export { LABEL_SERVING };
