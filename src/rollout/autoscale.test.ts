import { describe, expect, it } from "vitest";

import {
  ACCELERATOR_DUTY_CYCLE,
  CPU_UTILIZATION,
  decideReplicas,
  DEFAULT_AUTOSCALING_POLICY,
  resolveMetrics,
  type AutoscaleInput,
  type PodReading,
} from "./autoscale.ts";

const NOW = 1_000_000_000;
const policy = DEFAULT_AUTOSCALING_POLICY;
const cpu60 = [{ metricName: CPU_UTILIZATION, target: 60 }] as const;

/** `count` Ready pods requesting 1 CPU and using `millis` each. */
const busy = (count: number, millis: number): PodReading[] =>
  Array.from({ length: count }, () => ({ ready: true, cpuRequestMillis: 1000, cpuUsageMillis: millis }));

function input(over: Partial<AutoscaleInput>): AutoscaleInput {
  return {
    min: 1,
    max: 10,
    metrics: cpu60,
    current: 2,
    pods: busy(2, 600),
    proposals: [{ at: NOW - 60_000, replicas: 2 }],
    now: NOW,
    policy,
    ...over,
  };
}

describe("resolveMetrics", () => {
  it("defaults to CPU utilization at 60%, with duty cycle too on accelerated machines", () => {
    expect(resolveMetrics(undefined, false)).toEqual([{ metricName: CPU_UTILIZATION, target: 60 }]);
    expect(resolveMetrics([], true)).toEqual([
      { metricName: CPU_UTILIZATION, target: 60 },
      { metricName: ACCELERATOR_DUTY_CYCLE, target: 60 },
    ]);
  });

  it("takes the specs given, a missing target as 60, and drops names it does not know", () => {
    expect(
      resolveMetrics([{ metricName: ACCELERATOR_DUTY_CYCLE }, { metricName: "x/y", target: 10 }], false),
    ).toEqual([{ metricName: ACCELERATOR_DUTY_CYCLE, target: 60 }]);
    expect(resolveMetrics([{ metricName: CPU_UTILIZATION, target: 80 }], true)).toEqual([
      { metricName: CPU_UTILIZATION, target: 80 },
    ]);
  });
});

