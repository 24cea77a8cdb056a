import { describe, expect, it } from "vitest";

import { FakeLeaseStore } from "./fake-lease.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import { leaseClientContract } from "./lease-contract.ts";
import { LeaderElector } from "./leaderelection.ts";

interface Candidate {
  readonly elector: LeaderElector;
  readonly log: string[];
  signal: AbortSignal | undefined;
  readonly stop: AbortController;
  ended: Promise<string>;
}

function candidate(
  server: FakeLeaseStore,
  clock: FakeClock,
  identity: string,
  faults: { down?: boolean; hang?: boolean } = {},
): Candidate {
  const log: string[] = [];
  const stop = new AbortController();
  const result: Candidate = {
    log,
    signal: undefined,
    stop,
    ended: Promise.resolve(""),
    elector: new LeaderElector({
      identity,
      leaseNamespace: "ops",
      leaseName: "model-endpoint-operator",
      client: server.client(identity, faults),
      clock,
      random: () => 0,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      onStartedLeading: (signal) => {
        result.signal = signal;
        log.push("started");
        signal.addEventListener("abort", () => log.push("signal aborted"));
      },
      onStoppedLeading: () => {
        log.push(`stopped (signal aborted: ${String(result.signal?.aborted)})`);
      },
    }),
  };
  result.ended = result.elector.run(stop.signal).then((end) => {
    log.push(`run ended: ${end}`);
    return end;
  });
  return result;
}

describe("LeaderElector", () => {
  it("creates the Lease when there is none and leads", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    await settle();
    expect(a.log).toEqual(["started"]);
    expect(a.elector.isLeader()).toBe(true);
    expect(server.lease?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(server.lease?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    a.stop.abort();
    await a.ended;
  });

  it("renews every retry period with the resourceVersion it read as precondition", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    await settle();
    const firstRenew = server.lease?.spec?.renewTime;
    await clock.advance(2_000);
    await clock.advance(2_000);
    const updates = server.writes.filter((write) => write.verb === "update");
    expect(updates.map((write) => write.precondition)).toEqual(["1", "2"]);
    expect(server.lease?.spec?.renewTime).not.toBe(firstRenew);
    expect(server.lease?.spec?.leaseTransitions).toBe(0);
    expect(a.elector.isLeader()).toBe(true);
    a.stop.abort();
    await a.ended;
  });

  it("only one of two candidates leads while the leader renews", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    const b = candidate(server, clock, "b");
    await settle();
    for (let i = 0; i < 30; i++) await clock.advance(1_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(server.writes.filter((write) => write.holder === "b")).toEqual(
      server.writes.filter((write) => write.by === "b" && write.verb === "create"),
    );
    a.stop.abort();
    b.stop.abort();
    await Promise.all([a.ended, b.ended]);
  });

  it("loses leadership the instant the renew deadline passes, aborting the signal first", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const faults: { down?: boolean } = {};
    const a = candidate(server, clock, "a", faults);
    await settle();
    const acquiredAt = clock.now();
    faults.down = true; // the API server becomes unreachable for a
    await clock.advance(9_999);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.signal?.aborted).toBe(false);
    await clock.advance(1);
    expect(clock.now() - acquiredAt).toBe(10_000);
    expect(a.signal?.aborted).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log).toEqual(["started", "signal aborted", "stopped (signal aborted: true)", "run ended: lost"]);
    expect(await a.ended).toBe("lost");
  });

  it("loses leadership at the deadline even while a renew request hangs", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const faults: { hang?: boolean } = {};
    const a = candidate(server, clock, "a", faults);
    await settle();
    faults.hang = true;
    await clock.advance(10_000);
    expect(a.signal?.aborted).toBe(true);
    expect(await a.ended).toBe("lost");
  });

  it("isLeader() is false past the deadline even before the timer ran (a blocked event loop)", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    await settle();
    clock.jump(10_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.signal?.aborted).toBe(true);
    expect(await a.ended).toBe("lost");
  });

  it("a standby takes over an abandoned lease only after the lease duration it observed", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const faults: { down?: boolean } = {};
    const a = candidate(server, clock, "a", faults);
    await settle();
    const b = candidate(server, clock, "b");
    await settle();
    faults.down = true;
    const frozenAt = clock.now();
    let takenAt: number | undefined;
    for (let i = 0; i < 40 && takenAt === undefined; i++) {
      await clock.advance(500);
      if (b.elector.isLeader()) takenAt = clock.now();
    }
    expect(a.signal?.aborted).toBe(true);
    expect(takenAt).toBeDefined();
    // b last saw a's record change just before the API went away for a; it waits a full lease.
    expect((takenAt ?? 0) - frozenAt).toBeGreaterThanOrEqual(15_000 - 2_000);
    expect(server.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    b.stop.abort();
    await Promise.all([a.ended, b.ended]);
  });

  it("a leader that sees another holder in the Lease stops at once", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    await settle();
    const lease = server.lease;
    if (lease?.spec === undefined) throw new Error("no lease");
    server.lease = { ...lease, spec: { ...lease.spec, holderIdentity: "intruder" } };
    await clock.advance(2_000);
    expect(a.signal?.aborted).toBe(true);
    expect(await a.ended).toBe("lost");
  });

  it("on a graceful stop waits for the work, then releases the Lease so a standby takes over at once", async () => {
    const clock = new FakeClock();
    const server = new FakeLeaseStore();
    const a = candidate(server, clock, "a");
    await settle();
    const b = candidate(server, clock, "b");
    await clock.advance(4_000);
    expect(b.elector.isLeader()).toBe(false);

    a.stop.abort();
    expect(await a.ended).toBe("stopped");
    expect(a.log).toEqual([
      "started",
      "signal aborted",
      "stopped (signal aborted: true)",
      "run ended: stopped",
    ]);
    expect(server.lease?.spec).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1 });

    await clock.advance(2_000 * 1.2);
    expect(b.elector.isLeader()).toBe(true);
    b.stop.abort();
    await b.ended;
  });

  it("rejects timings where the renew deadline does not fit", () => {
    const base = {
      identity: "a",
      leaseNamespace: "ops",
      leaseName: "x",
      client: new FakeLeaseStore().client("a"),
      onStartedLeading: () => undefined,
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      /leaseDuration must be greater/,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(
      /renewDeadline must be greater/,
    );
  });
});

leaseClientContract("FakeLeaseStore", () =>
  Promise.resolve({ client: new FakeLeaseStore().client("test"), namespace: "ops", name: "lock" }),
);
