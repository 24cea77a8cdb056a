/**
 * The reconciler's own duties, around the engine: what it reads, what it writes and when it does
 * not write. Real caches (Store) and a recording Writer; the engine is the real one.
 */
import { describe, expect, it } from "vitest";

import { errorFromResponse, TerminalError, TransientError } from "../kube/errors.ts";
import type { EventInput } from "../kube/events.ts";
import { noopLogger } from "../kube/logger.ts";
import type { KubeObject, Pod, ReplicaSet, Service } from "../kube/objects.ts";
import { Store } from "../kube/store.ts";
import { Metrics } from "../metrics.ts";
import { plan } from "../rollout/index.ts";
import { INVALID_SPEC, PERMISSION_DENIED, SERVICE_CONFLICT } from "./conditions.ts";
import { ENDPOINT_INDEX, indexByEndpoint } from "./ownership.ts";
import { PERMISSION_RECHECK_MS, Reconciler, STATUS_COALESCE_MAX_MS } from "./reconciler.ts";
import type { OwnedType, Writer } from "./writer.ts";

type Write = readonly [string, ...unknown[]];

class RecordingWriter implements Writer {
  readonly writes: Write[] = [];
  failCreate: Error | undefined;
  createReplicaSet(rs: ReplicaSet): Promise<void> {
    this.writes.push(["createReplicaSet", rs.metadata?.name, rs.spec?.replicas]);
    return this.failCreate ? Promise.reject(this.failCreate) : Promise.resolve();
  }
  scaleReplicaSet(_ns: string, name: string, from: number, to: number): Promise<void> {
    this.writes.push(["scaleReplicaSet", name, from, to]);
    return Promise.resolve();
  }
  deleteReplicaSet(_ns: string, name: string): Promise<void> {
    this.writes.push(["deleteReplicaSet", name]);
    return Promise.resolve();
  }
  setPodServing(_ns: string, name: string, serving: boolean): Promise<void> {
    this.writes.push(["setPodServing", name, serving]);
    return Promise.resolve();
  }
  /** Service name -> the error creating it fails with. */
  readonly failService = new Map<string, Error>();
  createService(svc: Service): Promise<void> {
    this.writes.push(["createService", svc.metadata?.name]);
    const error = this.failService.get(svc.metadata?.name ?? "");
    return error ? Promise.reject(error) : Promise.resolve();
  }
  deleteService(_ns: string, name: string): Promise<void> {
    this.writes.push(["deleteService", name]);
    return Promise.resolve();
  }
  readonly owned: [OwnedType, KubeObject][] = [];
  putOwned(type: OwnedType, obj: KubeObject): Promise<void> {
    this.owned.push([type, obj]);
    return Promise.resolve();
  }
  deleteOwned(type: OwnedType, _ns: string, name: string): Promise<void> {
    this.owned.push([type, { metadata: { name } }]);
    return Promise.resolve();
  }
  replaceStatus(endpoint: KubeObject): Promise<void> {
    this.writes.push(["replaceStatus", (endpoint as { status?: unknown }).status]);
    return Promise.resolve();
  }
  kinds(): string[] {
    return this.writes.map((w) => w[0]);
  }
}

const NOW = Date.parse("2026-11-27T10:00:00Z");

function endpoint(overrides: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    metadata: { name: "fraud", namespace: "ml", uid: "uid-e", generation: 1, resourceVersion: "10" },
    spec: {
      trafficSplit: { m1: 100 },
      deployedModels: [
        {
          id: "m1",
          model: "fraud-detector@1",
          containerSpec: { imageUri: "registry.example/fraud:1.0" },
          dedicatedResources: { minReplicaCount: 2, maxReplicaCount: 2 },
        },
      ],
    },
    ...overrides,
  } as KubeObject;
}

