import { describe, expect, it } from "vitest";

import { GoneError, TransientError } from "./errors.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import {
  Informer,
  type InformerEvent,
  type ListReason,
  type ListResult,
  type ListWatch,
  type WatchEvent,
  type WatchOptions,
  type WatchRestartReason,
} from "./informer.ts";
import type { Pod } from "./objects.ts";
import { indexByControllerUid, indexByLabel } from "./store.ts";

/** An async iterable the test feeds by hand; aborting its signal makes a pending read throw. */
class Stream<E> implements AsyncIterable<E> {
  private readonly queued: ({ value: E } | { end: true } | { error: unknown })[] = [];
  private wake: (() => void) | undefined;
  readonly signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.signal = signal;
    signal.addEventListener("abort", () => this.wake?.());
  }

  push(value: E): void {
    this.queued.push({ value });
    this.wake?.();
  }
  end(): void {
    this.queued.push({ end: true });
    this.wake?.();
  }
  fail(error: unknown): void {
    this.queued.push({ error });
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    for (;;) {
      if (this.signal.aborted) throw new DOMException("aborted", "AbortError");
      const next = this.queued.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      if ("end" in next) return;
      if ("error" in next) throw next.error;
      yield next.value;
    }
  }
}

/** A ListWatch whose answers the test scripts. */
class ScriptedListWatch implements ListWatch<Pod> {
  /** The answers of the next lists; a promise is a list the test answers later. */
  readonly lists: (ListResult<Pod> | Error | Promise<ListResult<Pod>>)[] = [];
  listCalls = 0;
  readonly watchCalls: Omit<WatchOptions, "signal">[] = [];
  readonly streams: Stream<WatchEvent<Pod>>[] = [];

  list(): Promise<ListResult<Pod>> {
    this.listCalls++;
    const next = this.lists.shift();
    if (next === undefined) return Promise.reject(new Error("test: no list scripted"));
    if (next instanceof Promise) return next;
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }

  watch(options: WatchOptions): AsyncIterable<WatchEvent<Pod>> {
    const { signal, ...rest } = options;
    this.watchCalls.push(rest);
    const stream = new Stream<WatchEvent<Pod>>(signal);
    this.streams.push(stream);
    return stream;
  }

  /** The watch stream now open. */
  get current(): Stream<WatchEvent<Pod>> {
    const stream = this.streams.at(-1);
    if (stream === undefined) throw new Error("test: no watch open");
    return stream;
  }
}

function pod(name: string, resourceVersion: string, extra: Partial<Pod["metadata"]> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "ns", resourceVersion, uid: `uid-${name}`, ...extra },
  };
}

