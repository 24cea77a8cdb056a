/**
 * The runtime layer (src/kube) on a real control plane: the client facade's verbs and typed errors,
 * informers that see every change and survive an API server restart without replaying objects,
 * leader election between two electors, and the event recorder.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { KubeClient } from "../../src/kube/client.ts";
import {
  ConflictError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  TerminalError,
} from "../../src/kube/errors.ts";
import { EventRecorder } from "../../src/kube/events.ts";
import { Informer, type InformerEvent, type WatchRestartReason } from "../../src/kube/informer.ts";
import { leaseClientContract } from "../../src/kube/lease-contract.ts";
import { LeaderElector } from "../../src/kube/leaderelection.ts";
import type { KubeObject, Pod, ReplicaSet } from "../../src/kube/objects.ts";
import { indexByLabel } from "../../src/kube/store.ts";
import { controlPlaneClient, createNamespace, eventually, kubeConfig } from "./context.ts";

const client = KubeClient.fromKubeConfig(kubeConfig(), { timeoutMs: 10_000 });
const stops: (() => Promise<void>)[] = [];
let ns = "";

beforeAll(async () => {
  ns = await createNamespace("kube");
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

function bareRs(name: string, replicas: number, labels: Record<string, string> = {}): ReplicaSet {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: ns, labels: { suite: "kube", ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, suite: "kube" } },
        spec: { containers: [{ name: "model", image: "registry.example/model:1.0" }] },
      },
    },
  };
}

function barePod(name: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { suite: "kube", app: "bare" } },
    spec: { containers: [{ name: "model", image: "registry.example/model:1.0" }] },
  };
}

/** Awaits a condition on local state (a cache, a flag). */
function until<T>(
  what: string,
  probe: () => T | undefined | false,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  return eventually(what, () => Promise.resolve(probe()), options);
}

/** Starts an informer and records its events as "type key" lines. */
function record<T extends KubeObject>(informer: Informer<T>): string[] {
  const seen: string[] = [];
  informer.subscribe((event: InformerEvent<T>) => {
    seen.push(`${event.type} ${event.key}`);
  });
  informer.start();
  stops.push(() => informer.stop());
  return seen;
}

