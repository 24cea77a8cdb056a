/**
 * The process kubelet: pods of the local control plane that really run.
 *
 * kwok plays the kubelet of the fake nodes: a pod runs nothing and becomes Ready after a delay. For
 * a pod whose (first) container image is a model server (`isModelServerImage`: the repository name
 * ends in `model-server`, e.g. `model-server:dev`), kwok only makes it Running with a pod IP and
 * Ready=False (kwok-stages.ts), and this kubelet does the rest, as a real kubelet would:
 *
 * - adds the pod IP to `lo` (a /32) and starts the reference model server
 *   (examples/model-server/server.ts) as a child process with the container's `env` (plain values)
 *   and MODEL_SERVER_HOST=<pod IP>; its output goes to <logDir>/<namespace>_<name>.log;
 * - probes the container's readinessProbe (httpGet, with Kubernetes' defaults) once right after the
 *   start (after initialDelaySeconds), then every periodSeconds, and writes Ready / ContainersReady
 *   and the container status through pods/status when readiness or the container's state changes;
 * - restarts a process that exits (restartPolicy Always) after a growing backoff, counting restarts;
 * - on deletion runs a `sleep` preStop hook, sends SIGTERM, waits what is left of the grace period
 *   (probing all the while), sends SIGKILL if the process is still there, removes the address and
 *   deletes the pod object (grace period 0, uid precondition).
 *
 * Every effect (API, processes, `ip`, HTTP probes, time, logs) is injected; the pure parts (which pod,
 * probe settings, environment, status patches) are exported for unit tests.
 */
import { request } from "node:http";
import { join } from "node:path";

import {
  backoffDelay,
  ConflictError,
  Informer,
  NotFoundError,
  realClock,
  type BackoffOptions,
  type Clock,
  type DeepReadonly,
  type Logger,
  type Pod,
  type ResourceClient,
  type Timer,
} from "../kube/index.ts";
import { REPO_ROOT } from "./binaries.ts";
import { addAddress, removeAddress, runIp, type IpCommand } from "./loopback.ts";
import { Supervised, type ProcessSpec } from "./process.ts";

type Container = DeepReadonly<NonNullable<Pod["spec"]>["containers"][number]>;
type ContainerStatus = NonNullable<NonNullable<Pod["status"]>["containerStatuses"]>[number];
type PodCondition = NonNullable<NonNullable<Pod["status"]>["conditions"]>[number];

export class ProcessKubeletError extends Error {
  override readonly name = "ProcessKubeletError";
}

/** The reference model server every selected pod runs. */
export const MODEL_SERVER_SCRIPT = join(REPO_ROOT, "examples", "model-server", "server.ts");

// ---------------------------------------------------------------------------------------------
// Which pods

const DIGEST = /@.*$/;
const TAG = /:[^:/]*$/;
const REPOSITORY_SUFFIX = /model-server$/;

/**
 * True when an image reference's repository name ends in `model-server`: `model-server:dev`,
 * `registry.example/model-server:2.0`, `registry.example:5000/team/my-model-server@sha256:...`.
 * The kwok stages select the same pods with `MODEL_SERVER_IMAGE_JQ`.
 */
export function isModelServerImage(image: string): boolean {
  return REPOSITORY_SUFFIX.test(image.replace(DIGEST, "").replace(TAG, ""));
}

/** The image repository the tests, the demo and the bench run the reference model server as. */
export const MODEL_SERVER_IMAGE = "registry.example/model-server";

/** The same rule as a kwok (gojq) selector key: true for a model-server pod. */
export const MODEL_SERVER_IMAGE_JQ = `(.spec.containers[0].image // "") | sub("${DIGEST.source}"; "") | sub("${TAG.source}"; "") | test("${REPOSITORY_SUFFIX.source}")`;

/** A pod this kubelet runs: scheduled to a node, its first container a model server. */
export function runsAsProcess(pod: DeepReadonly<Pod>): boolean {
  const image = pod.spec?.containers[0]?.image;
  return pod.spec?.nodeName !== undefined && image !== undefined && isModelServerImage(image);
}

// ---------------------------------------------------------------------------------------------
// Readiness probes

