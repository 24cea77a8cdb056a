/**
 * GPU models on GPU node pools, on the real scheduler: with the operator's `gke` placement profile,
 * a model on an L4 machine lands only on nodes labelled like GKE's L4 pool and a model with T4s
 * only on the T4 pool, each pod tolerating the pools' nvidia.com/gpu taint and asking for its GPUs.
 * The pools' nodes have the allocatable CPU and memory GKE gives their machine type, so the pods
 * also prove that a machine type's request fits a node of that type.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { machineShape } from "../../src/api/machine-types.ts";
import { allocatable } from "../../src/controller/placement.ts";
import { createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, installCrd, kubectl } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { stopSuite } from "./suite.ts";
import { VertexServers } from "./vertex-server.ts";

/** A node pool as GKE labels and taints it: its machine type, its GPU, and that many nodes. */
interface Pool {
  readonly name: string;
  readonly machineType: "g2-standard-8" | "n1-standard-8";
  readonly accelerator: string;
  readonly gpus: number;
  readonly nodes: number;
}

const POOLS: readonly Pool[] = [
  { name: "l4-pool", machineType: "g2-standard-8", accelerator: "nvidia-l4", gpus: 1, nodes: 2 },
  { name: "t4-pool", machineType: "n1-standard-8", accelerator: "nvidia-tesla-t4", gpus: 1, nodes: 2 },
];

const nodeName = (pool: Pool, i: number) => `gke-${pool.name}-${String(i)}`;
const allNodes = () =>
  POOLS.flatMap((pool) => Array.from({ length: pool.nodes }, (_, i) => nodeName(pool, i)));

/** The node's status as GKE reports it: the machine's allocatable, and its GPUs. */
function resources(pool: Pool): Record<string, string> {
  const free = allocatable(machineShape(pool.machineType));
  return {
    cpu: `${String(Math.floor(free.cpuMillis))}m`,
    memory: `${String(Math.floor(free.memoryMi))}Mi`,
    pods: "110",
    "nvidia.com/gpu": String(pool.gpus),
  };
}

async function createPools(): Promise<void> {
  const nodes = POOLS.flatMap((pool) =>
    Array.from({ length: pool.nodes }, (_, i) => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: nodeName(pool, i),
        labels: {
          type: "kwok",
          "kubernetes.io/hostname": nodeName(pool, i),
          "kubernetes.io/os": "linux",
          "cloud.google.com/gke-nodepool": pool.name,
          "cloud.google.com/gke-accelerator": pool.accelerator,
          "node.kubernetes.io/instance-type": pool.machineType,
        },
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      },
      spec: { taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }] },
    })),
  );
  await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: nodes }));
  // kwok makes each node Ready with its own large allocatable; then the pool's figures replace it.
  for (const pool of POOLS) {
    for (let i = 0; i < pool.nodes; i++) {
      const name = nodeName(pool, i);
      await eventually(`node ${name} Ready`, async () =>
        (
          await kubectl([
            "get",
            "node",
            name,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ])
        ).includes("True"),
      );
      const patch = { status: { capacity: resources(pool), allocatable: resources(pool) } };
      await kubectl([
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify(patch),
      ]);
    }
  }
  for (const name of allNodes()) {
    await eventually(`node ${name} reports its GPU`, async () =>
      (
        await kubectl(["get", "node", name, "-o", "jsonpath={.status.allocatable.nvidia\\.com/gpu}"])
      ).includes("1"),
    );
  }
}

interface PodView {
  readonly metadata: { readonly labels?: Record<string, string> };
  readonly spec: {
    readonly nodeName?: string;
    readonly nodeSelector?: Record<string, string>;
    readonly tolerations?: readonly Record<string, unknown>[];
    readonly containers: readonly { readonly resources?: { requests?: object; limits?: object } }[];
  };
}

