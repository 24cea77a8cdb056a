import { describe, expect, it } from "vitest";

import { ConflictError, TerminalError, TransientError } from "./errors.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import { noopLogger } from "./logger.ts";
import { runWorkers, WorkQueue, type ReconcileOutcome } from "./workqueue.ts";

function queue(clock = new FakeClock()): { q: WorkQueue; clock: FakeClock; depths: number[] } {
  const depths: number[] = [];
  const q = new WorkQueue({
    name: "test",
    clock,
    metrics: {
      depth: (_name, depth) => {
        depths.push(depth);
      },
    },
  });
  return { q, clock, depths };
}

/** Takes every key that is ready now, without waiting. */
async function drainReady(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.len() > 0) {
    const key = await q.get();
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

describe("WorkQueue", () => {
  it("de-duplicates keys added before a worker takes them, keeping first-add order", async () => {
    const { q } = queue();
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    expect(q.len()).toBe(2);
    expect(await drainReady(q)).toEqual(["ns/a", "ns/b"]);
  });

  it("never hands out a key in flight; a key added meanwhile comes back after done", async () => {
    const { q } = queue();
    q.add("ns/a");
    expect(await q.get()).toBe("ns/a");
    q.add("ns/a");
    q.add("ns/a");
    expect(q.len()).toBe(0); // not ready while in flight
    q.done("ns/a");
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe("ns/a");
    q.done("ns/a");
    expect(q.len()).toBe(0);
  });

  it("a waiting worker receives the next added key", async () => {
    const { q } = queue();
    const taken = q.get();
    q.add("ns/a");
    expect(await taken).toBe("ns/a");
    expect(q.inFlight()).toBe(1);
  });

  it("addAfter: the key is ready only when its time comes", async () => {
    const { q, clock } = queue();
    q.addAfter("ns/a", 1000);
    expect(q.len()).toBe(0);
    await clock.advance(999);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    expect(q.delayed()).toBe(0);
  });

  it("addAfter: the earliest of several pending times wins, and it fires once", async () => {
    const { q, clock } = queue();
    q.addAfter("ns/a", 5000);
    q.addAfter("ns/a", 1000);
    q.addAfter("ns/a", 3000);
    expect(q.delayed()).toBe(1);
    await clock.advance(1000);
    expect(await drainReady(q)).toEqual(["ns/a"]);
    q.done("ns/a");
    await clock.advance(10_000);
    expect(q.len()).toBe(0);
  });

  it("addAfter: one timer serves the whole queue", async () => {
    const { q, clock } = queue();
    for (let i = 0; i < 100; i++) q.addAfter(`ns/k${i}`, 1000 + i * 10);
    expect(clock.pending()).toBe(1);
    await clock.advance(2000);
    expect(q.len()).toBe(100);
    expect(clock.pending()).toBe(0);
  });

  it("addAfter: keys come out in due order", async () => {
    const { q, clock } = queue();
    q.addAfter("ns/late", 300);
    q.addAfter("ns/early", 100);
    q.addAfter("ns/middle", 200);
    await clock.advance(300);
    expect(await drainReady(q)).toEqual(["ns/early", "ns/middle", "ns/late"]);
  });

  it("addRateLimited: the delay doubles per failure from 5 ms up to 5 minutes; forget resets it", async () => {
    const { q, clock } = queue();
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = clock.now();
      q.addRateLimited("ns/a");
      await clock.fireNext();
      delays.push(clock.now() - before);
      expect(await q.get()).toBe("ns/a");
      q.done("ns/a");
    }
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(Math.max(...delays)).toBe(300_000);
    expect(delays.at(-1)).toBe(300_000);
    expect(q.numRequeues("ns/a")).toBe(20);

    q.forget("ns/a");
    expect(q.numRequeues("ns/a")).toBe(0);
    const before = clock.now();
    q.addRateLimited("ns/a");
    await clock.fireNext();
    expect(clock.now() - before).toBe(5);
  });

  it("addRateLimited: backoff is per key", () => {
    const { q } = queue();
    q.addRateLimited("ns/a");
    q.addRateLimited("ns/a");
    q.addRateLimited("ns/b");
    expect(q.numRequeues("ns/a")).toBe(2);
    expect(q.numRequeues("ns/b")).toBe(1);
  });

  it("shutDown: drops pending keys, wakes idle workers, and waits for keys in flight", async () => {
    const { q, clock } = queue();
    q.add("ns/a");
    q.add("ns/b");
    q.addAfter("ns/c", 1000);
    expect(await q.get()).toBe("ns/a");
    const idle = new WorkQueue({ name: "idle", clock });
    const waiting = idle.get();
    void idle.shutDown();
    expect(await waiting).toBeUndefined();

    let drained = false;
    const shutdown = q.shutDown().then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false); // ns/a is still in flight
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
    q.add("ns/d");
    expect(q.len()).toBe(0);
    q.done("ns/a");
    await shutdown;
    expect(drained).toBe(true);
    await clock.advance(5000);
    expect(q.len()).toBe(0);
  });

  it("reports its depth", async () => {
    const { q, depths } = queue();
    q.add("ns/a");
    q.add("ns/b");
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
  });
});

