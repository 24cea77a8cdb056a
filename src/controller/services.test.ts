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
    const wanted = findWantedServices(ref, endpoint(["m1", "m2"], { m2: 8500 }));
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

  it("changes nothing when what is owned is what is wanted", () => {
    const wanted = findWantedServices(ref, endpoint(["m1"]));
    expect(findServiceChanges(wanted, wanted)).toEqual({ create: [], delete: [] });
  });
});