describe("decideReplicas", () => {
  it("holds N within the tolerance of the target", () => {
    const d = decideReplicas(input({ pods: busy(2, 650) }));
    expect(d.desired).toBe(2);
    expect(d.decided).toBe(true);
    expect(d.readings).toEqual([{ metricName: CPU_UTILIZATION, target: 60, currentValue: 65 }]);
  });

  it("scales up to ceil(pods x utilization / target)", () => {
    // 2 pods at 120% of their request against 60%: twice the pods.
    expect(decideReplicas(input({ pods: busy(2, 1200) })).desired).toBe(4);
    // 3 pods at 70%: 3.5 -> 4.
    expect(decideReplicas(input({ current: 3, pods: busy(3, 700) })).desired).toBe(4);
  });

  it("averages utilization over the requests, not per pod", () => {
    const pods = [
      { ready: true, cpuRequestMillis: 3000, cpuUsageMillis: 3000 },
      { ready: true, cpuRequestMillis: 1000, cpuUsageMillis: 0 },
    ];
    const d = decideReplicas(input({ pods }));
    expect(d.readings[0]?.currentValue).toBe(75);
    expect(d.desired).toBe(3);
  });

  it("scales up at most to max(2 x N, N + 4) in one decision, and never above max", () => {
    const d = decideReplicas(input({ current: 1, pods: busy(1, 6000), max: 100 }));
    expect(d.desired).toBe(5);
    expect(d.note).toContain("limited to 5");
    expect(decideReplicas(input({ current: 8, pods: busy(8, 6000), max: 10 })).desired).toBe(10);
  });

  it("scales down at once when no higher proposal is within the stabilisation window", () => {
    const d = decideReplicas(
      input({ current: 4, pods: busy(4, 150), proposals: [{ at: NOW - 400_000, replicas: 4 }] }),
    );
    expect(d.desired).toBe(1);
  });

  it("does not scale down below the highest proposal of the window", () => {
    const proposals = [
      { at: NOW - 200_000, replicas: 4 },
      { at: NOW - 100_000, replicas: 3 },
    ];
    const d = decideReplicas(input({ current: 4, pods: busy(4, 150), proposals }));
    expect(d.desired).toBe(4);
    expect(d.note).toContain("stabilised");
    // The window moves on: once the 4 is older than 5 minutes, the 3 holds.
    const later = decideReplicas(input({ current: 4, pods: busy(4, 150), proposals, now: NOW + 150_000 }));
    expect(later.desired).toBe(3);
    expect(later.proposals.map((p) => p.replicas)).toEqual([3, 1]);
  });

  it("after a restart (no memory), waits a whole window before scaling down", () => {
    const first = decideReplicas(input({ current: 4, pods: busy(4, 150), proposals: [] }));
    expect(first.desired).toBe(4);
    const after = decideReplicas(
      input({ current: 4, pods: busy(4, 150), proposals: first.proposals, now: NOW + 301_000 }),
    );
    expect(after.desired).toBe(1);
  });

  it("scales up at once after a restart", () => {
    expect(decideReplicas(input({ current: 2, pods: busy(2, 1200), proposals: [] })).desired).toBe(4);
  });

  it("decides at most once per sync period", () => {
    const d = decideReplicas(input({ pods: busy(2, 1200), proposals: [{ at: NOW - 5_000, replicas: 2 }] }));
    expect(d).toMatchObject({ desired: 2, decided: false, readings: [] });
  });

  it("clamps N into [min, max], also when nothing was read", () => {
    expect(decideReplicas(input({ min: 3, current: 2, pods: busy(2, 600) })).desired).toBe(3);
    const none = decideReplicas(
      input({ min: 1, max: 3, current: 5, pods: [{ ready: true, cpuRequestMillis: 1000 }] }),
    );
    expect(none.desired).toBe(3);
    expect(none.note).toContain("no metric readings");
  });

  it("holds N without readings, saying why", () => {
    const d = decideReplicas(
      input({
        pods: [{ ready: true, cpuRequestMillis: 1000 }],
        unavailable: "the cluster does not serve metrics.k8s.io",
      }),
    );
    expect(d.desired).toBe(2);
    expect(d.readings[0]?.missing).toBe("the cluster does not serve metrics.k8s.io");
  });

  it("proposes nothing from CPU while any pod requests no CPU, and says so", () => {
    const d = decideReplicas(input({ pods: [{ ready: true, cpuUsageMillis: 500 }] }));
    expect(d.desired).toBe(2);
    expect(d.readings[0]?.missing).toContain("1 of 1 pods request no CPU");
    // A rolling deployment's revision without a request: its pods would weigh nothing.
    const mixed = decideReplicas(input({ pods: [...busy(2, 1200), { ready: false }] }));
    expect(mixed.desired).toBe(2);
    expect(mixed.readings[0]?.missing).toContain("1 of 3 pods request no CPU");
  });

  it("counts pods without a reading as idle on a scale-up", () => {
    // One pod at 120%, one unread: (120 + 0) / 2 = 60% -> no change.
    const pods = [...busy(1, 1200), { ready: true, cpuRequestMillis: 1000 }];
    expect(decideReplicas(input({ pods })).desired).toBe(2);
    // At 300% the unread pod cannot hold it back: (300 + 0) / 2 = 150% -> ceil(2.5 x 2) = 5.
    expect(
      decideReplicas(input({ pods: [...busy(1, 3000), { ready: true, cpuRequestMillis: 1000 }] })).desired,
    ).toBe(5);
  });

  it("counts unready pods as idle on a scale-up of CPU, and leaves them out of a scale-down", () => {
    const unready = { ready: false, cpuRequestMillis: 1000, cpuUsageMillis: 900 };
    // Ready pod at 90% (up), unready counted 0: 45% -> would turn down -> no change.
    expect(decideReplicas(input({ pods: [...busy(1, 900), unready] })).desired).toBe(2);
    // Ready pods at 15% (down): the unready pod is not counted.
    const down = decideReplicas(
      input({
        current: 3,
        pods: [...busy(2, 150), unready],
        proposals: [{ at: NOW - 400_000, replicas: 3 }],
      }),
    );
    expect(down.desired).toBe(1);
  });

  it("counts pods without a reading at their whole request on a scale-down", () => {
    // (15 + 100) / 2 = 57.5% of a 60% target: within the tolerance, no change.
    const pods = [...busy(1, 150), { ready: true, cpuRequestMillis: 1000 }];
    expect(decideReplicas(input({ pods, proposals: [{ at: NOW - 400_000, replicas: 2 }] })).desired).toBe(2);
  });

  it("scales by accelerator duty cycle per pod, whatever their readiness", () => {
    const metrics = [{ metricName: ACCELERATOR_DUTY_CYCLE, target: 50 }] as const;
    const pods = [
      { ready: true, dutyCyclePercent: 100 },
      { ready: false, dutyCyclePercent: 100 },
    ];
    const d = decideReplicas(input({ metrics, pods }));
    expect(d.readings).toEqual([{ metricName: ACCELERATOR_DUTY_CYCLE, target: 50, currentValue: 100 }]);
    expect(d.desired).toBe(4);
  });

  it("takes the largest proposal of several metrics", () => {
    const metrics = [
      { metricName: CPU_UTILIZATION, target: 60 },
      { metricName: ACCELERATOR_DUTY_CYCLE, target: 60 },
    ] as const;
    const pods = busy(2, 300).map((p) => ({ ...p, dutyCyclePercent: 90 }));
    // CPU at 30% proposes 1, duty cycle at 90% proposes 3.
    expect(decideReplicas(input({ metrics, pods })).desired).toBe(3);
  });

  it("remembers proposals of the window only, the newest last", () => {
    const proposals = [
      { at: NOW - 900_000, replicas: 9 },
      { at: NOW - 60_000, replicas: 2 },
    ];
    const d = decideReplicas(input({ proposals, pods: busy(2, 1200) }));
    expect(d.proposals).toEqual([
      { at: NOW - 60_000, replicas: 2 },
      { at: NOW, replicas: 4 },
    ]);
  });
});
