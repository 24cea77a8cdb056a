/**
 * Hostile input: random and malformed ModelEndpoints sent to the real API server while the operator
 * runs. Each input must be refused at admission with a message, or be accepted and reconciled: the
 * operator writes a status for that generation, does not crash, does not loop hot, and leaves the
 * other endpoints alone (a healthy endpoint deployed before keeps its state, ReplicaSet and pods).
 *
 * Classes of input (fast-check, seeded; MEO_FUZZ_SEED repeats a run):
 *
 * | class          | what                                                                              |
 * | -------------- | --------------------------------------------------------------------------------- |
 * | wrong-types    | a field replaced by a value of another type or out of its range                   |
 * | huge-strings   | a string field of 300 B to 1 MB (ASCII, accented, emoji)                          |
 * | cycles         | previousDeployedModel chains that loop (2-4 entries, with or without a root)      |
 * | self-reference | an entry rolling onto itself                                                      |
 * | unicode        | ids, names, models, env names, routes and split keys with non-ASCII text          |
 * | missing-fields | a required field (or the whole spec, or the name) left out                        |
 * | thousands      | thousands of deployed models, split keys, env entries, args, ports or labels      |
 * | valid          | well-formed endpoints of 1-3 models, roots and rolling deployments, 1-2 replicas  |
 * | unrunnable     | accepted by the CRD, refused by Kubernetes as a pod template (requests > limits)  |
 *
 * The suite prints how each class ended: refused (by HTTP code), or accepted and then what the
 * operator made of it (DEPLOYED, FAILED with a reason, InvalidSpec, ...).
 */
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { GROUP, PLURAL, VERSION } from "../../src/api/index.ts";
import { createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SEED = Number(process.env["MEO_FUZZ_SEED"] ?? 20261127);
const HEALTHY = "healthy";

const kc = kubeConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const apps = kc.makeApiClient(AppsV1Api);

let ns = "";
let operator: OperatorProcess;
let endpoints: Endpoints;
let baseline: { status: string; replicaSetUid: string } = { status: "", replicaSetUid: "" };
let counter = 0;
const tally = new Map<string, Map<string, number>>();
const neverReconciled: string[] = [];

function count(cls: string, ending: string): void {
  const endings = tally.get(cls) ?? new Map<string, number>();
  endings.set(ending, (endings.get(ending) ?? 0) + 1);
  tally.set(cls, endings);
}

// ------------------------------------------------------------------------------------------------
// Inputs

const idArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);

/** A well-formed endpoint: 1-3 models, each a root or a rolling deployment onto the one before. */
const validSpec: fc.Arbitrary<JsonObject> = fc
  .record({
    ids: fc.uniqueArray(idArb, { minLength: 1, maxLength: 3 }),
    n: fc.integer({ min: 1, max: 2 }),
    rolls: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    env: fc.array(
      fc.record({
        name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/),
        value: fc.string({ maxLength: 20 }),
      }),
      { maxLength: 3 },
    ),
    split: fc.boolean(),
    displayName: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  })
  .map(({ ids, n, rolls, env, split, displayName }) => {
    const models: JsonObject[] = ids.map((id, i) => {
      const previous = ids[i - 1];
      const rolling = previous !== undefined && rolls[i] === true;
      return {
        id,
        model: `fuzz@${String(i)}`,
        containerSpec: { imageUri: `registry.example/fuzz:${String(i)}`, ...(env.length > 0 ? { env } : {}) },
        ...(rolling
          ? { rolloutOptions: { previousDeployedModel: previous } }
          : {
              dedicatedResources: {
                machineSpec: { machineType: "n1-standard-2" },
                minReplicaCount: n,
                maxReplicaCount: n,
              },
            }),
      };
    });
    const root = models[0]?.["id"] as string;
    return {
      ...(displayName === undefined ? {} : { displayName }),
      trafficSplit: split ? { [root]: 100 } : {},
      deployedModels: models,
    };
  });

function manifest(spec: Json, name = `fz-${String(++counter)}`): JsonObject {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: "ModelEndpoint", metadata: { name }, spec };
}

