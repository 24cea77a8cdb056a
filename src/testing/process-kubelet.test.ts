import { describe, expect, it } from "vitest";

import { FakeClock } from "../kube/fake-clock.ts";
import type { Pod } from "../kube/index.ts";
import { chooseCidr, cidrContains, cidrRange, numberToIpv4 } from "./loopback.ts";
import {
  INITIAL_PROBE,
  isModelServerImage,
  nextProbeState,
  preStopAction,
  probeSettings,
  processEnv,
  runsAsProcess,
  statusPatch,
  StatusWrites,
  terminatedState,
  type ProbeState,
} from "./process-kubelet.ts";

type Container = NonNullable<Pod["spec"]>["containers"][number];

const container = (extra: Partial<Container> = {}): Container => ({
  name: "model",
  image: "model-server:dev",
  ports: [{ name: "http", containerPort: 8080 }],
  ...extra,
});

const pod = (c: Container = container()): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "u1" },
  spec: { nodeName: "kwok-node-0", containers: [c] },
});

describe("which pods run as processes", () => {
  it.each([
    ["model-server:dev", true],
    ["model-server", true],
    ["registry.example/model-server:2.0", true],
    ["registry.example:5000/team/my-model-server@sha256:abcd", true],
    ["registry.example:5000/model-server", true],
    ["fraud:1.0", false],
    ["model-server-gpu:1", false],
    ["registry.example/model-server/base:1", false],
    ["fraud:model-server", false],
  ])("%s -> %s", (image, expected) => {
    expect(isModelServerImage(image)).toBe(expected);
  });

  it("needs a scheduled pod and looks at the first container only", () => {
    expect(runsAsProcess(pod())).toBe(true);
    expect(runsAsProcess({ spec: { containers: [container()] } })).toBe(false);
    const sidecarFirst: Pod = {
      spec: { nodeName: "n", containers: [container({ image: "envoy:1" }), container()] },
    };
    expect(runsAsProcess(sidecarFirst)).toBe(false);
  });
});

