/**
 * `make demo`: the whole story on a local control plane, in a few minutes, ending by itself.
 *
 * 1. a control plane (the sandbox when it is up, else a private one) whose model pods run the
 *    reference model server as local processes and whose Gateway (Traefik) serves the endpoint's
 *    HTTPRoute; the CRD; the operator;
 * 2. deploy fraud-detector v1 with 5 replicas; from then on a steady stream of predictions goes
 *    through the gateway, and every step shows requests sent, failed, and the split they observed
 *    against status.trafficSplit;
 * 3. roll v2 onto it (maxSurge 1, maxUnavailable 0), live: replicas and traffic per revision;
 * 4. roll a broken v3 (its pods never become Ready): it fails at its progress deadline and reverts;
 * 5. roll v3-fixed, and while it is half way, roll back to v2 onto the in-progress rollout (the
 *    Vertex AI recipe): the newest revision wins;
 * 6. a `git revert` back to the manifest of step 3: the entries of step 5 leave spec, and the chain
 *    rolls back onto v2 (m2) within the budgets while the removed revision's pods drain;
 * 7. a summary: each step's time, the largest pod count and lowest availability seen against the
 *    budgets, the predictions sent and failed, the observed split against status.trafficSplit at
 *    every change of it, the final `kubectl get modelendpoints`.
 *
 * Everything it created is removed at the end (the namespace; the private control plane).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from "@kubernetes/client-node";

import { DEFAULT_LOCATION, predictPaths } from "../src/controller/dataplane.ts";
import { findBinaries } from "../src/testing/binaries.ts";
import { MODEL_SERVER_IMAGE } from "../src/testing/process-kubelet.ts";
import { ControlPlane } from "../src/testing/controlplane.ts";
import { runKubectl, waitFor } from "../src/testing/harness.ts";
import { startLoad, type Counts, type Load } from "../src/testing/load.ts";
import {
  compareSplit,
  describeStep,
  SETTLE_MS,
  SplitFollower,
  STEP_REQUESTS,
  STEP_TOLERANCE,
  type SplitStep,
} from "../src/testing/split.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NS = "demo";
const NAME = "fraud";
const N = 5;
const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const green = (s: string): string => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string): string => (tty ? `\x1b[31m${s}\x1b[0m` : s);

interface ModelStatus {
  id: string;
  revisionNumber?: number;
  state?: string;
  replicas?: number;
  readyReplicas?: number;
  message?: string;
}
interface Endpoint {
  spec?: { deployedModels?: { id: string; containerSpec?: { imageUri?: string } }[] };
  status?: {
    trafficSplit?: Record<string, number>;
    deployedModels?: ModelStatus[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

interface StepResult {
  readonly title: string;
  readonly seconds: number;
  readonly outcome: string;
  readonly maxPods: number;
  readonly minAvailable: number;
  readonly surge: number;
  readonly unavailable: number;
  /** Predictions during the step (none before traffic starts). */
  readonly requests: Pick<Counts, "sent" | "failed" | "failures">;
  /** The split observed at each change of status.trafficSplit during the step. */
  readonly splits: readonly SplitStep[];
}

/** Predictions through the gateway, and the split they observe against status. */
interface Traffic {
  readonly load: Load;
  readonly follower: SplitFollower;
}