export interface ProbeSettings {
  /** undefined: the container has no readinessProbe (Ready as soon as it runs). */
  readonly http?: { readonly path: string; readonly port: number | undefined; readonly portName: string };
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
  /** A probe kind this kubelet does not run (exec, tcpSocket, grpc), when there is one. */
  readonly unsupported?: string;
}

/** The container's readinessProbe with Kubernetes' defaults (0 s delay, 10 s period, 1 s timeout, 1, 3). */
export function probeSettings(container: Container): ProbeSettings {
  const probe = container.readinessProbe;
  const seconds = (value: number | undefined, fallback: number): number => (value ?? fallback) * 1000;
  const common = {
    initialDelayMs: seconds(probe?.initialDelaySeconds, 0),
    periodMs: seconds(probe?.periodSeconds, 10),
    timeoutMs: seconds(probe?.timeoutSeconds, 1),
    successThreshold: probe?.successThreshold ?? 1,
    failureThreshold: probe?.failureThreshold ?? 3,
  };
  if (probe === undefined) return common;
  const get = probe.httpGet;
  if (get === undefined) {
    const kind = ["exec", "tcpSocket", "grpc"].find((k) => k in probe) ?? "unknown";
    return { ...common, unsupported: kind };
  }
  const raw: unknown = get.port;
  const port =
    typeof raw === "number"
      ? raw
      : /^\d+$/.test(String(raw))
        ? Number(raw)
        : container.ports?.find((p) => p.name === raw)?.containerPort;
  return { ...common, http: { path: get.path ?? "/", port, portName: String(raw) } };
}

/** What the probes have concluded so far (Kubernetes' readiness starts as failure: not Ready). */
export interface ProbeState {
  readonly result: "initial" | "success" | "failure";
  /** The last outcome and how many times in a row it came. */
  readonly last: boolean | undefined;
  readonly run: number;
  /** Why the last failed probe failed. */
  readonly message: string | undefined;
}

export const INITIAL_PROBE: ProbeState = {
  result: "initial",
  last: undefined,
  run: 0,
  message: undefined,
};

/** One probe outcome: the result flips after successThreshold successes or failureThreshold failures in a row. */
export function nextProbeState(
  state: ProbeState,
  ok: boolean,
  message: string | undefined,
  settings: Pick<ProbeSettings, "successThreshold" | "failureThreshold">,
): ProbeState {
  const run = state.last === ok ? state.run + 1 : 1;
  const threshold = ok ? settings.successThreshold : settings.failureThreshold;
  const result = run >= threshold ? (ok ? "success" : "failure") : state.result;
  return { result, last: ok, run, message: ok ? state.message : message };
}

// ---------------------------------------------------------------------------------------------
// Environment

/**
 * The process' environment: PATH and HOME of the harness, the container's plain `value` entries,
 * MODEL_SERVER_HOST=<pod IP>. Entries from `valueFrom` are returned in `skipped`.
 */
export function processEnv(
  container: Container,
  podIP: string,
  base: NodeJS.ProcessEnv = process.env,
): { env: Record<string, string>; skipped: string[] } {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME"]) {
    const value = base[name];
    if (value !== undefined) env[name] = value;
  }
  const skipped: string[] = [];
  for (const entry of container.env ?? []) {
    if (entry.valueFrom === undefined) env[entry.name] = entry.value ?? "";
    else skipped.push(entry.name);
  }
  env["MODEL_SERVER_HOST"] = podIP;
  return { env, skipped };
}

/** The preStop hook: a `sleep` to run, another kind to skip, or none. */
export function preStopAction(
  container: Container,
): { readonly sleepMs: number } | { readonly skipped: string } | undefined {
  const hook = container.lifecycle?.preStop;
  if (hook === undefined) return undefined;
  if (hook.sleep !== undefined) return { sleepMs: hook.sleep.seconds * 1000 };
  return { skipped: Object.keys(hook).join(",") || "empty" };
}

// ---------------------------------------------------------------------------------------------
// Status

