/**
 * ModelService on Model resources (src/api/model.ts): a Vertex AI model is a Model object, each of
 * its versions an entry of spec.versions.
 *
 * - upload: without `parentModel`, a new Model (id `modelId`, or 16 generated digits) with version
 *   1; with it, a new version of that model, one above its highest id. The operation is done at
 *   once (nothing is copied or built: the container image is the caller's).
 * - get (`M`, `M@version`, `M@alias`), list (the default version of each model), listVersions.
 * - delete: refused with FAILED_PRECONDITION while a ModelEndpoint in the namespace deploys a
 *   version of it (an entry whose `model` is `M@...`), naming them.
 */
import { z } from "zod";

import { API_VERSION, MODEL_KIND } from "../api/constants.ts";
import { parseModel } from "../api/model-parse.ts";
import { defaultModelVersion, nextModelVersionId, resolveModelVersion } from "../api/model-version.ts";
import type { Model, ModelVersion } from "../api/model.ts";
import type { ResourceClient } from "../kube/client.ts";
import { readPlanReplace } from "../edits/replace.ts";
import type { Reads } from "./reads.ts";
import type { KubeObject } from "../kube/objects.ts";
import { splitModel } from "../controller/objects.ts";
import { timestamps } from "./convert.ts";
import { endpointName, modelName, newDeployedModelId, parentName, type Parent } from "./names.ts";
import { fromKubeError, RpcError } from "./status.ts";

