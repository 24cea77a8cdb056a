/**
 * kubectl-modelendpoint against a live endpoint: the plugin as users run it (a separate process,
 * `node src/cli/main.ts`), the operator running, one real control plane. Exit codes are part of
 * the contract: 0 done, 1 rollout failed or replaced, 2 usage, 3 timeout, 4 refused or error.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { controlPlane, createNamespace, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const PLUGIN = join(ROOT, "src", "cli", "main.ts");

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let ns = "";
let endpoints: Endpoints;
let operator: OperatorProcess;

/** Runs `kubectl modelendpoint <args>` in the test namespace. */
function plugin(...args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(
      NODE,
      [PLUGIN, ...args, `--kubeconfig=${controlPlane().kubeconfig}`, "-n", ns],
      { cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A first deployment of m1 (3 replicas) that is DEPLOYED. */
async function deployed(name: string): Promise<void> {
  await applyEndpoint(ns, firstDeployment(name, "m1", 3));
  await endpoints.waitForState(name, "m1", "DEPLOYED");
}

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace("plugin");
  endpoints = new Endpoints(kubeConfig(), ns);
  operator = new OperatorProcess({ namespaces: [ns] });
  await operator.start();
});

afterAll(async () => {
  await operator.stop();
  expect(operator.problems()).toEqual([]);
});

describe("kubectl modelendpoint", () => {
  it("get shows revisions, states, replicas and traffic; -o json is the object", async () => {
    await deployed("fraud");
    const table = await plugin("get");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^fraud: Ready=True \(AllReplicasAvailable\)/m);
    expect(table.stdout).toMatch(
      /m1\s+1\s+fraud-detector@m1\s+DEPLOYED\s+3\/3\s+3\s+100%\s+100%\s+registry\.example\/fraud:1\.0/,
    );
    const json = await plugin("get", "fraud", "-o", "json");
    expect((JSON.parse(json.stdout) as { metadata: { name: string } }).metadata.name).toBe("fraud");
    expect((await plugin("get", "nope")).code).toBe(4);
  });

  it("deploy adds a rolling deployment and rollout status follows it to completion (exit 0)", async () => {
    const dry = await plugin(
      "deploy",
      "fraud",
      "m2",
      "--image",
      "registry.example/fraud:2.0",
      "--model",
      "fraud-detector@2",
      "--dry-run",
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("previousDeployedModel: m1");
    expect((await endpoints.get("fraud")).spec.deployedModels).toHaveLength(1);

    const deploy = await plugin(
      "deploy",
      "fraud",
      "m2",
      "--image",
      "registry.example/fraud:2.0",
      "--model",
      "fraud-detector@2",
      "--previous",
      "m1",
      "--max-surge",
      "1",
      "--max-unavailable",
      "0",
    );
    expect(deploy.stderr).toBe("");
    expect(deploy.stdout).toContain("m2 (fraud-detector@2, registry.example/fraud:2.0) rolls onto m1");
    const status = await plugin("rollout", "status", "fraud", "--timeout", "90s");
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toMatch(
      /m2 \(revision 2\) rolled out: DEPLOYED, 3\/3 replicas available; traffic m2=100/,
    );
    const models = (await endpoints.get("fraud")).spec.deployedModels as readonly {
      id: string;
      containerSpec: { healthRoute?: string };
      rolloutOptions?: object;
    }[];
    const m2 = models.find((m) => m.id === "m2");
    if (m2 === undefined) throw new Error("m2 is not in spec");
    expect(m2.containerSpec.healthRoute).toBe("/health"); // the previous model's route, kept
    expect(m2.rolloutOptions).toMatchObject({
      previousDeployedModel: "m1",
      maxSurgeReplicas: 1,
      maxUnavailableReplicas: 0,
    });
    const get = await plugin("get", "fraud");
    expect(get.stdout).toMatch(/m1\s+1\s+\S+\s+REPLACED\s+0\/0/);
    expect(get.stdout).toMatch(/m2\s+2\s+\S+\s+DEPLOYED\s+3\/3\s+3\s+100%\s+0%/);
  });

  it("undeploy refuses a model with a traffic share, and removes it once --traffic-split moves the share", async () => {
    const refused = await plugin("undeploy", "fraud", "m1");
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(
      "m1 has 100% of spec.trafficSplit: move it in the same change with a new traffic split (e.g. m2=100) (pass --traffic-split)",
    );
    const done = await plugin("undeploy", "fraud", "m1", "--traffic-split", "m2=100");
    expect(done.code, done.stderr).toBe(0);
    const after = await endpoints.get("fraud");
    expect(after.spec.deployedModels.map((m) => m.id)).toEqual(["m2"]);
    expect(after.spec.trafficSplit).toEqual({ m2: 100 });
    await endpoints.waitForCondition("fraud", "Ready", "True");
  });

  it("rollout status reports a rollout that fails and reverts (exit 1); history shows why", async () => {
    await deployed("broken");
    const deploy = await plugin(
      "deploy",
      "broken",
      "m2",
      "--image",
      "registry.example/fraud:2.0-unready",
      "--model",
      "fraud-detector@2",
      "--max-surge",
      "1",
      "--max-unavailable",
      "0",
      "--progress-deadline",
      "6s",
    );
    expect(deploy.code, deploy.stderr).toBe(0);
    await endpoints.waitForState("broken", "m2", "BEING_DEPLOYED");
    const status = await plugin("rollout", "status", "broken", "m2", "--timeout", "90s");
    expect(status.code, status.stdout).toBe(1);
    expect(status.stdout).toMatch(
      /m2 \(revision 2\) FAILED \(ProgressDeadlineExceeded\): .*readiness probe failed on \/health/,
    );
    const history = await plugin("rollout", "history", "broken");
    expect(history.stdout).toMatch(/m1\s+1\s+m1\s+-\s+\S+\s+\S+\s+DEPLOYED \*/);
    expect(history.stdout).toMatch(/m1\s+2\s+m2\s+m1\s+\S+\s+\S+\s+FAILED\s.*ProgressDeadlineExceeded/);
    // A FAILED rollout has already reverted: nothing to roll back.
    const rollback = await plugin("rollback", "broken", "--from", "m2");
    expect(rollback.code).toBe(4);
    expect(rollback.stderr).toContain("a FAILED rollout has already reverted to m1");
  });

  it("an in-progress rollout: hidden by get unless --all-deployment-states, rollout status times out (exit 3), rollback converges on the previous model", async () => {
    await deployed("stuck");
    await plugin(
      "deploy",
      "stuck",
      "m2",
      "--image",
      "registry.example/fraud:2.0-unready",
      "--model",
      "fraud-detector@2",
      "--max-surge",
      "1",
      "--max-unavailable",
      "0",
      "--progress-deadline",
      "10m",
    );
    await endpoints.waitForState("stuck", "m2", "BEING_DEPLOYED");
    // In progress (its pods never become ready, its deadline is far): listed only on request.
    expect((await plugin("get", "stuck")).stdout).toContain(
      "(m2 BEING_DEPLOYED not shown: --all-deployment-states lists it)",
    );
    expect((await plugin("get", "stuck", "--all-deployment-states")).stdout).toMatch(
      /m2\s+2\s+\S+\s+BEING_DEPLOYED/,
    );
    const timeout = await plugin("rollout", "status", "stuck", "--timeout", "2s");
    expect(timeout.code, timeout.stdout).toBe(3);
    expect(timeout.stdout).toContain("timed out after 2s");

    const rollback = await plugin("rollback", "stuck", "--max-surge", "1", "--max-unavailable", "0");
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain(
      "m1-r3 (revision 3) rolls m1's model fraud-detector@m1 back onto m2 (BEING_DEPLOYED)",
    );
    const status = await plugin("rollout", "status", "stuck", "m1-r3", "--timeout", "90s");
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain(
      "m1-r3 (revision 3) rolled out: DEPLOYED, 3/3 replicas available; traffic m1-r3=100",
    );
    const replaced = await plugin("rollout", "status", "stuck", "m2");
    expect(replaced.code).toBe(1);
    expect(replaced.stdout).toContain("m2 (revision 2) was REPLACED by m1-r3");
    const spec = (await endpoints.get("stuck")).spec.deployedModels as readonly {
      id: string;
      containerSpec: object;
      rolloutOptions?: object;
    }[];
    const [m1, , m3] = spec;
    expect(m3?.id).toBe("m1-r3");
    expect(m3?.containerSpec).toEqual(m1?.containerSpec);
    expect(m3?.rolloutOptions).toMatchObject({ previousDeployedModel: "m2" });
  });

  it("refuses bad usage with exit 2 and the command's help", async () => {
    const bad = await plugin("deploy", "fraud", "m3", "--image", "x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: deploy needs --model");
    expect(bad.stderr).toContain("kubectl modelendpoint deploy NAME ID --image IMAGE --model MODEL [flags]");
    expect((await plugin("get", "--timeout", "1s")).stderr).toContain('--timeout is not a flag of "get"');
  });
});
