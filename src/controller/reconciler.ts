/**
 * One reconcile of one ModelEndpoint, keyed by "namespace/name": gather -> decide -> act -> persist.
 *
 * 1. Gather: read the endpoint, its ReplicaSets and their pods from the informer caches (one
 *    snapshot; nothing is read from the API server), unless the cache has not shown this replica's
 *    own last writes yet (expectations.ts).
 * 2. Decide: parse the endpoint with the API's own rules and ask the rollout engine for a plan (the
 *    actions of one safe step, the new status, the events).
 * 3. Act: make the Services match (services.ts), apply the actions in the plan's order, stopping at
 *    the first failure (actions.ts; the next pass plans again from what happened), record the
 *    events and metrics (report.ts).
 * 4. Persist: the engine's status with what only the controller knows (conditions.ts), written
 *    once, and only when it changed.
 *
 * A reconcile never throws for bad input: an endpoint that fails validation gets Ready=False with
 * reason InvalidSpec and the exact issues, and nothing it owns is touched. Errors writing to the API
 * server are thrown to the work queue, which retries with backoff; a write the API server refuses
 * for good (a TerminalError) is handed to the engine on the next pass, which fails the rollout.
 */
import { LABEL_DEPLOYED_MODEL } from "../api/constants.ts";
import { jsonEqual } from "../api/json.ts";
import { parseModelEndpoint, type ValidationIssue } from "../api/parse.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import type { Clock } from "../kube/clock.ts";
import { ForbiddenError, KubeError, TerminalError } from "../kube/errors.ts";
import type { EventInput } from "../kube/events.ts";
import type { Logger } from "../kube/logger.ts";
import type { DeepReadonly, KubeObject, Pod, ReplicaSet, Service } from "../kube/objects.ts";
import type { ReadonlyStore } from "../kube/store.ts";
import type { ReconcileResult } from "../kube/workqueue.ts";
import type { Metrics } from "../metrics.ts";
import type { AutoscalingPolicy, Proposal } from "../rollout/autoscale.ts";
import { summarize } from "../rollout/summary.ts";
import {
  ACTION_EVENT_REASONS,
  type Action,
  type ActionError,
  type Instant,
  type Plan,
  type Snapshot,
} from "../rollout/types.ts";
import { applyActions, cannotBeUndone, type ActionTarget, type Applied } from "./actions.ts";
import {
  buildDisruptionBudgets,
  decideRoute,
  DEFAULT_ROUTE_DRAIN_MS,
  findParentRefs,
  syncDataPlane,
  type DataPlaneSettings,
  type DataPlaneSync,
  type DataPlaneWork,
  type RouteInputs,
} from "./dataplane.ts";
import {
  DATA_PLANE_UNAVAILABLE,
  describeForbidden,
  describeInvalid,
  INVALID_SPEC,
  invalidSpecStatus,
  PERMISSION_DENIED,
  SERVICE_CONFLICT,
  withPermissionDenied,
  withUnmadeObjects,
  type WrittenStatus,
} from "./conditions.ts";
import { Expectations, isCacheStale } from "./expectations.ts";
import type { ModelPodSettings, OwnerEndpoint } from "./objects.ts";
import { controlledBy, ENDPOINT_INDEX } from "./ownership.ts";
import { countRollouts, observeEndpoint, toEventInput } from "./report.ts";
import { findServiceChanges, findWantedServices, syncServices } from "./services.ts";
import { buildSnapshot, type PodUsageLookup } from "./snapshot.ts";
import { countingWriter, type Writer } from "./writer.ts";

const NO_GATEWAY_API =
  "the cluster does not serve HTTPRoute (gateway.networking.k8s.io/v1), so predictions cannot be " +
  "routed through the Gateway: install the Gateway API CRDs and restart the operator, or remove spec.gateway";

/** A pass waiting for the cache to show its own writes looks again after this long at the latest. */
const AWAIT_CACHE_BACKSTOP_MS = 1_000;

/** The outcome of a pass whose replica steps wait for the gateway to drop a retiring model. */
const HELD: Applied = { failure: undefined, terminal: [] };

/** A pass that a missing permission stopped looks again this often (and at any change). */
export const PERMISSION_RECHECK_MS = 10_000;