/** What this kubelet says about the pod's first container. */
export interface ContainerReport {
  readonly ready: boolean;
  readonly started: boolean;
  readonly restartCount: number;
  readonly state: NonNullable<ContainerStatus["state"]>;
  readonly lastState?: ContainerStatus["lastState"];
  /** Why it is not Ready, beyond "containers with unready status" (a probe failure). */
  readonly detail?: string;
}

/**
 * The pods/status merge patch for `report`: Ready and ContainersReady (other conditions kept; a
 * condition's lastTransitionTime moves only when its status does) and containerStatuses[0].
 */
export function statusPatch(pod: DeepReadonly<Pod>, report: ContainerReport, now: string): object {
  const container = pod.spec?.containers[0];
  const name = container?.name ?? "";
  const status = report.ready ? "True" : "False";
  const message = `containers with unready status: [${name}]${report.detail ? `: ${report.detail}` : ""}`;
  const old = pod.status?.conditions ?? [];
  const condition = (type: string): PodCondition => {
    const previous = old.find((c) => c.type === type);
    return {
      type,
      status,
      lastTransitionTime:
        previous?.status === status && previous.lastTransitionTime ? previous.lastTransitionTime : now,
      ...(report.ready ? {} : { reason: "ContainersNotReady", message }),
    };
  };
  const conditions = [
    ...old
      .filter((c) => c.type !== "Ready" && c.type !== "ContainersReady")
      .map((c) => structuredClone(c) as PodCondition),
    condition("Ready"),
    condition("ContainersReady"),
  ];
  const previous = pod.status?.containerStatuses ?? [];
  const first: ContainerStatus = {
    name,
    image: container?.image ?? "",
    imageID: "",
    ready: report.ready,
    started: report.started,
    restartCount: report.restartCount,
    state: report.state,
    ...(report.lastState === undefined ? {} : { lastState: report.lastState }),
  };
  const containerStatuses = [
    first,
    ...previous.filter((s) => s.name !== name).map((s) => structuredClone(s) as ContainerStatus),
  ];
  return { status: { conditions, containerStatuses } };
}

/** The terminated state of a process that exited with `code` (a number or a signal name). */
export function terminatedState(
  code: number | string,
  startedAt: string,
  finishedAt: string,
): NonNullable<ContainerStatus["state"]> {
  const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };
  const exitCode = typeof code === "number" ? code : 128 + (signals[code] ?? 0);
  return {
    terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt, finishedAt },
  };
}

// ---------------------------------------------------------------------------------------------
// The kubelet

/** A running child process (Supervised satisfies it). */
export interface ChildProcessHandle {
  readonly pid: number | undefined;
  readonly exit: Promise<number | string>;
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs: number): Promise<void>;
  kill(): Promise<void>;
}

/** GETs `url`; resolves with the status code, rejects on a connection error or after `timeoutMs`. */
export type HttpGet = (url: string, timeoutMs: number) => Promise<number>;

export const httpGet: HttpGet = (url, timeoutMs) =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    });
    req.on("error", reject);
    req.end();
  });

export interface ProcessKubeletOptions {
  /** The pods API (the admin identity). */
  readonly pods: ResourceClient<Pod>;
  /** Where each pod's process log goes. */
  readonly logDir: string;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly ip?: IpCommand;
  readonly startProcess?: (spec: ProcessSpec) => ChildProcessHandle;
  readonly httpGet?: HttpGet;
  /** The Node.js that runs the model server (default: the one running the harness). */
  readonly node?: string;
  readonly script?: string;
  /** Between restarts of a process that exited (default 1 s doubling to 30 s). */
  readonly restartBackoff?: BackoffOptions;
}

/** A pod's process as tests see it. */
export interface PodProcessInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly podIP: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly phase: PodProcess["phase"];
}

/** The kubelet's minimum time between SIGTERM and SIGKILL when preStop used the whole grace period. */
const MINIMUM_GRACE_MS = 2_000;

interface Deps {
  readonly pods: ResourceClient<Pod>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly ip: IpCommand;
  readonly startProcess: (spec: ProcessSpec) => ChildProcessHandle;
  readonly httpGet: HttpGet;
  readonly node: string;
  readonly script: string;
  readonly logDir: string;
  readonly restartBackoff: BackoffOptions;
  readonly started: (pid: number) => void;
}