function log(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function entry(
  id: string,
  tag: string,
  previous?: string,
  extra: Record<string, unknown> = {},
  env: { name: string; value: string }[] = [],
): object {
  return {
    id,
    model: `fraud-detector@${id}`,
    containerSpec: {
      imageUri: `${MODEL_SERVER_IMAGE}:${tag}`,
      predictRoute: "/predict",
      healthRoute: "/health",
      ...(env.length === 0 ? {} : { env }),
    },
    ...(previous === undefined
      ? {
          dedicatedResources: {
            machineSpec: { machineType: "n1-standard-2" },
            minReplicaCount: N,
            maxReplicaCount: N,
          },
        }
      : {
          rolloutOptions: {
            previousDeployedModel: previous,
            maxSurgeReplicas: 1,
            maxUnavailableReplicas: 0,
            ...extra,
          },
        }),
  };
}

/** What the demo reads of the sandbox's state file (src/testing/sandbox.ts). */
interface SandboxState {
  readonly kubeconfig: string;
  readonly gatewayUrl?: string;
  readonly gatewayParentRef?: string;
  readonly processes?: boolean;
}

interface ParentRef {
  readonly namespace: string;
  readonly name: string;
}

/** The endpoint with `models`, served through the Gateway `parentRef`. */
function buildManifest(models: object[], parentRef: ParentRef): string {
  return JSON.stringify({
    apiVersion: "serving.modelendpoint.io/v1alpha1",
    kind: "ModelEndpoint",
    metadata: { name: NAME, namespace: NS },
    spec: {
      displayName: "Fraud scoring",
      trafficSplit: { m1: 100 },
      deployedModels: models,
      gateway: { parentRefs: [parentRef] },
    },
  });
}

function bar(ready: number, total: number): string {
  const cells = Math.max(total, N + 1);
  return `▕${"█".repeat(Math.min(ready, cells))}${" ".repeat(Math.max(0, cells - ready))}▏`;
}

class Demo {
  readonly #kc: KubeConfig;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #kubectl: (args: string[], input?: string) => Promise<string>;
  #traffic: Traffic | undefined;
  #lastFrame = "";
  #frameLines = 0;

  constructor(kubeconfig: string, kubectlPath: string) {
    this.#kc = new KubeConfig();
    this.#kc.loadFromFile(kubeconfig);
    this.#custom = this.#kc.makeApiClient(CustomObjectsApi);
    this.#core = this.#kc.makeApiClient(CoreV1Api);
    this.#kubectl = (args, input) => runKubectl(kubectlPath, kubeconfig, args, input);
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return this.#kubectl(args, input);
  }

  /**
   * Starts the stream of predictions on `url` once the gateway answers there: 4 clients, half of
   * them on kept-alive connections, each one request at a time.
   */
  async startTraffic(url: string): Promise<void> {
    await waitFor(
      `a prediction answered at ${url}`,
      async () => (await fetch(url, { method: "POST", body: '{"instances": [[1]]}' })).status === 200,
      { timeoutMs: 60_000 },
    );
    const load = startLoad({ url, concurrency: 4, keepAliveShare: 0.5, requestTimeoutMs: 15_000 });
    this.#traffic = { load, follower: new SplitFollower(load, { settleMs: SETTLE_MS }) };
    log(dim(`  predictions: 4 clients sending to ${url}`));
  }

  /** Stops the predictions; the totals. */
  async stopTraffic(): Promise<Counts | undefined> {
    return this.#traffic?.load.stop();
  }

  async endpoint(): Promise<Endpoint> {
    return (await this.#custom.getNamespacedCustomObject({
      group: "serving.modelendpoint.io",
      version: "v1alpha1",
      namespace: NS,
      plural: "modelendpoints",
      name: NAME,
    })) as Endpoint;
  }

  async pods(): Promise<V1Pod[]> {
    return (
      await this.#core.listNamespacedPod({
        namespace: NS,
        labelSelector: `serving.modelendpoint.io/endpoint=${NAME}`,
      })
    ).items;
  }

  /** Draws one frame: a line per revision with state, ready replicas and effective traffic. */
  #draw(
    title: string,
    started: number,
    ep: Endpoint,
    pods: V1Pod[],
    stats: { maxPods: number; minAvailable: number; surge: number; unavailable: number },
  ): void {
    const images = new Map(
      (ep.spec?.deployedModels ?? []).map((m) => [m.id, m.containerSpec?.imageUri ?? ""]),
    );
    const traffic = ep.status?.trafficSplit ?? {};
    const lines = [`${bold(title)}  ${dim(`t=${((Date.now() - started) / 1000).toFixed(1)}s`)}`];
    for (const m of ep.status?.deployedModels ?? []) {
      const state = m.state ?? "?";
      const colour = state === "FAILED" ? red : state === "DEPLOYED" ? green : (s: string): string => s;
      const ready = m.readyReplicas ?? 0;
      const image = (images.get(m.id) ?? "").replace("registry.example/", "");
      lines.push(
        `  ${m.id.padEnd(3)} rev ${String(m.revisionNumber ?? "?").padEnd(2)} ${colour(state.padEnd(15))} ${image.padEnd(22)} ready ${String(ready).padStart(1)}/${String(m.replicas ?? 0).padEnd(2)} ${bar(ready, m.replicas ?? 0)} traffic ${String(traffic[m.id] ?? 0).padStart(3)}%`,
      );
    }
    // Revisions that left spec (a git revert) keep serving until their pods are drained.
    const listed = new Set((ep.status?.deployedModels ?? []).map((m) => m.id));
    const modelOf = (p: V1Pod): string =>
      p.metadata?.labels?.["serving.modelendpoint.io/deployed-model"] ?? "";
    const readyPod = (p: V1Pod): boolean =>
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    const draining = [...new Set(pods.map(modelOf))].filter((id) => id !== "" && !listed.has(id)).sort();
    for (const id of draining) {
      const own = pods.filter((p) => modelOf(p) === id && p.metadata?.deletionTimestamp === undefined);
      const ready = own.filter(readyPod).length;
      lines.push(
        dim(
          `  ${id.padEnd(3)} left spec: draining ${"".padEnd(22)} ready ${String(ready).padStart(1)}/${String(own.length).padEnd(2)} ${bar(ready, own.length)} traffic ${String(traffic[id] ?? 0).padStart(3)}%`,
        ),
      );
    }
    const live = pods.filter((p) => p.metadata?.deletionTimestamp === undefined);
    const available = live.filter((p) =>
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
    lines.push(
      dim(
        `  pods ${live.length} (max ${stats.maxPods}, limit N+surge = ${N + stats.surge}) · available ${available} (min ${stats.minAvailable}, floor N-unavailable = ${N - stats.unavailable})`,
      ),
    );
    const sent = this.#traffic?.load.summary();
    const now = sent?.windows.at(-1);
    if (sent !== undefined && now !== undefined) {
      const observed = compareSplit(now.byModel, ep.status?.trafficSplit ?? {}).observed;
      const shares =
        now.ok === 0
          ? "none yet"
          : Object.entries(observed)
              .map(([id, share]) => `${id} ${share.toFixed(0)}%`)
              .join(" ");
      lines.push(
        `  predictions ${sent.sent} sent · ${sent.failed === 0 ? green("0 failed") : red(`${sent.failed} failed`)} · answered since the split last changed: ${shares}`,
      );
    }
    const frame = lines.join("\n");
    if (frame === this.#lastFrame) return;
    if (tty) {
      if (this.#frameLines > 0) process.stdout.write(`\x1b[${this.#frameLines}A\x1b[0J`);
      process.stdout.write(`${frame}\n`);
      this.#frameLines = lines.length;
    } else {
      // Without a terminal, print a frame only when something other than the clock changed.
      const still = (f: string): string => f.replace(/t=[\d.]+s/, "").replace(/\n {2}predictions .*/, "");
      if (still(frame) !== still(this.#lastFrame)) log(frame);
    }
    this.#lastFrame = frame;
  }

  /**
   * Applies `yaml` and watches until `done(endpoint)` holds, drawing the live view; returns the
   * step's figures. `budgets` are the rollout's, for the R4 check shown on screen.
   */
  async step(
    title: string,
    body: string,
    done: (ep: Endpoint) => string | undefined,
    budgets: { surge: number; unavailable: number },
    timeoutMs = 120_000,
    during?: (ep: Endpoint) => Promise<void>,
  ): Promise<StepResult> {
    log();
    this.#frameLines = 0;
    this.#lastFrame = "";
    const traffic = this.#traffic;
    const splitsBefore = traffic?.follower.steps(STEP_REQUESTS).length ?? 0;
    traffic?.follower.cut();
    const before = traffic?.load.summary();
    await this.#kubectl(["apply", "--server-side", "--field-manager=demo", "-f", "-"], body);
    const started = Date.now();
    const stats = { maxPods: 0, minAvailable: Number.POSITIVE_INFINITY, ...budgets };
    const requests = (): StepResult["requests"] => {
      const after = traffic?.load.summary();
      if (after === undefined || before === undefined) return { sent: 0, failed: 0, failures: {} };
      const failures = Object.fromEntries(
        Object.entries(after.failures)
          .map(([reason, n]) => [reason, n - (before.failures[reason] ?? 0)] as const)
          .filter(([, n]) => n > 0),
      );
      return { sent: after.sent - before.sent, failed: after.failed - before.failed, failures };
    };
    for (;;) {
      const [ep, pods] = await Promise.all([this.endpoint(), this.pods()]);
      traffic?.follower.observe(ep.status?.trafficSplit);
      const live = pods.filter((p) => p.metadata?.deletionTimestamp === undefined);
      stats.maxPods = Math.max(stats.maxPods, live.length);
      stats.minAvailable = Math.min(
        stats.minAvailable,
        live.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
          .length,
      );
      this.#draw(title, started, ep, pods, stats);
      const outcome = done(ep);
      if (outcome !== undefined) {
        const splits = traffic?.follower.steps(STEP_REQUESTS).slice(splitsBefore) ?? [];
        return {
          title,
          seconds: (Date.now() - started) / 1000,
          outcome,
          ...stats,
          requests: requests(),
          splits,
        };
      }
      if (during) await during(ep);
      if (Date.now() - started > timeoutMs) throw new Error(`${title}: not done after ${timeoutMs / 1000}s`);
      await delay(200);
    }
  }
}

const stateOf = (ep: Endpoint, id: string): ModelStatus | undefined =>
  ep.status?.deployedModels?.find((m) => m.id === id);

async function main(): Promise<void> {
  const began = Date.now();
  const binaries = findBinaries();
  const sandboxState = join(ROOT, ".sandbox", "state.json");
  let cp: ControlPlane | undefined;
  let kubeconfig: string;
  let gateway: { url: string; parentRef: ParentRef };
  if (existsSync(sandboxState)) {
    const state = JSON.parse(readFileSync(sandboxState, "utf8")) as SandboxState;
    kubeconfig = state.kubeconfig;
    const [namespace = "", name = ""] = (state.gatewayParentRef ?? "").split("/");
    if (state.gatewayUrl === undefined || name === "" || state.processes !== true) {
      throw new Error(
        "the running sandbox has no Gateway or does not run model-server pods as processes; " +
          "restart it with `make sandbox-down && make sandbox-up` (or stop it to let the demo start its own)",
      );
    }
    gateway = { url: state.gatewayUrl, parentRef: { namespace, name } };
    log(`${bold("control plane")}: the running sandbox (${kubeconfig})`);
  } else {
    log(`${bold("control plane")}: starting a private one (make sandbox-up keeps one running)`);
    cp = await ControlPlane.start({
      nodes: 3,
      processes: true,
      gateway: true,
      log: (l) => {
        log(dim(`  ${l}`));
      },
    });
    kubeconfig = cp.kubeconfigPath;
    if (cp.gateway === undefined) throw new Error("the control plane started without its Gateway");
    gateway = { url: cp.gateway.url, parentRef: cp.gateway.parentRef };
  }
  const parentRef = gateway.parentRef;
  const manifest = (models: object[]): string => buildManifest(models, parentRef);
  log(`${bold("gateway")}: ${gateway.url} (Gateway ${parentRef.namespace}/${parentRef.name}, Traefik)`);
  const demo = new Demo(kubeconfig, binaries.kubectl);
  let operator: ChildProcess | undefined;
  const results: StepResult[] = [];
  let verdict: string | undefined;
  try {
    await demo.kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
    await demo.kubectl([
      "wait",
      "--for=condition=Established",
      "crd/modelendpoints.serving.modelendpoint.io",
    ]);
    log(`${bold("CRD")}: modelendpoints.serving.modelendpoint.io installed`);
    await demo.kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true"]);
    await demo.kubectl(["create", "namespace", NS]);
    const logFile = join(mkdtempSync(join(tmpdir(), "meo-demo-")), "operator.log");
    const fd = openSync(logFile, "a");
    operator = spawn(
      join(ROOT, "node_modules", ".bin", "node"),
      [
        join(ROOT, "src", "main.ts"),
        `--kubeconfig=${kubeconfig}`,
        `--namespaces=${NS}`,
        "--leader-elect=false",
        "--log-format=json",
        "--metrics-bind-address=127.0.0.1:0",
        `--gateway=${parentRef.namespace}/${parentRef.name}`,
      ],
      { stdio: ["ignore", fd, fd] },
    );
    log(`${bold("operator")}: started (pid ${operator.pid ?? "?"}), logs in ${logFile}`);

    const v1 = entry("m1", "1.0");
    const v2 = entry("m2", "2.0", "m1");
    results.push(
      await demo.step(
        "1/5  deploy fraud-detector v1 (m1) with 5 replicas",
        manifest([v1]),
        (ep) => (stateOf(ep, "m1")?.state === "DEPLOYED" ? "DEPLOYED" : undefined),
        { surge: 0, unavailable: N },
      ),
    );
    await demo.startTraffic(`${gateway.url}${predictPaths(NS, NAME, DEFAULT_LOCATION)[0] ?? ""}`);
    results.push(
      await demo.step(
        "2/5  roll v2 (m2) onto m1: maxSurge 1, maxUnavailable 0",
        manifest([v1, v2]),
        (ep) =>
          stateOf(ep, "m2")?.state === "DEPLOYED" && stateOf(ep, "m1")?.state === "REPLACED"
            ? "m2 DEPLOYED, m1 REPLACED"
            : undefined,
        { surge: 1, unavailable: 0 },
      ),
    );
    // The reference server fails its health route on purpose with MODEL_SERVER_UNHEALTHY.
    const v3bad = entry("m3", "3.0", "m2", { progressDeadlineSeconds: 15 }, [
      { name: "MODEL_SERVER_UNHEALTHY", value: "true" },
    ]);
    results.push(
      await demo.step(
        "3/5  roll a broken v3 (m3, never Ready) onto m2: progress deadline 15s",
        manifest([v1, v2, v3bad]),
        (ep) => {
          const m3 = stateOf(ep, "m3");
          const m2 = stateOf(ep, "m2");
          return m3?.state === "FAILED" &&
            m3.replicas === 0 &&
            m2?.state === "DEPLOYED" &&
            m2.readyReplicas === N
            ? `m3 FAILED and reverted: ${m3.message ?? ""}`
            : undefined;
        },
        { surge: 1, unavailable: 0 },
      ),
    );
    const v4 = entry("m4", "3.1", "m2", { progressDeadlineSeconds: 120 });
    const back = entry("m5", "2.0", "m4");
    let rolledBack = false;
    results.push(
      await demo.step(
        "4/5  roll v3.1 (m4) onto m2, then roll back to v2 (m5) onto the in-progress m4",
        // The failed m3 leaves spec (a previous model has one rolling deployment at a time).
        manifest([v1, v2, v4]),
        (ep) =>
          rolledBack && stateOf(ep, "m5")?.state === "DEPLOYED" && (stateOf(ep, "m4")?.replicas ?? 1) === 0
            ? "m5 (v2 again) DEPLOYED, m4 REPLACED"
            : undefined,
        { surge: 1, unavailable: 0 },
        180_000,
        async (ep) => {
          // Half way through m4's rollout, apply the rollback: a new rolling deployment of v2 onto m4.
          if (!rolledBack && (stateOf(ep, "m4")?.readyReplicas ?? 0) >= 2) {
            rolledBack = true;
            await demo.kubectl(
              ["apply", "--server-side", "--field-manager=demo", "-f", "-"],
              manifest([v1, v2, v4, back]),
            );
            log(dim("  rollback applied: m5 = fraud:2.0 rolling onto the in-progress m4"));
          }
        },
      ),
    );

    results.push(
      await demo.step(
        "5/5  git revert to the manifest of step 2: m4 and m5 leave spec, the chain rolls back onto m2",
        manifest([v1, v2]),
        (ep) => {
          const m2 = stateOf(ep, "m2");
          const ids = (ep.status?.deployedModels ?? []).map((m) => m.id).join(",");
          const split = JSON.stringify(ep.status?.trafficSplit ?? {});
          return m2?.state === "DEPLOYED" &&
            m2.readyReplicas === N &&
            ids === "m1,m2" &&
            split === '{"m2":100}'
            ? `m2 (revision ${String(m2.revisionNumber)}) DEPLOYED again, m5 drained and deleted`
            : undefined;
        },
        // The budgets the removed m5 was rolled out with.
        { surge: 1, unavailable: 0 },
      ),
    );

    log();
    log(bold("summary"));
    for (const r of results) {
      const pods = r.maxPods <= N + r.surge ? green("ok") : red("EXCEEDED");
      const avail = r.minAvailable >= N - r.unavailable ? green("ok") : red("BELOW");
      log(`  ${r.title}`);
      log(
        dim(
          `      ${r.seconds.toFixed(1)}s · ${r.outcome}\n      pods max ${r.maxPods} (limit ${N + r.surge}, ${pods}) · available min ${r.minAvailable} (floor ${N - r.unavailable}, ${avail})`,
        ),
      );
      for (const line of describeTraffic(r)) log(dim(`      ${line}`));
    }
    const totals = await demo.stopTraffic();
    const judged = results.flatMap((r) => r.splits).filter((s) => s.judged);
    const worst = Math.max(0, ...judged.map((s) => s.deviation));
    log();
    log(
      `  ${bold("predictions")} ${String(totals?.sent ?? 0)} sent through the gateway, ${
        totals?.failed === 0 ? green("0 failed") : red(`${String(totals?.failed ?? "?")} failed`)
      }; the split followed status.trafficSplit within ${worst.toFixed(1)} points over ${String(judged.length)} steps of >= ${String(STEP_REQUESTS)} requests ${
        worst <= STEP_TOLERANCE ? green("(ok, ±5)") : red("(OFF, more than ±5)")
      }`,
    );
    if ((totals?.failed ?? 0) > 0 || worst > STEP_TOLERANCE)
      verdict = "predictions failed or the split strayed from status.trafficSplit (see the summary)";
    log();
    log(await demo.kubectl(["get", "modelendpoints", "-n", NS, "-o", "wide"]));
    const events = await demo.kubectl([
      "get",
      "events",
      "-n",
      NS,
      "--field-selector=involvedObject.kind=ModelEndpoint",
      "--sort-by=.eventTime",
      "-o",
      "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
    ]);
    const eventLines = events.trimEnd().split("\n");
    log(bold(`events on modelendpoint/${NAME}: ${eventLines.length - 1} (the last 15)`));
    log([eventLines[0], ...eventLines.slice(1).slice(-15)].join("\n"));
    log();
    log(`demo done in ${((Date.now() - began) / 1000).toFixed(0)}s`);
  } finally {
    await demo.stopTraffic();
    operator?.kill("SIGTERM");
    await demo.kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]).catch(() => "");
    await cp?.stop();
  }
  if (verdict !== undefined) throw new Error(verdict);
}

/** A step's predictions and the split they observed at each change of status.trafficSplit. */
function describeTraffic(r: StepResult): string[] {
  if (r.requests.sent === 0) return [];
  const failures = Object.entries(r.requests.failures).map(([reason, n]) => `${String(n)} × ${reason}`);
  return [
    `predictions ${String(r.requests.sent)} sent · ${r.requests.failed === 0 ? green("0 failed") : red(`${String(r.requests.failed)} failed: ${failures.join("; ")}`)}`,
    ...r.splits.map((step) =>
      step.judged
        ? `  status → observed: ${describeStep(step)} ${step.deviation <= STEP_TOLERANCE ? green(`±${step.deviation.toFixed(1)}`) : red(`off by ${step.deviation.toFixed(1)} points`)}`
        : dim(`  status → observed: ${describeStep(step)} (too few to judge)`),
    ),
  ];
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
