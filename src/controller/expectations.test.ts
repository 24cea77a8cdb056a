import { describe, expect, it } from "vitest";

import { FakeClock } from "../kube/fake-clock.ts";
import { Expectations, isCacheStale } from "./expectations.ts";

describe("expectations: waiting for the cache to show this replica's own writes", () => {
  const rs = "replicasets/ml/ep-m1";

  it("is behind until the cache shows a version other than the one written over", () => {
    const expectations = new Expectations(new FakeClock());
    expectations.expect("ml/ep", rs, "10");
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "10" }])).toBe(true);
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "11" }])).toBe(false);
    // Met once, it is forgotten.
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "10" }])).toBe(false);
  });

  it("an object just created is awaited until it is cached at all", () => {
    const expectations = new Expectations(new FakeClock());
    expectations.expect("ml/ep", rs, "");
    expect(expectations.isBehind("ml/ep", [])).toBe(true);
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "1" }])).toBe(false);
  });

  it("gives up after 10 s, so a lost watch event never stalls an endpoint", async () => {
    const clock = new FakeClock();
    const expectations = new Expectations(clock);
    expectations.expect("ml/ep", rs, "10");
    await clock.advance(10_000);
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "10" }])).toBe(true);
    await clock.advance(1);
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "10" }])).toBe(false);
  });

  it("other endpoints are not held up, and a deleted endpoint is forgotten", () => {
    const expectations = new Expectations(new FakeClock());
    expectations.expect("ml/ep", rs, "10");
    expect(expectations.isBehind("ml/other", [])).toBe(false);
    expectations.forget("ml/ep");
    expect(expectations.isBehind("ml/ep", [{ key: rs, version: "10" }])).toBe(false);
  });
});

describe("isCacheStale: the live check before a step that cannot be undone", () => {
  const cached = {
    metadata: { uid: "u1", generation: 2, resourceVersion: "5" },
    status: { observedGeneration: 2 },
  };
  const live = (obj: object | undefined) => () => Promise.resolve(obj);

  it("the same generation and status: fresh, whatever metadata changed", async () => {
    expect(
      await isCacheStale(live({ ...cached, metadata: { ...cached.metadata, resourceVersion: "9" } }), cached),
    ).toBe(false);
  });

  it("a newer spec, another status, another object or none at all: stale", async () => {
    expect(
      await isCacheStale(live({ ...cached, metadata: { ...cached.metadata, generation: 3 } }), cached),
    ).toBe(true);
    expect(await isCacheStale(live({ ...cached, status: { observedGeneration: 1 } }), cached)).toBe(true);
    expect(await isCacheStale(live({ ...cached, metadata: { ...cached.metadata, uid: "u2" } }), cached)).toBe(
      true,
    );
    expect(await isCacheStale(live(undefined), cached)).toBe(true);
  });
});