async function podsOf(ns: string, id: string): Promise<PodView[]> {
  const out = await kubectl([
    "get",
    "pods",
    "-n",
    ns,
    "-l",
    `serving.modelendpoint.io/deployed-model=${id}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out) as { items: PodView[] }).items;
}

let ns = "";
let operator: OperatorProcess;
const servers = new VertexServers();

beforeAll(async () => {
  await installCrd();
  await createPools();
  ns = await createNamespace("placement");
  operator = new OperatorProcess({ namespaces: [ns], extraArgs: ["--placement-profile=gke"] });
  await operator.start();
});

afterAll(async () => {
  servers.stop();
  await stopSuite(operator);
  await kubectl(["delete", "node", ...allNodes(), "--ignore-not-found", "--wait=false"]);
});

describe("the gke placement profile on GPU node pools", () => {
  it("puts an L4 model only on the L4 pool and a T4 model only on the T4 pool", async () => {
    const model = (id: string, machineSpec: object) => ({
      id,
      model: `fraud-detector@${id}`,
      containerSpec: {
        imageUri: "registry.example/fraud:1.0",
        healthRoute: "/health",
        predictRoute: "/predict",
      },
      dedicatedResources: { machineSpec, minReplicaCount: 2, maxReplicaCount: 2 },
    });
    await applyEndpoint(ns, {
      metadata: { name: "gpus" },
      spec: {
        trafficSplit: { l4: 50, t4: 50 },
        deployedModels: [
          // The g2 machine's L4 is implied; the n1 machine names its T4.
          model("l4", { machineType: "g2-standard-8" }),
          model("t4", {
            machineType: "n1-standard-8",
            acceleratorType: "NVIDIA_TESLA_T4",
            acceleratorCount: 1,
          }),
        ],
      },
    });
    const endpoints = new Endpoints(kubeConfig(), ns);
    await endpoints.waitForState("gpus", "l4", "DEPLOYED");
    await endpoints.waitForState("gpus", "t4", "DEPLOYED");

    const [l4, t4] = await Promise.all([podsOf(ns, "l4"), podsOf(ns, "t4")]);
    expect(l4.map((p) => p.spec.nodeName).sort()).toEqual(["gke-l4-pool-0", "gke-l4-pool-1"]);
    expect(t4.map((p) => p.spec.nodeName).sort()).toEqual(["gke-t4-pool-0", "gke-t4-pool-1"]);
    for (const [pods, accelerator, machineType] of [
      [l4, "nvidia-l4", "g2-standard-8"],
      [t4, "nvidia-tesla-t4", "n1-standard-8"],
    ] as const) {
      for (const pod of pods) {
        expect(pod.spec.nodeSelector).toEqual({
          "cloud.google.com/gke-accelerator": accelerator,
          "node.kubernetes.io/instance-type": machineType,
        });
        expect(pod.spec.tolerations).toContainEqual({
          key: "nvidia.com/gpu",
          operator: "Exists",
          effect: "NoSchedule",
        });
        expect(pod.spec.containers[0]?.resources?.limits).toMatchObject({ "nvidia.com/gpu": "1" });
      }
    }
  });

  it("a model's own placement is merged over the profile's: a nodeSelector no pool matches leaves it unscheduled", async () => {
    await applyEndpoint(ns, {
      metadata: { name: "nowhere" },
      spec: {
        trafficSplit: { m1: 100 },
        deployedModels: [
          {
            id: "m1",
            model: "fraud-detector@1",
            containerSpec: {
              imageUri: "registry.example/fraud:1.0",
              healthRoute: "/health",
              predictRoute: "/predict",
            },
            dedicatedResources: { machineSpec: { machineType: "g2-standard-8" }, minReplicaCount: 1 },
            placement: { nodeSelector: { "cloud.google.com/gke-nodepool": "h100-pool" } },
          },
        ],
      },
    });
    const endpoints = new Endpoints(kubeConfig(), ns);
    const m1 = await eventually("the scheduler's verdict in m1's status", async () => {
      const status = await endpoints.model("nowhere", "m1");
      return /unschedulable: .*node affinity\/selector/.test(status?.message ?? "") && status;
    });
    expect(m1.state).toBe("BEING_DEPLOYED");
    const [pod] = await podsOf(ns, "m1");
    expect(pod?.spec.nodeSelector).toEqual({
      "cloud.google.com/gke-accelerator": "nvidia-l4",
      "node.kubernetes.io/instance-type": "g2-standard-8",
      "cloud.google.com/gke-nodepool": "h100-pool",
    });
    await endpoints.delete("nowhere");
  });
});

describe("a Vertex AI deployModel with an accelerator", () => {
  it("lands on the matching GPU pool: an L4 on g2-standard-8 through the REST API", async () => {
    // The L4 pool is the first test's: free it.
    await kubectl(["delete", "modelendpoint", "gpus", "-n", ns, "--ignore-not-found"]);
    await eventually("the L4 pool free", async () => {
      const out = await kubectl([
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        "serving.modelendpoint.io/endpoint=gpus",
        "-o",
        "name",
      ]);
      return out.trim() === "";
    });
    const { url } = await servers.start(["--local"]);
    const parent = `projects/${ns}/locations/us-central1`;
    const call = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${url}/v1/${parent}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(json)).toBe(200);
      return json;
    };
    await call("/models:upload", {
      modelId: "summarizer",
      model: {
        displayName: "Summarizer",
        containerSpec: {
          imageUri: "registry.example/summarizer:1.0",
          healthRoute: "/health",
          predictRoute: "/predict",
        },
      },
    });
    await call("/endpoints?endpointId=vertex-gpu", { displayName: "GPU through Vertex" });
    await call("/endpoints/vertex-gpu:deployModel", {
      deployedModel: {
        model: `${parent}/models/summarizer`,
        dedicatedResources: {
          machineSpec: { machineType: "g2-standard-8", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 },
          minReplicaCount: 2,
          maxReplicaCount: 2,
        },
      },
      trafficSplit: { "0": 100 },
    });
    const endpoints = new Endpoints(kubeConfig(), ns);
    const id = await eventually("the deployed model's id", async () => {
      const obj = await endpoints.get("vertex-gpu");
      return obj.spec.deployedModels[0]?.id;
    });
    await endpoints.waitForState("vertex-gpu", id, "DEPLOYED");
    const pods = await podsOf(ns, id);
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["gke-l4-pool-0", "gke-l4-pool-1"]);
    for (const pod of pods) {
      expect(pod.spec.nodeSelector).toMatchObject({ "cloud.google.com/gke-accelerator": "nvidia-l4" });
      expect(pod.spec.containers[0]?.resources?.limits).toMatchObject({ "nvidia.com/gpu": "1" });
    }
  });
});
