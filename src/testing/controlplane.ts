/**
 * A real Kubernetes control plane on 127.0.0.1, without containers: etcd, kube-apiserver (TLS,
 * RBAC), kube-controller-manager (deployment, replicaset, endpointslice, garbage-collector and
 * namespace controllers), kube-scheduler, kwok playing the kubelet of a few fake nodes, and
 * metrics-server serving metrics.k8s.io from the resource usage kwok simulates (resource-metrics.ts).
 *
 * Used by the integration tests (one control plane per suite), the sandbox (`make sandbox-up`),
 * the demo and the benchmarks. Every component listens on a free loopback port and keeps its state
 * in one folder; `stop()` ends every process and frees every port. Each child is tied to this
 * process' life (see process.ts), so an interrupted run leaves nothing behind.
 *
 *     const cp = await ControlPlane.start({ nodes: 3 });
 *     // cp.kubeconfigPath is an admin kubeconfig (client certificate in system:masters)
 *     await cp.restartApiServer();   // fault tests
 *     await cp.stop();
 */
import { execFile } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { KubeConfig } from "@kubernetes/client-node";

import { KubeClient, type Logger } from "../kube/index.ts";
import { findBinaries, type Binaries } from "./binaries.ts";
import { startGateway, type Gateway } from "./gateway.ts";
import { freePort, runKubectl, waitFor } from "./harness.ts";
import { kwokStages } from "./kwok-stages.ts";
import {
  checkLoopbackAccess,
  cidrRange,
  numberToIpv4,
  reserveCidr,
  type CidrReservation,
} from "./loopback.ts";
import {
  clientCert,
  createFrontProxyPki,
  createPki,
  FRONT_PROXY_CLIENT,
  servingCert,
  type ClientCert,
  type FrontProxyPki,
  type Pki,
} from "./pki.ts";
import { ProcessKubelet, type PodProcessInfo } from "./process-kubelet.ts";
import { Supervised, tailFile, type ProcessSpec } from "./process.ts";
import {
  kwokResourceUsageConfig,
  METRICS_SERVER_ALT_NAMES,
  metricsApiObjects,
  metricsServerArgs,
  RESOURCE_METRICS_PATH_ANNOTATION,
  resourceMetricsPath,
} from "./resource-metrics.ts";

const runFile = promisify(execFile);

export interface ControlPlaneOptions {
  /** The folder for state, logs and kubeconfigs; a new temporary folder when omitted (removed on stop). */
  readonly dir?: string;
  /** How many fake Ready nodes to create (default 3). */
  readonly nodes?: number;
  /** How long a scheduled pod takes to become Ready (default 300 ms) ... */
  readonly readyDelayMs?: number;
  /** ... plus up to this much more at random (default 400 ms). */
  readonly readyJitterMs?: number;
  /** Progress lines ("etcd ready in 0.8s"); silent when omitted. */
  readonly log?: (line: string) => void;
  /** The binaries; found in the cache when omitted. */
  readonly binaries?: Binaries;
  /** Keep a temporary folder after stop(), for a post-mortem of the logs. */
  readonly keepDir?: boolean;
  /** Extra kube-apiserver flags, e.g. ["--max-requests-inflight=1000"]. */
  readonly apiserverArgs?: readonly string[];
  /** Extra kube-controller-manager flags, e.g. a secure port for its /debug/pprof. */
  readonly controllerManagerArgs?: readonly string[];
  /** Also start a Gateway API data plane (Traefik, see gateway.ts); `cp.gateway` then holds it. */
  readonly gateway?: boolean;
  /**
   * Run model-server pods as real processes on their pod IP (the process kubelet,
   * process-kubelet.ts; needs CAP_NET_ADMIN and iproute2). Other pods stay simulated by kwok.
   * Default false.
   */
  readonly processes?: boolean;
  /**
   * Serve metrics.k8s.io (PodMetrics, NodeMetrics) with metrics-server, from the usage kwok
   * simulates per pod annotation (resource-metrics.ts). Default true.
   */
  readonly metrics?: boolean;
}

/** kwok's pod CIDR when no pod runs: its addresses are never used on this machine. */
const SIMULATED_POD_CIDR = "10.244.0.0/16";

