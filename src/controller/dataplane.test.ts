import { describe, expect, it } from "vitest";

import { parseModelEndpoint } from "../api/parse.ts";
import type { ModelEndpoint } from "../api/resource.ts";
import { TerminalError } from "../kube/errors.ts";
import type { KubeObject } from "../kube/objects.ts";
import {
  buildDisruptionBudgets,
  buildHttpRoute,
  decideRoute,
  findObjectChanges,
  predictPaths,
  syncDataPlane,
  type DataPlaneSettings,
  type RouteInputs,
} from "./dataplane.ts";
import { findWantedServices } from "./services.ts";
import type { OwnedType, Writer } from "./writer.ts";

const ref = { namespace: "ml", name: "ep", uid: "u1" };
const settings: DataPlaneSettings = { location: "us-central1" };
const withDefault: DataPlaneSettings = {
  location: "europe-west4",
  defaultGateway: { namespace: "gateway-system", name: "shared" },
};

interface Entry {
  readonly id: string;
  readonly previous?: string;
  readonly replicas?: number;
  readonly rollout?: Record<string, unknown>;
}

function endpoint(entries: readonly Entry[], gateway?: unknown): ModelEndpoint {
  const parsed = parseModelEndpoint({
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    metadata: { name: "ep", namespace: "ml", uid: "u1" },
    spec: {
      trafficSplit: {},
      ...(gateway === undefined ? {} : { gateway }),
      deployedModels: entries.map((e) => ({
        id: e.id,
        model: `fraud@${e.id}`,
        containerSpec: { imageUri: "registry.example/fraud:1" },
        ...(e.previous === undefined
          ? { dedicatedResources: { minReplicaCount: e.replicas ?? 1, maxReplicaCount: e.replicas ?? 1 } }
          : { rolloutOptions: { previousDeployedModel: e.previous, ...e.rollout } }),
      })),
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
}

function status(entries: readonly Entry[]) {
  return {
    deployedModels: entries.map((e) => ({
      id: e.id,
      ...(e.previous === undefined ? {} : { previousDeployedModel: e.previous }),
      dedicatedResources: { minReplicaCount: e.replicas ?? 1, maxReplicaCount: e.replicas ?? 1 },
    })),
  } as never;
}

const gateway = { parentRefs: [{ name: "public", namespace: "gateway-system", sectionName: "http" }] };

describe("the endpoint's HTTPRoute", () => {
  it("is not wanted without spec.gateway or a default Gateway", () => {
    const ep = endpoint([{ id: "m1" }]);
    expect(buildHttpRoute(ref, ep, settings, { m1: 100 }, "/p1", new Set(["m1"]))).toBeUndefined();
  });

  it("matches the endpoint's two predict paths, rewrites to the models' route, weights = the effective split", () => {
    const ep = endpoint([{ id: "m1" }, { id: "m2", previous: "m1" }], gateway);
    const route = buildHttpRoute(ref, ep, settings, { m2: 30, m1: 70 }, "/v1/predict", new Set(["m1", "m2"]));
    expect(route?.metadata?.ownerReferences?.[0]?.uid).toBe("u1");
    expect(route?.spec).toEqual({
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "public",
          namespace: "gateway-system",
          sectionName: "http",
        },
      ],
      rules: [
        {
          matches: [
            { path: { type: "Exact", value: "/v1/endpoints/ep:predict" } },
            {
              path: { type: "Exact", value: "/v1/projects/ml/locations/us-central1/endpoints/ep:predict" },
            },
          ],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: "/v1/predict" } },
            },
          ],
          backendRefs: [
            { kind: "Service", name: "ep-m1", port: 80, weight: 70 },
            { kind: "Service", name: "ep-m2", port: 80, weight: 30 },
          ],
        },
      ],
    });
  });

  it("leaves out models without traffic or not served, and has no backend without a route to rewrite to", () => {
    const ep = endpoint([{ id: "m1" }, { id: "m2" }], gateway);
    const some = buildHttpRoute(ref, ep, settings, { m1: 100, m2: 0 }, "/a", new Set(["m1", "m2"]));
    expect(some?.spec?.rules[0]?.backendRefs?.map((b) => b.name)).toEqual(["ep-m1"]);
    expect(some?.spec?.rules[0]?.filters?.[0]?.urlRewrite.path.replaceFullPath).toBe("/a");
    const none = buildHttpRoute(ref, ep, settings, {}, undefined, new Set(["m1", "m2"]));
    expect(none?.spec?.rules[0]?.backendRefs).toEqual([]);
    expect(none?.spec?.rules[0]?.filters).toBeUndefined();
    // A model reached without the rewrite would answer the public path with 404: never sent to.
    const noRewrite = buildHttpRoute(ref, ep, settings, { m1: 100 }, undefined, new Set(["m1"]));
    expect(noRewrite?.spec?.rules[0]?.backendRefs).toEqual([]);
    const unserved = buildHttpRoute(ref, ep, settings, { m1: 100 }, "/a", new Set(["m2"]));
    expect(unserved?.spec?.rules[0]?.backendRefs).toEqual([]);
  });

  it("uses the operator's default Gateway and location, and the endpoint's host names", () => {
    const own = endpoint([{ id: "m1" }], { parentRefs: [{ name: "local" }], hostnames: ["ml.example.com"] });
    const route = buildHttpRoute(ref, own, withDefault, { m1: 100 }, "/p", new Set(["m1"]));
    expect(route?.spec?.parentRefs.map((p) => `${p.namespace ?? ""}/${p.name}`)).toEqual(["ml/local"]);
    expect(route?.spec?.hostnames).toEqual(["ml.example.com"]);
    const defaulted = buildHttpRoute(
      ref,
      endpoint([{ id: "m1" }]),
      withDefault,
      { m1: 100 },
      undefined,
      new Set(),
    );
    expect(defaulted?.spec?.parentRefs.map((p) => `${p.namespace ?? ""}/${p.name}`)).toEqual([
      "gateway-system/shared",
    ]);
    expect(predictPaths("ml", "ep", "europe-west4")[1]).toBe(
      "/v1/projects/ml/locations/europe-west4/endpoints/ep:predict",
    );
  });
});