/** A pass that found its cached endpoint behind the API server's looks again this soon. */
const STALE_CACHE_RECHECK_MS = 500;

/** An endpoint held up by someone else's Service looks again this often: that object may go away. */
const SERVICE_CONFLICT_RECHECK_MS = 30_000;

/**
 * How long a changed status may wait for the pass that follows a pass's own writes (or the
 * ReplicaSet controller's counters catching up), so that one write records a whole step and a step
 * never waits behind a status write the next pass would overwrite. After this the status is
 * written whatever follows.
 */
export const STATUS_COALESCE_MAX_MS = 1_000;

/**
 * Why a pass asks to be looked at again although nothing it watches changed; logged with every
 * pass (debug), so a key that keeps coming back says which rule sends it.
 */
type RequeueReason =
  | "awaiting-cache"
  | "stale-cache"
  | "permission"
  | "terminal-write"
  | "unmade-objects"
  | "route-drain"
  | "status-coalesced"
  | "plan";

/** A pass's requeue and its reason (the work queue is handed `requeueAfterMs` only). */
interface PassResult {
  readonly requeueAfterMs: number;
  readonly why: RequeueReason;
}

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
  /** PodDisruptionBudgets, indexed by ENDPOINT_INDEX. */
  readonly disruptionBudgets: ReadonlyStore<KubeObject>;
  /**
   * HTTPRoutes and the EndpointSlices of the endpoint's Services, indexed by ENDPOINT_INDEX;
   * undefined when the cluster does not serve Gateway API.
   */
  readonly gatewayApi:
    | { readonly httpRoutes: ReadonlyStore<KubeObject>; readonly endpointSlices: ReadonlyStore<KubeObject> }
    | undefined;
  readonly dataPlane: DataPlaneSettings;
  /** How model pods run (operator configuration). */
  readonly modelPods?: ModelPodSettings;
  /**
   * The pods' metric readings and why there are none (usage.ts), and how autoscaled chains scale.
   * Absent: autoscaled chains hold their N.
   */
  readonly autoscaling?: {
    readonly usage: { lookup: PodUsageLookup; problem(): string | undefined };
    readonly policy: AutoscalingPolicy;
  };
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
   * cache it planned from is current (see `isCacheStale`). Without it the cache is trusted.
   */
  readonly readLive?: (namespace: string, name: string) => Promise<KubeObject | undefined>;
  /**
   * False while the ReplicaSet cache may lack another replica's last creates and deletes: a replica
   * that has just taken the lead relists its ReplicaSets, and until that list is in, steps that
   * cannot be undone wait (the endpoint's status, which `readLive` checks, does not witness them).
   * Without it the ReplicaSet cache is trusted.
   */
  readonly replicaSetsCurrent?: () => boolean;
}