/** How long a pod's status write that failed waits before it is tried again (1 s doubling to 30 s). */
const STATUS_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };

/**
 * A pod's status writes, one at a time and in order. A write whose state (`key`) is the last one
 * written is skipped. A write that fails is not taken as written: it is logged and tried again after
 * a growing backoff (`backoffDelay`), unless a newer state was queued meanwhile (that one is written
 * instead), so one failed request (a timeout, an API server restart) cannot leave a Ready process
 * reported not Ready.
 */
export class StatusWrites {
  readonly #clock: Clock;
  readonly #backoff: BackoffOptions;
  readonly #failed: (err: unknown) => void;
  #written = "";
  #queued = 0;
  /** Failed writes in a row, for the backoff. */
  #failures = 0;
  #chain: Promise<void> = Promise.resolve();
  #retry: Timer | undefined;
  #stopped = false;

  constructor(clock: Clock, backoff: BackoffOptions, failed: (err: unknown) => void) {
    this.#clock = clock;
    this.#backoff = backoff;
    this.#failed = failed;
  }

  /** Queues the write of the state `key`; `write` throws when it did not write. */
  push(key: string, write: () => Promise<void>): void {
    if (this.#stopped) return;
    const seq = ++this.#queued;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#chain = this.#chain.then(async () => {
      if (key === this.#written || this.#stopped) return;
      try {
        await write();
        this.#written = key;
        this.#failures = 0;
      } catch (err) {
        this.#failed(err);
        this.#failures++;
        // A retry that falls due after stop() finds push() closed.
        if (seq === this.#queued)
          this.#retry = this.#clock.setTimeout(
            () => {
              this.push(key, write);
            },
            backoffDelay(this.#failures, this.#backoff),
          );
      }
    });
  }

  /** Resolves once the writes queued so far are done (a retry not yet due is not waited for). */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** No more writes or retries (the pod is going away). */
  stop(): void {
    this.#stopped = true;
    this.#retry?.cancel();
  }
}

/** One pod: its address, its process (restarted as needed), its probes and its deletion. */
class PodProcess {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly logFile: string;
  phase: "waiting" | "starting" | "running" | "backoff" | "terminating" | "done" = "waiting";
  podIP = "";
  restartCount = 0;
  #pod: DeepReadonly<Pod>;
  #deps: Deps;
  #proc: ChildProcessHandle | undefined;
  #startedAt = "";
  #generation = 0;
  #probe: ProbeState = INITIAL_PROBE;
  #probeTimer: Timer | undefined;
  #restartTimer: Timer | undefined;
  #lastState: ContainerStatus["lastState"];
  readonly #statuses: StatusWrites;
  #addressAdded = false;
  #terminating: Promise<void> | undefined;