describe("runWorkers", () => {
  function setup(): { q: WorkQueue; clock: FakeClock; outcomes: [string, ReconcileOutcome][] } {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "test", clock });
    return { q, clock, outcomes: [] };
  }

  it("runs one reconcile per key at a time, and N keys concurrently", async () => {
    const { q, clock } = setup();
    let running = 0;
    let maxRunning = 0;
    const perKey = new Map<string, number>();
    const release: (() => void)[] = [];
    const done = runWorkers(
      q,
      3,
      async (key) => {
        running++;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        maxRunning = Math.max(maxRunning, running);
        expect(perKey.get(key)).toBe(1);
        await new Promise<void>((resolve) => release.push(resolve));
        perKey.set(key, (perKey.get(key) ?? 0) - 1);
        running--;
        return undefined;
      },
      { clock },
    );
    for (const key of ["ns/a", "ns/b", "ns/c", "ns/d"]) q.add(key);
    await settle();
    q.add("ns/a"); // while ns/a is in flight
    await settle();
    expect(maxRunning).toBe(3);
    while (release.length > 0 || q.len() > 0 || q.inFlight() > 0) {
      release.shift()?.();
      await settle();
    }
    expect(maxRunning).toBe(3);
    await q.shutDown();
    await done;
  });

  it("success forgets the key's failures; requeueAfterMs schedules another pass", async () => {
    const { q, clock, outcomes } = setup();
    let calls = 0;
    const done = runWorkers(
      q,
      1,
      () => {
        calls++;
        return Promise.resolve(calls === 1 ? { requeueAfterMs: 60_000 } : undefined);
      },
      { clock, onReconciled: (key, outcome) => outcomes.push([key, outcome]) },
    );
    q.addRateLimited("ns/a"); // a failure from before
    await clock.advance(5);
    expect(calls).toBe(1);
    expect(q.numRequeues("ns/a")).toBe(0);
    await clock.advance(59_999);
    expect(calls).toBe(1);
    await clock.advance(1);
    expect(calls).toBe(2);
    expect(outcomes).toEqual([
      ["ns/a", "requeue"],
      ["ns/a", "success"],
    ]);
    await q.shutDown();
    await done;
  });

  it("logs each key it processed as 'processed', leaving 'reconciled' to the reconciler's own line", async () => {
    const { q, clock } = setup();
    const debug: [string, Record<string, unknown>][] = [];
    const logger = {
      ...noopLogger,
      debug: (fields: Record<string, unknown>, message: string) => {
        debug.push([message, fields]);
      },
    };
    const done = runWorkers(q, 1, () => Promise.resolve(undefined), { clock, logger });
    q.add("ns/a");
    await clock.advance(1);
    await q.shutDown();
    await done;
    expect(debug.map(([message, fields]) => [message, fields.key, fields.outcome])).toEqual([
      ["processed", "ns/a", "success"],
    ]);
  });

  it("an error re-queues with growing backoff; a TransientError's retryAfter is a floor", async () => {
    const { q, clock } = setup();
    const callTimes: number[] = [];
    const start = clock.now();
    const done = runWorkers(
      q,
      1,
      () => {
        callTimes.push(clock.now() - start);
        if (callTimes.length === 3) return Promise.reject(new TransientError("busy", { retryAfterMs: 2000 }));
        return Promise.reject(new ConflictError("stale"));
      },
      { clock },
    );
    q.add("ns/a");
    await clock.advance(10_000);
    // 0, +5 ms, +10 ms, then at least 2 s (Retry-After), then +40 ms ...
    expect(callTimes.slice(0, 4)).toEqual([0, 5, 15, 2015]);
    expect(callTimes[4]).toBe(2055);
    await q.shutDown();
    await done;
  });

  it("a TerminalError is recorded and not retried", async () => {
    const { q, clock, outcomes } = setup();
    const terminal: string[] = [];
    let calls = 0;
    const done = runWorkers(
      q,
      2,
      () => {
        calls++;
        return Promise.reject(new TerminalError("cannot work"));
      },
      {
        clock,
        onTerminalError: (key, err) => terminal.push(`${key}: ${err.message}`),
        onReconciled: (key, outcome) => outcomes.push([key, outcome]),
      },
    );
    q.add("ns/a");
    await clock.advance(600_000);
    expect(calls).toBe(1);
    expect(terminal).toEqual(["ns/a: cannot work"]);
    expect(outcomes).toEqual([["ns/a", "terminal"]]);
    expect(q.numRequeues("ns/a")).toBe(0);
    await q.shutDown();
    await done;
  });

  it("ends when the queue shuts down, after the reconcile in flight", async () => {
    const { q, clock } = setup();
    let finish!: () => void;
    let finished = false;
    const done = runWorkers(
      q,
      4,
      async () => {
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        finished = true;
        return undefined;
      },
      { clock },
    );
    q.add("ns/a");
    await settle();
    const shutdown = q.shutDown();
    finish();
    await shutdown;
    await done;
    expect(finished).toBe(true);
  });
});
