import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { NotFoundError } from "../kube/errors.ts";
import type { InformerEvent, InformerHandler } from "../kube/informer.ts";
import type { KubeObject } from "../kube/objects.ts";
import { Store } from "../kube/store.ts";
import type { ReadAccess } from "./access.ts";
import { MODELS } from "./models.ts";
import { type Authorize, cachedReads, caughtUp, SETTLE_MS } from "./reads.ts";

describe("caughtUp", () => {
  it.each([
    ["the same version", "5", "5", true],
    ["a later integer", "6", "5", true],
    ["a later integer with more digits", "10", "9", true],
    ["a later integer beyond 2^53", "9007199254740993", "9007199254740992", true],
    ["an earlier integer", "4", "5", false],
    ["a different non-integer", "b", "a", false],
    ["the same non-integer", "abc", "abc", true],
    ["a cached object when it should be gone", "5", undefined, false],
    ["no object when one is wanted", undefined, "5", false],
    ["no object when it should be gone", undefined, undefined, true],
  ])("%s", (_what, cached, wanted, expected) => {
    expect(caughtUp(cached, wanted)).toBe(expected);
  });
});

/** An informer the test drives: a real Store and the handlers subscribed to it. */
function fakeInformer() {
  const store = new Store<KubeObject>();
  const handlers = new Set<InformerHandler<KubeObject>>();
  return {
    store,
    handlers,
    subscribe(handler: InformerHandler<KubeObject>): () => void {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    emit(event: InformerEvent<KubeObject>): void {
      for (const handler of [...handlers]) handler(event);
    },
  };
}

function model(namespace: string, name: string, resourceVersion = "1", labels: Record<string, string> = {}) {
  return { apiVersion: "v1", kind: "Model", metadata: { namespace, name, resourceVersion, labels } };
}

/** An authorize that records what it was asked, and refuses with `refusal` when given one. */
function authorizer(refusal?: Error): { asked: ReadAccess[]; authorize: Authorize } {
  const asked: ReadAccess[] = [];
  return {
    asked,
    authorize: (access) => {
      asked.push(access);
      return refusal === undefined ? Promise.resolve() : Promise.reject(refusal);
    },
  };
}

/** Reads of MODELS from a fake informer; every read allowed, or refused with `refusal`. */
function setup(refusal?: Error) {
  const informer = fakeInformer();
  const { asked, authorize } = authorizer(refusal);
  return { informer, asked, reads: cachedReads(informer, MODELS, authorize) };
}

describe("cachedReads get and list", () => {
  it("get asks for get of the type in the namespace, then answers from the cache", async () => {
    const { informer, asked, reads } = setup();
    informer.store.put(model("team-a", "fraud", "7"));
    expect(await reads.get("team-a", "fraud")).toEqual(model("team-a", "fraud", "7"));
    expect(asked).toEqual([
      { verb: "get", group: MODELS.group, resource: MODELS.plural, namespace: "team-a" },
    ]);
  });

  it("get of an object not cached (or cached in another namespace) is a NotFoundError", async () => {
    const { informer, reads } = setup();
    informer.store.put(model("team-b", "fraud"));
    const err = await reads.get("team-a", "fraud").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe(404);
    expect((err as NotFoundError).message).toBe(`${MODELS.plural}.${MODELS.group} "fraud" not found`);
  });

  it("a refused authorization rejects with its error and does not read the cache", async () => {
    const refusal = new Error("permission denied");
    const { informer, reads } = setup(refusal);
    informer.store.put(model("team-a", "fraud"));
    const get = vi.spyOn(informer.store, "get");
    const list = vi.spyOn(informer.store, "list");
    await expect(reads.get("team-a", "fraud")).rejects.toBe(refusal);
    await expect(reads.list("team-a")).rejects.toBe(refusal);
    expect(get).not.toHaveBeenCalled();
    expect(list).not.toHaveBeenCalled();
  });

  it("list asks for list in the namespace and filters by namespace and k=v,k2=v2 labels", async () => {
    const { informer, asked, reads } = setup();
    informer.store.put(model("team-a", "a1", "1", { app: "fraud", tier: "web" }));
    informer.store.put(model("team-a", "a2", "1", { app: "fraud", tier: "batch" }));
    informer.store.put(model("team-a", "a3", "1", { app: "churn" }));
    informer.store.put(model("team-b", "b1", "1", { app: "fraud", tier: "web" }));
    const names = async (labelSelector?: string) =>
      (await reads.list("team-a", labelSelector === undefined ? undefined : { labelSelector })).items.map(
        (o) => o.metadata?.name,
      );

    expect(await names()).toEqual(["a1", "a2", "a3"]);
    expect(await names("app=fraud")).toEqual(["a1", "a2"]);
    expect(await names("app=fraud,tier=web")).toEqual(["a1"]);
    expect(await names(" app = churn ")).toEqual(["a3"]);
    expect(await names("app=none")).toEqual([]);
    expect(asked[0]).toEqual({
      verb: "list",
      group: MODELS.group,
      resource: MODELS.plural,
      namespace: "team-a",
    });
  });

  it.each(["app!=fraud", "app==fraud", "app in (fraud)", "app notin (a,b)", "app", "!app"])(
    "list refuses the selector %s it cannot match",
    async (labelSelector) => {
      const { reads } = setup();
      await expect(reads.list("team-a", { labelSelector })).rejects.toThrow("k=v label selectors only");
    },
  );

  it("list refuses a field selector", async () => {
    const { reads } = setup();
    await expect(reads.list("team-a", { fieldSelector: "metadata.name=x" })).rejects.toThrow(
      "no field selector",
    );
  });
});

describe("cachedReads settle", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Lets every queued promise reaction run (setImmediate is not faked). */
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

  /** Whether `promise` has resolved once the queued reactions have run. */
  async function resolved(promise: Promise<void>): Promise<boolean> {
    let done = false;
    void promise.then(() => {
      done = true;
    });
    await flush();
    return done;
  }

  const key = "team-a/fraud";

  /** The wait is over: resolved, unsubscribed, its timer cleared. */
  async function expectOver(
    settled: Promise<void>,
    informer: ReturnType<typeof fakeInformer>,
  ): Promise<void> {
    expect(await resolved(settled)).toBe(true);
    expect(informer.handlers.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  }

  it.each([
    ["the same resourceVersion", "5", "5"],
    ["a later resourceVersion", "6", "5"],
  ])("resolves at once when the cache has %s", async (_what, cached, wanted) => {
    const { informer, reads } = setup();
    informer.store.put(model("team-a", "fraud", cached));
    await expectOver(settle(reads, wanted), informer);
  });

  it("resolves at once for a deletion when the cache has no such object", async () => {
    const { informer, reads } = setup();
    await expectOver(settle(reads, undefined), informer);
  });

  it("waits for the event that brings the cache up to the version, then unsubscribes", async () => {
    const { informer, reads } = setup();
    const old = informer.store.put(model("team-a", "fraud", "5")).stored;
    const settled = settle(reads, "6");
    expect(await resolved(settled)).toBe(false);
    expect(informer.handlers.size).toBe(1);

    // Another object's event, and this object's at an older version, do not end the wait.
    const other = informer.store.put(model("team-a", "churn", "6")).stored;
    informer.emit({ type: "add", key: "team-a/churn", object: other });
    informer.emit({ type: "update", key, object: old, old });
    expect(await resolved(settled)).toBe(false);

    const stored = informer.store.put(model("team-a", "fraud", "6")).stored;
    informer.emit({ type: "update", key, object: stored, old });
    await expectOver(settled, informer);
  });

  it("with an undefined resourceVersion, resolves when the object is deleted", async () => {
    const { informer, reads } = setup();
    informer.store.put(model("team-a", "fraud", "5"));
    const settled = settle(reads, undefined);
    expect(await resolved(settled)).toBe(false);
    const object = informer.store.delete(key);
    if (object === undefined) throw new Error("test: nothing deleted");
    informer.emit({ type: "delete", key, object, finalStateUnknown: false });
    await expectOver(settled, informer);
  });

  it("resolves after SETTLE_MS when nothing arrives, and unsubscribes", async () => {
    const { informer, reads } = setup();
    informer.store.put(model("team-a", "fraud", "5"));
    const settled = settle(reads, "6");
    vi.advanceTimersByTime(SETTLE_MS - 1);
    expect(await resolved(settled)).toBe(false);
    vi.advanceTimersByTime(1);
    await expectOver(settled, informer);
  });
});

/** settle of team-a/fraud, which cached reads always have. */
function settle(reads: ReturnType<typeof cachedReads>, resourceVersion: string | undefined): Promise<void> {
  if (reads.settle === undefined) throw new Error("cached reads have no settle");
  return reads.settle("team-a", "fraud", resourceVersion);
}