  constructor(pod: DeepReadonly<Pod>, deps: Deps) {
    this.#pod = pod;
    this.#deps = deps;
    this.uid = pod.metadata?.uid ?? "";
    this.namespace = pod.metadata?.namespace ?? "";
    this.name = pod.metadata?.name ?? "";
    this.logFile = join(deps.logDir, `${this.namespace}_${this.name}.log`);
    this.#statuses = new StatusWrites(deps.clock, STATUS_RETRY, (err) => {
      this.#log("error", { err: String(err) }, "status write failed; trying again");
    });
  }

  get #container(): Container {
    const container = this.#pod.spec?.containers[0];
    if (container === undefined) throw new ProcessKubeletError(`pod ${this.#key} has no container`);
    return container;
  }

  get #key(): string {
    return `${this.namespace}/${this.name}`;
  }

  get pid(): number | undefined {
    return this.#proc?.exited === false ? this.#proc.pid : undefined;
  }

  get ready(): boolean {
    return this.#ready();
  }

  /** The latest object from the informer. */
  sync(pod: DeepReadonly<Pod>): void {
    this.#pod = pod;
    if (pod.metadata?.deletionTimestamp !== undefined) {
      void this.terminate();
      return;
    }
    const ip = pod.status?.podIP;
    if (this.phase === "waiting" && ip !== undefined && pod.status?.phase === "Running") {
      this.podIP = ip;
      this.phase = "starting";
      void this.#launch();
    }
  }

  async #launch(): Promise<void> {
    try {
      await addAddress(this.podIP, this.#deps.ip);
      this.#addressAdded = true;
    } catch (err) {
      this.#log("error", { err: String(err) }, "cannot add the pod IP to lo");
      return;
    }
    if (this.phase === "starting") this.#spawn();
    else await this.#removeAddress(); // deleted or stopped meanwhile
  }

  #spawn(): void {
    const { env, skipped } = processEnv(this.#container, this.podIP);
    if (skipped.length > 0)
      this.#log("warn", { skipped }, "env entries with valueFrom are not supported; skipped");
    const proc = this.#deps.startProcess({
      name: `pod ${this.#key}`,
      command: this.#deps.node,
      args: [this.#deps.script],
      logFile: this.logFile,
      env,
    });
    this.#proc = proc;
    if (proc.pid !== undefined) this.#deps.started(proc.pid);
    this.phase = "running";
    this.#startedAt = new Date(this.#deps.clock.now()).toISOString();
    this.#probe = INITIAL_PROBE;
    const generation = ++this.#generation;
    this.#log("info", { pid: proc.pid, ip: this.podIP, restartCount: this.restartCount }, "process started");
    this.#report();
    void proc.exit.then((code) => {
      this.#exited(generation, code);
    });
    const settings = probeSettings(this.#container);
    if (settings.unsupported !== undefined)
      this.#log(
        "warn",
        { kind: settings.unsupported },
        "readiness probe kind not supported; Ready once started",
      );
    if (settings.http !== undefined) this.#scheduleProbe(generation, settings, settings.initialDelayMs);
  }

  #ready(): boolean {
    if (this.phase !== "running" && this.phase !== "terminating") return false;
    if (this.#proc?.exited !== false) return false;
    const settings = probeSettings(this.#container);
    return settings.http === undefined ? true : this.#probe.result === "success";
  }

  /** The process of `generation` is the one running (not exited, not replaced, not killed). */
  #current(generation: number): boolean {
    return generation === this.#generation && this.#proc?.exited === false;
  }

  #scheduleProbe(generation: number, settings: ProbeSettings, delayMs: number): void {
    this.#probeTimer = this.#deps.clock.setTimeout(() => {
      void this.#probeOnce(generation, settings);
    }, delayMs);
  }

  async #probeOnce(generation: number, settings: ProbeSettings): Promise<void> {
    const http = settings.http;
    if (!this.#current(generation) || http === undefined) return;
    let ok = false;
    let message: string | undefined;
    if (http.port === undefined) {
      message = `readiness probe failed: port "${http.portName}" is not a port of the container`;
    } else {
      const url = `http://${this.podIP}:${http.port}${http.path}`;
      try {
        const status = await this.#deps.httpGet(url, settings.timeoutMs);
        ok = status >= 200 && status < 400;
        message = `readiness probe failed: HTTP probe failed with statuscode: ${status}`;
      } catch (err) {
        message = `readiness probe failed: Get "${url}": ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (!this.#current(generation)) return;
    const before = this.#probe.result;
    this.#probe = nextProbeState(this.#probe, ok, message, settings);
    if (this.#probe.result !== before) {
      this.#log(
        "info",
        { ready: this.#probe.result === "success", message: ok ? undefined : message },
        "readiness changed",
      );
      this.#report();
    }
    this.#scheduleProbe(generation, settings, settings.periodMs);
  }

  #exited(generation: number, code: number | string): void {
    if (generation !== this.#generation) return;
    this.#probeTimer?.cancel();
    const now = new Date(this.#deps.clock.now()).toISOString();
    const terminated = terminatedState(code, this.#startedAt, now);
    this.#log("info", { code }, "process exited");
    if (this.phase === "terminating") return;
    this.restartCount++;
    this.#lastState = terminated;
    this.phase = "backoff";
    const delayMs = backoffDelay(this.restartCount, this.#deps.restartBackoff);
    this.#report({
      waiting: {
        reason: "CrashLoopBackOff",
        message: `back-off ${Math.round(delayMs / 1000)}s restarting failed container=${this.#container.name} pod=${this.name}`,
      },
    });
    this.#restartTimer = this.#deps.clock.setTimeout(() => {
      if (this.phase === "backoff") this.#spawn();
    }, delayMs);
  }

  /** Writes the container's state when it differs from what was last written. */
  #report(waiting?: NonNullable<ContainerStatus["state"]>): void {
    const ready = this.#ready();
    const state = waiting ?? { running: { startedAt: this.#startedAt } };
    const report: ContainerReport = {
      ready,
      started: waiting === undefined,
      restartCount: this.restartCount,
      state,
      ...(this.#lastState === undefined ? {} : { lastState: this.#lastState }),
      ...(ready || this.#probe.result !== "failure" || this.#probe.message === undefined
        ? {}
        : { detail: this.#probe.message }),
    };
    const key = JSON.stringify([
      report.ready,
      report.started,
      report.restartCount,
      Object.keys(state),
      this.#probe.result,
    ]);
    this.#statuses.push(key, () => this.#writeStatus(report));
  }

  /** Writes `report`; resolves when written or when the pod is gone, throws when it was not written. */
  async #writeStatus(report: ContainerReport): Promise<void> {
    let pod = this.#pod;
    for (let attempt = 1; ; attempt++) {
      try {
        const patch = statusPatch(pod, report, new Date(this.#deps.clock.now()).toISOString());
        await this.#deps.pods.mergePatchStatus(this.namespace, this.name, patch, {
          ...(pod.metadata?.resourceVersion === undefined
            ? {}
            : { resourceVersion: pod.metadata.resourceVersion }),
        });
        return;
      } catch (err) {
        if (err instanceof NotFoundError) return;
        if (!(err instanceof ConflictError) || attempt >= 5) throw err;
        try {
          pod = await this.#deps.pods.get(this.namespace, this.name);
        } catch (getErr) {
          if (getErr instanceof NotFoundError) return;
          throw getErr;
        }
        if (pod.metadata?.uid !== this.uid) return;
      }
    }
  }

  /**
   * Deletion: preStop sleep, SIGTERM, the rest of the grace period (probing all the while), SIGKILL,
   * the address off lo, then the pod object deleted (grace 0, this uid only).
   */
  terminate(): Promise<void> {
    this.#terminating ??= this.#terminate();
    return this.#terminating;
  }

  async #terminate(): Promise<void> {
    const clock = this.#deps.clock;
    const wasRunning = this.phase === "running";
    this.phase = "terminating";
    this.#restartTimer?.cancel();
    const graceSeconds =
      this.#pod.metadata?.deletionGracePeriodSeconds ?? this.#pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = clock.now() + graceSeconds * 1000;
    const proc = this.#proc;
    if (wasRunning && proc !== undefined && !proc.exited) {
      const preStop = preStopAction(this.#container);
      if (preStop !== undefined && "skipped" in preStop)
        this.#log("warn", { kind: preStop.skipped }, "preStop hook kind not supported; skipped");
      if (preStop !== undefined && "sleepMs" in preStop) {
        this.#log("info", { ms: preStop.sleepMs }, "preStop sleep");
        await Promise.race([sleepOn(clock, Math.min(preStop.sleepMs, graceSeconds * 1000)), proc.exit]);
      }
      const remaining = Math.max(MINIMUM_GRACE_MS, deadline - clock.now());
      this.#log("info", { pid: proc.pid, graceMs: remaining }, "sending SIGTERM");
      await proc.stop(remaining);
    }
    this.#probeTimer?.cancel();
    this.#generation++;
    await this.#statuses.settled();
    this.#statuses.stop();
    await this.#removeAddress();
    this.phase = "done";
    try {
      await this.#deps.pods.delete(this.namespace, this.name, {
        gracePeriodSeconds: 0,
        preconditions: { uid: this.uid },
      });
      this.#log("info", {}, "pod deleted");
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof ConflictError))
        this.#log("error", { err: String(err) }, "pod delete failed");
    }
  }

  /** The pod object is gone without this kubelet (a forced deletion): kill at once, free the address. */
  async gone(): Promise<void> {
    if (this.#terminating !== undefined) {
      await this.#terminating;
      return;
    }
    this.phase = "done";
    await this.kill();
  }

  /** SIGKILL the process, stop every timer, remove the address. */
  async kill(): Promise<void> {
    this.#generation++;
    this.#statuses.stop();
    this.#probeTimer?.cancel();
    this.#restartTimer?.cancel();
    await this.#proc?.kill();
    await this.#removeAddress();
  }

  async #removeAddress(): Promise<void> {
    if (!this.#addressAdded) return;
    this.#addressAdded = false;
    try {
      await removeAddress(this.podIP, this.#deps.ip);
    } catch (err) {
      this.#log("error", { err: String(err) }, "cannot remove the pod IP from lo");
    }
  }

  #log(level: keyof Logger, fields: Record<string, unknown>, message: string): void {
    this.#deps.logger[level]({ pod: this.#key, ...fields }, message);
  }
}

