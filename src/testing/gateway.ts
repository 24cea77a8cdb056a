/**
 * A real Gateway API data plane for the local control plane: Traefik (the kubernetesgateway
 * provider) as a child process on 127.0.0.1, watching the control plane through KUBECONFIG.
 *
 *     const gw = await startGateway({ kubeconfig, binaries, dir, log });
 *     // HTTPRoutes with parentRefs: [gw.parentRef] are served at gw.url
 *     await gw.stop();
 *
 * `startGateway` installs the Gateway API CRDs (server-side apply, waits until Established),
 * starts Traefik with one HTTP entryPoint on a free port, creates the GatewayClass `traefik` and
 * the Gateway `gateway-system/model-gateway` whose one HTTP listener has the entryPoint's port
 * (Traefik maps a listener to the entryPoint whose address ends in `:<port>`), and waits until
 * Traefik reports the Gateway Accepted and Programmed.
 *
 * Traefik routes to the addresses of a Service's EndpointSlices itself (not to the ClusterIP):
 * only endpoints with `conditions.ready: true` receive traffic; `serving` and `terminating` are
 * not read. See docs/controlplane.md "The gateway".
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import { BinariesMissingError, type Binaries } from "./binaries.ts";
import { freePort, runKubectl, waitFor, WaitTimeoutError } from "./harness.ts";
import { Supervised } from "./process.ts";

export const GATEWAY_NAMESPACE = "gateway-system";
export const GATEWAY_NAME = "model-gateway";
export const GATEWAY_CLASS = "traefik";
/** The controller name Traefik's kubernetesgateway provider claims GatewayClasses by. */
export const TRAEFIK_CONTROLLER = "traefik.io/gateway-controller";

/**
 * The least time between two configurations Traefik applies from its Kubernetes provider
 * (`--providers.providersThrottleDuration`, 2 s by default). A change (an EndpointSlice, a route's
 * weights) reaches the data plane at once when none was applied in this window, else at its end:
 * with 2 s a pod that turns unready keeps receiving requests for up to 2 s, longer than the
 * simulated pods take to change state. 100 ms keeps that lag below the pods' readiness delay
 * while bursts of changes (a rollout moving many pods) still coalesce into few reloads.
 */
export const PROVIDERS_THROTTLE = "100ms";

export interface GatewayOptions {
  /** An admin kubeconfig of the control plane. */
  readonly kubeconfig: string;
  readonly binaries: Binaries;
  /** Where Traefik's log (traefik.log) goes. */
  readonly dir: string;
  /** Progress lines; silent when omitted. */
  readonly log?: (line: string) => void;
  /** How long Traefik has to accept the Gateway (default 60 s). */
  readonly acceptTimeoutMs?: number;
}

export interface GatewayParentRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Gateway {
  /** http://127.0.0.1:<port>: the Gateway's HTTP listener. */
  readonly url: string;
  /** The Gateway to name in an HTTPRoute's parentRefs. */
  readonly parentRef: GatewayParentRef;
  /** Traefik's pid, for leak checks. */
  readonly pid: number | undefined;
  readonly logFile: string;
  /** True while Traefik runs. */
  running(): boolean;
  /** Stops Traefik (SIGTERM, SIGKILL after a grace period) and waits until it is gone. */
  stop(): Promise<void>;
}

export class GatewayError extends Error {
  override readonly name = "GatewayError";
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

interface GatewayStatus {
  readonly status?: {
    readonly conditions?: readonly Condition[];
    readonly listeners?: readonly { readonly name: string; readonly conditions?: readonly Condition[] }[];
  };
}

const isTrue = (conditions: readonly Condition[] | undefined, type: string): boolean =>
  conditions?.some((c) => c.type === type && c.status === "True") === true;

const describeConditions = (conditions: readonly Condition[] | undefined): string =>
  conditions && conditions.length > 0
    ? conditions.map((c) => `${c.type}=${c.status} (${c.reason ?? ""}: ${c.message ?? ""})`).join(", ")
    : "none";

/** The Gateway API objects: the namespace, the GatewayClass and the Gateway. */
export function gatewayObjects(port: number): unknown[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: GATEWAY_NAMESPACE } },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: GATEWAY_CLASS },
      spec: { controllerName: TRAEFIK_CONTROLLER },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: GATEWAY_NAME, namespace: GATEWAY_NAMESPACE },
      spec: {
        gatewayClassName: GATEWAY_CLASS,
        listeners: [{ name: "http", protocol: "HTTP", port, allowedRoutes: { namespaces: { from: "All" } } }],
      },
    },
  ];
}

