import { describe, expect, it } from "vitest";

import { KubeClient, modelEndpoints } from "./client.ts";
import { ConflictError, GoneError, NotFoundError, TerminalError } from "./errors.ts";
import type { WatchEvent } from "./informer.ts";
import type { Pod } from "./objects.ts";
import type { HttpRequest, StreamRequest, Transport } from "./transport.ts";

/** Records requests and answers them from a script. */
class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  readonly answers: unknown[] = [];
  streamed: unknown[] = [];
  streamRequests: StreamRequest[] = [];

  request(req: HttpRequest): Promise<unknown> {
    this.requests.push(req);
    const answer = this.answers.shift();
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }

  async *stream(req: StreamRequest): AsyncIterable<unknown> {
    this.streamRequests.push(req);
    await Promise.resolve();
    yield* this.streamed;
  }
}

function setup(): { transport: FakeTransport; client: KubeClient } {
  const transport = new FakeTransport();
  return { transport, client: new KubeClient(transport, { pageSize: 2 }) };
}

const pod: Pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "ns" } };

describe("ResourceClient requests", () => {
  it("builds core, group and custom resource paths", async () => {
    const { transport, client } = setup();
    transport.answers.push({}, {}, {}, {});
    await client.pods.get("ns", "p");
    await client.replicaSets.get("ns", "rs");
    await client.leases.get("ops", "lock");
    await client.modelEndpoints().get("ml", "fraud");
    expect(transport.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/namespaces/ns/pods/p",
      "GET /apis/apps/v1/namespaces/ns/replicasets/rs",
      "GET /apis/coordination.k8s.io/v1/namespaces/ops/leases/lock",
      "GET /apis/serving.modelendpoint.io/v1alpha1/namespaces/ml/modelendpoints/fraud",
    ]);
    expect(modelEndpoints().kind).toBe("ModelEndpoint");
  });

  it("sends each patch flavour with its content type and options", async () => {
    const { transport, client } = setup();
    transport.answers.push({}, {}, {}, {});
    await client.pods.mergePatch("ns", "p", { metadata: { labels: { a: "b" } } }, { resourceVersion: "7" });
    await client.pods.apply(pod, { fieldManager: "meo" });
    await client.pods.mergePatchStatus("ns", "p", { status: { phase: "Running" } });
    await client.pods.applyStatus(pod, { fieldManager: "meo", force: false });
    const [merge, apply, status, applyStatus] = transport.requests;
    expect(merge).toMatchObject({
      method: "PATCH",
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { a: "b" }, resourceVersion: "7" } },
    });
    expect(apply).toMatchObject({
      path: "/api/v1/namespaces/ns/pods/p",
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: "meo", force: true },
      body: pod,
    });
    expect(status?.path).toBe("/api/v1/namespaces/ns/pods/p/status");
    expect(applyStatus).toMatchObject({
      path: "/api/v1/namespaces/ns/pods/p/status",
      query: { force: false },
    });
  });

  it("deletes with preconditions and a propagation policy", async () => {
    const { transport, client } = setup();
    transport.answers.push({});
    await client.replicaSets.delete("ns", "rs", {
      preconditions: { uid: "u1", resourceVersion: "9" },
      propagationPolicy: "Background",
    });
    expect(transport.requests[0]).toMatchObject({
      method: "DELETE",
      body: {
        kind: "DeleteOptions",
        preconditions: { uid: "u1", resourceVersion: "9" },
        propagationPolicy: "Background",
      },
    });
  });

  it("refuses a replace without a resourceVersion, and an object without namespace, before any request", async () => {
    const { transport, client } = setup();
    await expect(client.pods.replace(pod)).rejects.toBeInstanceOf(TerminalError);
    await expect(client.pods.create({ metadata: { name: "x" } })).rejects.toBeInstanceOf(TerminalError);
    expect(transport.requests).toHaveLength(0);
  });

  it("passes the signal and timeout through and classifies failures", async () => {
    const { transport, client } = setup();
    const abort = new AbortController();
    transport.answers.push(Object.assign(new Error("reset"), { code: "ECONNRESET" }));
    await expect(client.pods.get("ns", "p", { signal: abort.signal, timeoutMs: 5 })).rejects.toMatchObject({
      kind: "Transient",
    });
    expect(transport.requests[0]).toMatchObject({ signal: abort.signal, timeoutMs: 5 });
  });
});

