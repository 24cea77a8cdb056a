/**
 * `make demo-vertex`: a rolling deployment and a rollback driven only through the Vertex AI REST
 * API (docs/vertex-api.md), on a local control plane whose model pods run the reference model
 * server. Each call is printed as the curl command that makes it, with the answer's gist.
 *
 * 1. models:upload fraud-detector, then version 2 (parentModel);
 * 2. create the endpoint, deployModel version 1 with 3 replicas, wait on the operation;
 * 3. deployModel version 2 with rolloutOptions (the documented body, numbers as strings); GET with
 *    allDeploymentStates while it rolls; wait on the operation; predict;
 * 4. roll back: deployModel version 1 onto the new deployed model; wait; predict.
 *
 * Everything it started is stopped at the end (the sandbox, when it is up, is used and kept).
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { ControlPlane } from "../src/testing/controlplane.ts";
import { findBinaries } from "../src/testing/binaries.ts";
import { freePort, runKubectl, waitFor } from "../src/testing/harness.ts";
import { OperatorProcess } from "../src/testing/operator-process.ts";
import { MODEL_SERVER_IMAGE } from "../src/testing/process-kubelet.ts";
import { spawn } from "node:child_process";

const ROOT = resolve(import.meta.dirname, "..");
const NS = "vertex-demo";
const L = "us-central1";
const P = `projects/${NS}/locations/${L}`;
const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[0m` : s);

function log(line = ""): void {
  process.stdout.write(`${line}\n`);
}

interface Operation {
  name: string;
  done?: boolean;
  error?: { code: number; message: string };
  response?: Record<string, unknown>;
}

class Api {
  readonly #base: string;
  constructor(base: string) {
    this.#base = base;
  }

  /** Sends one call, printing it as curl, and returns the JSON answer (an error answer throws). */
  async call(method: string, path: string, body?: unknown, quiet = false): Promise<Record<string, unknown>> {
    if (!quiet) {
      const data = body === undefined ? "" : ` -d '${JSON.stringify(body)}'`;
      log(dim(`$ curl -X ${method} "$API/${path}"${data}`));
    }
    const res = await fetch(`${this.#base}/${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200)
      throw new Error(`${method} ${path}: HTTP ${String(res.status)} ${JSON.stringify(json)}`);
    return json;
  }

  /** Polls the operation until done, printing each change of the deployed models' states. */
  /** Polls the operation until done (at most 3 minutes), printing each change of the models' states. */
  async wait(op: Operation, endpoint: string): Promise<Operation> {
    let shown = "";
    let current: Operation = op;
    await waitFor(
      `operation ${op.name} done`,
      async () => {
        current = (await this.call("GET", `v1/${op.name}`, undefined, true)) as unknown as Operation;
        const ep = await this.call(
          "GET",
          `v1beta1/${P}/endpoints/${endpoint}?allDeploymentStates=true`,
          undefined,
          true,
        );
        const models = (
          ep["deployedModels"] as { id: string; modelVersionId: string; status?: { message?: string } }[]
        )
          .map((m) => `${m.id}@${m.modelVersionId}: ${m.status?.message ?? "pending"}`)
          .join(" | ");
        const line = `  traffic ${JSON.stringify(ep["trafficSplit"])} · ${models}`;
        if (line !== shown) log(line);
        shown = line;
        return current.done === true;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    return current;
  }
}

async function main(): Promise<void> {
  const binaries = findBinaries();
  const sandbox = join(ROOT, ".sandbox", "state.json");
  let cp: ControlPlane | undefined;
  let kubeconfig: string;
  if (existsSync(sandbox)) {
    kubeconfig = (JSON.parse(readFileSync(sandbox, "utf8")) as { kubeconfig: string }).kubeconfig;
  } else {
    log(bold("control plane: starting a private one"));
    cp = await ControlPlane.start({
      nodes: 3,
      processes: true,
      log: (l) => {
        log(dim(`  ${l}`));
      },
    });
    kubeconfig = cp.kubeconfigPath;
  }
  const kubectl = (args: string[]): Promise<string> => runKubectl(binaries.kubectl, kubeconfig, args);
  const operator = new OperatorProcess({
    kubeconfig,
    namespaces: [NS],
    logFile: join(mkdtempSync(join(tmpdir(), "meo-demo-vertex-")), "operator.log"),
  });
  const port = await freePort();
  const server = spawn(
    join(ROOT, "node_modules", ".bin", "node"),
    [
      join(ROOT, "src", "vertex", "main.ts"),
      `--kubeconfig=${kubeconfig}`,
      "--local",
      `--port=${String(port)}`,
    ],
    { stdio: "ignore" },
  );
  try {
    await kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
    await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true"]);
    await kubectl(["create", "namespace", NS]);
    await operator.start();
    const base = `http://127.0.0.1:${String(port)}`;
    await waitFor(`the Vertex AI API server on ${base}`, async () => (await fetch(base)).status === 501, {
      timeoutMs: 30_000,
    });
    log(bold(`Vertex AI API: API=${base} (make vertex-api runs the same server)`));
    const api = new Api(base);
    const container = (tag: string) => ({
      imageUri: `${MODEL_SERVER_IMAGE}:${tag}`,
      predictRoute: "/predict",
      healthRoute: "/health",
    });

    log();
    log(bold("1. upload a model and a second version"));
    await api.call("POST", `v1/${P}/models:upload`, {
      modelId: "fraud-detector",
      model: { displayName: "Fraud detector", containerSpec: container("1.0") },
    });
    await api.call("POST", `v1/${P}/models:upload`, {
      parentModel: `${P}/models/fraud-detector`,
      model: { displayName: "Fraud detector", containerSpec: container("2.0") },
    });

    log();
    log(bold("2. an endpoint, and version 1 deployed on 3 replicas"));
    await api.call("POST", `v1/${P}/endpoints?endpointId=fraud`, { displayName: "Fraud scoring" });
    const first = (await api.call("POST", `v1/${P}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${P}/models/fraud-detector@1`,
        dedicatedResources: {
          machineSpec: { machineType: "n1-standard-2" },
          minReplicaCount: 3,
          maxReplicaCount: 3,
        },
      },
      trafficSplit: { "0": 100 },
    })) as unknown as Operation;
    const v1 = (((await api.wait(first, "fraud")).response ?? {})["deployedModel"] as { id: string }).id;

    log();
    log(
      bold(
        `3. a rolling deployment of version 2 onto ${v1}: maxSurgeReplicas "1", maxUnavailableReplicas "0"`,
      ),
    );
    const rolling = (await api.call("POST", `v1beta1/${P}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${P}/models/fraud-detector@2`,
        rolloutOptions: { previousDeployedModel: v1, maxSurgeReplicas: "1", maxUnavailableReplicas: "0" },
      },
    })) as unknown as Operation;
    const v2 = (((await api.wait(rolling, "fraud")).response ?? {})["deployedModel"] as { id: string }).id;
    const predicted = await api.call("POST", `v1/${P}/endpoints/fraud:predict`, { instances: [[0.3, 12]] });
    log(
      `  predict answered by deployed model ${String(predicted["deployedModelId"])}, version ${String(predicted["modelVersionId"])}`,
    );

    log();
    log(bold(`4. roll back: version 1 again, onto ${v2}`));
    const back = (await api.call("POST", `v1beta1/${P}/endpoints/fraud:deployModel`, {
      deployedModel: {
        model: `${P}/models/fraud-detector@1`,
        rolloutOptions: { previousDeployedModel: v2, maxSurgeReplicas: "1", maxUnavailableReplicas: "0" },
      },
    })) as unknown as Operation;
    const done = await api.wait(back, "fraud");
    const again = await api.call("POST", `v1/${P}/endpoints/fraud:predict`, { instances: [[0.3, 12]] });
    log(
      `  predict answered by deployed model ${String(again["deployedModelId"])}, version ${String(again["modelVersionId"])}`,
    );
    log();
    log(bold("summary"));
    log(
      `  operations: ${first.name.split("/").at(-1) ?? ""}, ${rolling.name.split("/").at(-1) ?? ""}, ${done.name.split("/").at(-1) ?? ""}: done, no error`,
    );
    log(await kubectl(["get", "modelendpoints", "-n", NS, "-o", "wide"]));
  } finally {
    server.kill("SIGTERM");
    await operator.stop();
    await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]).catch(() => "");
    await cp?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo-vertex failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