/** Sets (or with `undefined`, deletes) the value at `path`, creating objects on the way. */
function setPath(obj: JsonObject, path: readonly (string | number)[], value: Json | undefined): JsonObject {
  const copy = structuredClone(obj);
  let at: Json = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof at !== "object" || at === null) return copy;
    const next: Json | undefined = (at as Record<string | number, Json>)[key];
    if (next === undefined || next === null || typeof next !== "object") {
      (at as Record<string | number, Json>)[key] = {};
    }
    at = (at as Record<string | number, Json>)[key] as Json;
  }
  const last = path.at(-1);
  if (last === undefined || typeof at !== "object" || at === null) return copy;
  if (value === undefined) Reflect.deleteProperty(at, last);
  else (at as Record<string | number, Json>)[last] = value;
  return copy;
}

const M0 = ["spec", "deployedModels", 0] as const;
const FIELD_PATHS: readonly (readonly (string | number)[])[] = [
  ["spec"],
  ["spec", "displayName"],
  ["spec", "trafficSplit"],
  ["spec", "deployedModels"],
  [...M0],
  [...M0, "id"],
  [...M0, "model"],
  [...M0, "containerSpec"],
  [...M0, "containerSpec", "imageUri"],
  [...M0, "containerSpec", "args"],
  [...M0, "containerSpec", "env"],
  [...M0, "containerSpec", "ports"],
  [...M0, "containerSpec", "ports", 0, "containerPort"],
  [...M0, "containerSpec", "healthRoute"],
  [...M0, "containerSpec", "resources"],
  [...M0, "dedicatedResources"],
  [...M0, "dedicatedResources", "minReplicaCount"],
  [...M0, "dedicatedResources", "maxReplicaCount"],
  [...M0, "dedicatedResources", "machineSpec"],
  [...M0, "dedicatedResources", "machineSpec", "machineType"],
  [...M0, "serviceAccount"],
  [...M0, "disableContainerLogging"],
  ["spec", "deployedModels", 1, "rolloutOptions"],
  ["spec", "deployedModels", 1, "rolloutOptions", "maxSurgeReplicas"],
  ["spec", "deployedModels", 1, "rolloutOptions", "progressDeadlineSeconds"],
  ["metadata", "labels"],
];

/**
 * Values of another type, or numbers out of range. No valid large integer is ever produced: an
 * accepted minReplicaCount of 10^9 would ask the cluster for that many pods (see docs/security.md).
 */
const wrongValue: fc.Arbitrary<Json> = fc.oneof<fc.Arbitrary<Json>[]>(
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(-1, 0, 1.5, -2147483649, 2147483648, 1e300, -0.0001),
  fc.array(fc.nat(3), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.nat(3), { maxKeys: 2 }),
  fc.constant({}),
  fc.constant([]),
);

const wrongTypes = fc
  .tuple(validSpec, fc.constantFrom(...FIELD_PATHS), wrongValue)
  .map(([spec, path, value]) => setPath(manifest(spec), path, value));

const hugeStrings = fc
  .tuple(
    validSpec,
    fc.constantFrom<readonly (string | number)[]>(
      ["spec", "displayName"],
      [...M0, "model"],
      [...M0, "id"],
      [...M0, "containerSpec", "imageUri"],
      [...M0, "containerSpec", "args"],
      [...M0, "containerSpec", "healthRoute"],
      ["metadata", "annotations", "fuzz"],
      ["metadata", "name"],
    ),
    fc.constantFrom(300, 5_000, 100_000, 1_000_000),
    fc.constantFrom("x", "é", "😀"),
  )
  .map(([spec, path, size, char]) => {
    const text = char.repeat(Math.ceil(size / Buffer.byteLength(char)));
    const value = path.at(-1) === "args" ? [text] : path.at(-1) === "healthRoute" ? `/${text}` : text;
    return setPath(manifest(spec), path, value);
  });