function setup(
  obj: KubeObject = endpoint(),
  live?: () => KubeObject | undefined,
  gatewayApi = true,
  replicaSetsCurrent?: () => boolean,
) {
  const endpoints = new Store<KubeObject>();
  endpoints.put(obj);
  const indexers = { [ENDPOINT_INDEX]: indexByEndpoint };
  const replicaSets = new Store<ReplicaSet>(indexers);
  const pods = new Store<Pod>(indexers);
  const services = new Store<Service>(indexers);
  const writer = new RecordingWriter();
  const events: EventInput[] = [];
  let leader = true;
  const metrics = new Metrics({ defaultMetrics: false });
  let now = NOW;
  const httpRoutes = new Store<KubeObject>(indexers);
  const endpointSlices = new Store<KubeObject>(indexers);
  /** The debug lines: [message, fields]. */
  const debug: [string, Record<string, unknown>][] = [];
  const reconciler = new Reconciler({
    endpoints,
    replicaSets,
    pods,
    services,
    disruptionBudgets: new Store<KubeObject>(indexers),
    gatewayApi: gatewayApi ? { httpRoutes, endpointSlices } : undefined,
    dataPlane: { location: "us-central1" },
    writer,
    events: { record: (_o, e) => events.push(e) },
    metrics,
    clock: { now: () => now, setTimeout: () => ({ cancel: () => undefined }) },
    logger: {
      ...noopLogger,
      debug: (fields, message) => {
        debug.push([message, fields]);
      },
    },
    planner: plan,
    canWrite: () => leader,
    ...(live === undefined ? {} : { readLive: () => Promise.resolve(live()) }),
    ...(replicaSetsCurrent === undefined ? {} : { replicaSetsCurrent }),
  });
  return {
    endpoints,
    replicaSets,
    pods,
    services,
    writer,
    events,
    metrics,
    reconciler,
    httpRoutes,
    endpointSlices,
    debug,
    setLeader: (v: boolean) => {
      leader = v;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const OWNED_LABELS = {
  "serving.modelendpoint.io/endpoint": "fraud",
  "serving.modelendpoint.io/deployed-model": "m1",
  "serving.modelendpoint.io/revision": "1",
};
const OWNER = [
  {
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    name: "fraud",
    uid: "uid-e",
    controller: true,
  },
];

/** What the watch brings back after a first pass: the ReplicaSet fraud-m1 (with this status) and both Services. */
function putOwned(t: ReturnType<typeof setup>, status: NonNullable<ReplicaSet["status"]>): void {
  t.replicaSets.put({
    metadata: {
      name: "fraud-m1",
      namespace: "ml",
      uid: "uid-rs",
      resourceVersion: "20",
      generation: 1,
      labels: OWNED_LABELS,
      ownerReferences: OWNER,
    },
    spec: { replicas: 2, selector: {} },
    status,
  });
  for (const name of ["fraud", "fraud-m1"]) {
    t.services.put({
      metadata: { name, namespace: "ml", uid: name, labels: OWNED_LABELS, ownerReferences: OWNER },
    });
  }
}

describe("Reconciler", () => {
  it("owns a PodDisruptionBudget per chain, and an HTTPRoute only when the endpoint names a Gateway", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.owned.map(([type, o]) => `${type} ${o.metadata?.name ?? ""}`)).toEqual([
      "poddisruptionbudgets fraud-m1",
    ]);
    const spec = (endpoint() as { spec: Record<string, unknown> }).spec;
    const routed = setup(endpoint({ spec: { ...spec, gateway: { parentRefs: [{ name: "public" }] } } }));
    await routed.reconciler.reconcile("ml/fraud");
    expect(routed.writer.owned.map(([type, o]) => `${type} ${o.metadata?.name ?? ""}`)).toEqual([
      "poddisruptionbudgets fraud-m1",
      "httproutes fraud",
    ]);
  });

  it("takes a model out of the route before its last pods go, and waits for the gateway before it does", async () => {
    // Undeploy (every entry removed): the plan deletes fraud-m1, which the current route still weights.
    const gateway = { parentRefs: [{ name: "public" }] };
    const t = setup(endpoint({ spec: { trafficSplit: {}, deployedModels: [], gateway } }));
    putOwned(t, { replicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    t.httpRoutes.put({
      metadata: {
        name: "fraud",
        namespace: "ml",
        uid: "uid-r",
        labels: OWNED_LABELS,
        ownerReferences: OWNER,
      },
      spec: { rules: [{ backendRefs: [{ name: "fraud-m1", port: 80, weight: 100 }] }] },
    } as KubeObject);
    const held = await t.reconciler.reconcile("ml/fraud");
    expect(held).toEqual({ requeueAfterMs: 2_000 });
    expect(t.writer.owned.map(([type, o]) => `${type} ${o.metadata?.name ?? ""}`)).toContain(
      "httproutes fraud",
    );
    expect(t.writer.kinds()).not.toContain("deleteReplicaSet");
    // The status is written all the same: its split is the route's.
    const status = t.writer.writes.find((w) => w[0] === "replaceStatus")?.[1] as { trafficSplit: object };
    expect(status.trafficSplit).toEqual({});
    // The route without it and that status are in the caches; before the drain time nothing is
    // taken away.
    const [, written] = t.writer.owned.find(([type]) => type === "httproutes") ?? [];
    t.httpRoutes.put({ ...written, metadata: { ...written?.metadata, uid: "uid-r" } });
    const undeployed = endpoint({ spec: { trafficSplit: {}, deployedModels: [], gateway } });
    t.endpoints.put({
      ...undeployed,
      status,
      metadata: { ...undeployed.metadata, resourceVersion: "11" },
    } as KubeObject);
    t.advance(1_000);
    expect(await t.reconciler.reconcile("ml/fraud")).toEqual({ requeueAfterMs: 1_000 });
    expect(t.writer.kinds()).not.toContain("deleteReplicaSet");
    t.advance(1_000);
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.kinds()).toContain("deleteReplicaSet");
  });

  it("replaces a headless model Service once the endpoint is routed, and weights the model only through the new one", async () => {
    const spec = (endpoint() as { spec: Record<string, unknown> }).spec;
    const routed = endpoint({ spec: { ...spec, gateway: { parentRefs: [{ name: "public" }] } } });
    const backends = (t: ReturnType<typeof setup>): string[] => {
      const [, route] = t.writer.owned.find(([type]) => type === "httproutes") ?? [];
      type Route = { spec?: { rules?: { backendRefs?: { name: string; weight: number }[] }[] } };
      const rules = (route as Route | undefined)?.spec?.rules;
      return (rules ?? []).flatMap((r) => r.backendRefs ?? []).map((b) => `${b.name} ${String(b.weight)}`);
    };
    const withModelService = (clusterIP: string): ReturnType<typeof setup> => {
      const t = setup(routed);
      putOwned(t, { replicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
      for (const i of [1, 2])
        t.pods.put({
          metadata: {
            name: `fraud-m1-${String(i)}`,
            namespace: "ml",
            uid: `pod-${String(i)}`,
            labels: { ...OWNED_LABELS, "serving.modelendpoint.io/serving": "true" },
            ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "fraud-m1", uid: "uid-rs" }],
          },
          status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
        });
      t.services.put({
        metadata: {
          name: "fraud-m1",
          namespace: "ml",
          uid: "svc-m1",
          labels: OWNED_LABELS,
          ownerReferences: OWNER,
        },
        spec: { clusterIP },
      });
      t.endpointSlices.put({
        metadata: {
          name: "fraud-m1-abcde",
          namespace: "ml",
          uid: "slice-m1",
          labels: OWNED_LABELS,
          ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "fraud-m1", uid: "svc-m1" }],
        },
        endpoints: [{ conditions: { ready: true } }],
      } as KubeObject);
      return t;
    };
    // With a ClusterIP, the model's ready endpoint makes it a backend.
    const kept = withModelService("10.96.0.17");
    await kept.reconciler.reconcile("ml/fraud");
    expect(kept.writer.kinds()).not.toContain("deleteService");
    expect(backends(kept)).toEqual(["fraud-m1 100"]);
    // Headless: deleted this pass, and its endpoints are no backend while it goes.
    const replaced = withModelService("None");
    await replaced.reconciler.reconcile("ml/fraud");
    expect(replaced.writer.writes).toContainEqual(["deleteService", "fraud-m1"]);
    expect(backends(replaced)).toEqual([]);
  });

  it("says DataPlaneUnavailable when the endpoint names a Gateway and the cluster has no Gateway API", async () => {
    const spec = (endpoint() as { spec: Record<string, unknown> }).spec;
    const t = setup(
      endpoint({ spec: { ...spec, gateway: { parentRefs: [{ name: "public" }] } } }),
      undefined,
      false,
    );
    await t.reconciler.reconcile("ml/fraud");
    const written = t.writer.writes.find((w) => w[0] === "replaceStatus")?.[1] as {
      conditions: { type: string; status: string; reason: string; message: string }[];
    };
    const degraded = written.conditions.find((c) => c.type === "Degraded");
    expect(degraded).toMatchObject({ status: "True", reason: "DataPlaneUnavailable" });
    expect(degraded?.message).toContain("install the Gateway API CRDs");
    expect(t.events.map((e) => e.reason)).toContain("DataPlaneUnavailable");
    // The replicas go on all the same.
    expect(t.writer.kinds()).toContain("createReplicaSet");
  });

  it("deploys a first model: Services, the ReplicaSet, then one status write", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.kinds()).toEqual(["createService", "createService", "createReplicaSet", "replaceStatus"]);
    expect(t.writer.writes[0]).toEqual(["createService", "fraud"]);
    expect(t.writer.writes[1]).toEqual(["createService", "fraud-m1"]);
    expect(t.writer.writes[2]).toEqual(["createReplicaSet", "fraud-m1", 2]);
    const status = t.writer.writes[3]?.[1] as { observedGeneration: number; state: string; revision: string };
    expect(status).toMatchObject({ observedGeneration: 1, state: "BEING_DEPLOYED", revision: "m1@1" });
  });

  it("waits for the cache to show its own writes before planning again", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    const before = t.writer.writes.length;
    // Nothing changed in the caches: the ReplicaSet it created is not there yet.
    const result = await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.writes.length).toBe(before);
    expect(result?.requeueAfterMs).toBeGreaterThan(0);
  });

  it("logs every pass with the reason of its requeue and its writes, so a key that keeps coming back says why", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    // The Services, the ReplicaSet and the status, and the PodDisruptionBudget.
    const firstWrites = t.writer.writes.length + t.writer.owned.length;
    expect(firstWrites).toBe(5);
    await t.reconciler.reconcile("ml/fraud");
    t.setLeader(false);
    await t.reconciler.reconcile("ml/fraud");
    const passes = t.debug
      .filter(([message]) => message === "reconciled")
      .map(([, { durationMs, ...fields }]) => {
        expect(durationMs).toBeTypeOf("number");
        return fields;
      });
    expect(passes).toEqual([
      // The first deployment: a rollout runs, the plan asks to be back by its progress deadline.
      {
        key: "ml/fraud",
        result: "success",
        leader: true,
        requeueAfterMs: 600_000,
        why: "plan",
        writes: firstWrites,
      },
      // The cache does not show the ReplicaSet it created yet.
      {
        key: "ml/fraud",
        result: "success",
        leader: true,
        requeueAfterMs: 1_000,
        why: "awaiting-cache",
        writes: 0,
      },
      // After losing the lease it writes nothing, and still waits for the writes it made as leader.
      {
        key: "ml/fraud",
        result: "success",
        leader: false,
        requeueAfterMs: 1_000,
        why: "awaiting-cache",
        writes: 0,
      },
    ]);
  });

  it("does not write a status that did not change", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    const status = t.writer.writes.at(-1)?.[1];
    // The watch brings back the endpoint with that status and the ReplicaSet.
    t.endpoints.put({
      ...endpoint(),
      status,
      metadata: { ...endpoint().metadata, resourceVersion: "11" },
    } as KubeObject);
    putOwned(t, { replicas: 0, observedGeneration: 1 });
    const before = t.writer.writes.length;
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.writes.slice(before)).toEqual([]);
    expect(await t.metrics.registry.getSingleMetricAsString("modelendpoint_status_writes_total")).toContain(
      "modelendpoint_status_writes_total 1",
    );
  });

  it("reports an endpoint that bypassed validation and touches nothing it owns", async () => {
    const bad = endpoint({ spec: { trafficSplit: { m1: 50 }, deployedModels: [] } });
    const t = setup(bad);
    expect(await t.reconciler.reconcile("ml/fraud")).toBeUndefined();
    expect(t.writer.kinds()).toEqual(["replaceStatus"]);
    const status = t.writer.writes[0]?.[1] as {
      conditions: { type: string; status: string; reason: string; message: string }[];
    };
    expect(status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "False", INVALID_SPEC],
      ["Progressing", "False", INVALID_SPEC],
      ["Degraded", "True", INVALID_SPEC],
      ["Stalled", "True", INVALID_SPEC],
    ]);
    expect(status.conditions[0]?.message).toMatch(/^spec is invalid: spec\.trafficSplit/);
    expect(t.events.map((e) => [e.type, e.reason])).toEqual([["Warning", INVALID_SPEC]]);
    // Its status now says so: the next pass writes nothing.
    t.endpoints.put({ ...bad, status } as KubeObject);
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.kinds()).toEqual(["replaceStatus"]);
  });

  it("hands a write refused for good to the engine and plans again at once", async () => {
    const t = setup();
    t.writer.failCreate = new TerminalError(
      "ReplicaSet ml/fraud-m1 already exists and is not owned by this ModelEndpoint",
    );
    const result = await t.reconciler.reconcile("ml/fraud");
    expect(result).toEqual({ requeueAfterMs: 0 });
    // The status is still written once (revision numbers and first-seen judgements are memory).
    expect(t.writer.kinds().filter((k) => k === "replaceStatus")).toHaveLength(1);
  });

  it("a Service someone else holds never holds up the rollout or the status; the status says why", async () => {
    const t = setup();
    const taken =
      "Service ml/fraud already exists and is not owned by this ModelEndpoint; delete or rename it";
    t.writer.failService.set("fraud", new TerminalError(taken));
    const result = await t.reconciler.reconcile("ml/fraud");
    // Every Service is attempted, the ReplicaSet is created, the status written once.
    expect(t.writer.kinds()).toEqual(["createService", "createService", "createReplicaSet", "replaceStatus"]);
    const status = t.writer.writes[3]?.[1] as {
      observedGeneration: number;
      conditions: { type: string; status: string; reason: string; message: string }[];
    };
    expect(status.observedGeneration).toBe(1);
    expect(status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "False", SERVICE_CONFLICT],
      ["Progressing", "True", "NewRevisionProgressing"],
      ["Degraded", "True", SERVICE_CONFLICT],
      ["Stalled", "True", SERVICE_CONFLICT],
    ]);
    expect(status.conditions[2]?.message).toBe(taken);
    expect(t.events.map((e) => [e.type, e.reason])).toContainEqual(["Warning", SERVICE_CONFLICT]);
    // Looks again later: the other object may go away.
    expect(result?.requeueAfterMs).toBeGreaterThan(0);
  });

  it("a Service that fails for now is retried after the pass is done", async () => {
    const t = setup();
    t.writer.failService.set("fraud-m1", new TransientError("connection reset"));
    await expect(t.reconciler.reconcile("ml/fraud")).rejects.toThrow("connection reset");
    expect(t.writer.kinds()).toEqual(["createService", "createService", "createReplicaSet", "replaceStatus"]);
  });

  it("a forbidden write: Ready=False naming the permission, a Warning event, retried with backoff", async () => {
    const t = setup();
    const message =
      'replicasets.apps is forbidden: User "meo" cannot create resource "replicasets" in API group "apps" in the namespace "ml"';
    t.writer.failCreate = errorFromResponse(
      403,
      { kind: "Status", code: 403, reason: "Forbidden", message },
      undefined,
    );
    // Not handed to the engine (granting it later must work): looked at again every 10 s.
    expect(await t.reconciler.reconcile("ml/fraud")).toEqual({ requeueAfterMs: PERMISSION_RECHECK_MS });
    const status = t.writer.writes.find((w) => w[0] === "replaceStatus")?.[1] as {
      conditions: { type: string; status: string; reason: string; message: string }[];
      deployedModels: { state: string }[];
    };
    const ready = status.conditions.find((c) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "False", reason: PERMISSION_DENIED });
    expect(ready?.message).toContain(message);
    expect(status.deployedModels[0]?.state).toBe("BEING_DEPLOYED");
    expect(t.events.map((e) => [e.type, e.reason])).toContainEqual(["Warning", PERMISSION_DENIED]);
  });

  it("does not act on a cached endpoint older than the API server's: waits for the watch", async () => {
    const cached = endpoint();
    // The user has since changed the spec (generation 2): the cache still shows generation 1.
    const newer = { ...cached, metadata: { ...cached.metadata, generation: 2, resourceVersion: "20" } };
    const stale = setup(cached, () => newer);
    expect(await stale.reconciler.reconcile("ml/fraud")).toEqual({ requeueAfterMs: 500 });
    expect(stale.writer.writes).toEqual([]);
    // Another replica wrote a status the cache has not shown yet: the same.
    const written = { ...cached, status: { observedGeneration: 1 } } as KubeObject;
    expect(await setup(cached, () => written).reconciler.reconcile("ml/fraud")).toEqual({
      requeueAfterMs: 500,
    });
    // Gone: nothing to act on either.
    expect(await setup(cached, () => undefined).reconciler.reconcile("ml/fraud")).toEqual({
      requeueAfterMs: 500,
    });
    // Only metadata differs (labels and annotations other tools write): it acts.
    const relabelled = {
      ...cached,
      metadata: { ...cached.metadata, resourceVersion: "11", labels: { team: "x" } },
    };
    const current = setup(cached, () => relabelled);
    await current.reconciler.reconcile("ml/fraud");
    expect(current.writer.kinds()).toContain("createReplicaSet");
  });

  it("takes no step that cannot be undone while a new leader's ReplicaSets are being listed again", async () => {
    const cached = endpoint();
    let current = false;
    let reads = 0;
    // The endpoint is current; its ReplicaSet cache may still lack the previous leader's writes.
    const t = setup(
      cached,
      () => {
        reads++;
        return cached;
      },
      true,
      () => current,
    );
    expect(await t.reconciler.reconcile("ml/fraud")).toEqual({ requeueAfterMs: 500 });
    expect(t.writer.writes).toEqual([]);
    expect(reads).toBe(0); // no request is spent on a pass that must wait anyway
    current = true;
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.kinds()).toContain("createReplicaSet");
    expect(reads).toBe(1);
  });

  it("labels pods without reading the endpoint again: a step the next pass can undo needs no live read", async () => {
    let reads = 0;
    const cached = endpoint();
    // Newer on the API server (another replica wrote a status): any step that cannot be undone waits.
    const newer = { ...cached, metadata: { ...cached.metadata, resourceVersion: "30" }, status: { x: 1 } };
    const t = setup(cached, () => {
      reads += 1;
      return newer;
    });
    await t.reconciler.reconcile("ml/fraud");
    expect(reads).toBe(1);
    expect(t.writer.writes).toEqual([]);

    // The same endpoint with its ReplicaSet, Services and two Ready pods that do not serve yet.
    const first = setup(cached);
    await first.reconciler.reconcile("ml/fraud");
    t.endpoints.put({
      ...cached,
      status: first.writer.writes.at(-1)?.[1],
      metadata: { ...cached.metadata, resourceVersion: "11" },
    } as KubeObject);
    putOwned(t, { replicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    for (const name of ["fraud-m1-a", "fraud-m1-b"]) {
      t.pods.put({
        metadata: {
          name,
          namespace: "ml",
          uid: name,
          labels: OWNED_LABELS,
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "ReplicaSet", name: "fraud-m1", uid: "uid-rs", controller: true },
          ],
        },
        status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
      });
    }
    reads = 0;
    await t.reconciler.reconcile("ml/fraud");
    expect(reads).toBe(0);
    expect(t.writer.writes.filter((w) => w[0] === "setPodServing")).toEqual([
      ["setPodServing", "fraud-m1-a", true],
      ["setPodServing", "fraud-m1-b", true],
    ]);
  });

  it("a step's status waits for the pass that follows it, and the status' events with it; never longer than STATUS_COALESCE_MAX_MS", async () => {
    const first = setup();
    await first.reconciler.reconcile("ml/fraud");
    const deployed = first.writer.writes.at(-1)?.[1];
    /** The endpoint after the first pass, its ReplicaSet with `readyReplicas`, and pod a Ready (b not yet). */
    const afterFirstPass = (readyReplicas: number, labelled: boolean) => {
      const t = setup();
      const cached = endpoint();
      t.endpoints.put({
        ...cached,
        status: deployed,
        metadata: { ...cached.metadata, resourceVersion: "11" },
      } as KubeObject);
      putOwned(t, { replicas: 2, readyReplicas, availableReplicas: readyReplicas, observedGeneration: 1 });
      for (const [name, ready] of [
        ["fraud-m1-a", true],
        ["fraud-m1-b", false],
      ] as const) {
        t.pods.put({
          metadata: {
            name,
            namespace: "ml",
            uid: name,
            labels: {
              ...OWNED_LABELS,
              ...(labelled ? { "serving.modelendpoint.io/serving": "true" } : {}),
            },
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: "fraud-m1",
                uid: "uid-rs",
                controller: true,
              },
            ],
          },
          status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
        });
      }
      return t;
    };

    // Pod a is Ready; the ReplicaSet controller has not counted it yet. The pass labels the pods
    // (the step) and holds the status: the labels and the counters bring the next pass at once.
    const t = afterFirstPass(0, false);
    const held = await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.kinds()).toEqual(["setPodServing", "setPodServing"]);
    expect(held?.requeueAfterMs).toBeGreaterThan(0);
    expect(held?.requeueAfterMs).toBeLessThanOrEqual(STATUS_COALESCE_MAX_MS);
    expect(t.debug.find(([m]) => m === "reconciled")?.[1]).toMatchObject({ why: "status-coalesced" });
    expect(t.events.map((e) => e.reason)).not.toContain("TrafficChanged");

    // The next pass sees the labels and the counters: nothing to do, one status write, and the
    // event that says what it changed.
    const next = afterFirstPass(1, true);
    await next.reconciler.reconcile("ml/fraud");
    expect(next.writer.kinds()).toEqual(["replaceStatus"]);
    const status = next.writer.writes[0]?.[1] as { deployedModels: { availableReplicaCount?: number }[] };
    expect(status.deployedModels[0]?.availableReplicaCount).toBe(1);
    expect(next.events.filter((e) => e.reason === "TrafficChanged")).toHaveLength(1);

    // Counters that never catch up hold the status for STATUS_COALESCE_MAX_MS at most.
    const stuck = afterFirstPass(0, true);
    await stuck.reconciler.reconcile("ml/fraud");
    expect(stuck.writer.kinds()).toEqual([]);
    stuck.advance(STATUS_COALESCE_MAX_MS - 1);
    expect((await stuck.reconciler.reconcile("ml/fraud"))?.requeueAfterMs).toBe(1);
    expect(stuck.writer.kinds()).toEqual([]);
    stuck.advance(1);
    await stuck.reconciler.reconcile("ml/fraud");
    expect(stuck.writer.kinds()).toEqual(["replaceStatus"]);
    expect(stuck.events.filter((e) => e.reason === "TrafficChanged")).toHaveLength(1);
  });

  it("writes nothing while it does not lead", async () => {
    const t = setup();
    t.setLeader(false);
    await t.reconciler.reconcile("ml/fraud");
    expect(t.writer.writes).toEqual([]);
    const bad = setup(endpoint({ spec: { trafficSplit: { x: 100 }, deployedModels: [] } }));
    bad.setLeader(false);
    await bad.reconciler.reconcile("ml/fraud");
    expect(bad.writer.writes).toEqual([]);
  });

  it("forgets an endpoint that is gone", async () => {
    const t = setup();
    await t.reconciler.reconcile("ml/fraud");
    t.endpoints.delete("ml/fraud");
    expect(await t.reconciler.reconcile("ml/fraud")).toBeUndefined();
  });
});
