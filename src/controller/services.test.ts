import { describe, expect, it } from "vitest";

import { parseModelEndpoint } from "../api/parse.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import { findServiceChanges, findWantedServices } from "./services.ts";

const ref = { namespace: "ml", name: "ep", uid: "u1" };

function endpoint(ids: readonly string[], grpc: Readonly<Record<string, number>> = {}): ModelEndpoint {
  const parsed = parseModelEndpoint({
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    metadata: { name: "ep", namespace: "ml", uid: "u1" },
    spec: {
      trafficSplit: {},
      deployedModels: ids.map((id) => ({
        id,
        model: `fraud@${id}`,
        containerSpec: {
          imageUri: "registry.example/fraud:1",
          ...(grpc[id] === undefined ? {} : { grpcPorts: [{ containerPort: grpc[id] }] }),
        },
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2" },
          minReplicaCount: 1,
          maxReplicaCount: 1,
        },
      })),
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
}

const names = (list: readonly { metadata?: { name?: string } }[]) => list.map((s) => s.metadata?.name).sort();

describe("the Services of an endpoint", () => {
  it("wants the endpoint's Service and one per deployed model in spec", () => {
    expect(names(findWantedServices(ref, endpoint(["m1", "m2"])))).toEqual(["ep", "ep-m1", "ep-m2"]);
  });

  it("gives a model's Service a grpc port when its container has one", () => {
    const wanted = findWantedServices(ref, endpoint(["m1", "m2"], { m2: 8500 }), [], true);
    const ports = (name: string) =>
      wanted
        .find((s) => s.metadata?.name === name)
        ?.spec?.ports?.map((p) => `${p.name ?? ""}:${String(p.port)}`);
    expect(ports("ep-m1")).toEqual(["http:80"]);
    expect(ports("ep-m2")).toEqual(["http:80", "grpc:8500"]);
    expect(ports("ep")).toEqual(["http:80"]);
  });

  it("creates what is missing and deletes a removed model's Service", () => {
    const owned = findWantedServices(ref, endpoint(["m1", "m2"]));
    const changes = findServiceChanges(owned, findWantedServices(ref, endpoint(["m1", "m3"])));
    expect(names(changes.create)).toEqual(["ep-m3"]);
    expect(names(changes.delete)).toEqual(["ep-m2"]);
  });

  it("keeps the Service of a model that left spec while it has a ReplicaSet", () => {
    expect(names(findWantedServices(ref, endpoint(["m1"]), ["m1", "m2"]))).toEqual(["ep", "ep-m1", "ep-m2"]);
    expect(names(findWantedServices(ref, endpoint(["m1"]), ["m1"]))).toEqual(["ep", "ep-m1"]);
  });

  it("makes a model's Service headless unless a Gateway routes to the endpoint", () => {
    const clusterIps = (
      wanted: readonly { metadata?: { name?: string }; spec?: { clusterIP?: string } }[],
    ): Record<string, string> =>
      Object.fromEntries(wanted.map((s) => [s.metadata?.name ?? "", s.spec?.clusterIP ?? "allocated"]));
    expect(clusterIps(findWantedServices(ref, endpoint(["m1"]), ["m1", "m0"]))).toEqual({
      ep: "allocated",
      "ep-m1": "None",
      "ep-m0": "None",
    });
    expect(clusterIps(findWantedServices(ref, endpoint(["m1"]), ["m1", "m0"], true))).toEqual({
      ep: "allocated",
      "ep-m1": "allocated",
      "ep-m0": "allocated",
    });
  });

  it("gives a headless model Service the port its pods listen on, and a routed one port 80", () => {
    const http = (
      wanted: readonly {
        metadata?: { name?: string };
        spec?: { ports?: { name?: string; port: number }[] };
      }[],
    ) => wanted.find((s) => s.metadata?.name === "ep-m2")?.spec?.ports?.find((p) => p.name === "http")?.port;
    expect(http(findWantedServices(ref, endpoint(["m1", "m2"], { m2: 8500 })))).toBe(8080);
    expect(http(findWantedServices(ref, endpoint(["m1", "m2"], { m2: 8500 }), [], true))).toBe(80);
    const grpc = findWantedServices(ref, endpoint(["m1", "m2"], { m2: 8500 }))
      .find((s) => s.metadata?.name === "ep-m2")
      ?.spec?.ports?.find((p) => p.name === "grpc");
    expect(grpc?.port).toBe(8500);
  });

  it("replaces a headless model Service once the endpoint is routed, and keeps a ClusterIP one when not", () => {
    const headless = findWantedServices(ref, endpoint(["m1"]));
    const routed = findWantedServices(ref, endpoint(["m1"]), [], true);
    // Routed now: the headless one goes first; the next pass, which sees it gone, creates it again.
    const first = findServiceChanges(headless, routed);
    expect(names(first.delete)).toEqual(["ep-m1"]);
    expect(first.create).toEqual([]);
    const second = findServiceChanges(
      headless.filter((s) => s.metadata?.name === "ep"),
      routed,
    );
    expect(names(second.create)).toEqual(["ep-m1"]);
    expect(second.delete).toEqual([]);
    // Unrouted again: a Service with an address is left as it is.
    const allocated = routed.map((s) => ({ ...s, spec: { ...s.spec, clusterIP: "10.96.0.17" } }));
    expect(findServiceChanges(allocated, headless)).toEqual({ create: [], delete: [] });
  });

  it("changes nothing when what is owned is what is wanted", () => {
    const wanted = findWantedServices(ref, endpoint(["m1"]));
    expect(findServiceChanges(wanted, wanted)).toEqual({ create: [], delete: [] });
  });
});
