/**
 * The process kubelet on the suite's control plane: model-server pods run the reference server as
 * a process on their pod IP, become Ready by their real readiness probe, answer predictions over
 * HTTP, and stop gracefully when deleted; pods of other images keep kwok's simulated readiness.
 */
import { readFileSync } from "node:fs";

import { AppsV1Api, CoreV1Api, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";

import { loopbackAddresses } from "../../src/testing/loopback.ts";
import { isAlive } from "../../src/testing/process.ts";
import type { PodProcessInfo } from "../../src/testing/process-kubelet.ts";
import { controlPlaneClient, createNamespace, eventually, kubeConfig, replicaSetOf } from "./context.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const control = controlPlaneClient();

const PORT = 18080;

let ns = "";
beforeAll(async () => {
  ns = await createNamespace("pk");
});

function modelServer(overrides: Partial<V1Container> = {}): V1Container {
  return {
    name: "model",
    image: "model-server:dev",
    ports: [{ name: "http", containerPort: PORT }],
    env: [
      { name: "AIP_HTTP_PORT", value: String(PORT) },
      { name: "AIP_HEALTH_ROUTE", value: "/health" },
      { name: "AIP_PREDICT_ROUTE", value: "/v1/predict" },
      { name: "AIP_DEPLOYED_MODEL_ID", value: "m1" },
      { name: "AIP_MODEL_NAME", value: "fraud" },
      { name: "MODEL_SERVER_SHUTDOWN_DELAY_SECONDS", value: "1" },
    ],
    readinessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 1, failureThreshold: 2 },
    ...overrides,
  };
}

async function createReplicaSet(name: string, container: V1Container, replicas: number): Promise<void> {
  await apps.createNamespacedReplicaSet({ namespace: ns, body: replicaSetOf(name, [container], replicas) });
}

const readyCondition = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === "Ready");
const isReady = (pod: V1Pod): boolean => readyCondition(pod)?.status === "True";

async function pods(app: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items.filter(
    (p) => p.metadata?.deletionTimestamp === undefined,
  );
}

async function processOf(pod: V1Pod): Promise<PodProcessInfo | undefined> {
  return (await control.processes()).find((p) => p.uid === pod.metadata?.uid);
}

/**
 * What a timeout should print: each pod's phase, IP and Ready condition, the process the kubelet
 * runs for it, and the last lines that process wrote.
 */
async function describePods(app: string): Promise<string> {
  const processes = await control.processes();
  const lines = (await pods(app)).map((pod) => {
    const proc = processes.find((p) => p.uid === pod.metadata?.uid);
    const ready = readyCondition(pod);
    let tail: string[];
    try {
      tail = proc ? readFileSync(proc.logFile, "utf8").trimEnd().split("\n").slice(-5) : [];
    } catch (err) {
      tail = [String(err)];
    }
    return JSON.stringify({
      pod: pod.metadata?.name,
      phase: pod.status?.phase,
      podIP: pod.status?.podIP,
      ready: ready && { status: ready.status, reason: ready.reason, message: ready.message },
      process: proc ?? null,
      log: tail,
    });
  });
  return `${String(lines.length)} pods: ${lines.join("; ")}; loopback: ${(await loopbackAddresses()).join(",")}`;
}

/** The JSON lines the model server wrote. */
function serverLog(file: string): { time: string; msg: string; signal?: string }[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { time: string; msg: string; signal?: string });
}

describe("process kubelet", () => {
  it("runs model-server pods: Ready by their probe, predictions over HTTP, graceful deletion", async () => {
    await createReplicaSet("served", modelServer(), 2);
    const ready = await eventually(
      "2 Ready model-server pods",
      async () => {
        const list = await pods("served");
        return list.length === 2 && list.every(isReady) && list;
      },
      { describe: async () => describePods("served") },
    );

    for (const pod of ready) {
      const proc = await processOf(pod);
      expect(proc).toMatchObject({
        podIP: pod.status?.podIP,
        ready: true,
        phase: "running",
        restartCount: 0,
      });
      // Ready because the health route answers (the 404 case below shows the converse).
      const health = await fetch(`http://${pod.status?.podIP}:${PORT}/health`);
      expect(health.status).toBe(200);
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, started: true });

      const res = await fetch(`http://${pod.status?.podIP}:${PORT}/v1/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ instances: [[1, 2]] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        deployedModelId: string;
        predictions: { deployedModelId: string }[];
      };
      expect(body.deployedModelId).toBe("m1");
      expect(body.predictions).toHaveLength(1);
      expect(body.predictions[0]?.deployedModelId).toBe("m1");
    }

    // Deleting a pod: SIGTERM to the process; the object goes once the process has exited.
    const victim = ready[0];
    const proc = victim ? await processOf(victim) : undefined;
    if (!victim || !proc?.pid) throw new Error("no process for the first pod");
    expect(await loopbackAddresses()).toContain(proc.podIP);
    await core.deleteNamespacedPod({ namespace: ns, name: victim.metadata?.name ?? "" });
    await eventually("the deleted pod object to be gone", async () => {
      try {
        const pod = await core.readNamespacedPod({ namespace: ns, name: victim.metadata?.name ?? "" });
        return pod.metadata?.uid !== victim.metadata?.uid;
      } catch {
        return true;
      }
    });
    const log = serverLog(proc.logFile);
    expect(log.some((l) => l.msg === "signal" && l.signal === "SIGTERM")).toBe(true);
    expect(log.some((l) => l.msg === "stopped")).toBe(true);
    expect(isAlive(proc.pid)).toBe(false);
    expect(await loopbackAddresses()).not.toContain(proc.podIP);

    // The ReplicaSet's replacement runs too.
    await eventually(
      "the replacement pod Ready",
      async () => {
        const list = await pods("served");
        return list.length === 2 && list.every(isReady);
      },
      { describe: async () => describePods("served") },
    );
  });

  it("keeps a pod whose health route answers 404 not Ready, saying why", async () => {
    await createReplicaSet(
      "wrong-route",
      modelServer({ readinessProbe: { httpGet: { path: "/healthz", port: PORT }, periodSeconds: 1 } }),
      1,
    );
    const pod = await eventually("a probe-failure message on the Ready condition", async () => {
      const [p] = await pods("wrong-route");
      return p && (readyCondition(p)?.message ?? "").includes("statuscode: 404") && p;
    });
    expect(readyCondition(pod)).toMatchObject({ status: "False", reason: "ContainersNotReady" });
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: false, started: true });
    expect(await processOf(pod)).toMatchObject({ ready: false, phase: "running" });
  });

  it("leaves pods of other images to kwok's simulated readiness", async () => {
    await createReplicaSet("simulated", { name: "model", image: "fraud:1.0" }, 1);
    const pod = await eventually("the simulated pod Ready", async () => {
      const [p] = await pods("simulated");
      return p && isReady(p) && p;
    });
    expect(await processOf(pod)).toBeUndefined();
  });
});
