/**
 * A small HTTP API on 127.0.0.1 through which other processes drive a running control plane:
 * vitest workers (the control plane lives in the suite's global setup process), the sandbox CLI,
 * the demo and the benchmarks.
 *
 *   GET  /status                  components, pids, kubeconfig
 *   GET  /processes               the model-server pods running as processes (process kubelet)
 *   POST /apiserver/stop|start|restart|kill
 *   POST /kubeconfig              {"user": "alice", "groups": ["dev"]} or
 *                                 {"serviceAccount": {"namespace": "ns", "name": "sa"}} -> {"path": ...}
 *   POST /shutdown                stops everything (the sandbox's `down`)
 */
import { createServer, type IncomingMessage, type Server } from "node:http";

import type { ComponentStatus, ControlPlane } from "./controlplane.ts";
import type { PodProcessInfo } from "./process-kubelet.ts";

export interface ControlPlaneInfo {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly kubernetesVersion: string;
  readonly kubectl: string;
  readonly components: readonly ComponentStatus[];
}

export type KubeconfigRequest =
  | { readonly user: string; readonly groups?: readonly string[] }
  | { readonly serviceAccount: { readonly namespace: string; readonly name: string } };

function info(cp: ControlPlane): ControlPlaneInfo {
  return {
    dir: cp.dir,
    server: cp.server,
    kubeconfig: cp.kubeconfigPath,
    kubernetesVersion: cp.binaries.kubernetesVersion,
    kubectl: cp.binaries.kubectl,
    components: cp.status(),
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text === "" ? {} : (JSON.parse(text) as unknown);
}

function isKubeconfigRequest(body: unknown): body is KubeconfigRequest {
  if (typeof body !== "object" || body === null) return false;
  if ("user" in body) return typeof body.user === "string";
  if ("serviceAccount" in body) {
    const sa = body.serviceAccount;
    return typeof sa === "object" && sa !== null && "namespace" in sa && "name" in sa;
  }
  return false;
}

/** Serves the control API for `cp` on a free loopback port; resolves with its URL and the server. */
export async function serveControlApi(
  cp: ControlPlane,
  onShutdown: () => Promise<void>,
): Promise<{ url: string; server: Server }> {
  // Fault-injection calls are serialised so two tests never restart the API server at once.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const route = `${req.method ?? "GET"} ${req.url ?? "/"}`;
    const handle = async (): Promise<unknown> => {
      switch (route) {
        case "GET /status":
          return info(cp);
        case "GET /processes":
          return cp.processes();
        case "POST /apiserver/stop":
          return serial(() => cp.stopApiServer()).then(() => info(cp));
        case "POST /apiserver/kill":
          return serial(() => cp.killApiServer()).then(() => info(cp));
        case "POST /apiserver/start":
          return serial(() => cp.startApiServer()).then(() => info(cp));
        case "POST /apiserver/restart":
          return serial(() => cp.restartApiServer()).then(() => info(cp));
        case "POST /controller-manager/restart":
          return serial(() => cp.restartComponent("kube-controller-manager")).then(() => info(cp));
        case "POST /kubeconfig": {
          const body = await readBody(req);
          if (!isKubeconfigRequest(body))
            throw new TypeError("body must be {user, groups?} or {serviceAccount: {namespace, name}}");
          return { path: await cp.kubeconfigFor(body) };
        }
        case "POST /shutdown":
          setImmediate(() => void onShutdown());
          return { stopping: true };
        default:
          return undefined;
      }
    };
    handle().then(
      (body) => {
        if (body === undefined) send(404, { error: `no route ${route}` });
        else send(200, body);
      },
      (err: unknown) => {
        send(500, { error: err instanceof Error ? err.message : String(err) });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}

/** The client side of the control API. */
export class ControlPlaneClient {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  async #call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`control plane ${method} ${path}: ${parsed.error ?? res.statusText}`);
    return parsed;
  }

  status(): Promise<ControlPlaneInfo> {
    return this.#call("GET", "/status");
  }

  /** The model-server pods running as processes (empty when the control plane runs none). */
  processes(): Promise<PodProcessInfo[]> {
    return this.#call("GET", "/processes");
  }

  stopApiServer(): Promise<ControlPlaneInfo> {
    return this.#call("POST", "/apiserver/stop");
  }

  killApiServer(): Promise<ControlPlaneInfo> {
    return this.#call("POST", "/apiserver/kill");
  }

  startApiServer(): Promise<ControlPlaneInfo> {
    return this.#call("POST", "/apiserver/start");
  }

  restartApiServer(): Promise<ControlPlaneInfo> {
    return this.#call("POST", "/apiserver/restart");
  }

  /** Restarts kube-controller-manager (fresh informers; the ReplicaSet, EndpointSlice and GC controllers). */
  restartControllerManager(): Promise<ControlPlaneInfo> {
    return this.#call("POST", "/controller-manager/restart");
  }

  async kubeconfigFor(who: KubeconfigRequest): Promise<string> {
    return (await this.#call<{ path: string }>("POST", "/kubeconfig", who)).path;
  }

  async shutdown(): Promise<void> {
    await this.#call("POST", "/shutdown");
  }
}