describe("ResourceClient.list", () => {
  it("follows continue tokens and fills in apiVersion and kind", async () => {
    const { transport, client } = setup();
    transport.answers.push(
      {
        items: [{ metadata: { name: "a" } }, { metadata: { name: "b" } }],
        metadata: { continue: "t1", resourceVersion: "5" },
      },
      { items: [{ metadata: { name: "c" } }], metadata: { continue: "", resourceVersion: "5" } },
    );
    const result = await client.replicaSets.list("ns", { labelSelector: "x=y" });
    expect(result.resourceVersion).toBe("5");
    expect(result.items.map((rs) => [rs.metadata?.name, rs.apiVersion, rs.kind])).toEqual([
      ["a", "apps/v1", "ReplicaSet"],
      ["b", "apps/v1", "ReplicaSet"],
      ["c", "apps/v1", "ReplicaSet"],
    ]);
    expect(transport.requests.map((r) => r.query)).toEqual([
      { labelSelector: "x=y", limit: 2, continue: undefined },
      { labelSelector: "x=y", limit: 2, continue: "t1" },
    ]);
  });

  it("starts over when a continue token expired (410), and gives up on other errors", async () => {
    const { transport, client } = setup();
    transport.answers.push(
      { items: [{ metadata: { name: "a" } }], metadata: { continue: "t1", resourceVersion: "5" } },
      new GoneError("410 the continue token expired", { code: 410 }),
      { items: [{ metadata: { name: "a" } }], metadata: { resourceVersion: "9" } },
    );
    const result = await client.pods.list(undefined);
    expect(result.resourceVersion).toBe("9");
    expect(transport.requests.map((r) => r.path)).toEqual(["/api/v1/pods", "/api/v1/pods", "/api/v1/pods"]);

    transport.answers.push(new GoneError("410", { code: 410 }));
    await expect(client.pods.list("ns")).rejects.toBeInstanceOf(GoneError); // no token: nothing to restart
  });
});

describe("ResourceClient.listWatch", () => {
  it("watches with the informer's options and decodes events, bookmarks and errors", async () => {
    const { transport, client } = setup();
    transport.streamed = [
      { type: "ADDED", object: pod },
      { type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "12" } } },
      { type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old" } },
      { type: "WHAT" },
    ];
    const abort = new AbortController();
    const events: WatchEvent<Pod>[] = [];
    const watch = client.pods.listWatch("ns", { labelSelector: "app=x" }).watch({
      resourceVersion: "10",
      timeoutSeconds: 300,
      allowWatchBookmarks: true,
      signal: abort.signal,
    });
    for await (const event of watch) events.push(event);
    expect(transport.streamRequests[0]).toMatchObject({
      path: "/api/v1/namespaces/ns/pods",
      query: {
        labelSelector: "app=x",
        watch: true,
        resourceVersion: "10",
        allowWatchBookmarks: true,
        timeoutSeconds: 300,
      },
      signal: abort.signal,
    });
    expect(events[0]).toEqual({ type: "ADDED", object: pod });
    expect(events[1]).toEqual({ type: "BOOKMARK", resourceVersion: "12" });
    expect(events[2]?.type === "ERROR" && events[2].error).toBeInstanceOf(GoneError);
    expect(events[3]?.type === "ERROR" && events[3].error).toBeInstanceOf(TerminalError);
  });
});

describe("KubeClient adapters", () => {
  it("leaseClient: a missing Lease reads as undefined and update is a replace with precondition", async () => {
    const { transport, client } = setup();
    const leases = client.leaseClient("ops", "lock");
    const signal = new AbortController().signal;
    transport.answers.push(new NotFoundError("404", { code: 404 }));
    expect(await leases.get(signal)).toBeUndefined();
    transport.answers.push(new ConflictError("409", { code: 409 }));
    await expect(
      leases.update({ metadata: { name: "lock", namespace: "ops", resourceVersion: "3" } }, signal),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(transport.requests[1]).toMatchObject({
      method: "PUT",
      path: "/apis/coordination.k8s.io/v1/namespaces/ops/leases/lock",
    });
  });

  it("eventSink: creates in events.k8s.io/v1 and merge-patches series", async () => {
    const { transport, client } = setup();
    const sink = client.eventSink();
    transport.answers.push({}, {});
    await sink.create({ metadata: { name: "e", namespace: "ns" }, eventTime: "2026-01-01T00:00:00.000000Z" });
    await sink.patch("ns", "e", { series: { count: 2, lastObservedTime: "2026-01-01T00:00:01.000000Z" } });
    expect(transport.requests.map((r) => `${r.method} ${r.path} ${r.contentType ?? ""}`)).toEqual([
      "POST /apis/events.k8s.io/v1/namespaces/ns/events ",
      "PATCH /apis/events.k8s.io/v1/namespaces/ns/events/e application/merge-patch+json",
    ]);
  });
});
