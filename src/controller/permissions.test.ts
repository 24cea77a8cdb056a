import { describe, expect, it } from "vitest";

import { TransientError } from "../kube/errors.ts";
import type { HttpRequest, StreamRequest, Transport } from "../kube/transport.ts";
import {
  checkPermissions,
  describePermission,
  MAX_CHECKED_NAMESPACES,
  requiredPermissions,
  type Permission,
} from "./permissions.ts";

/** Answers SelfSubjectAccessReviews: allowed unless `denied` says otherwise, or fails with `error`. */
class ReviewTransport implements Transport {
  readonly reviews: Record<string, unknown>[] = [];
  readonly denied: (attributes: Record<string, unknown>) => boolean;
  readonly error: Error | undefined;

  constructor(denied: (attributes: Record<string, unknown>) => boolean, error?: Error) {
    this.denied = denied;
    this.error = error;
  }

  request(req: HttpRequest): Promise<unknown> {
    if (this.error !== undefined) return Promise.reject(this.error);
    const attributes = (req.body as { spec: { resourceAttributes: Record<string, unknown> } }).spec
      .resourceAttributes;
    this.reviews.push(attributes);
    return Promise.resolve({ status: { allowed: !this.denied(attributes) } });
  }

  // eslint-disable-next-line require-yield -- never watched here
  async *stream(_req: StreamRequest): AsyncIterable<unknown> {
    await Promise.resolve();
    throw new Error("not used");
  }
}

describe("requiredPermissions", () => {
  it("lists docs/operator.md's grants per watched namespace, and the Lease", () => {
    const needed = requiredPermissions({ namespaces: ["ml"], lease: { namespace: "ops", name: "meo" } });
    expect(needed.map(describePermission)).toEqual([
      "get modelendpoints.serving.modelendpoint.io in namespace ml",
      "list modelendpoints.serving.modelendpoint.io in namespace ml",
      "watch modelendpoints.serving.modelendpoint.io in namespace ml",
      "update modelendpoints/status.serving.modelendpoint.io in namespace ml",
      "get replicasets.apps in namespace ml",
      "list replicasets.apps in namespace ml",
      "watch replicasets.apps in namespace ml",
      "create replicasets.apps in namespace ml",
      "patch replicasets.apps in namespace ml",
      "delete replicasets.apps in namespace ml",
      "list pods in namespace ml",
      "watch pods in namespace ml",
      "patch pods in namespace ml",
      "get services in namespace ml",
      "list services in namespace ml",
      "watch services in namespace ml",
      "create services in namespace ml",
      "delete services in namespace ml",
      "get poddisruptionbudgets.policy in namespace ml",
      "list poddisruptionbudgets.policy in namespace ml",
      "watch poddisruptionbudgets.policy in namespace ml",
      "create poddisruptionbudgets.policy in namespace ml",
      "patch poddisruptionbudgets.policy in namespace ml",
      "delete poddisruptionbudgets.policy in namespace ml",
      "create events.events.k8s.io in namespace ml",
      "patch events.events.k8s.io in namespace ml",
      "list pods.metrics.k8s.io in namespace ml",
      "create leases.coordination.k8s.io in namespace ops",
      "get leases.coordination.k8s.io named meo in namespace ops",
      "update leases.coordination.k8s.io named meo in namespace ops",
    ]);
  });

  it("asks for HTTPRoutes only where the cluster serves Gateway API", () => {
    const without = requiredPermissions({ namespaces: ["ml"] }).map(describePermission);
    const withRoutes = requiredPermissions({ namespaces: ["ml"], gatewayApi: true }).map(describePermission);
    expect(without.filter((p) => p.includes("httproutes") || p.includes("endpointslices"))).toEqual([]);
    expect(withRoutes.filter((p) => p.includes("endpointslices"))).toEqual([
      "list endpointslices.discovery.k8s.io in namespace ml",
      "watch endpointslices.discovery.k8s.io in namespace ml",
    ]);
    expect(withRoutes.filter((p) => p.includes("httproutes"))).toEqual(
      ["get", "list", "watch", "create", "patch", "delete"].map(
        (verb) => `${verb} httproutes.gateway.networking.k8s.io in namespace ml`,
      ),
    );
  });

  it("asks cluster-wide when every namespace is watched, and checks a bounded number of namespaces", () => {
    expect(requiredPermissions({ namespaces: [] }).every((p) => p.namespace === undefined)).toBe(true);
    const many = Array.from({ length: 50 }, (_, i) => `ns-${String(i)}`);
    const namespaces = new Set(requiredPermissions({ namespaces: many }).map((p) => p.namespace));
    expect(namespaces.size).toBe(MAX_CHECKED_NAMESPACES);
  });
});

describe("checkPermissions", () => {
  const needed: Permission[] = requiredPermissions({ namespaces: ["ml"] });

  it("returns what the API server denies", async () => {
    const transport = new ReviewTransport((a) => a["resource"] === "pods" && a["verb"] === "patch");
    const result = await checkPermissions(transport, needed);
    expect(result).toEqual({
      checked: true,
      missing: [{ verb: "patch", group: "", resource: "pods", namespace: "ml" }],
    });
    expect(transport.reviews).toHaveLength(needed.length);
    expect(transport.reviews).toContainEqual({
      verb: "update",
      group: "serving.modelendpoint.io",
      resource: "modelendpoints",
      subresource: "status",
      namespace: "ml",
    });
  });

  it("says so when the reviews themselves fail, without throwing", async () => {
    const result = await checkPermissions(
      new ReviewTransport(() => false, new TransientError("down")),
      needed,
    );
    expect(result).toEqual({ checked: false, error: "down" });
  });
});