const cycles = fc
  .record({
    length: fc.integer({ min: 2, max: 4 }),
    root: fc.boolean(),
    order: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  })
  .map(({ length, root, order }) => {
    const ids = Array.from({ length }, (_, i) => `c${String(i)}`);
    const looped: JsonObject[] = ids.map((id, i) => ({
      id,
      model: `fuzz@${id}`,
      containerSpec: { imageUri: "registry.example/fuzz:1" },
      rolloutOptions: { previousDeployedModel: ids[(i + 1) % length] ?? "c0" },
    }));
    const sorted = looped
      .map((m, i) => ({ m, k: order[i] ?? 0 }))
      .sort((a, b) => a.k - b.k)
      .map(({ m }) => m);
    const models: JsonObject[] = root
      ? [
          {
            id: "r",
            model: "fuzz@r",
            containerSpec: { imageUri: "registry.example/fuzz:1" },
            dedicatedResources: { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 1 },
          },
          ...sorted,
        ]
      : sorted;
    return manifest({ trafficSplit: {}, deployedModels: models });
  });

const selfReference = fc.tuple(validSpec, fc.boolean()).map(([spec, asRoot]) => {
  const m = manifest(spec);
  const id = ((spec["deployedModels"] as JsonObject[])[0]?.["id"] ?? "x") as string;
  const withSelf = setPath(m, [...M0, "rolloutOptions"], { previousDeployedModel: id });
  return asRoot ? withSelf : setPath(withSelf, [...M0, "dedicatedResources"], undefined);
});

const UNICODE = ["模型", "‮evil", "a\u200bb", "😀", "Ωmega", "m\u0000x", "ﬁ", "e\u0301", "日本-語"];
const unicode = fc
  .tuple(
    validSpec,
    fc.constantFrom<readonly (string | number)[]>(
      [...M0, "id"],
      ["metadata", "name"],
      [...M0, "model"],
      ["spec", "displayName"],
      [...M0, "containerSpec", "imageUri"],
      [...M0, "containerSpec", "env"],
      [...M0, "containerSpec", "predictRoute"],
      ["spec", "trafficSplit"],
      [...M0, "serviceAccount"],
    ),
    fc.oneof(fc.constantFrom(...UNICODE), fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })),
  )
  .map(([spec, path, text]) => {
    const last = path.at(-1);
    const value: Json =
      last === "env"
        ? [{ name: text, value: text }]
        : last === "trafficSplit"
          ? { [text]: 100 }
          : last === "predictRoute"
            ? `/${text}`
            : text;
    return setPath(manifest(spec), path, value);
  });

const missingFields = fc
  .tuple(
    validSpec,
    fc.constantFrom<readonly (string | number)[]>(
      ["spec"],
      ["spec", "deployedModels"],
      ["metadata", "name"],
      [...M0, "id"],
      [...M0, "model"],
      [...M0, "containerSpec"],
      [...M0, "containerSpec", "imageUri"],
      [...M0, "dedicatedResources"],
      [...M0, "dedicatedResources", "minReplicaCount"],
      ["spec", "deployedModels", 1, "rolloutOptions", "previousDeployedModel"],
    ),
  )
  .map(([spec, path]) => setPath(manifest(spec), path, undefined));

