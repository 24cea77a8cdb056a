import { describe, expect, it } from "vitest";

import { NotFoundError, TransientError, ignoreNotFound } from "./errors.ts";
import { controllerKey, deepFreeze, microTime, objectKey, splitKey, type Pod } from "./objects.ts";

const owned: Pod = {
  metadata: {
    name: "fraud-m1-abcde",
    namespace: "ml",
    ownerReferences: [
      { apiVersion: "v1", kind: "ConfigMap", name: "other", uid: "u0" },
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "fraud-m1", uid: "u1", controller: true },
    ],
  },
};

describe("object keys", () => {
  it("files namespaced objects as namespace/name and cluster-scoped ones as name", () => {
    expect(objectKey(owned)).toBe("ml/fraud-m1-abcde");
    expect(objectKey({ metadata: { name: "node-1" } })).toBe("node-1");
    expect(splitKey("ml/fraud")).toEqual({ namespace: "ml", name: "fraud" });
    expect(splitKey("node-1")).toEqual({ namespace: "", name: "node-1" });
  });

  it("maps a child to its controlling owner's key, only for the owner kind asked", () => {
    expect(controllerKey(owned, "ReplicaSet")).toBe("ml/fraud-m1");
    expect(controllerKey(owned, "ModelEndpoint")).toBeUndefined();
    expect(controllerKey({ metadata: { name: "x" } }, "ReplicaSet")).toBeUndefined();
  });
});

describe("deepFreeze", () => {
  it("freezes nested objects and arrays", () => {
    const frozen = deepFreeze(structuredClone(owned));
    expect(Object.isFrozen(frozen.metadata?.ownerReferences)).toBe(true);
    expect(Object.isFrozen(frozen.metadata?.ownerReferences?.[0])).toBe(true);
  });
});

describe("microTime", () => {
  it("writes RFC 3339 with microseconds", () => {
    expect(microTime(Date.UTC(2026, 10, 27, 10, 0, 0, 123))).toBe("2026-11-27T10:00:00.123000Z");
  });
});

describe("ignoreNotFound", () => {
  it("turns NotFound into undefined and rethrows anything else, classified", async () => {
    expect(await ignoreNotFound(Promise.reject<string>(new NotFoundError("404")))).toBeUndefined();
    expect(await ignoreNotFound(Promise.resolve(1))).toBe(1);
    await expect(
      ignoreNotFound(Promise.reject(Object.assign(new Error("reset"), { code: "ECONNRESET" }))),
    ).rejects.toBeInstanceOf(TransientError);
  });
});
