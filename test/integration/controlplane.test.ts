/**
 * The local control plane is real: the ReplicaSet, EndpointSlice and garbage-collector controllers
 * run, the scheduler places pods, kwok makes them Ready (or not) as the stages say, RBAC is
 * enforced, and the API server can be restarted under a running client.
 */
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";

import { SIM_UNREADY_LABEL } from "../../src/testing/kwok-stages.ts";
import { InvariantWatcher } from "../../src/testing/watcher.ts";
import { controlPlaneClient, createNamespace, eventually, kubeConfig, replicaSetOf } from "./context.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);

let ns = "";
beforeAll(async () => {
  ns = await createNamespace("cp");
});

async function createReplicaSet(name: string, image: string, replicas: number): Promise<string> {
  const rs = await apps.createNamespacedReplicaSet({
    namespace: ns,
    body: replicaSetOf(name, [{ name: "model", image, ports: [{ containerPort: 8080 }] }], replicas),
  });
  await core.createNamespacedService({
    namespace: ns,
    body: {
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  return rs.metadata?.uid ?? "";
}

const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

async function pods(app: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;
}

/** The names of the pods the Service's EndpointSlices list as ready. */
async function readyEndpoints(service: string): Promise<string[]> {
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: ns,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready === true)
    .map((e) => e.targetRef?.name ?? "")
    .sort();
}

describe("the local control plane", () => {
  it("runs a ReplicaSet of 3 to 3 Ready pods listed as 3 ready endpoints", async () => {
    await createReplicaSet("ready", "registry.example/model:1.0", 3);
    const ready = await eventually("3 Ready pods", async () => {
      const list = await pods("ready");
      return list.length === 3 && list.every(isReady) && list;
    });
    expect(ready.every((p) => p.spec?.nodeName?.startsWith("kwok-node-"))).toBe(true);
    const names = ready.map((p) => p.metadata?.name ?? "").sort();
    await eventually("3 ready endpoints", async () => {
      const eps = await readyEndpoints("ready");
      return JSON.stringify(eps) === JSON.stringify(names) && eps;
    });
  });

  it("keeps pods of an image tagged ...-unready Running but never Ready, and out of ready endpoints", async () => {
    await createReplicaSet("never", "registry.example/model:2.0-unready", 2);
    const running = await eventually("2 Running pods", async () => {
      const list = await pods("never");
      return list.length === 2 && list.every((p) => p.status?.phase === "Running") && list;
    });
    for (const pod of running) {
      expect(isReady(pod)).toBe(false);
      const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
      expect(ready?.reason).toBe("ContainersNotReady");
    }
    // The EndpointSlice controller has seen them (they are listed) but none is ready.
    await eventually("2 not-ready endpoints", async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace: ns,
        labelSelector: "kubernetes.io/service-name=never",
      });
      const all = slices.items.flatMap((s) => s.endpoints ?? []);
      return all.length === 2 && all;
    });
    expect(await readyEndpoints("never")).toEqual([]);
  });

  it("has the invariant watcher report a ready endpoint whose pod it never saw Ready (R6)", async () => {
    await createReplicaSet("unserved", "registry.example/model:2.0-unready", 1);
    const [pod] = await eventually("a Running pod", async () => {
      const list = await pods("unserved");
      return list.length === 1 && list.every((p) => p.status?.phase === "Running") && list;
    });
    const podName = pod?.metadata?.name ?? "";
    const watcher = await InvariantWatcher.start(kc, ns);
    // A slice that lies: it lists the never-Ready pod as ready (written by hand, not by the
    // EndpointSlice controller, which leaves slices of another manager alone).
    await discovery.createNamespacedEndpointSlice({
      namespace: ns,
      body: {
        metadata: {
          name: "unserved-forged",
          labels: {
            "kubernetes.io/service-name": "unserved",
            "endpointslice.kubernetes.io/managed-by": "test",
          },
        },
        addressType: "IPv4",
        endpoints: [
          {
            addresses: [pod?.status?.podIP ?? "10.0.0.1"],
            conditions: { ready: true },
            targetRef: { kind: "Pod", name: podName, namespace: ns },
          },
        ],
        ports: [{ port: 8080 }],
      },
    });
    const r6 = `R6 service unserved: ready endpoint ${podName} was never seen Ready`;
    await eventually("the watcher to see the forged slice", () =>
      Promise.resolve(watcher.report().violations.some((v) => v.endsWith(r6))),
    );
    // Stopping gives the pod watch time to confirm the pod; it never can, so the violation stays.
    const report = await watcher.stop();
    expect(report.violations.filter((v) => v.endsWith(r6))).toHaveLength(1);
  });

  it("flips a running pod to not Ready and back when a test asks, and endpoints follow", async () => {
    await createReplicaSet("flip", "registry.example/model:1.0", 2);
    const [first] = await eventually("2 Ready pods", async () => {
      const list = await pods("flip");
      return list.length === 2 && list.every(isReady) && list;
    });
    const name = first?.metadata?.name ?? "";
    const setLabel = (value: string | null): Promise<V1Pod> =>
      core.patchNamespacedPod(
        { namespace: ns, name, body: { metadata: { labels: { [SIM_UNREADY_LABEL]: value } } } },
        // JSON merge patch: a null value removes the label.
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    await eventually("2 ready endpoints", async () => (await readyEndpoints("flip")).length === 2);

    await setLabel("true");
    await eventually(`${name} not Ready`, async () => {
      const pod = await core.readNamespacedPod({ namespace: ns, name });
      return !isReady(pod);
    });
    await eventually(`${name} out of the ready endpoints`, async () => {
      const eps = await readyEndpoints("flip");
      return eps.length === 1 && !eps.includes(name);
    });

    await setLabel(null);
    await eventually(`${name} Ready again`, async () =>
      isReady(await core.readNamespacedPod({ namespace: ns, name })),
    );
    await eventually(`${name} back in the ready endpoints`, async () =>
      (await readyEndpoints("flip")).includes(name),
    );
  });

  it("garbage-collects what an owner owned when the owner is deleted", async () => {
    const uid = await createReplicaSet("owned", "registry.example/model:1.0", 2);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: "owned-config",
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "owned", uid }],
        },
        data: { k: "v" },
      },
    });
    await eventually("2 pods", async () => (await pods("owned")).length === 2);
    await apps.deleteNamespacedReplicaSet({ namespace: ns, name: "owned", propagationPolicy: "Background" });
    await eventually("pods and ConfigMap collected", async () => {
      const left = await pods("owned");
      const cms = await core.listNamespacedConfigMap({
        namespace: ns,
        fieldSelector: "metadata.name=owned-config",
      });
      return left.length === 0 && cms.items.length === 0;
    });
  });

  it("enforces RBAC: a restricted identity gets what it was granted and is refused the rest", async () => {
    const cp = controlPlaneClient();
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "alice-reads-pods" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }],
      },
    });
    const alice = kubeConfig(await cp.kubeconfigFor({ user: "alice", groups: ["dev"] })).makeApiClient(
      CoreV1Api,
    );
    await eventually("alice may list pods", async () => {
      await alice.listNamespacedPod({ namespace: ns });
      return true;
    });
    await expect(alice.deleteCollectionNamespacedPod({ namespace: ns })).rejects.toMatchObject({ code: 403 });
    await expect(alice.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });

    // A service account identity, through the TokenRequest API.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "robot" } } });
    const robot = kubeConfig(
      await cp.kubeconfigFor({ serviceAccount: { namespace: ns, name: "robot" } }),
    ).makeApiClient(CoreV1Api);
    await expect(robot.listNamespacedPod({ namespace: ns })).rejects.toMatchObject({ code: 403 });
  });

  it("restarts the API server under a running client, keeping every object", async () => {
    const before = (await pods("ready")).map((p) => p.metadata?.uid).sort();
    expect(before).toHaveLength(3);
    const info = await controlPlaneClient().restartApiServer();
    expect(info.components.find((c) => c.name === "kube-apiserver")?.running).toBe(true);
    const after = await eventually("pods listed after the restart", async () =>
      (await pods("ready")).map((p) => p.metadata?.uid).sort(),
    );
    expect(after).toEqual(before);
    // The controllers reconnect too: a new ReplicaSet still gets Ready pods.
    await createReplicaSet("after-restart", "registry.example/model:1.0", 1);
    await eventually("a Ready pod after the restart", async () => {
      const list = await pods("after-restart");
      return list.length === 1 && list.every(isReady);
    });
  });
});
