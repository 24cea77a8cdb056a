/**
 * PredictionService: `:predict` and `:rawPredict` reach a model through the endpoint's data plane.
 *
 * - With a gateway (`--gateway-url`, the Gateway the operator's HTTPRoutes attach to): the request
 *   goes to the endpoint's route, `/v1/projects/<namespace>/locations/<location>/endpoints/<e>:predict`,
 *   and the gateway weights it exactly by status.trafficSplit.
 * - Without: a deployed model is drawn with the weights of status.trafficSplit (per request, so the
 *   split is exact), then one of its ready endpoints from the EndpointSlices of its Service
 *   `<e>-<id>`; the request goes to that address at the model's predictRoute. A pod that is not
 *   Ready is never in a slice's ready set, so it never gets a request.
 *
 * An endpoint with no share served by a ready endpoint answers FAILED_PRECONDITION at once.
 */
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

import type { ModelEndpoint } from "../api/index.ts";
import { predictPaths } from "../controller/dataplane.ts";
import { modelServiceName } from "../controller/objects.ts";
import { effectiveRoutes } from "../controller/resolve.ts";
import type { KubeObject } from "../kube/objects.ts";
import type { Reads } from "./reads.ts";
import { RpcError } from "./status.ts";

interface Slice extends KubeObject {
  readonly endpoints?: readonly { addresses?: string[]; conditions?: { ready?: boolean } }[];
  readonly ports?: readonly { port?: number }[];
}

/** Draws one key of `weights` in proportion to its weight; `random` in [0, 1). */
export function drawWeighted(weights: Readonly<Record<string, number>>, random: number): string | undefined {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let point = random * total;
  for (const [key, w] of entries) {
    if (point < w) return key;
    point -= w;
  }
  return entries.at(-1)?.[0];
}

export interface PredictTarget {
  readonly url: string;
  readonly deployedModelId: string | undefined;
}

/** Where a prediction to `endpoint` goes now. */
export async function choosePredictTarget(
  endpoint: ModelEndpoint,
  options: {
    readonly gatewayUrl: string | undefined;
    readonly location: string;
    readonly slices: Reads;
    readonly random?: () => number;
  },
): Promise<PredictTarget> {
  const name = endpoint.metadata.name;
  const namespace = endpoint.metadata.namespace ?? "";
  const split = endpoint.status?.trafficSplit ?? {};
  if (Object.values(split).every((w) => w <= 0)) {
    throw new RpcError(
      "FAILED_PRECONDITION",
      `endpoint ${name} has no deployed model that serves: status.trafficSplit is empty`,
    );
  }
  if (options.gatewayUrl !== undefined) {
    return {
      // The Vertex-style path of the endpoint's HTTPRoute: unique across namespaces.
      url: `${options.gatewayUrl}${predictPaths(namespace, name, options.location)[1] ?? ""}`,
      deployedModelId: undefined,
    };
  }
  const random = options.random ?? Math.random;
  const id = drawWeighted(split, random());
  if (id === undefined) throw new RpcError("FAILED_PRECONDITION", `endpoint ${name} has no traffic split`);
  const slices = await options.slices.list(namespace, {
    labelSelector: `kubernetes.io/service-name=${modelServiceName(name, id)}`,
  });
  const ready = (slices.items as Slice[]).flatMap((s) =>
    (s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .flatMap((e) => (e.addresses ?? []).map((address) => ({ address, port: s.ports?.[0]?.port }))),
  );
  const pick = ready[Math.floor(random() * ready.length)];
  if (pick?.port === undefined) {
    throw new RpcError(
      "FAILED_PRECONDITION",
      `deployed model ${id} of endpoint ${name} has no ready replica right now`,
    );
  }
  const host = pick.address.includes(":") ? `[${pick.address}]` : pick.address;
  return {
    url: `http://${host}:${String(pick.port)}${effectiveRoutes(endpoint, id).predictRoute}`,
    deployedModelId: id,
  };
}

export interface Forwarded {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

/** Sends predictions to models and gateways; its connections are kept alive and reused. */
export type Forward = (url: string, body: string) => Promise<Forwarded>;

/**
 * Forwards with node:http(s) and keep-alive agents: per request a fraction of what fetch costs,
 * which the server pays on every prediction. Rejects on a connection failure or `timeoutMs`.
 */
export function keepAliveForward(timeoutMs = 60_000): Forward {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 }),
  };
  return (url, body) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const https = target.protocol === "https:";
      const send = https ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: "POST",
          agent: https ? agents["https:"] : agents["http:"],
          timeout: timeoutMs,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.setEncoding("utf8");
          let text = "";
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], text });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${String(timeoutMs)} ms`)));
      req.on("error", reject);
      req.end(body);
    });
}
