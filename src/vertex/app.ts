/**
 * The Vertex AI REST API on a cluster: routes, identities and errors. Methods live in
 * endpoints.ts (EndpointService), operations.ts (long-running operations) and predict.ts
 * (PredictionService); this module parses names and bodies, gives each request a client with the
 * caller's identity, and turns every failure into a google.rpc.Status.
 *
 * Both `/v1` and `/v1beta1` answer, with the same methods. `?alt=json` and
 * `$alt=json;enum-encoding=int` (what Google's client libraries add) are accepted. Operations also
 * answer under `/ui`, where the client libraries poll them (the first binding of
 * google.longrunning.Operations in their REST mapping), with v1beta1's messages: a superset of
 * v1's with the same field numbers, so a v1 client decodes them as well.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";

import type { ModelEndpoint } from "../api/index.ts";
import { parseModel } from "../api/model-parse.ts";
import type { Model } from "../api/model.ts";
import { NotFoundError } from "../kube/errors.ts";
import type { KubeObject } from "../kube/objects.ts";
import { parseEndpoint } from "../edits/endpoint.ts";
import { modelOf, toVertexEndpoint } from "./convert.ts";
import {
  cancelDeployment,
  createEndpoint,
  deleteEndpoint,
  deployModel,
  findEndpoint,
  mutateDeployedModel,
  pollEndpoint,
  readEndpoint,
  undeployModel,
  updateEndpoint,
  type Cluster,
  type DeployDefaults,
  type Started,
} from "./endpoints.ts";
import { resolveParent, type NameSettings, type Parent } from "./names.ts";
import type { Reads, View } from "./reads.ts";
import {
  deleteModel,
  getModel,
  listModels,
  listVersions,
  uploadModel,
  UploadModelRequest,
  type ModelClients,
} from "./modelservice.ts";
import {
  deriveModelOperation,
  deriveOperation,
  operationId,
  parseOperationId,
  type Operation,
} from "./operations.ts";
import { choosePredictTarget, keepAliveForward, type Forward } from "./predict.ts";
import { fromKubeError, RpcError } from "./status.ts";
import {
  DeployModelRequest,
  Endpoint,
  EndpointPatch,
  MutateDeployedModelRequest,
  parseBody,
  parseUpdateMask,
  PredictRequest,
  UndeployModelRequest,
} from "./wire.ts";

/** Request bodies above this many bytes are refused (INVALID_ARGUMENT). */
export const MAX_BODY_BYTES = 1_500_000;

/** What the app needs for one request, as the caller. */
export interface Identity {
  /** The API server with the caller's identity: writes, and the fresh reads they plan from. */
  readonly cluster: Cluster;
  readonly models: ModelClients;
  /** Reads that answer GETs, lists, operations and predictions (informer caches in main.ts). */
  readonly view: View;
}

export interface AppOptions extends NameSettings {
  /**
   * The cluster with the identity of the request's bearer token; in local mode the token is
   * undefined and the kubeconfig's identity is used. Throws UNAUTHENTICATED without a token when
   * not local.
   */
  readonly identify: (token: string | undefined) => Identity;
  /** The Gateway the endpoints' HTTPRoutes attach to, for :predict; undefined: to pods directly. */
  readonly gatewayUrl?: string | undefined;
  /** How long operations.wait waits at most (Vertex: the request's timeout, capped). */
  readonly maxWaitMs?: number;
  /**
   * How long undeployModel waits for the operator to move a serving model's traffic away before
   * it removes the model (below the client libraries' 60 s request timeout).
   */
  readonly trafficMoveWaitMs?: number;
  /** What deployModel fills in where the request says nothing. */
  readonly deployDefaults?: DeployDefaults;
  /** How predictions are sent on (default: keepAliveForward()). */
  readonly forward?: Forward;
}

const VERSIONS: ReadonlySet<string> = new Set(["v1", "v1beta1"]);
/** Where operations answer: the versions, and `ui`, the first path the client libraries poll. */
const OPERATION_SURFACES: ReadonlySet<string> = new Set([...VERSIONS, "ui"]);

interface Route {
  /** The API version whose messages the answer carries (v1beta1 for `ui`). */
  readonly version: string;
  readonly parent: Parent;
}