const thousands = fc
  .tuple(
    fc.constantFrom("deployedModels", "trafficSplit", "env", "args", "ports", "labels"),
    fc.integer({ min: 1000, max: 5000 }),
  )
  .map(([what, n]) => {
    const root = (id: string): JsonObject => ({
      id,
      model: `fuzz@${id}`,
      containerSpec: { imageUri: "registry.example/fuzz:1" },
      dedicatedResources: { machineSpec: { machineType: "n1-standard-2" }, minReplicaCount: 1 },
    });
    const many = <T extends Json>(f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
    switch (what) {
      case "deployedModels":
        return manifest({ trafficSplit: {}, deployedModels: many((i) => root(`m${String(i)}`)) });
      case "trafficSplit":
        return manifest({
          trafficSplit: Object.fromEntries(
            Array.from({ length: n }, (_, i) => [`m${String(i)}`, i === 0 ? 100 : 0]),
          ),
          deployedModels: [root("m0")],
        });
      case "labels":
        return setPath(
          manifest({ trafficSplit: {}, deployedModels: [root("m0")] }),
          ["metadata", "labels"],
          Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i)}`, "v"])),
        );
      default: {
        const item: (i: number) => Json =
          what === "env"
            ? (i) => ({ name: `E${String(i)}`, value: "v" })
            : what === "ports"
              ? (i) => ({ containerPort: (i % 65535) + 1 })
              : (i) => `--arg${String(i)}`;
        return setPath(
          manifest({ trafficSplit: {}, deployedModels: [root("m0")] }),
          [...M0, "containerSpec", what],
          many(item),
        );
      }
    }
  });

const valid = validSpec.map((spec) => manifest(spec));

/**
 * Accepted by the CRD's rules but refused by Kubernetes once turned into a pod template: requests
 * above limits, a resource name that is neither standard nor domain-qualified, an image reference
 * with surrounding spaces.
 */
const unrunnable = fc
  .tuple(
    validSpec,
    fc.constantFrom<Json>(
      { requests: { cpu: "2" }, limits: { cpu: "1" } },
      { requests: { memory: "2Gi" }, limits: { memory: "1Gi" } },
      { limits: { gpus: "1" } },
    ),
    fc.boolean(),
  )
  .map(([spec, resources, image]) =>
    image
      ? setPath(manifest(spec), [...M0, "containerSpec", "imageUri"], " registry.example/fuzz:1 ")
      : setPath(manifest(spec), [...M0, "containerSpec", "resources"], resources),
  );

// ------------------------------------------------------------------------------------------------
// Sending one input and judging it

interface Stored {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string }[];
    deployedModels?: { id: string; state: string; reason?: string; message?: string }[];
  };
}

function messageOf(err: ApiException<unknown>): string {
  const raw: unknown = err.body;
  try {
    const body = (typeof raw === "string" ? JSON.parse(raw) : raw) as { message?: string };
    return body.message ?? String(raw);
  } catch {
    return String(raw);
  }
}

/** What the operator made of an accepted endpoint, once it wrote a status for its generation. */
async function judge(name: string): Promise<string> {
  const read = async (): Promise<Stored> =>
    (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name,
    })) as Stored;
  let obj: Stored;
  try {
    obj = await eventually(
      `a status for ${name}`,
      async () => {
        const o = await read();
        return o.status?.observedGeneration === o.metadata.generation && o;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch {
    neverReconciled.push(name);
    return "accepted, never reconciled";
  }
  if (obj.status?.conditions?.find((c) => c.type === "Ready")?.reason === "InvalidSpec")
    return "accepted → InvalidSpec";
  // Give deployments a moment to settle (1-2 replicas take about a second).
  for (
    let i = 0;
    i < 40 && (obj.status?.deployedModels ?? []).some((m) => m.state === "BEING_DEPLOYED");
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    obj = await read();
  }
  const states = [
    ...new Set(
      (obj.status?.deployedModels ?? []).map((m) =>
        m.reason !== undefined
          ? `${m.state} ${m.reason}`
          : (m.message ?? "").includes("pods cannot be created")
            ? `${m.state} (pods cannot be created, says its message)`
            : m.state,
      ),
    ),
  ].sort();
  return `accepted → ${states.join(" + ") || "no models"}`;
}

/** Sends one input; returns how it ended (and counts it). */
async function send(cls: string, body: JsonObject): Promise<string> {
  const name = (body["metadata"] as JsonObject | undefined)?.["name"];
  try {
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body,
    });
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const message = messageOf(err);
    expect(message.length, `refusal of ${cls} input without a message`).toBeGreaterThan(0);
    count(cls, `refused (${String(err.code)})`);
    return "refused";
  }
  expect(typeof name).toBe("string");
  const ending = await judge(name as string);
  count(cls, ending);
  await objects.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    name: name as string,
  });
  return ending;
}

/** The operator runs, and the healthy endpoint kept its status, its ReplicaSet and its pods. */
async function expectUnharmed(): Promise<void> {
  expect((await fetch(`${operator.url}/healthz`)).ok).toBe(true);
  const obj = await endpoints.get(HEALTHY);
  expect(JSON.stringify(obj.status)).toBe(baseline.status);
  const rs = await apps.readNamespacedReplicaSet({ namespace: ns, name: `${HEALTHY}-m1` });
  expect(rs.metadata?.uid).toBe(baseline.replicaSetUid);
  expect(rs.status?.readyReplicas).toBe(2);
}

function metricSum(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace("fuzz");
  endpoints = new Endpoints(kc, ns);
  operator = new OperatorProcess({ namespaces: [ns] });
  await operator.start();
  await applyEndpoint(ns, firstDeployment(HEALTHY, "m1", 2));
  await endpoints.waitForCondition(HEALTHY, "Ready", "True");
  const rs = await apps.readNamespacedReplicaSet({ namespace: ns, name: `${HEALTHY}-m1` });
  baseline = {
    status: JSON.stringify((await endpoints.get(HEALTHY)).status),
    replicaSetUid: rs.metadata?.uid ?? "",
  };
});

afterAll(async () => {
  const lines = [...tally].map(
    ([cls, endings]) =>
      `  ${cls.padEnd(15)} ${String([...endings.values()].reduce((a, b) => a + b, 0)).padStart(4)}: ${[
        ...endings,
      ]
        .sort((a, b) => b[1] - a[1])
        .map(([ending, n]) => `${ending} ${String(n)}`)
        .join(", ")}`,
  );
  const total = [...tally.values()].flatMap((e) => [...e.values()]).reduce((a, b) => a + b, 0);
  console.log(`[fuzz] seed ${String(SEED)}: ${String(total)} inputs\n${lines.join("\n")}`);
  await operator.stop();
});

// ------------------------------------------------------------------------------------------------

/** Each class, how many inputs, and what every accepted input of it must end as (when it matters). */
interface InputClass {
  readonly name: string;
  readonly inputs: fc.Arbitrary<JsonObject>;
  readonly runs: number;
  readonly accepted?: RegExp;
}

const CLASSES: readonly InputClass[] = [
  { name: "wrong-types", inputs: wrongTypes, runs: 60 },
  { name: "huge-strings", inputs: hugeStrings, runs: 24 },
  { name: "cycles", inputs: cycles, runs: 20 },
  { name: "self-reference", inputs: selfReference, runs: 15 },
  { name: "unicode", inputs: unicode, runs: 40 },
  { name: "missing-fields", inputs: missingFields, runs: 30 },
  { name: "thousands", inputs: thousands, runs: 8 },
  { name: "valid", inputs: valid, runs: 12 },
  // The status says why at once: the ReplicaSet refused (the rollout fails), or its pods refused
  // (said in the message; the progress deadline then decides, as for a full quota).
  {
    name: "unrunnable",
    inputs: unrunnable,
    runs: 8,
    accepted: /ReplicaSetCreateFailed|pods cannot be created/,
  },
];

describe("hostile input", () => {
  for (const c of CLASSES) {
    it(`${c.name}: refused with a message, or accepted and reconciled`, async () => {
      await fc.assert(
        fc.asyncProperty(c.inputs, async (body) => {
          const result = await send(c.name, body);
          if (c.accepted !== undefined && result.startsWith("accepted")) expect(result).toMatch(c.accepted);
        }),
        { numRuns: c.runs, seed: SEED, endOnFailure: true },
      );
      expect(neverReconciled).toEqual([]);
      await expectUnharmed();
    });
  }

  it("the operator settles: no hot loop, little CPU, no error logs", async () => {
    await eventually("only the healthy endpoint and what it owns left", async () => {
      const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
      const replicaSets = await apps.listNamespacedReplicaSet({ namespace: ns });
      if (pods.items.length !== 2 || replicaSets.items.length !== 1) return false;
      const list = (await objects.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
      })) as {
        items: unknown[];
      };
      return list.items.length === 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const before = await operator.metrics();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = await operator.metrics();
    const reconciles =
      metricSum(after, "modelendpoint_reconcile_duration_seconds_count") -
      metricSum(before, "modelendpoint_reconcile_duration_seconds_count");
    const cpu =
      metricSum(after, "modelendpoint_process_cpu_seconds_total") -
      metricSum(before, "modelendpoint_process_cpu_seconds_total");
    console.log(`[fuzz] in 10 quiet seconds: ${String(reconciles)} reconciles, ${cpu.toFixed(2)} s of CPU`);
    expect(reconciles).toBeLessThanOrEqual(2);
    expect(cpu).toBeLessThan(1);
    await expectUnharmed();
    expect(operator.problems()).toEqual([]);
  });
});
