import { describe, expect, it } from "vitest";

import type { Pod, ReplicaSet } from "../kube/objects.ts";
import { podSnapshot, replicaSetSnapshot, unreadyReason } from "./snapshot.ts";

const labels = { "serving.modelendpoint.io/deployed-model": "m2", "serving.modelendpoint.io/revision": "2" };

describe("snapshot mapping", () => {
  it("reads the engine's memory back from a ReplicaSet and ignores what it cannot trust", () => {
    const rs: ReplicaSet = {
      metadata: {
        name: "fraud-m2",
        labels,
        generation: 3,
        annotations: {
          "serving.modelendpoint.io/pool-size": "5",
          "serving.modelendpoint.io/lineage": "m1,m0",
        },
      },
      spec: { replicas: 4, selector: {} },
      status: { replicas: 4, readyReplicas: 3, availableReplicas: 3, observedGeneration: 3 },
    };
    expect(replicaSetSnapshot(rs)).toMatchObject({
      deployedModelId: "m2",
      revision: 2,
      poolSize: 5,
      lineage: ["m1", "m0"],
      specReplicas: 4,
      readyReplicas: 3,
      deleting: false,
    });
    const tampered: ReplicaSet = {
      ...rs,
      metadata: {
        ...rs.metadata,
        labels: { ...labels, "serving.modelendpoint.io/revision": "two" },
        annotations: {
          "serving.modelendpoint.io/pool-size": "-1",
          "serving.modelendpoint.io/lineage": "M1;rm",
        },
      },
    };
    expect(replicaSetSnapshot(tampered)).toMatchObject({
      revision: undefined,
      poolSize: undefined,
      lineage: undefined,
    });
    expect(replicaSetSnapshot({ metadata: { name: "x" } })).toBeUndefined();
  });

  it("says why a pod is not Ready in words a user can act on", () => {
    const running: Pod = {
      metadata: { name: "p", labels },
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [
          {
            name: "model-server",
            ready: false,
            restartCount: 0,
            image: "x",
            imageID: "",
            state: { running: {} },
          },
        ],
      },
    };
    expect(unreadyReason(running, "/health")).toBe("readiness probe failed on /health");
    const pulling: Pod = {
      ...running,
      status: {
        ...running.status,
        containerStatuses: [
          {
            name: "model-server",
            ready: false,
            restartCount: 0,
            image: "x",
            imageID: "",
            state: { waiting: { reason: "ImagePullBackOff", message: "pull access denied" } },
          },
        ],
      },
    };
    expect(unreadyReason(pulling)).toBe("ImagePullBackOff: pull access denied");
    const unschedulable = (message?: string): Pod => ({
      ...running,
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            ...(message === undefined ? {} : { message }),
          },
        ],
      },
    });
    expect(
      unreadyReason(
        unschedulable(
          "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        ),
      ),
    ).toBe("unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
    expect(unreadyReason(unschedulable())).toBe("unschedulable: no node can take the pod");
    // Not yet judged by the scheduler: no condition, or one that is not Unschedulable.
    expect(unreadyReason({ ...running, status: { phase: "Pending" } })).toBe(
      "not scheduled or not started yet",
    );
    expect(
      unreadyReason({
        ...running,
        status: {
          phase: "Pending",
          conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }],
        },
      }),
    ).toBe("not scheduled or not started yet");
    expect(podSnapshot(running, () => "/h")).toMatchObject({
      ready: false,
      serving: false,
      unreadyReason: "readiness probe failed on /h",
    });
  });
});