describe("probe settings", () => {
  it("takes Kubernetes' defaults for what the probe leaves out", () => {
    expect(
      probeSettings(container({ readinessProbe: { httpGet: { path: "/health", port: 8080 } } })),
    ).toEqual({
      http: { path: "/health", port: 8080, portName: "8080" },
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it("resolves a named port from the container's ports and keeps the probe's own numbers", () => {
    const settings = probeSettings(
      container({
        readinessProbe: {
          httpGet: { path: "/h", port: "http" },
          initialDelaySeconds: 2,
          periodSeconds: 5,
          timeoutSeconds: 3,
          successThreshold: 2,
          failureThreshold: 4,
        },
      }),
    );
    expect(settings).toMatchObject({
      http: { path: "/h", port: 8080 },
      initialDelayMs: 2_000,
      periodMs: 5_000,
      timeoutMs: 3_000,
      successThreshold: 2,
      failureThreshold: 4,
    });
  });

  it("leaves an unknown port name unresolved and marks other probe kinds unsupported", () => {
    expect(probeSettings(container({ readinessProbe: { httpGet: { port: "grpc" } } })).http).toEqual({
      path: "/",
      port: undefined,
      portName: "grpc",
    });
    expect(probeSettings(container({ readinessProbe: { tcpSocket: { port: 8080 } } })).unsupported).toBe(
      "tcpSocket",
    );
    expect(probeSettings(container()).http).toBeUndefined();
  });

  it("flips readiness only after the thresholds in a row", () => {
    const thresholds = { successThreshold: 2, failureThreshold: 3 };
    const run = (outcomes: boolean[]): ProbeState =>
      outcomes.reduce<ProbeState>(
        (s, ok) => nextProbeState(s, ok, ok ? undefined : "404", thresholds),
        INITIAL_PROBE,
      );
    expect(run([true]).result).toBe("initial");
    expect(run([true, true]).result).toBe("success");
    expect(run([true, true, false, false]).result).toBe("success");
    expect(run([true, true, false, false, false])).toMatchObject({ result: "failure", message: "404" });
    expect(run([true, true, false, false, true]).result).toBe("success");
  });
});

describe("environment", () => {
  it("passes plain values, skips valueFrom, and binds the server to the pod IP", () => {
    const c = container({
      env: [
        { name: "AIP_HTTP_PORT", value: "8080" },
        { name: "EMPTY" },
        { name: "SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
        { name: "MODEL_SERVER_HOST", value: "0.0.0.0" },
      ],
    });
    expect(processEnv(c, "10.200.0.7", { PATH: "/bin", HOME: "/root", OTHER: "x" })).toEqual({
      env: { PATH: "/bin", HOME: "/root", AIP_HTTP_PORT: "8080", EMPTY: "", MODEL_SERVER_HOST: "10.200.0.7" },
      skipped: ["SECRET"],
    });
  });

  it("reads a sleep preStop hook and names the kinds it skips", () => {
    expect(preStopAction(container({ lifecycle: { preStop: { sleep: { seconds: 3 } } } }))).toEqual({
      sleepMs: 3000,
    });
    expect(preStopAction(container({ lifecycle: { preStop: { exec: { command: ["x"] } } } }))).toEqual({
      skipped: "exec",
    });
    expect(preStopAction(container())).toBeUndefined();
  });
});

describe("status patches", () => {
  const running = { running: { startedAt: "2026-01-01T00:00:01Z" } };
  const withStatus: Pod = {
    ...pod(),
    status: {
      phase: "Running",
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
        {
          type: "Ready",
          status: "False",
          lastTransitionTime: "2026-01-01T00:00:00Z",
          reason: "ContainersNotReady",
        },
        { type: "ContainersReady", status: "False", lastTransitionTime: "2026-01-01T00:00:00Z" },
      ],
      containerStatuses: [
        { name: "model", image: "model-server:dev", imageID: "", ready: false, restartCount: 0 },
        { name: "sidecar", image: "envoy:1", imageID: "", ready: true, restartCount: 0 },
      ],
    },
  };

  it("writes Ready and ContainersReady, keeps other conditions and containers", () => {
    const patch = statusPatch(
      withStatus,
      { ready: true, started: true, restartCount: 0, state: running },
      "NOW",
    );
    expect(patch).toEqual({
      status: {
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
          { type: "Ready", status: "True", lastTransitionTime: "NOW" },
          { type: "ContainersReady", status: "True", lastTransitionTime: "NOW" },
        ],
        containerStatuses: [
          {
            name: "model",
            image: "model-server:dev",
            imageID: "",
            ready: true,
            started: true,
            restartCount: 0,
            state: running,
          },
          { name: "sidecar", image: "envoy:1", imageID: "", ready: true, restartCount: 0 },
        ],
      },
    });
  });

  it("says why it is not Ready and keeps the transition time of an unchanged status", () => {
    const terminated = terminatedState("SIGKILL", "T0", "T1");
    const patch = statusPatch(
      withStatus,
      {
        ready: false,
        started: false,
        restartCount: 2,
        state: { waiting: { reason: "CrashLoopBackOff" } },
        lastState: terminated,
        detail: "readiness probe failed: HTTP probe failed with statuscode: 404",
      },
      "NOW",
    ) as { status: { conditions: unknown[]; containerStatuses: unknown[] } };
    expect(patch.status.conditions[1]).toEqual({
      type: "Ready",
      status: "False",
      lastTransitionTime: "2026-01-01T00:00:00Z",
      reason: "ContainersNotReady",
      message:
        "containers with unready status: [model]: readiness probe failed: HTTP probe failed with statuscode: 404",
    });
    expect(patch.status.containerStatuses[0]).toMatchObject({
      ready: false,
      started: false,
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: { terminated: { exitCode: 137, reason: "Error", startedAt: "T0", finishedAt: "T1" } },
    });
  });

  it("reports a clean exit as Completed", () => {
    expect(terminatedState(0, "a", "b")).toEqual({
      terminated: { exitCode: 0, reason: "Completed", startedAt: "a", finishedAt: "b" },
    });
  });
});

describe("pod CIDRs", () => {
  it("skips candidates that overlap the machine's networks or are taken", () => {
    expect(chooseCidr([], new Set())).toBe("10.200.0.0/16");
    expect(chooseCidr(["10.200.3.4/32", "10.0.0.0/9"], new Set(["10.201.0.0/16"]))).toBe("10.202.0.0/16");
    expect(chooseCidr(["10.0.0.0/8"], new Set())).toBeUndefined();
  });

  it("does address arithmetic", () => {
    const range = cidrRange("10.200.0.0/16");
    expect(numberToIpv4(range.first)).toBe("10.200.0.0");
    expect(numberToIpv4(range.last - 1)).toBe("10.200.255.254");
    expect(cidrContains("10.200.0.0/16", "10.200.9.1")).toBe(true);
    expect(cidrContains("10.200.0.0/16", "10.201.0.1")).toBe(false);
  });
});

describe("status writes", () => {
  /** Writes whose first `failures` calls fail, on a fake clock, retried after 1 s doubling. */
  function setup(failures: number) {
    const clock = new FakeClock();
    const written: string[] = [];
    const errors: string[] = [];
    let calls = 0;
    const write = (state: string) => () => {
      calls++;
      if (calls <= failures) return Promise.reject(new Error(`write ${String(calls)} refused`));
      written.push(state);
      return Promise.resolve();
    };
    const writes = new StatusWrites(clock, { initialMs: 1000, maxMs: 30_000 }, (err) =>
      errors.push(String(err)),
    );
    return { clock, written, errors, write, writes };
  }

  it("tries a failed write again after a growing backoff, and skips a state already written", async () => {
    const { clock, written, errors, write, writes } = setup(2);
    writes.push("ready", write("ready"));
    await writes.settled();
    expect(errors).toEqual(["Error: write 1 refused"]);
    await clock.advance(1000);
    await writes.settled();
    expect(errors).toEqual(["Error: write 1 refused", "Error: write 2 refused"]);
    // The second retry waits 2 s, not 1.
    await clock.advance(1000);
    expect(written).toEqual([]);
    await clock.advance(1000);
    await writes.settled();
    expect(written).toEqual(["ready"]);
    writes.push("ready", write("ready"));
    await writes.settled();
    expect(written).toEqual(["ready"]);
  });

  it("writes the newer state rather than retrying an older one", async () => {
    const { clock, written, write, writes } = setup(1);
    writes.push("not-ready", write("not-ready"));
    writes.push("ready", write("ready"));
    await writes.settled();
    await clock.advance(5000);
    await writes.settled();
    expect(written).toEqual(["ready"]);
    expect(clock.pending()).toBe(0);
  });

  it("stops retrying once stopped", async () => {
    const { clock, written, errors, write, writes } = setup(10);
    writes.push("ready", write("ready"));
    await writes.settled();
    await clock.advance(1000);
    await writes.settled();
    expect(errors).toHaveLength(2);
    writes.stop();
    await clock.advance(60_000);
    expect(errors).toHaveLength(2);
    expect(written).toEqual([]);
  });
});