function route(c: Context, settings: NameSettings, surfaces: ReadonlySet<string> = VERSIONS): Route {
  const asked = c.req.param("version") ?? "";
  if (!surfaces.has(asked))
    throw new RpcError("NOT_FOUND", `API version ${asked} not found: ${[...surfaces].join(" or ")}`);
  return {
    version: asked === "ui" ? "v1beta1" : asked,
    parent: resolveParent(settings, c.req.param("project") ?? "", c.req.param("location") ?? ""),
  };
}

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RpcError(
      "INVALID_ARGUMENT",
      `the request body is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** `resource:verb` -> [resource, verb]. */
function splitVerb(segment: string): [string, string | undefined] {
  const at = segment.indexOf(":");
  return at < 0 ? [segment, undefined] : [segment.slice(0, at), segment.slice(at + 1)];
}

/** `field="value" AND ...` on display_name / displayName and labels.<key>; anything else refused. */
function parseFilter(filter: string | undefined): (e: Record<string, unknown>) => boolean {
  if (filter === undefined || filter.trim() === "") return () => true;
  const terms = filter.split(/\s+AND\s+/i).map((term) => {
    const match = /^\s*([a-zA-Z_.\-/0-9]+)\s*=\s*"([^"]*)"\s*$/.exec(term);
    if (match?.[1] === undefined) {
      throw new RpcError(
        "INVALID_ARGUMENT",
        `filter term ${JSON.stringify(term)}: only field="value" terms joined by AND are supported`,
      );
    }
    const [field, value] = [match[1], match[2] ?? ""];
    if (field === "display_name" || field === "displayName")
      return (e: Record<string, unknown>) => e["displayName"] === value;
    if (field.startsWith("labels.")) {
      const key = field.slice("labels.".length);
      return (e: Record<string, unknown>) =>
        (e["labels"] as Record<string, string> | undefined)?.[key] === value;
    }
    throw new RpcError(
      "INVALID_ARGUMENT",
      `filter field ${field}: display_name and labels.<key> are supported`,
    );
  });
  return (e) => terms.every((t) => t(e));
}

export function createApp(options: AppOptions): Hono {
  const app = new Hono();
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const trafficMoveWaitMs = options.trafficMoveWaitMs ?? 30_000;
  const forward = options.forward ?? keepAliveForward();

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new RpcError(
          "INVALID_ARGUMENT",
          `the request body is larger than ${String(MAX_BODY_BYTES)} bytes`,
        );
      },
    }),
  );

  app.onError((err, c) => {
    const rpc = err instanceof RpcError ? err : fromKubeError(err, "the request");
    return c.json(rpc.toJSON(), rpc.httpStatus as 400);
  });

  app.notFound((c) => {
    const rpc = new RpcError("UNIMPLEMENTED", `method ${c.req.method} ${c.req.path} is not implemented`);
    return c.json(rpc.toJSON(), 501);
  });

  const identity = (c: Context): Identity => options.identify(bearer(c));

  /** The endpoint after a write (read fresh as the caller), once the cache shows it as well. */
  const afterWrite = async (r: Route, id: Identity, endpointId: string) => {
    const endpoint = await findEndpoint(id.cluster.endpoints, r.parent, endpointId);
    await id.view.endpoints.settle?.(r.parent.namespace, endpointId, endpoint?.metadata.resourceVersion);
    return endpoint;
  };

  const operation = async (r: Route, id: Identity, s: Started): Promise<Operation> =>
    deriveOperation(r.version, r.parent, s.endpointId, s.operationId, await afterWrite(r, id, s.endpointId));

  const base = "/:version/projects/:project/locations/:location/endpoints";

  app.get(base, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const matches = parseFilter(c.req.query("filter"));
    const pageSize = Math.min(Math.max(Number(c.req.query("pageSize") ?? 100) || 100, 1), 1000);
    const token = c.req.query("pageToken") ?? "";
    const after = token === "" ? "" : Buffer.from(token, "base64url").toString("utf8");
    let items: readonly KubeObject[];
    try {
      items = (await id.view.endpoints.list(r.parent.namespace)).items;
    } catch (err) {
      throw fromKubeError(err, `the endpoints of ${r.parent.project}`);
    }
    const all = items
      .map((o) => toVertexEndpoint(r.parent, parseEndpoint(o), { allDeploymentStates: false }))
      .filter(matches)
      .sort((a, b) => String(a["name"]).localeCompare(String(b["name"])))
      .filter((e) => after === "" || String(e["name"]) > after);
    const page = all.slice(0, pageSize);
    const next =
      all.length > pageSize ? Buffer.from(String(page.at(-1)?.["name"])).toString("base64url") : undefined;
    return c.json({ endpoints: page, ...(next === undefined ? {} : { nextPageToken: next }) });
  });

  app.post(base, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const body = parseBody(Endpoint, await jsonBody(c), "Endpoint");
    const s = await createEndpoint(id.cluster, r.parent, c.req.query("endpointId"), body);
    return c.json(await operation(r, id, s));
  });

  app.get(`${base}/:endpoint{[^/:]+}`, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const { endpoint } = await readEndpoint(id.view.endpoints, r.parent, c.req.param("endpoint"));
    return c.json(
      toVertexEndpoint(r.parent, endpoint, {
        allDeploymentStates: c.req.query("allDeploymentStates") === "true",
      }),
    );
  });

  app.patch(`${base}/:endpoint{[^/:]+}`, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const body = parseBody(EndpointPatch, await jsonBody(c), "Endpoint");
    const mask = parseUpdateMask(c.req.query("updateMask"), [
      "displayName",
      "description",
      "labels",
      "trafficSplit",
    ]);
    const endpointId = c.req.param("endpoint");
    const updated = await updateEndpoint(id.cluster, r.parent, endpointId, body, mask);
    await id.view.endpoints.settle?.(r.parent.namespace, endpointId, String(updated["etag"]));
    return c.json(updated);
  });

  app.delete(`${base}/:endpoint{[^/:]+}`, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const s = await deleteEndpoint(id.cluster, r.parent, c.req.param("endpoint"));
    return c.json(await operation(r, id, s));
  });

  app.post(`${base}/:call{[^/]+}`, async (c) => {
    const r = route(c, options);
    const [endpointId, verb] = splitVerb(c.req.param("call"));
    const id = identity(c);
    const body = await jsonBody(c);
    switch (verb) {
      case "deployModel":
      case "undeployModel": {
        const s =
          verb === "deployModel"
            ? await deployModel(
                id.cluster,
                r.parent,
                endpointId,
                parseBody(DeployModelRequest, body, "DeployModelRequest"),
                options.deployDefaults,
              )
            : await undeployModel(
                id.cluster,
                r.parent,
                endpointId,
                parseBody(UndeployModelRequest, body, "UndeployModelRequest"),
                trafficMoveWaitMs,
              );
        return c.json(await operation(r, id, s));
      }
      case "mutateDeployedModel": {
        const request = parseBody(MutateDeployedModelRequest, body, "MutateDeployedModelRequest");
        const mask = parseUpdateMask(request.updateMask ?? c.req.query("updateMask"), [
          "dedicatedResources.minReplicaCount",
          "dedicatedResources.maxReplicaCount",
          "dedicatedResources.autoscalingMetricSpecs",
        ]);
        const s = await mutateDeployedModel(id.cluster, r.parent, endpointId, request, mask);
        return c.json(await operation(r, id, s));
      }
      case "predict":
      case "rawPredict": {
        if (verb === "predict") parseBody(PredictRequest, body, "PredictRequest");
        const { endpoint } = await readEndpoint(id.view.endpoints, r.parent, endpointId);
        const target = await choosePredictTarget(endpoint, {
          gatewayUrl: options.gatewayUrl,
          location: r.parent.location,
          slices: id.view.slices,
        });
        const answer = await forward(target.url, JSON.stringify(body)).catch((err: unknown) => {
          throw new RpcError(
            "UNAVAILABLE",
            `the model did not answer: ${err instanceof Error ? err.message : String(err)}`,
          );
        });
        const text = answer.text;
        if (verb === "rawPredict")
          return c.body(text, answer.status as 200, {
            "content-type": answer.contentType ?? "application/json",
          });
        if (answer.status !== 200) {
          throw new RpcError(
            "UNAVAILABLE",
            `the model answered HTTP ${String(answer.status)}: ${text.slice(0, 200)}`,
          );
        }
        const predicted = JSON.parse(text) as Record<string, unknown>;
        const deployedModelId =
          (predicted["deployedModelId"] as string | undefined) ?? target.deployedModelId;
        const entry = endpoint.spec.deployedModels.find((m) => m.id === deployedModelId);
        return c.json({
          predictions: predicted["predictions"] ?? [],
          ...(deployedModelId === undefined ? {} : { deployedModelId }),
          ...(entry === undefined ? {} : modelOf(r.parent, entry.model)),
        });
      }
      default:
        throw new RpcError("UNIMPLEMENTED", `method ${verb ?? "(none)"} on endpoints is not implemented`);
    }
  });

  app.get(`${base}/:endpoint{[^/:]+}/operations`, async (c) => {
    const r = route(c, options, OPERATION_SURFACES);
    const id = identity(c);
    const endpointId = c.req.param("endpoint");
    const { endpoint } = await readEndpoint(id.view.endpoints, r.parent, endpointId);
    const operations = endpoint.spec.deployedModels.map((m) =>
      deriveOperation(r.version, r.parent, endpointId, operationId("deployModel", m.id), endpoint),
    );
    return c.json({ operations });
  });

  app.get(`${base}/:endpoint{[^/:]+}/operations/:op{[^/:]+}`, async (c) => {
    const r = route(c, options, OPERATION_SURFACES);
    const id = identity(c);
    const endpointId = c.req.param("endpoint");
    const endpoint = await findEndpoint(id.view.endpoints, r.parent, endpointId);
    return c.json(deriveOperation(r.version, r.parent, endpointId, c.req.param("op"), endpoint));
  });

  app.post(`${base}/:endpoint{[^/:]+}/operations/:call{[^/]+}`, async (c) => {
    const r = route(c, options, OPERATION_SURFACES);
    const id = identity(c);
    const endpointId = c.req.param("endpoint");
    const [op, verb] = splitVerb(c.req.param("call"));
    if (verb === "cancel") {
      const { kind, model } = parseOperationId(op);
      if (kind !== "deployModel") {
        throw new RpcError(
          "FAILED_PRECONDITION",
          `operation ${op} cannot be cancelled: only a deployModel operation can (a rolling deployment is rolled back)`,
        );
      }
      await cancelDeployment(id.cluster, r.parent, endpointId, model);
      await afterWrite(r, id, endpointId);
      return c.json({});
    }
    if (verb !== "wait")
      throw new RpcError("UNIMPLEMENTED", `method ${verb ?? "(none)"} on operations is not implemented`);
    const body = (await jsonBody(c)) as { timeout?: string };
    const asked = typeof body.timeout === "string" ? Number.parseFloat(body.timeout) * 1000 : maxWaitMs;
    const derive = (endpoint: ModelEndpoint | undefined) =>
      deriveOperation(r.version, r.parent, endpointId, op, endpoint);
    const waitMs = Math.min(Number.isFinite(asked) ? asked : maxWaitMs, maxWaitMs);
    const endpoint = await pollEndpoint(
      id.view.endpoints,
      r.parent,
      endpointId,
      (e) => derive(e).done,
      waitMs,
    );
    return c.json(derive(endpoint));
  });

  const models = "/:version/projects/:project/locations/:location/models";

  /** The model as it is now, or undefined when it does not exist. */
  const findModel = async (models: Reads, r: Route, modelId: string): Promise<Model | undefined> => {
    let raw: unknown;
    try {
      raw = await models.get(r.parent.namespace, modelId);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw fromKubeError(err, `model ${modelId}`);
    }
    const parsed = parseModel(raw);
    return parsed.ok ? parsed.value : undefined;
  };

  app.post("/:version/projects/:project/locations/:location/:call{models:[a-zA-Z]+}", async (c) => {
    const r = route(c, options);
    const verb = c.req.param("call").slice("models:".length);
    if (verb !== "upload") throw new RpcError("UNIMPLEMENTED", `method models:${verb} is not implemented`);
    const id = identity(c);
    const body = parseBody(UploadModelRequest, await jsonBody(c), "UploadModelRequest");
    const uploaded = await uploadModel(id.models, r.parent, body);
    const model = await findModel(id.models.models, r, uploaded.model);
    await id.view.models.settle?.(r.parent.namespace, uploaded.model, model?.metadata.resourceVersion);
    return c.json(
      deriveModelOperation(
        r.version,
        r.parent,
        uploaded.model,
        operationId("uploadModel", uploaded.versionId),
        model,
      ),
    );
  });

  app.get(models, async (c) => {
    const r = route(c, options);
    return c.json({ models: await listModels(identity(c).view, r.parent) });
  });

  app.get(`${models}/:model{[^/:]+}`, async (c) => {
    const r = route(c, options);
    return c.json(await getModel(identity(c).view, r.parent, c.req.param("model")));
  });

  app.get(`${models}/:call{[^/]+:listVersions}`, async (c) => {
    const r = route(c, options);
    const [modelId] = splitVerb(c.req.param("call"));
    return c.json({ models: await listVersions(identity(c).view, r.parent, modelId) });
  });

  app.delete(`${models}/:model{[^/:@]+}`, async (c) => {
    const r = route(c, options);
    const id = identity(c);
    const modelId = c.req.param("model");
    await deleteModel(id.models, r.parent, modelId);
    const model = await findModel(id.models.models, r, modelId);
    await id.view.models.settle?.(r.parent.namespace, modelId, model?.metadata.resourceVersion);
    return c.json(deriveModelOperation(r.version, r.parent, modelId, operationId("deleteModel", ""), model));
  });

  app.get(`${models}/:model{[^/:@]+}/operations/:op{[^/:]+}`, async (c) => {
    const r = route(c, options, OPERATION_SURFACES);
    const id = identity(c);
    const modelId = c.req.param("model");
    return c.json(
      deriveModelOperation(
        r.version,
        r.parent,
        modelId,
        c.req.param("op"),
        await findModel(id.view.models, r, modelId),
      ),
    );
  });

  return app;
}
