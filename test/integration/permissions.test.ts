/**
 * The operator with less than the permissions it needs (docs/security.md): run as a user whose Role
 * lacks one grant of docs/operator.md "Permissions", it must neither crash nor loop hot nor stall
 * silently: the endpoint's status (when it may write it), a Warning event (when it may write those)
 * and an error log name the missing permission, and once the permission is granted it carries on.
 * At start-up it asks the API server which of its permissions it lacks (SelfSubjectAccessReview)
 * and logs each one, which is all that tells a missing list, watch or Lease grant apart from a
 * slow cluster.
 */
import { RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import { controlPlaneClient, createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { eventsOn } from "./scenario.ts";

const kc = kubeConfig();
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

/** docs/operator.md "Permissions", as the chart grants them in a watched namespace. */
const FULL: readonly V1PolicyRule[] = [
  { apiGroups: ["serving.modelendpoint.io"], resources: ["modelendpoints"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["serving.modelendpoint.io"], resources: ["modelendpoints/status"], verbs: ["update"] },
  {
    apiGroups: ["apps"],
    resources: ["replicasets"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "patch"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "delete"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  {
    apiGroups: ["policy"],
    resources: ["poddisruptionbudgets"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  {
    apiGroups: ["gateway.networking.k8s.io"],
    resources: ["httproutes"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
];

/** FULL without `verb` on `resource`. */
function without(resource: string, verb: string): V1PolicyRule[] {
  return FULL.flatMap((r) =>
    r.resources?.includes(resource) === true
      ? [
          { apiGroups: r.apiGroups ?? [], resources: r.resources, verbs: r.verbs.filter((v) => v !== verb) },
        ].filter((kept) => kept.verbs.length > 0)
      : [r],
  );
}

let operator: OperatorProcess | undefined;

beforeAll(async () => {
  await installCrd();
});

afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});

/**
 * A namespace, a user bound to a Role with `rules` there, and the operator running as that user.
 * With `ready: false` the operator is not expected to become ready (a cache cannot fill).
 */
async function restricted(
  prefix: string,
  rules: readonly V1PolicyRule[],
  options: { ready?: boolean; leaderElection?: boolean } = {},
): Promise<{ ns: string; grant: (extra?: readonly V1PolicyRule[]) => Promise<void> }> {
  const ns = await createNamespace(prefix);
  const user = `meo-${ns}`;
  await rbac.createNamespacedRole({
    namespace: ns,
    body: { metadata: { name: "operator" }, rules: [...rules] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: "operator" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "operator" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  });
  const kubeconfig = await controlPlaneClient().kubeconfigFor({ user });
  operator = new OperatorProcess({
    namespaces: [ns],
    kubeconfig,
    leaderElection: options.leaderElection ?? false,
  });
  try {
    await operator.start();
  } catch (err) {
    // start() waits for /readyz; a process that runs but is not ready is what this case expects.
    if (options.ready !== false || !String(err).includes("/readyz")) throw err;
  }
  return {
    ns,
    grant: async (extra = []) => {
      await rbac.replaceNamespacedRole({
        namespace: ns,
        name: "operator",
        body: { metadata: { name: "operator" }, rules: [...FULL, ...extra] },
      });
    },
  };
}

/** The reasons and notes of the Warning events on the endpoint. */
async function warnings(ns: string, name: string): Promise<string[]> {
  return (await eventsOn(ns, name)).filter((e) => e.type === "Warning").map((e) => `${e.reason}: ${e.note}`);
}

function metricSum(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

/** Reconciles over `ms` of waiting: a hot loop shows as hundreds. */
async function reconcilesOver(op: OperatorProcess, ms: number): Promise<number> {
  const before = metricSum(await op.metrics(), "modelendpoint_reconcile_duration_seconds_count");
  await new Promise((resolve) => setTimeout(resolve, ms));
  return metricSum(await op.metrics(), "modelendpoint_reconcile_duration_seconds_count") - before;
}

/** Models m1 and m2 of 2 replicas each, 50/50. */
function twoModels(name: string): object {
  const one = (id: string) =>
    (firstDeployment(name, id, 2) as { spec: { deployedModels: object[] } }).spec.deployedModels[0];
  return {
    metadata: { name },
    spec: { trafficSplit: { m1: 50, m2: 50 }, deployedModels: [one("m1"), one("m2")] },
  };
}

describe("the operator without a permission it needs", () => {
  it("pods/patch: says so in status, an event and the log, looks again calmly, and serves once granted", async () => {
    const { ns, grant } = await restricted("noperm-pods", without("pods", "patch"));
    const op = operator as OperatorProcess;
    const endpoints = new Endpoints(kc, ns);
    // Two models sharing traffic: the operator labels the pods it picks to serve (one model alone
    // would not need a label write, its pods carry the label from their template).
    await applyEndpoint(ns, twoModels("fraud"));
    const ready = await eventually("Ready=False naming the permission", async () => {
      const c = (await endpoints.get("fraud")).status?.conditions?.find((x) => x.type === "Ready");
      return c?.status === "False" && c.reason === "PermissionDenied" && c;
    });
    expect(ready.message).toContain("patch");
    expect(ready.message).toContain("pods");
    await eventually("a Warning event naming the permission", async () =>
      (await warnings(ns, "fraud")).some((w) => w.startsWith("PermissionDenied:") && w.includes("pods")),
    );
    expect(op.problems().some((l) => l.includes("PermissionDenied") || l.includes("not allowed"))).toBe(true);
    expect(await reconcilesOver(op, 5000)).toBeLessThan(30);
    expect((await fetch(`${op.url}/healthz`)).ok).toBe(true);

    await grant();
    await endpoints.waitForCondition("fraud", "Ready", "True", 120_000);
    expect((await endpoints.get("fraud")).status?.trafficSplit).toEqual({ m1: 50, m2: 50 });
  });

  it("modelendpoints/status update: a Warning event and the log say so; nothing crashes", async () => {
    const { ns, grant } = await restricted("noperm-status", without("modelendpoints/status", "update"));
    const op = operator as OperatorProcess;
    const endpoints = new Endpoints(kc, ns);
    await applyEndpoint(ns, firstDeployment("fraud", "m1", 2));
    await eventually("a Warning event naming the status", async () =>
      (await warnings(ns, "fraud")).some(
        (w) => w.startsWith("PermissionDenied:") && w.includes("modelendpoints/status"),
      ),
    );
    expect((await endpoints.get("fraud")).status).toBeUndefined();
    expect(await reconcilesOver(op, 5000)).toBeLessThan(30);
    await grant();
    await endpoints.waitForCondition("fraud", "Ready", "True", 120_000);
  });

  it("pods list: not ready (the reason on /readyz), alive, no reconcile until granted", async () => {
    const { ns, grant } = await restricted("noperm-list", without("pods", "list"), { ready: false });
    const op = operator as OperatorProcess;
    await eventually("the start-up check names the permission", () =>
      Promise.resolve(
        op.problems().some((l) => l.includes(`missing permission: list pods in namespace ${ns}`)),
      ),
    );
    const readyz = await fetch(`${op.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toContain("pods");
    expect((await fetch(`${op.url}/healthz`)).ok).toBe(true);
    await grant();
    await eventually("ready once granted", async () => (await fetch(`${op.url}/readyz`)).ok, {
      timeoutMs: 90_000,
    });
  });

  it("leases: stands by, ready but never leading, and the start-up check names the permission", async () => {
    const { ns, grant } = await restricted("noperm-lease", FULL, { leaderElection: true });
    const op = operator as OperatorProcess;
    await eventually("the start-up check names the permission", () =>
      Promise.resolve(
        op
          .problems()
          .some((l) =>
            l.includes(`missing permission: create leases.coordination.k8s.io in namespace ${ns}`),
          ),
      ),
    );
    expect(await op.metric("modelendpoint_leader")).toBe(0);
    await grant([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    ]);
    await eventually("leading once granted", async () => (await op.metric("modelendpoint_leader")) === 1, {
      timeoutMs: 60_000,
    });
  });
});