describe("KubeClient", () => {
  it("creates, reads, patches, applies, replaces with a precondition and deletes", async () => {
    const rs = client.replicaSets;
    const created = await rs.create(bareRs("verbs", 0));
    expect(created.metadata?.uid).toBeTruthy();
    expect(typeof created.metadata?.creationTimestamp).toBe("string");

    // The ReplicaSet controller writes the status once; wait for it so no write races ours below.
    const read = await eventually("the controller's status write", async () => {
      const current = await rs.get(ns, "verbs");
      return current.status?.observedGeneration === 1 && current;
    });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);

    const patched = await rs.mergePatch(ns, "verbs", { metadata: { labels: { patched: "yes" } } });
    expect(patched.metadata?.labels?.["patched"]).toBe("yes");

    const applied = await rs.apply(
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: "verbs", namespace: ns, labels: { applied: "yes" } },
      },
      { fieldManager: "kube-test" },
    );
    expect(applied.metadata?.labels).toMatchObject({ applied: "yes", patched: "yes" });
    expect(applied.metadata?.managedFields?.some((f) => f.manager === "kube-test")).toBe(true);

    // A replace from a stale read is refused; a fresh one goes through.
    await expect(rs.replace(read)).rejects.toBeInstanceOf(ConflictError);
    const fresh = await rs.get(ns, "verbs");
    const replaced = await rs.replace({
      ...fresh,
      metadata: { ...fresh.metadata, labels: { ...fresh.metadata?.labels, replaced: "yes" } },
    });
    expect(replaced.metadata?.labels?.["replaced"]).toBe("yes");
    // A merge patch conditional on an old resourceVersion is refused too.
    await expect(
      rs.mergePatch(ns, "verbs", { metadata: { labels: { late: "yes" } } }, { resourceVersion: "1" }),
    ).rejects.toBeInstanceOf(ConflictError);
    // A JSON patch with a test on one field applies whatever else changed (the labels above), and a
    // failed test is a conflict, as a stale resourceVersion is.
    const scaled = await rs.jsonPatch(ns, "verbs", [
      { op: "test", path: "/spec/replicas", value: 0 },
      { op: "replace", path: "/spec/replicas", value: 0 },
      { op: "add", path: "/metadata/labels/tested", value: "yes" },
    ]);
    expect(scaled.metadata?.labels?.["tested"]).toBe("yes");
    const refused = await rs
      .jsonPatch(ns, "verbs", [
        { op: "test", path: "/spec/replicas", value: 3 },
        { op: "replace", path: "/spec/replicas", value: 2 },
      ])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as Error).message).toBe(
      `409 Conflict: ReplicaSet ${ns}/verbs changed: /spec/replicas no longer holds the value tested`,
    );
    expect((await rs.get(ns, "verbs")).spec?.replicas).toBe(0);
    // replace without a resourceVersion is a bug of the caller, caught before any request.
    await expect(rs.replace(bareRs("verbs", 0))).rejects.toBeInstanceOf(TerminalError);

    // Delete with a wrong uid precondition is refused; with the right one it goes through.
    await expect(
      rs.delete(ns, "verbs", { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } }),
    ).rejects.toBeInstanceOf(ConflictError);
    await rs.delete(ns, "verbs", {
      preconditions: { uid: created.metadata?.uid ?? "" },
      propagationPolicy: "Background",
    });
    await expect(rs.get(ns, "verbs")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("maps API server refusals to typed errors", async () => {
    await client.services.create({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "dup", namespace: ns },
      spec: { ports: [{ port: 80 }] },
    });
    const dup = await client.services
      .create({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "dup", namespace: ns },
        spec: { ports: [{ port: 80 }] },
      })
      .catch((err: unknown) => err);
    expect(dup).toBeInstanceOf(ConflictError);
    expect((dup as ConflictError).alreadyExists).toBe(true);

    const invalid = await client.replicaSets.create(bareRs("invalid", -1)).catch((err: unknown) => err);
    expect(invalid).toBeInstanceOf(InvalidError);
    expect((invalid as InvalidError).causes.map((c) => c.field)).toContain("spec.replicas");

    await expect(client.pods.get(ns, "nope")).rejects.toBeInstanceOf(NotFoundError);

    const alice = KubeClient.fromKubeConfig(
      kubeConfig(await controlPlaneClient().kubeconfigFor({ user: "alice" })),
    );
    await expect(alice.pods.list(ns)).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("lists every page and patches a status subresource", async () => {
    const paged = KubeClient.fromKubeConfig(kubeConfig(), { pageSize: 2 });
    for (let i = 0; i < 5; i++) await client.replicaSets.create(bareRs(`page-${i}`, 0, { paging: "yes" }));
    const listed = await paged.replicaSets.list(ns, { labelSelector: "paging=yes" });
    expect(listed.items.map((r) => r.metadata?.name).sort()).toEqual([
      "page-0",
      "page-1",
      "page-2",
      "page-3",
      "page-4",
    ]);
    expect(listed.items.every((r) => r.kind === "ReplicaSet" && r.apiVersion === "apps/v1")).toBe(true);
    expect(listed.resourceVersion).not.toBe("");

    await client.pods.create(barePod("status"));
    const patched = await client.pods.mergePatchStatus(ns, "status", {
      status: { conditions: [{ type: "example.com/Checked", status: "True" }] },
    });
    expect(patched.status?.conditions?.some((c) => c.type === "example.com/Checked")).toBe(true);
  });
});