/** JSON lines appended to `file`. */
function fileLogger(file: string): Logger {
  const write =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      appendFileSync(file, `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    };
  return { debug: () => undefined, info: write("info"), warn: write("warn"), error: write("error") };
}

export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
}

/** The components, in start order. */
export const COMPONENTS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "metrics-server",
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ComponentStatus {
  readonly name: Component;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly logFile: string;
}

/** A GET over http, or over https with the given TLS material; resolves with status and body. */
function get(
  url: string,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    };
    const req = tls
      ? request(url, { ...tls, timeout: 5000 }, onResponse)
      : httpRequest(url, { timeout: 5000 }, onResponse);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** A kubeconfig with everything embedded, so it can be copied anywhere. */
export function renderKubeconfig(args: {
  server: string;
  caPem: string;
  user: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
}): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const auth = args.token
    ? `    token: ${args.token}`
    : `    client-certificate-data: ${b64(args.certPem ?? "")}\n    client-key-data: ${b64(args.keyPem ?? "")}`;
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${args.server}
    certificate-authority-data: ${b64(args.caPem)}
users:
- name: ${args.user}
  user:
${auth}
contexts:
- name: ${args.user}@local
  context:
    cluster: local
    user: ${args.user}
current-context: ${args.user}@local
`;
}

export class ControlPlane {
  readonly dir: string;
  readonly binaries: Binaries;
  readonly pki: Pki;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** An admin kubeconfig (system:masters). */
  readonly kubeconfigPath: string;
  readonly ports: {
    readonly etcd: number;
    readonly etcdPeer: number;
    readonly apiserver: number;
    /** kwok's HTTPS server: every node's kubelet port, where its resource metrics are. */
    readonly kwok: number;
    readonly metricsServer: number;
  };
  /** The aggregation layer's CA and the API server's proxy client certificate. */
  readonly frontProxy: FrontProxyPki;
  /** The serving certificates of kwok's server (127.0.0.1) and of metrics-server. */
  readonly serving: { readonly kwok: ClientCert; readonly metricsServer: ClientCert };
  /** Whether metrics-server runs (the `metrics` option). */
  readonly metricsEnabled: boolean;
  readonly #removeDirOnStop: boolean;
  readonly #log: (line: string) => void;
  readonly #specs = new Map<Component, ProcessSpec>();
  readonly #procs = new Map<Component, Supervised>();
  readonly #admin: ClientCert;
  #gateway: Gateway | undefined;
  #stopped = false;
  #reservation: CidrReservation | undefined;
  #kubelet: ProcessKubelet | undefined;

  private constructor(init: {
    dir: string;
    removeDirOnStop: boolean;
    binaries: Binaries;
    pki: Pki;
    admin: ClientCert;
    frontProxy: FrontProxyPki;
    serving: ControlPlane["serving"];
    ports: ControlPlane["ports"];
    metrics: boolean;
    log: (line: string) => void;
  }) {
    this.dir = init.dir;
    this.#removeDirOnStop = init.removeDirOnStop;
    this.binaries = init.binaries;
    this.pki = init.pki;
    this.#admin = init.admin;
    this.frontProxy = init.frontProxy;
    this.serving = init.serving;
    this.metricsEnabled = init.metrics;
    this.ports = init.ports;
    this.#log = init.log;
    this.server = `https://127.0.0.1:${init.ports.apiserver}`;
    this.kubeconfigPath = join(init.dir, "kubeconfig");
  }

  /**
   * Starts every component and waits until the API server is ready and the nodes are Ready.
   * On any failure everything started so far is stopped before the error is thrown.
   */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const started = Date.now();
    const log = options.log ?? ((): void => undefined);
    const binaries = options.binaries ?? findBinaries();
    // Before anything: a harness that may not add pod IPs to lo fails here, saying why.
    const reservation = options.processes === true ? await reservePodCidr() : undefined;
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "meo-controlplane-"));
    for (const sub of ["pki", "logs", "etcd", "kwok-home"]) mkdirSync(join(dir, sub), { recursive: true });
    const pki = await createPki(join(dir, "pki"));
    // One at a time: openssl keeps the CA's next serial number in one file.
    const admin = await clientCert(pki, "admin", ["system:masters"]);
    const kwokCert = await servingCert(pki, "kwok", ["IP:127.0.0.1"]);
    const metricsServerCert = await servingCert(pki, "metrics-server", METRICS_SERVER_ALT_NAMES);
    const frontProxy = await createFrontProxyPki(join(dir, "pki"));
    const ports = {
      etcd: await freePort(),
      etcdPeer: await freePort(),
      apiserver: await freePort(),
      kwok: await freePort(),
      metricsServer: await freePort(),
    };
    const removeDirOnStop = ownsDir && options.keepDir !== true;
    const metrics = options.metrics ?? true;
    const cp = new ControlPlane({
      dir,
      removeDirOnStop,
      binaries,
      pki,
      admin,
      frontProxy,
      serving: { kwok: kwokCert, metricsServer: metricsServerCert },
      ports,
      metrics,
      log,
    });
    cp.#reservation = reservation;
    try {
      await cp.#writeAdminKubeconfig();
      cp.#defineSpecs(options);
      await cp.#startEtcd();
      await cp.startApiServer();
      writeFileSync(
        join(dir, "kwok.yaml"),
        kwokStages({
          readyDelayMs: options.readyDelayMs ?? 300,
          readyJitterMs: options.readyJitterMs ?? 400,
          processImages: reservation !== undefined,
        }) + (metrics ? `---\n${kwokResourceUsageConfig()}` : ""),
      );
      for (const name of ["kube-controller-manager", "kube-scheduler", "kwok"] as const)
        cp.#startProcess(name);
      if (metrics) await cp.#startMetricsServer();
      await cp.#createNodes(options.nodes ?? 3);
      if (reservation !== undefined) await cp.#startKubelet();
      if (options.gateway === true)
        cp.#gateway = await startGateway({
          kubeconfig: cp.kubeconfigPath,
          binaries,
          dir: join(dir, "logs"),
          log,
        });
      if (metrics) await cp.#waitForMetricsApi();
      log(
        `control plane ${binaries.kubernetesVersion} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`,
      );
      return cp;
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  async #writeAdminKubeconfig(): Promise<void> {
    writeFileSync(
      this.kubeconfigPath,
      renderKubeconfig({
        server: this.server,
        caPem: await readFile(this.pki.caCert, "utf8"),
        user: "admin",
        certPem: await readFile(this.#admin.cert, "utf8"),
        keyPem: await readFile(this.#admin.key, "utf8"),
      }),
      { mode: 0o600 },
    );
  }

  #defineSpecs(options: ControlPlaneOptions): void {
    const b = this.binaries;
    const logFile = (name: string): string => join(this.dir, "logs", `${name}.log`);
    const etcdUrl = `http://127.0.0.1:${this.ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${this.ports.etcdPeer}`;
    this.#specs.set("etcd", {
      name: "etcd",
      command: b.etcd,
      logFile: logFile("etcd"),
      args: [
        "--name=default",
        `--data-dir=${join(this.dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
      ],
    });
    this.#specs.set("kube-apiserver", {
      name: "kube-apiserver",
      command: b.kubeApiserver,
      logFile: logFile("kube-apiserver"),
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${this.ports.apiserver}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // The endpoint reconciler refuses loopback addresses (v1.37); nothing here needs it.
        "--endpoint-reconciler-type=none",
        `--cert-dir=${join(this.dir, "pki")}`,
        `--tls-cert-file=${this.pki.serverCert}`,
        `--tls-private-key-file=${this.pki.serverKey}`,
        `--client-ca-file=${this.pki.caCert}`,
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-issuer=https://kubernetes.default.svc",
        `--service-account-key-file=${this.pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${this.pki.serviceAccountKey}`,
        "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
        // The aggregation layer (metrics-server's APIService): the API server proxies with this
        // client certificate and vouches for the user in X-Remote-* headers, which an aggregated
        // API server trusts for a certificate of this CA with this name.
        `--requestheader-client-ca-file=${this.frontProxy.caCert}`,
        `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        `--proxy-client-cert-file=${this.frontProxy.clientCert}`,
        `--proxy-client-key-file=${this.frontProxy.clientKey}`,
        "--allow-privileged=true",
        "--profiling=false",
        "--v=0",
        ...(options.apiserverArgs ?? []),
      ],
    });
    this.#specs.set("kube-controller-manager", {
      name: "kube-controller-manager",
      command: b.kubeControllerManager,
      logFile: logFile("kube-controller-manager"),
      args: [
        `--kubeconfig=${this.kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=false",
        "--controllers=deployment-controller,replicaset-controller,endpointslice-controller,garbage-collector-controller,namespace-controller,disruption-controller",
        "--concurrent-replicaset-syncs=10",
        "--concurrent-deployment-syncs=10",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--v=0",
        ...(options.controllerManagerArgs ?? []),
      ],
    });
    this.#specs.set("kube-scheduler", {
      name: "kube-scheduler",
      command: b.kubeScheduler,
      logFile: logFile("kube-scheduler"),
      args: [
        `--kubeconfig=${this.kubeconfigPath}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--v=0",
      ],
    });
    this.#specs.set("kwok", {
      name: "kwok",
      command: b.kwok,
      logFile: logFile("kwok"),
      // kwok reads ~/.kwok/kwok.yaml before --config: give it a HOME of its own.
      env: { ...process.env, HOME: join(this.dir, "kwok-home") },
      args: [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--config=${join(this.dir, "kwok.yaml")}`,
        "--manage-all-nodes=true",
        `--cidr=${this.podCidr}`,
        ...(this.metricsEnabled
          ? [
              // kwok's server plays every node's kubelet for metrics-server: each node's InternalIP
              // is 127.0.0.1 and its resource metrics are at resourceMetricsPath(node).
              `--server-address=127.0.0.1:${this.ports.kwok}`,
              "--node-ip=127.0.0.1",
              `--tls-cert-file=${this.serving.kwok.cert}`,
              `--tls-private-key-file=${this.serving.kwok.key}`,
            ]
          : []),
      ],
    });
    if (!this.metricsEnabled) return;
    this.#specs.set("metrics-server", {
      name: "metrics-server",
      command: b.metricsServer,
      logFile: logFile("metrics-server"),
      args: metricsServerArgs({
        port: this.ports.metricsServer,
        kubeletPort: this.ports.kwok,
        kubeconfig: this.kubeconfigPath,
        tlsCert: this.serving.metricsServer.cert,
        tlsKey: this.serving.metricsServer.key,
        kubeletCa: this.pki.caCert,
      }),
    });
  }

  /** The CIDR kwok hands pod IPs out of (reserved for this control plane when pods run). */
  get podCidr(): string {
    return this.#reservation?.cidr ?? SIMULATED_POD_CIDR;
  }

  async #startKubelet(): Promise<void> {
    const logDir = join(this.dir, "logs", "pods");
    mkdirSync(logDir, { recursive: true });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(this.kubeconfigPath);
    this.#kubelet = await ProcessKubelet.start({
      pods: KubeClient.fromKubeConfig(kubeConfig, { timeoutMs: 10_000 }).pods,
      logDir,
      logger: fileLogger(join(this.dir, "logs", "process-kubelet.log")),
    });
    this.#log(`process kubelet on: model-server pods run on ${this.podCidr}`);
  }

  /**
   * The model-server pods running as processes (empty when `processes` is off): pod, IP, pid, log
   * file, restarts, readiness.
   */
  processes(): PodProcessInfo[] {
    return this.#kubelet?.processes() ?? [];
  }

  #startProcess(name: Component): Supervised {
    const spec = this.#specs.get(name);
    if (!spec) throw new ControlPlaneError(`no process spec for ${name}`);
    const proc = Supervised.start(spec);
    this.#procs.set(name, proc);
    return proc;
  }

  async #startEtcd(): Promise<void> {
    const t = Date.now();
    const proc = this.#startProcess("etcd");
    await waitFor(
      "etcd /health",
      async () => (await get(`http://127.0.0.1:${this.ports.etcd}/health`)).body.includes('"true"'),
      {
        timeoutMs: 30_000,
        check: () => {
          proc.assertRunning();
        },
      },
    );
    this.#log(`etcd ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }

  /** GET a path of the API server with the admin identity. */
  async apiGet(path: string): Promise<{ status: number; body: string }> {
    const [ca, cert, key] = await Promise.all([
      readFile(this.pki.caCert),
      readFile(this.#admin.cert),
      readFile(this.#admin.key),
    ]);
    return get(`${this.server}${path}`, { ca, cert, key });
  }

  /** Starts the API server (again) on its port and waits for /readyz. */
  async startApiServer(): Promise<void> {
    const t = Date.now();
    const proc = this.#startProcess("kube-apiserver");
    await waitFor("kube-apiserver /readyz", async () => (await this.apiGet("/readyz")).status === 200, {
      timeoutMs: 120_000,
      intervalMs: 250,
      check: () => {
        proc.assertRunning();
      },
    });
    this.#log(`kube-apiserver ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }

  /** Stops the API server (SIGTERM, like a rolling restart); the rest keeps running. */
  async stopApiServer(): Promise<void> {
    await this.#procs.get("kube-apiserver")?.stop(5_000);
  }

  /** Kills the API server with SIGKILL (a crash). */
  async killApiServer(): Promise<void> {
    await this.#procs.get("kube-apiserver")?.kill();
  }

  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /**
   * Restarts kube-controller-manager, kube-scheduler or kwok (SIGTERM, then start again). Fault
   * tests use it when a component is stuck: after API server restarts on a loaded machine,
   * kube-controller-manager's informers can stay behind its own writes for minutes.
   */
  async restartComponent(name: "kube-controller-manager" | "kube-scheduler" | "kwok"): Promise<void> {
    await this.#procs.get(name)?.stop(5_000);
    this.#startProcess(name);
  }

  /**
   * Registers metrics.k8s.io with the aggregation layer and starts metrics-server; it runs while
   * the nodes are created, and #waitForMetricsApi awaits it at the end of start().
   */
  async #startMetricsServer(): Promise<void> {
    const objects = metricsApiObjects({
      port: this.ports.metricsServer,
      caBundlePem: await readFile(this.pki.caCert, "utf8"),
    });
    await this.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    });
    this.#startProcess("metrics-server");
  }

  /** Waits until the API server serves metrics.k8s.io through metrics-server (the APIService is Available). */
  async #waitForMetricsApi(): Promise<void> {
    const t = Date.now();
    const proc = this.#procs.get("metrics-server");
    await waitFor(
      "metrics.k8s.io/v1beta1 served through the aggregation layer",
      async () => (await this.apiGet("/apis/metrics.k8s.io/v1beta1")).status === 200,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        check: () => {
          proc?.assertRunning();
        },
      },
    );
    this.#log(`metrics-server serving metrics.k8s.io after ${((Date.now() - t) / 1000).toFixed(1)}s more`);
  }

  async #createNodes(count: number): Promise<void> {
    const t = Date.now();
    const nodes = Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: `kwok-node-${i}`,
          labels: { type: "kwok", "kubernetes.io/hostname": `kwok-node-${i}`, "kubernetes.io/os": "linux" },
          annotations: {
            "kwok.x-k8s.io/node": "fake",
            "node.alpha.kubernetes.io/ttl": "0",
            [RESOURCE_METRICS_PATH_ANNOTATION]: resourceMetricsPath(`kwok-node-${i}`),
          },
        },
      }),
    );
    await this.kubectl(["apply", "-f", "-"], {
      input: `{"apiVersion":"v1","kind":"List","items":[${nodes.join(",")}]}`,
    });
    await waitFor(
      `${count} Ready nodes`,
      async () => {
        const out = await this.kubectl([
          "get",
          "nodes",
          "-o",
          'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ]);
        return out.split("\n").filter((s) => s === "True").length >= count;
      },
      {
        timeoutMs: 60_000,
        check: () => {
          this.#procs.get("kwok")?.assertRunning();
        },
      },
    );
    this.#log(`${count} nodes Ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }

  /** Runs kubectl against this control plane (admin unless `kubeconfig` is given); returns stdout. */
  async kubectl(
    args: readonly string[],
    opts: { input?: string; kubeconfig?: string } = {},
  ): Promise<string> {
    return runKubectl(this.binaries.kubectl, opts.kubeconfig ?? this.kubeconfigPath, args, opts.input);
  }

  /**
   * A kubeconfig for another identity, for RBAC tests: a user (client certificate with CN=user and
   * O=groups) or a service account (a token from the TokenRequest API). Returns the file's path.
   */
  async kubeconfigFor(
    who:
      | { readonly user: string; readonly groups?: readonly string[] }
      | { readonly serviceAccount: { readonly namespace: string; readonly name: string } },
  ): Promise<string> {
    const caPem = await readFile(this.pki.caCert, "utf8");
    let content: string;
    let fileName: string;
    if ("user" in who) {
      const cert = await clientCert(this.pki, who.user, who.groups ?? []);
      content = renderKubeconfig({
        server: this.server,
        caPem,
        user: who.user,
        certPem: await readFile(cert.cert, "utf8"),
        keyPem: await readFile(cert.key, "utf8"),
      });
      fileName = `kubeconfig-user-${who.user}`;
    } else {
      const { namespace, name } = who.serviceAccount;
      const token = (await this.kubectl(["create", "token", name, "-n", namespace, "--duration=24h"])).trim();
      content = renderKubeconfig({ server: this.server, caPem, user: `${namespace}-${name}`, token });
      fileName = `kubeconfig-sa-${namespace}-${name}`;
    }
    const path = join(this.dir, fileName.replace(/[^a-zA-Z0-9_.-]/g, "_"));
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** The Gateway API data plane, when started with `gateway: true`. */
  get gateway(): Gateway | undefined {
    return this.#gateway;
  }

  /** Each component's pid and whether it runs (metrics-server only when it was asked for). */
  status(): ComponentStatus[] {
    return COMPONENTS.filter((name) => this.#specs.has(name)).map((name) => {
      const proc = this.#procs.get(name);
      return {
        name,
        pid: proc?.pid,
        running: proc !== undefined && !proc.exited,
        logFile: this.#specs.get(name)?.logFile ?? "",
      };
    });
  }

  /** The pids of every process this control plane ever started (for leak checks). */
  pids(): number[] {
    const pids = [...this.#procs.values()].map((p) => p.pid);
    return [...pids, this.#gateway?.pid, ...(this.#kubelet?.pids() ?? [])].filter((pid) => pid !== undefined);
  }

  /** The last lines of a component's log, for error messages. */
  logTail(name: Component, lines = 30): string {
    return tailFile(join(this.dir, "logs", `${name}.log`), lines);
  }

  /**
   * Stops every component in reverse start order and waits for each to exit; removes the folder if
   * the control plane created it (unless `keepDir` was set).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Pod processes first (SIGKILL, their addresses off lo), while the API server still answers.
    await this.#kubelet?.stop();
    await this.#reservation?.release();
    await this.#gateway?.stop();
    for (const name of [...COMPONENTS].reverse()) {
      await this.#procs.get(name)?.stop(name === "etcd" ? 10_000 : 5_000);
    }
    if (this.#removeDirOnStop) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Reserves this control plane's pod CIDR and proves the harness may add addresses to lo (adds and
 * removes one of the CIDR). Throws a LoopbackPermissionError naming the fix when it may not.
 */
async function reservePodCidr(): Promise<CidrReservation> {
  const reservation = await reserveCidr();
  try {
    await checkLoopbackAccess(numberToIpv4(cidrRange(reservation.cidr).last - 1));
    return reservation;
  } catch (err) {
    await reservation.release().catch(() => undefined);
    throw err;
  }
}

/** The kubectl version of the binaries, e.g. for the README's checks. */
export async function kubectlVersion(binaries: Binaries = findBinaries()): Promise<string> {
  const { stdout } = await runFile(binaries.kubectl, ["version", "--client", "-o", "json"]);
  const parsed = JSON.parse(stdout) as { clientVersion?: { gitVersion?: string } };
  return parsed.clientVersion?.gitVersion ?? "unknown";
}