export const UploadModelRequest = z.strictObject({
  parentModel: z.string().optional(),
  modelId: z.string().optional(),
  serviceAccount: z.string().optional(),
  model: z.strictObject({
    displayName: z.string().min(1).max(128),
    description: z.string().optional(),
    versionDescription: z.string().optional(),
    versionAliases: z.array(z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    artifactUri: z.string().optional(),
    containerSpec: z.record(z.string(), z.unknown()),
  }),
});

/** A model id a caller may give: what names a Model object (a DNS label). */
const MODEL_ID = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What reading models needs: the models, and the endpoints that deploy them. */
export interface ModelReads {
  readonly models: Reads;
  readonly endpoints: Reads;
}

/** What writing models needs, with the caller's identity. */
export interface ModelClients extends ModelReads {
  readonly models: ResourceClient<KubeObject>;
  readonly endpoints: ResourceClient<KubeObject>;
}

function parsed(raw: unknown, name: string): Model {
  const result = parseModel(raw);
  if (result.ok) return result.value;
  throw new RpcError(
    "FAILED_PRECONDITION",
    `model ${name} does not validate: ${result.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
  );
}

async function readModel(
  clients: ModelReads,
  parent: Parent,
  id: string,
): Promise<{ raw: KubeObject; model: Model }> {
  try {
    const raw = await clients.models.get(parent.namespace, id);
    return { raw, model: parsed(raw, id) };
  } catch (err) {
    throw fromKubeError(err, `model ${id}`);
  }
}

/** The endpoints and deployed models of the namespace that deploy a version of `id` (`version`: that one only). */
async function deployments(
  clients: ModelReads,
  parent: Parent,
  id: string,
  version?: string,
): Promise<{ endpoint: string; deployedModelId: string }[]> {
  let items: readonly KubeObject[];
  try {
    items = (await clients.endpoints.list(parent.namespace)).items;
  } catch (err) {
    throw fromKubeError(err, `the endpoints of ${parent.project}`);
  }
  return items.flatMap((o) => {
    const spec = (o as { spec?: { deployedModels?: { id: string; model?: string }[] } }).spec;
    return (spec?.deployedModels ?? [])
      .filter((m) => {
        const ref = splitModel(m.model ?? "");
        return ref.name === id && (version === undefined || ref.version === version);
      })
      .map((m) => ({ endpoint: endpointName(parent, o.metadata?.name ?? ""), deployedModelId: m.id }));
  });
}

/** A version as Vertex AI's Model message. */
export function toVertexModel(
  parent: Parent,
  model: Model,
  version: ModelVersion,
  deployed: readonly { endpoint: string; deployedModelId: string }[] = [],
): Record<string, unknown> {
  const created = model.metadata.creationTimestamp;
  return {
    name: modelName(parent, model.metadata.name),
    versionId: version.id,
    versionAliases: version.aliases ?? [],
    ...timestamps({
      versionCreateTime: version.createTime ?? created,
      versionUpdateTime: version.createTime ?? created,
      createTime: created,
      updateTime: created,
    }),
    displayName: version.displayName ?? model.spec.displayName,
    ...(model.spec.description === undefined ? {} : { description: model.spec.description }),
    ...(version.description === undefined ? {} : { versionDescription: version.description }),
    // artifactUri is the Model's on Vertex; here it travels in the container spec.
    ...(version.containerSpec.artifactUri === undefined
      ? {}
      : { artifactUri: version.containerSpec.artifactUri }),
    containerSpec: Object.fromEntries(
      Object.entries(version.containerSpec).filter(([k]) => k !== "artifactUri"),
    ),
    labels: { ...(model.spec.labels ?? {}), ...(version.labels ?? {}) },
    deployedModels: deployed,
    etag: model.metadata.resourceVersion ?? "",
  };
}

export async function getModel(
  clients: ModelReads,
  parent: Parent,
  ref: string,
): Promise<Record<string, unknown>> {
  const { name: id, version: asked } = splitModel(ref);
  const { model } = await readModel(clients, parent, id);
  const resolved = resolveModelVersion(model, asked);
  if (!resolved.ok) throw new RpcError("NOT_FOUND", resolved.error.message);
  return toVertexModel(
    parent,
    model,
    resolved.version,
    await deployments(clients, parent, id, resolved.version.id),
  );
}

export async function listModels(clients: ModelReads, parent: Parent): Promise<Record<string, unknown>[]> {
  let items: readonly KubeObject[];
  try {
    items = (await clients.models.list(parent.namespace)).items;
  } catch (err) {
    throw fromKubeError(err, `the models of ${parent.project}`);
  }
  return items.flatMap((raw) => {
    const model = parsed(raw, raw.metadata?.name ?? "?");
    const version = defaultModelVersion(model);
    return version === undefined ? [] : [toVertexModel(parent, model, version)];
  });
}

export async function listVersions(
  clients: ModelReads,
  parent: Parent,
  id: string,
): Promise<Record<string, unknown>[]> {
  const { model } = await readModel(clients, parent, id);
  return model.spec.versions.map((v) => toVertexModel(parent, model, v));
}

/** containerSpec's int64 fields, which proto3 JSON sends as strings, as the numbers the CRD holds. */
function withInt64Numbers(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const shm = spec["sharedMemorySizeMb"];
  return typeof shm === "string" && /^\d+$/.test(shm)
    ? { ...spec, sharedMemorySizeMb: Number(shm) }
    : { ...spec };
}

/** Uploads a model or a version; resolves with the model id and the new version's id. */
export async function uploadModel(
  clients: ModelClients,
  parent: Parent,
  body: z.output<typeof UploadModelRequest>,
  now: () => Date = () => new Date(),
): Promise<{ model: string; versionId: string }> {
  const version = {
    // The Model's artifactUri travels in the container spec, so a deployment copies it along.
    containerSpec: {
      ...withInt64Numbers(body.model.containerSpec),
      ...(body.model.artifactUri === undefined || body.model.artifactUri === ""
        ? {}
        : { artifactUri: body.model.artifactUri }),
    },
    ...(body.model.versionAliases === undefined ? {} : { aliases: body.model.versionAliases }),
    ...(body.model.versionDescription === undefined ? {} : { description: body.model.versionDescription }),
    createTime: now().toISOString(),
  };
  if (body.parentModel === undefined || body.parentModel === "") {
    const id = body.modelId === undefined || body.modelId === "" ? newDeployedModelId() : body.modelId;
    if (!MODEL_ID.test(id)) {
      throw new RpcError(
        "INVALID_ARGUMENT",
        `modelId ${JSON.stringify(id)} must be a DNS label: lowercase letters, digits and '-', at most 63`,
        [{ field: "modelId", description: "a DNS label" }],
      );
    }
    const object = {
      apiVersion: API_VERSION,
      kind: MODEL_KIND,
      metadata: { name: id, namespace: parent.namespace },
      spec: {
        displayName: body.model.displayName,
        ...(body.model.description === undefined ? {} : { description: body.model.description }),
        ...(body.model.labels === undefined ? {} : { labels: body.model.labels }),
        versions: [{ id: "1", ...version }],
      },
    };
    try {
      await clients.models.create(object);
    } catch (err) {
      throw fromKubeError(err, `model ${id}`);
    }
    return { model: id, versionId: "1" };
  }
  const prefix = `${parentName(parent)}/models/`;
  const id = body.parentModel.startsWith(prefix) ? body.parentModel.slice(prefix.length) : "";
  if (!MODEL_ID.test(id)) {
    throw new RpcError(
      "INVALID_ARGUMENT",
      `parentModel ${JSON.stringify(body.parentModel)} must be ${prefix}<model id>`,
      [{ field: "parentModel", description: "a model of this project and location" }],
    );
  }
  try {
    const { planned } = await readPlanReplace(clients.models, parent.namespace, id, (raw) => {
      const versionId = nextModelVersionId(parsed(raw, id));
      const rawSpec = (raw as { spec?: { versions?: unknown[] } }).spec ?? {};
      return {
        versionId,
        next: {
          ...raw,
          spec: { ...rawSpec, versions: [...(rawSpec.versions ?? []), { id: versionId, ...version }] },
        },
      };
    });
    return { model: id, versionId: planned.versionId };
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw fromKubeError(err, `model ${id}`);
  }
}

export async function deleteModel(clients: ModelClients, parent: Parent, id: string): Promise<void> {
  const used = await deployments(clients, parent, id);
  if (used.length > 0) {
    throw new RpcError(
      "FAILED_PRECONDITION",
      `model ${id} is deployed (${used.map((d) => `${d.endpoint} deployed model ${d.deployedModelId}`).join(", ")}): undeploy it first`,
    );
  }
  try {
    await clients.models.delete(parent.namespace, id);
  } catch (err) {
    throw fromKubeError(err, `model ${id}`);
  }
}