describe("Informer on a real API server", () => {
  it("sees ReplicaSets and Pods created, updated and deleted", async () => {
    const rsInformer = new Informer<ReplicaSet>({
      name: "replicasets",
      listWatch: client.replicaSets.listWatch(ns, { labelSelector: "watched=crud" }),
    });
    const podInformer = new Informer<Pod>({
      name: "pods",
      listWatch: client.pods.listWatch(ns, { labelSelector: "app=crud" }),
      indexers: { app: indexByLabel("app") },
      transform: (pod) => {
        if (pod.metadata) delete pod.metadata.managedFields;
        return pod;
      },
    });
    const rsEvents = record(rsInformer);
    const podEvents = record(podInformer);
    expect(await rsInformer.waitForSync()).toBe(true);
    expect(await podInformer.waitForSync()).toBe(true);

    await client.replicaSets.create(bareRs("crud", 2, { watched: "crud" }));
    await until("2 pods in the pod cache", () => podInformer.store.byIndex("app", "crud").length === 2);
    expect(podInformer.store.list(ns).every((pod) => pod.metadata?.managedFields === undefined)).toBe(true);
    await client.replicaSets.mergePatch(ns, "crud", { metadata: { labels: { touched: "yes" } } });
    await until(
      "the label in the cache",
      () => rsInformer.store.get(`${ns}/crud`)?.metadata?.labels?.["touched"] === "yes",
    );
    await client.replicaSets.mergePatch(ns, "crud", { spec: { replicas: 0 } });
    await until("the pods gone from the cache", () => podInformer.store.size === 0);
    await client.replicaSets.delete(ns, "crud");
    await until("the ReplicaSet gone from the cache", () => rsInformer.store.size === 0);

    expect(rsEvents[0]).toBe(`add ${ns}/crud`);
    expect(rsEvents).toContain(`update ${ns}/crud`);
    expect(rsEvents.at(-1)).toBe(`delete ${ns}/crud`);
    expect(podEvents.filter((e) => e.startsWith("add"))).toHaveLength(2);
    expect(podEvents.filter((e) => e.startsWith("delete"))).toHaveLength(2);
  });

  it("survives an API server restart without replaying objects as new", async () => {
    const restarts: WatchRestartReason[] = [];
    const informer = new Informer<ReplicaSet>({
      name: "replicasets",
      listWatch: client.replicaSets.listWatch(ns, { labelSelector: "watched=restart" }),
      backoff: { initialMs: 100, maxMs: 2_000, jitter: 0.5 },
      metrics: { watchRestarted: (_name, reason) => restarts.push(reason) },
    });
    for (const name of ["keep", "change", "remove"])
      await client.replicaSets.create(bareRs(name, 0, { watched: "restart" }));
    const events = record(informer);
    await informer.waitForSync();
    // The ReplicaSet controller writes each one's status once; wait until that settled.
    await until(
      "statuses observed",
      () =>
        informer.store.list(ns).every((rs) => rs.status?.observedGeneration === 1) &&
        informer.store.size === 3,
    );
    const before = new Map(
      informer.store.list(ns).map((rs) => [rs.metadata?.name, rs.metadata?.resourceVersion]),
    );
    events.length = 0;

    await controlPlaneClient().restartApiServer();
    await client.replicaSets.mergePatch(ns, "change", { metadata: { labels: { changed: "yes" } } });
    await client.replicaSets.delete(ns, "remove");
    await client.replicaSets.create(bareRs("new", 0, { watched: "restart" }));

    await until("the cache caught up", () => {
      const names = informer.store
        .list(ns)
        .map((rs) => rs.metadata?.name)
        .sort();
      return (
        JSON.stringify(names) === JSON.stringify(["change", "keep", "new"]) &&
        informer.store.get(`${ns}/change`)?.metadata?.labels?.["changed"] === "yes"
      );
    });
    expect(restarts.length).toBeGreaterThan(0);
    // Nothing that existed before the restart is reported as added, and "keep" is not reported at all.
    expect(events.filter((e) => e.startsWith("add"))).toEqual(events.filter((e) => e === `add ${ns}/new`));
    expect(events.some((e) => e.endsWith(`${ns}/keep`))).toBe(false);
    expect(events).toContain(`update ${ns}/change`);
    expect(events).toContain(`delete ${ns}/remove`);
    expect(informer.store.get(`${ns}/keep`)?.metadata?.resourceVersion).toBe(before.get("keep"));
  });
});