describe("the PodDisruptionBudgets of an endpoint", () => {
  it("makes one per chain over every member, with the chain's unavailability budget", () => {
    const entries: Entry[] = [
      { id: "m1", replicas: 8 },
      { id: "m2", previous: "m1", rollout: { maxUnavailableReplicas: 3, maxSurgeReplicas: 1 } },
      { id: "x1", replicas: 4 },
    ];
    const budgets = buildDisruptionBudgets(
      ref,
      endpoint(entries),
      status(entries.map((e) => ({ ...e, replicas: e.replicas ?? 8 }))),
    );
    expect(
      budgets.map((b) => [
        b.metadata?.name,
        b.spec?.maxUnavailable,
        b.spec?.selector.matchExpressions?.[0]?.values,
      ]),
    ).toEqual([
      ["ep-m1", 3, ["m1", "m2"]],
      // A chain of one model: the default 25% of 4.
      ["ep-x1", 1, ["x1"]],
    ]);
    expect(budgets[0]?.spec?.selector.matchLabels).toEqual({ "serving.modelendpoint.io/endpoint": "ep" });
    expect(budgets[0]?.spec?.unhealthyPodEvictionPolicy).toBe("AlwaysAllow");
  });

  it("never says 0: a surge-only chain gives up one pod at a time", () => {
    const entries: Entry[] = [
      { id: "m1", replicas: 3 },
      { id: "m2", previous: "m1", rollout: { maxUnavailableReplicas: 0, maxSurgeReplicas: 1 } },
    ];
    const [budget] = buildDisruptionBudgets(ref, endpoint(entries), status(entries));
    expect(budget?.spec?.maxUnavailable).toBe(1);
  });

  it("selects an endpoint's only chain, removed members included, by the endpoint's label alone", () => {
    const inSpec: Entry[] = [{ id: "m1", replicas: 4 }];
    const inStatus: Entry[] = [...inSpec, { id: "m2", previous: "m1", replicas: 4 }];
    const budgets = buildDisruptionBudgets(ref, endpoint(inSpec), status(inStatus));
    expect(budgets).toHaveLength(1);
    expect(budgets[0]?.spec?.selector).toEqual({
      matchLabels: { "serving.modelendpoint.io/endpoint": "ep" },
    });
    expect(budgets[0]?.spec?.maxUnavailable).toBe(1);
  });

  it("keeps a removed model draining in a chain of its own, and then names each chain's members", () => {
    const inSpec: Entry[] = [{ id: "m1", replicas: 4 }];
    const inStatus: Entry[] = [...inSpec, { id: "x1", replicas: 2 }];
    const budgets = buildDisruptionBudgets(ref, endpoint(inSpec), status(inStatus));
    expect(budgets.map((b) => [b.metadata?.name, b.spec?.selector.matchExpressions?.[0]?.values])).toEqual([
      ["ep-m1", ["m1"]],
      ["ep-x1", ["x1"]],
    ]);
  });
});