function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Keeps only what tells a pod apart for pods this kubelet does not run (thousands in benchmarks). */
function slim(pod: Pod): Pod {
  if (runsAsProcess(pod)) return pod;
  return {
    metadata: {
      name: pod.metadata?.name ?? "",
      namespace: pod.metadata?.namespace ?? "",
      uid: pod.metadata?.uid ?? "",
      resourceVersion: pod.metadata?.resourceVersion ?? "",
    },
  };
}

export class ProcessKubelet {
  readonly #informer: Informer<Pod>;
  readonly #deps: Deps;
  readonly #pods = new Map<string, PodProcess>();
  readonly #pids: number[] = [];
  #stopped = false;

  private constructor(options: ProcessKubeletOptions) {
    this.#deps = {
      pods: options.pods,
      logger: options.logger,
      clock: options.clock ?? realClock,
      ip: options.ip ?? runIp,
      startProcess: options.startProcess ?? ((spec) => Supervised.start(spec)),
      httpGet: options.httpGet ?? httpGet,
      node: options.node ?? process.execPath,
      script: options.script ?? MODEL_SERVER_SCRIPT,
      logDir: options.logDir,
      restartBackoff: options.restartBackoff ?? { initialMs: 1_000, maxMs: 30_000 },
      started: (pid) => this.#pids.push(pid),
    };
    this.#informer = new Informer<Pod>({
      name: "process-kubelet-pods",
      listWatch: options.pods.listWatch(undefined, { fieldSelector: "spec.nodeName!=" }),
      transform: slim,
      logger: options.logger,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.#informer.subscribe((event) => {
      if (this.#stopped) return;
      const pod = event.object;
      const uid = pod.metadata?.uid ?? "";
      if (event.type === "delete") {
        const proc = this.#pods.get(uid);
        this.#pods.delete(uid);
        void proc?.gone();
        return;
      }
      if (!runsAsProcess(pod)) return;
      let proc = this.#pods.get(uid);
      if (proc === undefined) {
        proc = new PodProcess(pod, this.#deps);
        this.#pods.set(uid, proc);
      }
      proc.sync(pod);
    });
  }

  /** Starts watching pods; resolves once the first list is in. */
  static async start(options: ProcessKubeletOptions): Promise<ProcessKubelet> {
    const kubelet = new ProcessKubelet(options);
    kubelet.#informer.start();
    await kubelet.#informer.waitForSync();
    return kubelet;
  }

  /** The pods whose process this kubelet runs (or is starting, restarting or stopping). */
  processes(): PodProcessInfo[] {
    return [...this.#pods.values()]
      .filter((p) => p.phase !== "done")
      .map((p) => ({
        namespace: p.namespace,
        name: p.name,
        uid: p.uid,
        podIP: p.podIP,
        pid: p.pid,
        logFile: p.logFile,
        restartCount: p.restartCount,
        ready: p.ready,
        phase: p.phase,
      }));
  }

  /** Every pid it ever started (for leak checks). */
  pids(): number[] {
    return [...this.#pids];
  }

  /** Stops watching, SIGKILLs every process and removes every address it added. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#informer.stop();
    await Promise.all([...this.#pods.values()].map((p) => p.kill()));
    this.#pods.clear();
  }
}