function setup(options: { stallTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const lw = new ScriptedListWatch();
  const events: string[] = [];
  const restarts: WatchRestartReason[] = [];
  const lists: ListReason[] = [];
  const informer = new Informer<Pod>({
    name: "pods",
    listWatch: lw,
    clock,
    random: () => 0,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    indexers: { owner: indexByControllerUid, app: indexByLabel("app") },
    metrics: {
      watchRestarted: (_name, reason) => restarts.push(reason),
      listed: (_name, reason) => lists.push(reason),
    },
  });
  informer.subscribe((event: InformerEvent<Pod>) => {
    const rv = event.object.metadata?.resourceVersion ?? "";
    const suffix = event.type === "delete" && event.finalStateUnknown ? " (final state unknown)" : "";
    events.push(`${event.type} ${event.key}@${rv}${suffix}`);
  });
  return { clock, lw, informer, events, restarts, lists };
}

describe("Informer", () => {
  it("lists, reports every object as added, syncs, then watches from the list's resourceVersion", async () => {
    const { lw, informer, events, lists } = setup();
    lw.lists.push({ items: [pod("a", "10"), pod("b", "11")], resourceVersion: "12" });
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    await settle();
    expect(events).toEqual(["add ns/a@10", "add ns/b@11"]);
    expect(lists).toEqual(["initial"]);
    expect(lw.watchCalls).toEqual([
      { resourceVersion: "12", timeoutSeconds: 300, allowWatchBookmarks: true },
    ]);
    expect(informer.store.get("ns/a")?.metadata?.resourceVersion).toBe("10");
    await informer.stop();
  });

  it("applies watch events to the cache and reports them; bookmarks only move the resourceVersion", async () => {
    const { lw, informer, events } = setup();
    lw.lists.push({ items: [pod("a", "10")], resourceVersion: "10" });
    informer.start();
    await settle();
    lw.current.push({ type: "ADDED", object: pod("b", "11") });
    lw.current.push({ type: "MODIFIED", object: pod("a", "12") });
    lw.current.push({ type: "DELETED", object: pod("b", "13") });
    lw.current.push({ type: "BOOKMARK", resourceVersion: "20" });
    await settle();
    expect(events).toEqual(["add ns/a@10", "add ns/b@11", "update ns/a@12", "delete ns/b@13"]);
    expect(informer.store.keys()).toEqual(["ns/a"]);
    expect(informer.lastResourceVersion()).toBe("20");
    await informer.stop();
  });

  it("resumes a closed watch from the last resourceVersion seen, replaying nothing", async () => {
    const { lw, informer, events, restarts } = setup();
    lw.lists.push({ items: [pod("a", "10")], resourceVersion: "10" });
    informer.start();
    await settle();
    lw.current.push({ type: "MODIFIED", object: pod("a", "15") });
    lw.current.push({ type: "BOOKMARK", resourceVersion: "17" });
    lw.current.end(); // the server's timeoutSeconds
    await settle();
    expect(lw.listCalls).toBe(1);
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["10", "17"]);
    expect(events).toEqual(["add ns/a@10", "update ns/a@15"]);
    expect(restarts).toEqual(["closed"]);
    await informer.stop();
  });

  it("after a connection error, re-watches from the last resourceVersion with growing backoff", async () => {
    const { clock, lw, informer, restarts } = setup();
    lw.lists.push({ items: [], resourceVersion: "10" });
    informer.start();
    await settle();
    lw.current.push({ type: "ADDED", object: pod("a", "11") });
    await settle();
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    lw.current.fail(reset); // healthy watch (it delivered an event): resume at once
    await settle();
    expect(lw.watchCalls).toHaveLength(2);

    // The API server is down: each attempt fails at once; delays 200, 400, 800 ms (no jitter here).
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      lw.current.fail(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
      await settle();
      const before = clock.now();
      await clock.fireNext();
      delays.push(clock.now() - before);
    }
    expect(delays).toEqual([200, 400, 800]);
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["10", "11", "11", "11", "11"]);
    expect(lw.listCalls).toBe(1);
    expect(restarts).toEqual(["error", "error", "error", "error"]);

    // Back up: an event resets the backoff.
    lw.current.push({ type: "BOOKMARK", resourceVersion: "30" });
    await settle();
    lw.current.end();
    await settle();
    expect(lw.watchCalls.at(-1)?.resourceVersion).toBe("30");
    await informer.stop();
  });

  it("on 410 Gone relists and reports only the real differences", async () => {
    const { lw, informer, events, restarts, lists } = setup();
    lw.lists.push({
      items: [pod("same", "10"), pod("changed", "11"), pod("vanished", "12")],
      resourceVersion: "12",
    });
    informer.start();
    await settle();
    events.length = 0;

    lw.lists.push({
      items: [pod("same", "10"), pod("changed", "40"), pod("new", "41")],
      resourceVersion: "42",
    });
    lw.current.push({ type: "ERROR", error: new GoneError("too old resource version", { code: 410 }) });
    await settle();
    expect(events).toEqual([
      "update ns/changed@40",
      "add ns/new@41",
      "delete ns/vanished@12 (final state unknown)",
    ]);
    expect(restarts).toEqual(["expired"]);
    expect(lists).toEqual(["initial", "expired"]);
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["12", "42"]);
    expect(informer.store.get("ns/same")?.metadata?.resourceVersion).toBe("10");
    await informer.stop();
  });

  it("treats a watch request answered with 410 the same way", async () => {
    const { lw, informer, events } = setup();
    lw.lists.push({ items: [pod("a", "10")], resourceVersion: "10" });
    informer.start();
    await settle();
    lw.lists.push({ items: [pod("a", "10")], resourceVersion: "50" });
    lw.current.fail(new GoneError("410 Expired", { code: 410 }));
    await settle();
    expect(lw.listCalls).toBe(2);
    expect(events).toEqual(["add ns/a@10"]);
    expect(lw.watchCalls.at(-1)?.resourceVersion).toBe("50");
    await informer.stop();
  });

  it("relists at once after a first 410 but backs off when 410s repeat", async () => {
    const { clock, lw, informer, lists } = setup();
    const gone = (): WatchEvent<Pod> => ({ type: "ERROR", error: new GoneError("410", { code: 410 }) });
    for (let i = 0; i < 3; i++) lw.lists.push({ items: [], resourceVersion: String(10 + i) });
    informer.start();
    await settle();
    lw.current.push(gone());
    await settle();
    expect(lw.listCalls).toBe(2); // at once
    lw.current.push(gone()); // again, right after the relist
    await settle();
    expect(lw.listCalls).toBe(2);
    await clock.advance(400); // second failure in a row: 400 ms
    expect(lw.listCalls).toBe(3);
    expect(lists).toEqual(["initial", "expired", "expired"]);
    await informer.stop();
  });

  it("restarts a watch that stays silent past the stall timeout; bookmarks keep it alive", async () => {
    const { clock, lw, informer, restarts } = setup({ stallTimeoutMs: 60_000 });
    lw.lists.push({ items: [], resourceVersion: "10" });
    informer.start();
    await settle();
    const first = lw.current;

    await clock.advance(50_000);
    first.push({ type: "BOOKMARK", resourceVersion: "11" });
    await clock.advance(50_000); // 100 s after the start, but only 50 s of silence
    expect(first.signal.aborted).toBe(false);
    expect(lw.watchCalls).toHaveLength(1);

    await clock.advance(10_000); // 60 s of silence
    expect(first.signal.aborted).toBe(true);
    expect(restarts).toEqual(["stalled"]);
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["10", "11"]);
    expect(lw.listCalls).toBe(1);
    await informer.stop();
  });

  it("retries a failed list with backoff and syncs only once a list succeeded", async () => {
    const { clock, lw, informer, lists } = setup();
    lw.lists.push(new TransientError("503 ServiceUnavailable", { code: 503 }));
    lw.lists.push(new TransientError("503 ServiceUnavailable", { code: 503 }));
    lw.lists.push({ items: [pod("a", "1")], resourceVersion: "1" });
    informer.start();
    await settle();
    expect(informer.hasSynced()).toBe(false);
    await clock.advance(200);
    expect(informer.hasSynced()).toBe(false);
    await clock.advance(400);
    expect(informer.hasSynced()).toBe(true);
    expect(lists).toEqual(["initial", "retry", "retry"]);
    await informer.stop();
  });

  it("transforms and freezes what it caches", async () => {
    const clock = new FakeClock();
    const lw = new ScriptedListWatch();
    const informer = new Informer<Pod>({
      name: "pods",
      listWatch: lw,
      clock,
      transform: (obj) => {
        if (obj.metadata) delete obj.metadata.managedFields;
        return obj;
      },
    });
    lw.lists.push({
      items: [pod("a", "1", { managedFields: [{ manager: "kubectl" }], labels: { app: "x" } })],
      resourceVersion: "1",
    });
    informer.start();
    await informer.waitForSync();
    const cached = informer.store.get("ns/a");
    expect(cached?.metadata?.managedFields).toBeUndefined();
    expect(Object.isFrozen(cached)).toBe(true);
    expect(Object.isFrozen(cached?.metadata?.labels)).toBe(true);
    expect(() => {
      (cached as Pod).metadata = {};
    }).toThrow(TypeError);
    await informer.stop();
  });

  it("keeps its indexes in step with updates and deletes", async () => {
    const { lw, informer } = setup();
    const owned = (uid: string): Partial<Pod["metadata"]> => ({
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid, controller: true }],
    });
    lw.lists.push({
      items: [pod("a", "1", { ...owned("rs-1"), labels: { app: "x" } }), pod("b", "2", owned("rs-1"))],
      resourceVersion: "2",
    });
    informer.start();
    await settle();
    const names = (objs: readonly { metadata?: { name?: string } }[]): (string | undefined)[] =>
      objs.map((obj) => obj.metadata?.name).sort();
    expect(names(informer.store.byIndex("owner", "rs-1"))).toEqual(["a", "b"]);
    expect(names(informer.store.byIndex("app", "x"))).toEqual(["a"]);

    lw.current.push({ type: "MODIFIED", object: pod("a", "3", { ...owned("rs-2"), labels: { app: "y" } }) });
    lw.current.push({ type: "DELETED", object: pod("b", "4", owned("rs-1")) });
    await settle();
    expect(names(informer.store.byIndex("owner", "rs-1"))).toEqual([]);
    expect(names(informer.store.byIndex("owner", "rs-2"))).toEqual(["a"]);
    expect(names(informer.store.byIndex("app", "x"))).toEqual([]);
    expect(names(informer.store.list("ns"))).toEqual(["a"]);
    expect(informer.store.list("other")).toEqual([]);
    expect(() => informer.store.byIndex("nope", "x")).toThrow(/unknown index/);
    await informer.stop();
  });

  it("a handler that throws neither stops the informer nor other handlers", async () => {
    const { lw, informer, events } = setup();
    informer.subscribe(() => {
      throw new Error("bug");
    });
    lw.lists.push({ items: [pod("a", "1")], resourceVersion: "1" });
    informer.start();
    await settle();
    lw.current.push({ type: "ADDED", object: pod("b", "2") });
    await settle();
    expect(events).toEqual(["add ns/a@1", "add ns/b@2"]);
    await informer.stop();
  });

  it("stop ends the watch and the loop; waitForSync then resolves false if never synced", async () => {
    const { lw, informer } = setup();
    lw.lists.push({ items: [], resourceVersion: "1" });
    informer.start();
    await settle();
    const stream = lw.current;
    await informer.stop();
    expect(stream.signal.aborted).toBe(true);
    expect(lw.watchCalls).toHaveLength(1);

    const never = setup();
    never.lw.lists.push(new TransientError("down"));
    never.informer.start();
    const waiting = never.informer.waitForSync();
    await settle();
    await never.informer.stop();
    expect(await waiting).toBe(false);
  });

  it("relist drops a watch that missed writes, lists, reports only the differences and resolves true", async () => {
    const { lw, informer, events, restarts, lists } = setup();
    lw.lists.push({ items: [pod("kept", "10"), pod("gone", "11")], resourceVersion: "11" });
    informer.start();
    await settle();
    events.length = 0;
    const lagging = lw.current;

    // Another writer deleted "gone" and created "made"; this watch delivered neither.
    lw.lists.push({ items: [pod("kept", "10"), pod("made", "30")], resourceVersion: "31" });
    const relisted = informer.relist();
    expect(await relisted).toBe(true);
    expect(lagging.signal.aborted).toBe(true);
    expect(events).toEqual(["add ns/made@30", "delete ns/gone@11 (final state unknown)"]);
    expect(restarts).toEqual(["relist"]);
    expect(lists).toEqual(["initial", "requested"]);
    await settle();
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["11", "31"]);
    await informer.stop();
  });

  it("a relist asked for while a list is under way waits for a list that began after it", async () => {
    const { lw, informer, lists } = setup();
    let answer: (result: ListResult<Pod>) => void = () => undefined;
    lw.lists.push(
      new Promise<ListResult<Pod>>((resolve) => {
        answer = resolve;
      }),
    );
    informer.start();
    await settle();
    let listed: boolean | undefined;
    void informer.relist().then((ok) => (listed = ok));
    lw.lists.push({ items: [pod("a", "20")], resourceVersion: "20" });
    answer({ items: [], resourceVersion: "10" }); // the list that was under way: answered too early
    await settle();
    expect(lists).toEqual(["initial", "requested"]);
    expect(listed).toBe(true);
    expect(informer.store.get("ns/a")?.metadata?.resourceVersion).toBe("20");
    expect(lw.watchCalls.map((call) => call.resourceVersion)).toEqual(["20"]);
    await informer.stop();
  });

  it("a relist whose list fails retries with backoff; it resolves false when the informer stops or never ran", async () => {
    const { clock, lw, informer, lists } = setup();
    expect(await informer.relist()).toBe(false); // not started
    lw.lists.push({ items: [], resourceVersion: "1" });
    informer.start();
    await settle();
    lw.lists.push(new TransientError("503 ServiceUnavailable", { code: 503 }));
    lw.lists.push({ items: [pod("a", "5")], resourceVersion: "5" });
    let listed: boolean | undefined;
    void informer.relist().then((ok) => (listed = ok));
    await settle();
    expect(listed).toBeUndefined();
    await clock.advance(200);
    expect(listed).toBe(true);
    expect(lists).toEqual(["initial", "requested", "retry"]);

    lw.lists.push(new TransientError("503 ServiceUnavailable", { code: 503 }));
    const pending = informer.relist();
    await settle();
    await informer.stop();
    expect(await pending).toBe(false);
  });

  it("asks each watch for a randomised timeout between t and 2t", async () => {
    const clock = new FakeClock();
    const lw = new ScriptedListWatch();
    const informer = new Informer<Pod>({
      name: "pods",
      listWatch: lw,
      clock,
      random: () => 0.5,
      watchTimeoutSeconds: 100,
    });
    lw.lists.push({ items: [], resourceVersion: "1" });
    informer.start();
    await settle();
    expect(lw.watchCalls[0]?.timeoutSeconds).toBe(150);
    await informer.stop();
  });
});