describe("syncing data-plane objects", () => {
  const obj = (
    name: string,
    spec: unknown,
    labels: Record<string, string> = {},
  ): KubeObject & { spec?: unknown } => ({
    metadata: { name, uid: `uid-${name}`, labels },
    spec,
  });

  it("applies what is missing or different, deletes what is not wanted, leaves the same alone", () => {
    const owned = [
      obj("same", { a: 1 }),
      obj("changed", { a: 1 }),
      obj("gone", {}),
      obj("relabel", {}, { x: "1" }),
    ];
    const wanted = [
      obj("same", { a: 1 }),
      obj("changed", { a: 2 }),
      obj("new", {}),
      obj("relabel", {}, { x: "2" }),
    ];
    const changes = findObjectChanges(owned, wanted);
    expect(changes.apply.map((o) => o.metadata?.name)).toEqual(["changed", "new", "relabel"]);
    expect(changes.delete.map((o) => o.metadata?.name)).toEqual(["gone"]);
  });

  it("creates a missing object, applies an existing one, and reports a name held by someone else", async () => {
    const calls: string[] = [];
    const writer = {
      putOwned: (type: OwnedType, o: KubeObject, _uid: string, exists: boolean) => {
        calls.push(`${exists ? "apply" : "create"} ${type} ${o.metadata?.name ?? ""}`);
        return o.metadata?.name === "taken"
          ? Promise.reject(
              new TerminalError("HTTPRoute ml/taken already exists and is not owned by this ModelEndpoint"),
            )
          : Promise.resolve();
      },
      deleteOwned: (type: OwnedType, _ns: string, name: string) => {
        calls.push(`delete ${type} ${name}`);
        return Promise.resolve();
      },
    } as unknown as Writer;
    const result = await syncDataPlane(writer, ref, [
      { type: "httproutes", owned: [obj("ep", { a: 1 })], wanted: [obj("ep", { a: 2 })] },
      { type: "poddisruptionbudgets", owned: [obj("old", {})], wanted: [obj("taken", {})] },
    ]);
    expect(calls.sort()).toEqual([
      "apply httproutes ep",
      "create poddisruptionbudgets taken",
      "delete poddisruptionbudgets old",
    ]);
    expect(result.problems.map((p) => p.name)).toEqual(["taken"]);
    expect(result.failure).toBeUndefined();
  });
});

describe("what the route waits for", () => {
  const ep = endpoint([{ id: "m1" }, { id: "m2", previous: "m1" }], gateway);
  const services = findWantedServices(ref, ep).map((svc) => ({
    ...svc,
    metadata: { ...svc.metadata, uid: `uid-${svc.metadata?.name ?? ""}` },
  }));
  const slice = (service: string, ready: (boolean | undefined)[], id?: string): KubeObject =>
    ({
      metadata: {
        name: `${service}-abc`,
        labels: id === undefined ? {} : { "serving.modelendpoint.io/deployed-model": id },
        ownerReferences: [{ apiVersion: "v1", kind: "Service", name: service, uid: `uid-${service}` }],
      },
      endpoints: ready.map((r) => ({ conditions: r === undefined ? {} : { ready: r } })),
    }) as KubeObject;
  const decide = (
    slices: readonly KubeObject[],
    actions: RouteInputs["plan"]["actions"] = [],
    current?: KubeObject,
    trafficSplit: Record<string, number> = { m1: 60, m2: 40 },
  ) =>
    decideRoute({
      ref,
      endpoint: ep,
      settings,
      plan: { actions, predictRoute: "/p", status: { trafficSplit } },
      wantedServices: services,
      ownedServices: services,
      slices,
      current,
    });
  const backends = (d: ReturnType<typeof decide>) =>
    d.route?.spec?.rules[0]?.backendRefs?.map((b) => `${b.name}=${b.weight}`);

  it("weights a model only once its own Service has a ready endpoint", () => {
    expect(
      backends(decide([slice("ep-m1", [false, true], "m1"), slice("ep-m2", [false, undefined], "m2")])),
    ).toEqual(["ep-m1=60"]);
    // A slice of someone else's Service with the label does not count.
    expect(backends(decide([slice("other", [true], "m2"), slice("ep-m1", [true], "m1")]))).toEqual([
      "ep-m1=60",
    ]);
    expect(backends(decide([slice("ep-m1", [true], "m1"), slice("ep-m2", [true], "m2")]))).toEqual([
      "ep-m1=60",
      "ep-m2=40",
    ]);
  });

  it("says when the current route still weights a model the plan scales to 0 or deletes", () => {
    const ready = [slice("ep-m1", [true], "m1"), slice("ep-m2", [true], "m2")];
    const toZero = [
      { kind: "scaleReplicaSet", deployedModelId: "m1", replicaSetName: "ep-m1", from: 1, to: 0 },
    ] as const;
    const before = decide(ready).route;
    // The engine's split already gives m1 nothing (Traffic rule 6): the route follows it.
    const first = decide(ready, toZero, before, { m2: 100 });
    expect(backends(first)).toEqual(["ep-m2=100"]);
    expect(first.drained).toBe(true);
    // Once the route without it is in the cache, the step goes on.
    expect(decide(ready, toZero, first.route, { m2: 100 }).drained).toBe(false);
    // Scaling down (not to 0) keeps the weight: other pods of the model still answer.
    const down = [
      { kind: "scaleReplicaSet", deployedModelId: "m1", replicaSetName: "ep-m1", from: 3, to: 2 },
    ] as const;
    expect(decide(ready, down, before).drained).toBe(false);
    const deleted = [{ kind: "deleteReplicaSet", deployedModelId: "m2", replicaSetName: "ep-m2" }] as const;
    expect(decide(ready, deleted, before).drained).toBe(true);
  });
});