let leaseCount = 0;
leaseClientContract("the API server", () => {
  leaseCount++;
  const name = `contract-${leaseCount}`;
  return Promise.resolve({ client: client.leaseClient(ns, name), namespace: ns, name });
});

describe("LeaderElector on a real Lease", () => {
  function elector(identity: string, leading: Set<string>, releaseOnCancel = true) {
    const stop = new AbortController();
    const le = new LeaderElector({
      identity,
      leaseNamespace: ns,
      leaseName: "operator",
      client: client.leaseClient(ns, "operator", { timeoutMs: 1_000 }),
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
      releaseOnCancel,
      onStartedLeading: (signal) => {
        leading.add(identity);
        signal.addEventListener("abort", () => leading.delete(identity));
      },
    });
    const ended = le.run(stop.signal);
    stops.push(async () => {
      stop.abort();
      await ended;
    });
    return { le, stop, ended };
  }

  it("lets one of two electors lead, and hands over on a graceful stop and on a crash", async () => {
    const leading = new Set<string>();
    const a = elector("a", leading);
    await until("a leads", () => a.le.isLeader());
    const b = elector("b", leading, false); // b will "crash": it never releases the lease
    // Both campaign through several renewals; still only one leads.
    await eventually("several renewals", async () => {
      const lease = await client.leases.get(ns, "operator");
      return Date.now() - Date.parse(lease.spec?.acquireTime ?? "") > 2_000;
    });
    expect([...leading]).toEqual(["a"]);
    expect(b.le.isLeader()).toBe(false);

    // Graceful stop of the leader: it releases the lease and the standby takes over.
    a.stop.abort();
    expect(await a.ended).toBe("stopped");
    await until("b leads", () => b.le.isLeader());
    expect([...leading]).toEqual(["b"]);

    // b dies without releasing: a newcomer waits out the lease it observed, then takes over.
    const c = elector("c", leading);
    b.stop.abort();
    await b.ended;
    const held = await client.leases.get(ns, "operator");
    expect(held.spec?.holderIdentity).toBe("b"); // not released
    await until("c leads", () => c.le.isLeader(), { timeoutMs: 20_000 });
    const lease = await client.leases.get(ns, "operator");
    expect(lease.spec?.holderIdentity).toBe("c");
    expect(lease.spec?.leaseTransitions).toBe(2);
    expect([...leading]).toEqual(["c"]);
  });
});

describe("EventRecorder on a real API server", () => {
  it("writes an Event about an object and aggregates repeats into its series", async () => {
    const target = await client.pods.create(barePod("eventful"));
    const recorder = new EventRecorder({
      sink: client.eventSink(),
      reportingController: "serving.modelendpoint.io/model-endpoint-operator",
      reportingInstance: "test",
      seriesFlushMs: 100,
    });
    const input = { type: "Normal", reason: "Tested", action: "Test", note: "hello" } as const;
    recorder.record(target, input);
    await recorder.flush();
    recorder.record(target, input);
    recorder.record(target, input);
    await recorder.flush();
    // The scheduler writes Events about the pod too; keep ours.
    const events = (await client.events.list(ns, { fieldSelector: "regarding.name=eventful" })).items.filter(
      (event) => event.reportingController === "serving.modelendpoint.io/model-endpoint-operator",
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: "Tested", note: "hello", series: { count: 3 } });
    expect(events[0]?.regarding?.uid).toBe(target.metadata?.uid);
  });
});