/** Traefik's command line: one HTTP entryPoint, ping on its own entryPoint, the Gateway provider. */
export function traefikArgs(ports: { readonly http: number; readonly ping: number }): string[] {
  return [
    `--entryPoints.web.address=127.0.0.1:${ports.http}`,
    `--entryPoints.ping.address=127.0.0.1:${ports.ping}`,
    // In-flight requests get 2 s to finish on SIGTERM (10 s by default): stop() stays short.
    "--entryPoints.web.transport.lifecycle.graceTimeOut=2s",
    "--entryPoints.ping.transport.lifecycle.graceTimeOut=0s",
    "--ping=true",
    "--ping.entryPoint=ping",
    "--providers.kubernetesGateway=true",
    `--providers.providersThrottleDuration=${PROVIDERS_THROTTLE}`,
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    "--log.level=INFO",
    "--log.noColor=true",
  ];
}

/** Installs the Gateway API CRDs, starts Traefik and waits until it serves the Gateway. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const started = Date.now();
  const log = options.log ?? ((): void => undefined);
  const { binaries } = options;
  for (const [what, path] of [
    ["traefik", binaries.traefik],
    ["the Gateway API CRDs", binaries.gatewayApiCrds],
  ] as const) {
    if (!existsSync(path))
      throw new BinariesMissingError(
        `${what} missing at ${path}. Run 'make controlplane' (builds it with Go).`,
      );
  }
  const kubectl = (args: readonly string[], input?: string): Promise<string> =>
    runKubectl(binaries.kubectl, options.kubeconfig, args, input);

  await kubectl(["apply", "--server-side", "--field-manager=meo-gateway", "-f", binaries.gatewayApiCrds]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", binaries.gatewayApiCrds]);

  const ports = { http: await freePort(), ping: await freePort() };
  const logFile = join(options.dir, "traefik.log");
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: options.kubeconfig };
  // Traefik prefers the in-cluster client when these are set.
  delete env["KUBERNETES_SERVICE_HOST"];
  delete env["KUBERNETES_SERVICE_PORT"];
  const proc = Supervised.start({
    name: "traefik",
    command: binaries.traefik,
    args: traefikArgs(ports),
    logFile,
    env,
    cwd: options.dir,
  });
  const gateway: Gateway = {
    url: `http://127.0.0.1:${ports.http}`,
    parentRef: { namespace: GATEWAY_NAMESPACE, name: GATEWAY_NAME },
    pid: proc.pid,
    logFile,
    running: () => !proc.exited,
    stop: () => proc.stop(5_000),
  };
  try {
    await waitFor("traefik /ping", async () => (await fetch(`http://127.0.0.1:${ports.ping}/ping`)).ok, {
      timeoutMs: 30_000,
      intervalMs: 100,
      check: () => {
        proc.assertRunning();
      },
    });
    await kubectl(
      ["apply", "--server-side", "--field-manager=meo-gateway", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: gatewayObjects(ports.http) }),
    );
    await awaitAccepted(kubectl, proc, options.acceptTimeoutMs ?? 60_000);
  } catch (err) {
    await gateway.stop();
    throw err;
  }
  log(`gateway (traefik) ready at ${gateway.url} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return gateway;
}

/** Polls the Gateway until Accepted and Programmed; on timeout the error lists its conditions. */
async function awaitAccepted(
  kubectl: (args: readonly string[]) => Promise<string>,
  proc: Supervised,
  timeoutMs: number,
): Promise<void> {
  let last: GatewayStatus = {};
  try {
    await waitFor(
      `Gateway ${GATEWAY_NAMESPACE}/${GATEWAY_NAME} Accepted and Programmed`,
      async () => {
        last = JSON.parse(
          await kubectl(["get", "gateway", GATEWAY_NAME, "-n", GATEWAY_NAMESPACE, "-o", "json"]),
        ) as GatewayStatus;
        return isTrue(last.status?.conditions, "Accepted") && isTrue(last.status?.conditions, "Programmed");
      },
      {
        timeoutMs,
        check: () => {
          proc.assertRunning();
        },
      },
    );
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    const listeners = (last.status?.listeners ?? [])
      .map((l) => `listener ${l.name}: ${describeConditions(l.conditions)}`)
      .join("; ");
    const gatewayClass = await kubectl([
      "get",
      "gatewayclass",
      GATEWAY_CLASS,
      "-o",
      "jsonpath={.status.conditions}",
    ]).catch((e: unknown) => String(e));
    throw new GatewayError(
      `Gateway ${GATEWAY_NAMESPACE}/${GATEWAY_NAME} not Accepted and Programmed after ${timeoutMs} ms; ` +
        `conditions: ${describeConditions(last.status?.conditions)}${listeners ? `; ${listeners}` : ""}; ` +
        `GatewayClass ${GATEWAY_CLASS}: ${gatewayClass || "no status"}. Traefik's log: ${proc.spec.logFile}`,
      { cause: err },
    );
  }
}