export class Reconciler {
  readonly #o: ReconcilerOptions;
  /** Writes the API server refused for good, per endpoint key, for the engine's next pass. */
  readonly #actionErrors = new Map<string, readonly ActionError[]>();
  readonly #expectations: Expectations;
  /** The autoscaler's proposals of the last pass (scale-down stabilisation), by endpoint key. */
  readonly #proposals = new Map<string, Readonly<Record<string, readonly Proposal[]>>>();
  /** When a pass last took a retiring model's weight out of an endpoint's route, by endpoint key. */
  readonly #drainStarted = new Map<string, number>();
  /** Since when a changed status has waited for the pass that follows (STATUS_COALESCE_MAX_MS), by endpoint key. */
  readonly #statusHeldSince = new Map<string, number>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#expectations = new Expectations(options.clock);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    // Durations for the metrics are real elapsed time (monotonic, sub-millisecond); the injected
    // clock is the time the engine decides with.
    const started = performance.now();
    let result = "success";
    let pass: PassResult | undefined;
    // The writes this pass makes, for its log line: a pass that writes nothing and asks for no
    // requeue only answered someone else's change.
    const writes = countingWriter(this.#o.writer);
    try {
      pass = await this.#reconcile(key, writes.writer);
      return pass === undefined ? undefined : { requeueAfterMs: pass.requeueAfterMs };
    } catch (err) {
      result = "error";
      this.#o.metrics.reconcileErrors.inc({ reason: err instanceof KubeError ? err.kind : "internal" });
      // Reported already (status, event, log). Only a person granting the permission ends it, and
      // nothing about the endpoint need change when they do, so the pass looks again at a steady
      // pace instead of backing off towards minutes.
      if (err instanceof ForbiddenError) {
        pass = { requeueAfterMs: PERMISSION_RECHECK_MS, why: "permission" };
        return { requeueAfterMs: PERMISSION_RECHECK_MS };
      }
      throw err;
    } finally {
      const durationMs = performance.now() - started;
      this.#o.metrics.reconcileDuration.observe({ result }, durationMs / 1000);
      this.#o.logger.debug(
        {
          key,
          result,
          leader: this.#canWrite(),
          ...pass,
          writes: writes.count(),
          durationMs: Math.round(durationMs * 10) / 10,
        },
        "reconciled",
      );
    }
  }

  async #reconcile(key: string, writer: Writer): Promise<PassResult | undefined> {
    const started = performance.now();
    const raw = this.#o.endpoints.get(key);
    const [namespace = "", name = ""] = key.split("/");
    if (raw === undefined) {
      // Deleted: the garbage collector removes what it owned (ownerReferences).
      this.#o.metrics.forgetEndpoint(namespace, name);
      this.#actionErrors.delete(key);
      this.#expectations.forget(key);
      this.#drainStarted.delete(key);
      this.#proposals.delete(key);
      this.#statusHeldSince.delete(key);
      return undefined;
    }
    if (raw.metadata?.deletionTimestamp !== undefined) return undefined;
    const parsed = parseModelEndpoint(structuredClone(raw));
    if (!parsed.ok) {
      await this.#reportInvalid(writer, raw, parsed.issues);
      return undefined;
    }
    const endpoint = parsed.value;
    const ref: OwnerEndpoint = { namespace, name, uid: endpoint.metadata.uid ?? "" };
    const log = { namespace, endpoint: name };

    // 1. Gather: only what this endpoint controls (a same-named predecessor's leftovers are not ours).
    const replicaSets = this.#o.replicaSets
      .byIndex(ENDPOINT_INDEX, key)
      .filter((rs) => controlledBy(rs, ref.uid));
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
    if (this.#expectations.isBehind(key, views))
      return { requeueAfterMs: AWAIT_CACHE_BACKSTOP_MS, why: "awaiting-cache" };
    // Through a Gateway, each model is weighted per request: the engine gives the exact split.
    const routed =
      this.#o.gatewayApi !== undefined && findParentRefs(endpoint, this.#o.dataPlane) !== undefined;
    const autoscaling = this.#o.autoscaling;
    const snapshot = buildSnapshot(endpoint, replicaSets, pods, {
      actionErrors: this.#actionErrors.get(key) ?? [],
      exactWeights: routed,
      ...(autoscaling === undefined
        ? {}
        : {
            usage: autoscaling.usage.lookup,
            autoscaling: {
              policy: autoscaling.policy,
              proposals: this.#proposals.get(key) ?? {},
              unavailable: autoscaling.usage.problem(),
            },
          }),
    });

    // 2. Decide.
    const plan = this.#o.planner(snapshot, this.#o.clock.now());
    if (plan.autoscalingProposals === undefined) this.#proposals.delete(key);
    else this.#proposals.set(key, plan.autoscalingProposals);
    this.#o.metrics.decideDuration.observe((performance.now() - started) / 1000);
    if (!this.#canWrite()) return undefined;
    const ownedServices = this.#o.services
      .byIndex(ENDPOINT_INDEX, key)
      .filter((s) => controlledBy(s, ref.uid));
    const wantedServices = findWantedServices(
      ref,
      endpoint,
      replicaSets.flatMap((rs) => rs.metadata?.labels?.[LABEL_DEPLOYED_MODEL] ?? []),
      routed,
    );
    const serviceChanges = findServiceChanges(ownedServices, wantedServices);
    const irreversible =
      plan.actions.some(cannotBeUndone) || serviceChanges.create.length + serviceChanges.delete.length > 0;
    if (irreversible && this.#o.replicaSetsCurrent?.() === false) {
      this.#o.logger.debug(
        log,
        "the ReplicaSets are being listed again for this leader; waiting for the list",
      );
      return { requeueAfterMs: STALE_CACHE_RECHECK_MS, why: "stale-cache" };
    }
    if (irreversible && this.#o.readLive !== undefined && (await isCacheStale(this.#o.readLive, raw))) {
      this.#o.logger.debug(log, "the cached endpoint is older than the API server's; waiting for the watch");
      return { requeueAfterMs: STALE_CACHE_RECHECK_MS, why: "stale-cache" };
    }

    // 3. Act. A Service that cannot be made holds up neither the replica steps nor the status: the
    // plan's deadline decisions (R8) and refusals (R10) land whatever else fails.
    const services = await syncServices(writer, ref, serviceChanges);
    // A Service this pass deletes (a headless one the route needs with a ClusterIP) is not a
    // backend: its model gets weight once the Service made in its place lists a ready pod.
    const dataPlane = await this.#syncDataPlane(writer, key, ref, endpoint, plan, {
      wantedServices,
      ownedServices: ownedServices.filter((s) => !serviceChanges.delete.includes(s)),
    });
    // The route no longer weights a model whose last pods this plan takes away: the replica steps
    // wait for the gateway to apply it first; the status (its split already without the model) is
    // written. The next pass plans again from the same state and goes on.
    const drainLeftMs = this.#routeDrainLeft(key, dataPlane.drained);
    const applied =
      drainLeftMs > 0
        ? HELD
        : await this.#applyPlan(
            writer,
            {
              key,
              ref,
              endpoint,
              replicaSets,
              ...(this.#o.modelPods === undefined ? {} : { pods: this.#o.modelPods }),
            },
            plan,
            raw,
          );
    if (drainLeftMs > 0) {
      this.#o.logger.debug({ ...log, drainLeftMs }, "waiting for the gateway to drop a retiring model");
    }
    if (plan.actions.length > 0) {
      this.#o.logger.debug(
        { ...log, actions: plan.actions.map(describeAction), held: drainLeftMs > 0 },
        "planned",
      );
    }
    const denied = [applied.failure, services.failure, dataPlane.failure].find(
      (e) => e instanceof ForbiddenError,
    );
    if (denied !== undefined) this.#reportForbidden(raw, denied);

    // 4. Persist: the engine's status with what only the controller knows.
    const recorded = endpoint.status?.conditions ?? [];
    const now = this.#o.clock.now();
    let status: WrittenStatus = plan.status;
    for (const [problems, reason, servesNothing] of [
      [services.conflicts, SERVICE_CONFLICT, services.conflicts.some((c) => c.name === name)],
      [dataPlane.problems, DATA_PLANE_UNAVAILABLE, false],
    ] as const) {
      status = withUnmadeObjects(status, problems, servesNothing, recorded, now, reason);
      if (problems.length > 0 && recorded.find((c) => c.type === "Degraded")?.reason !== reason) {
        const note = problems.map((c) => c.message).join("; ");
        this.#o.events.record(raw, { type: "Warning", reason, action: "Create", note });
      }
    }
    if (denied !== undefined) status = withPermissionDenied(status, describeForbidden(denied), recorded, now);
    observeEndpoint(this.#o.metrics, namespace, name, plan.status);
    // When the engine says the status may wait for the pass that follows, and nothing went wrong
    // here, it waits (bounded), and so do the events that describe its change.
    const clean =
      drainLeftMs === 0 &&
      applied.failure === undefined &&
      denied === undefined &&
      services.failure === undefined &&
      dataPlane.failure === undefined &&
      services.conflicts.length + dataPlane.problems.length === 0;
    const holdMs = plan.statusMayWait === true && clean ? this.#statusHold(key, endpoint, status) : 0;
    if (holdMs > 0) {
      return {
        requeueAfterMs: Math.min(plan.requeueAfterMs ?? Infinity, holdMs),
        why: "status-coalesced",
      };
    }
    this.#statusHeldSince.delete(key);
    const transitions = plan.events.filter((e) => !ACTION_EVENT_REASONS.has(e.reason));
    for (const event of transitions) this.#o.events.record(raw, toEventInput(event));
    countRollouts(this.#o.metrics, namespace, name, plan.status, transitions, this.#o.clock.now());
    await this.#forbiddenReported(raw, this.#writeStatus(writer, raw, endpoint, status));

    if (applied.failure !== undefined) {
      if (applied.failure instanceof TerminalError) {
        // Recorded for the engine: plan again at once so the rollout fails without waiting.
        this.#o.logger.warn(
          { ...log, err: applied.failure.message },
          "a write was refused for good; planning again",
        );
        return { requeueAfterMs: 0, why: "terminal-write" };
      }
      throw applied.failure;
    }
    if (services.failure !== undefined) throw services.failure;
    if (dataPlane.failure !== undefined) throw dataPlane.failure;
    this.#actionErrors.delete(key);
    if (services.conflicts.length + dataPlane.problems.length > 0) {
      this.#o.logger.warn(
        { ...log, problems: [...services.conflicts, ...dataPlane.problems].map((c) => c.message) },
        "an object this endpoint needs cannot be made; looking again later",
      );
      return {
        requeueAfterMs: Math.min(plan.requeueAfterMs ?? Infinity, SERVICE_CONFLICT_RECHECK_MS),
        why: "unmade-objects",
      };
    }
    if (drainLeftMs > 0) return { requeueAfterMs: drainLeftMs, why: "route-drain" };
    return plan.requeueAfterMs === undefined
      ? undefined
      : { requeueAfterMs: plan.requeueAfterMs, why: "plan" };
  }

  /** Applies the plan's actions, records its events and counts its rollouts. */
  async #applyPlan(
    writer: Writer,
    on: ActionTarget,
    plan: Plan,
    raw: DeepReadonly<KubeObject>,
  ): Promise<Applied> {
    const applied = await applyActions(
      {
        writer,
        expect: (...args) => {
          this.#expectations.expect(...args);
        },
      },
      on,
      plan.actions,
    );
    if (applied.terminal.length > 0) {
      this.#actionErrors.set(on.key, [...(this.#actionErrors.get(on.key) ?? []), ...applied.terminal]);
    }
    for (const event of plan.events) {
      if (ACTION_EVENT_REASONS.has(event.reason)) this.#o.events.record(raw, toEventInput(event));
    }
    return applied;
  }

  /**
   * How much longer a changed status may wait for the next pass (0: write it now). Nothing waits
   * when the status is what the object holds.
   */
  #statusHold(key: string, endpoint: ModelEndpoint, status: WrittenStatus): number {
    if (jsonEqual(endpoint.status ?? {}, fullStatus(status))) return 0;
    const now = this.#o.clock.now();
    const since = this.#statusHeldSince.get(key) ?? now;
    this.#statusHeldSince.set(key, since);
    return Math.max(0, since + STATUS_COALESCE_MAX_MS - now);
  }

  /**
   * The HTTPRoute (when the endpoint has a Gateway) and the PodDisruptionBudgets, from the status
   * this pass decided. A route wanted where the cluster does not serve Gateway API is a problem
   * for the status, not an error: nothing else of the endpoint depends on it.
   */
  async #syncDataPlane(
    writer: Writer,
    key: string,
    ref: OwnerEndpoint,
    endpoint: ModelEndpoint,
    plan: Plan,
    services: Pick<RouteInputs, "wantedServices" | "ownedServices">,
  ): Promise<DataPlaneSync & { readonly drained: boolean }> {
    const owned = (store: ReadonlyStore<KubeObject>): DeepReadonly<KubeObject>[] =>
      store.byIndex(ENDPOINT_INDEX, key).filter((o) => controlledBy(o, ref.uid));
    const work: DataPlaneWork[] = [
      {
        type: "poddisruptionbudgets",
        owned: owned(this.#o.disruptionBudgets),
        wanted: buildDisruptionBudgets(ref, endpoint, plan.status),
      },
    ];
    const gatewayApi = this.#o.gatewayApi;
    if (gatewayApi === undefined) {
      const synced = await syncDataPlane(writer, ref, work);
      if (findParentRefs(endpoint, this.#o.dataPlane) === undefined) return { ...synced, drained: false };
      return {
        ...synced,
        problems: [{ name: ref.name, message: NO_GATEWAY_API }, ...synced.problems],
        drained: false,
      };
    }
    const current = owned(gatewayApi.httpRoutes);
    const { route, drained } = decideRoute({
      ref,
      endpoint,
      settings: this.#o.dataPlane,
      plan,
      ...services,
      slices: gatewayApi.endpointSlices.byIndex(ENDPOINT_INDEX, key),
      current: current[0],
    });
    work.push({ type: "httproutes", owned: current, wanted: route ? [route] : [] });
    return { ...(await syncDataPlane(writer, ref, work)), drained };
  }

  /**
   * How long this endpoint's retiring steps still wait for the gateway: routeDrainMs from the pass
   * that took a retiring model's weight out of the route (`drained`), 0 once that has passed.
   */
  #routeDrainLeft(key: string, drained: boolean): number {
    const now = this.#o.clock.now();
    if (drained) this.#drainStarted.set(key, now);
    const started = this.#drainStarted.get(key);
    if (started === undefined) return 0;
    const left = started + (this.#o.dataPlane.routeDrainMs ?? DEFAULT_ROUTE_DRAIN_MS) - now;
    if (left > 0) return left;
    this.#drainStarted.delete(key);
    return 0;
  }

  #canWrite(): boolean {
    return this.#o.canWrite?.() ?? true;
  }

  /** Writes the status when it differs from what the object holds; the object's resourceVersion guards it. */
  async #writeStatus(
    writer: Writer,
    raw: DeepReadonly<KubeObject>,
    endpoint: ModelEndpoint,
    status: WrittenStatus,
  ): Promise<void> {
    const full = fullStatus(status);
    if (jsonEqual(endpoint.status ?? {}, full)) return;
    const next = structuredClone(raw) as KubeObject & { status?: unknown };
    next.status = full;
    await writer.replaceStatus(next);
    const key = `${endpoint.metadata.namespace ?? ""}/${endpoint.metadata.name}`;
    this.#expectations.expect(key, `modelendpoints/${key}`, raw.metadata?.resourceVersion ?? "");
    this.#o.metrics.statusWrites.inc();
  }

  /**
   * An endpoint that does not validate (it bypassed admission, e.g. created before a CRD upgrade):
   * conditions say exactly what is wrong; everything it owns is left as it is.
   */
  async #reportInvalid(
    writer: Writer,
    raw: DeepReadonly<KubeObject>,
    issues: readonly ValidationIssue[],
  ): Promise<void> {
    if (!this.#canWrite()) return;
    const message = describeInvalid(issues);
    const current = (raw as { status?: Record<string, unknown> }).status ?? {};
    const status = invalidSpecStatus(current, message, raw.metadata?.generation ?? 0, this.#o.clock.now());
    if (jsonEqual(current, status)) return;
    this.#o.events.record(raw, { type: "Warning", reason: INVALID_SPEC, action: "Validate", note: message });
    const next = structuredClone(raw) as KubeObject & { status?: unknown };
    next.status = status;
    await this.#forbiddenReported(raw, writer.replaceStatus(next));
    this.#o.metrics.statusWrites.inc();
  }

  /** A forbidden write, said where someone looks: a Warning event on the endpoint and an error log. */
  #reportForbidden(raw: DeepReadonly<KubeObject>, err: ForbiddenError): void {
    const note = describeForbidden(err);
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
}

/** The status as written: the engine's, with the summary columns. */
function fullStatus(status: WrittenStatus): WrittenStatus & ReturnType<typeof summarize> {
  return { ...status, ...summarize(status) };
}

/** "scale m2 3->5", "create m2 (3)", "delete m1", "label pod-x serving": an action in a debug log. */
function describeAction(action: Action): string {
  switch (action.kind) {
    case "createReplicaSet":
      return `create ${action.deployedModelId} (${String(action.replicas)})`;
    case "scaleReplicaSet":
      return `scale ${action.deployedModelId} ${String(action.from)}->${String(action.to)}`;
    case "deleteReplicaSet":
      return `delete ${action.deployedModelId}`;
    case "setPodServing":
      return `label ${action.podName} ${action.serving ? "serving" : "not serving"}`;
  }
}
