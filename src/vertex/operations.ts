/**
 * Long-running operations, derived from the cluster: nothing is kept in memory, so an operation
 * answers the same after the server restarts, and from any replica.
 *
 * An operation's id says what it waits for: a digit for the kind, then the deployed model's id in
 * base 37 as a decimal number (digits only, as Vertex's operation ids are). `projects/P/locations/
 * L/endpoints/E/operations/<id>` names the endpoint; the id names the model. Whether it is done is
 * read from the ModelEndpoint as it is now:
 *
 * | kind            | done when                                                | then                 |
 * | --------------- | -------------------------------------------------------- | -------------------- |
 * | create endpoint | the endpoint exists                                      | response: Endpoint   |
 * | deploy model    | the model is DEPLOYED (or REPLACED after it) / FAILED    | response / error     |
 * |                 | or the deployment was cancelled (an annotation says so)  | error CANCELLED      |
 * | undeploy model  | the model is neither in spec nor in status               | response: {}         |
 * | mutate model    | status reflects the spec's generation                    | response: model      |
 * | delete endpoint | the endpoint is gone                                     | response: {}         |
 */
import type { ModelEndpoint } from "../api/index.ts";
import { cancelledDeployments, stateOf, timestamps, toDeployedModel, toVertexEndpoint } from "./convert.ts";
import type { Model } from "../api/model.ts";
import { endpointName, modelName, type Parent } from "./names.ts";
import { RpcError } from "./status.ts";

export const OPERATION_KINDS = {
  createEndpoint: 1,
  deployModel: 2,
  undeployModel: 3,
  mutateDeployedModel: 4,
  deleteEndpoint: 5,
  uploadModel: 6,
  deleteModel: 7,
} as const;

export type OperationKind = keyof typeof OPERATION_KINDS;

const ALPHABET = "-0123456789abcdefghijklmnopqrstuvwxyz";

/** The operation id for `kind` on deployed model `model` ("" for the endpoint itself). */
export function operationId(kind: OperationKind, model: string): string {
  let n = 0n;
  for (const ch of model) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) throw new Error(`a deployed model id has only [-0-9a-z]: ${model}`);
    n = n * 37n + BigInt(digit + 1);
  }
  return `${String(OPERATION_KINDS[kind])}${n.toString()}`;
}

/** The kind and deployed model an operation id names; NOT_FOUND when it names none. */
export function parseOperationId(id: string): { kind: OperationKind; model: string } {
  const kind = (Object.keys(OPERATION_KINDS) as OperationKind[]).find(
    (k) => String(OPERATION_KINDS[k]) === id.slice(0, 1),
  );
  if (kind === undefined || !/^\d+$/.test(id)) throw new RpcError("NOT_FOUND", `operation ${id} not found`);
  let n = BigInt(id.slice(1));
  let model = "";
  while (n > 0n) {
    const digit = Number((n - 1n) % 37n);
    model = (ALPHABET[digit] ?? "") + model;
    n = (n - 1n - BigInt(digit)) / 37n;
  }
  return { kind, model };
}

/**
 * The type URL of a message an operation carries, for the API version asked; a message of
 * google.protobuf (Empty) is named as it is.
 */
function typeUrl(version: string, message: string): string {
  return message.startsWith("google.")
    ? `type.googleapis.com/${message}`
    : `type.googleapis.com/google.cloud.aiplatform.${version}.${message}`;
}

const METADATA: Record<OperationKind, string> = {
  createEndpoint: "CreateEndpointOperationMetadata",
  deployModel: "DeployModelOperationMetadata",
  undeployModel: "UndeployModelOperationMetadata",
  mutateDeployedModel: "MutateDeployedModelOperationMetadata",
  deleteEndpoint: "DeleteOperationMetadata",
  uploadModel: "UploadModelOperationMetadata",
  deleteModel: "DeleteOperationMetadata",
};

const RESPONSE: Record<OperationKind, string> = {
  createEndpoint: "Endpoint",
  deployModel: "DeployModelResponse",
  undeployModel: "UndeployModelResponse",
  mutateDeployedModel: "MutateDeployedModelResponse",
  deleteEndpoint: "google.protobuf.Empty",
  uploadModel: "UploadModelResponse",
  deleteModel: "google.protobuf.Empty",
};

export interface Operation {
  readonly name: string;
  readonly metadata: Record<string, unknown>;
  readonly done: boolean;
  readonly response?: Record<string, unknown>;
  readonly error?: { code: number; message: string };
}

/**
 * The operation `id` on endpoint `endpointId` as the cluster shows it now; `endpoint` is undefined
 * when the endpoint does not exist.
 */
export function deriveOperation(
  version: string,
  parent: Parent,
  endpointId: string,
  id: string,
  endpoint: ModelEndpoint | undefined,
): Operation {
  const { kind, model } = parseOperationId(id);
  const name = `${endpointName(parent, endpointId)}/operations/${id}`;
  const entry = endpoint?.spec.deployedModels.find((m) => m.id === model);
  const status = endpoint?.status?.deployedModels?.find((m) => m.id === model);
  const created = status?.createTime ?? endpoint?.metadata.creationTimestamp;
  const metadata = {
    "@type": typeUrl(version, METADATA[kind]),
    genericMetadata: timestamps({ createTime: created, updateTime: status?.lastUpdateTime ?? created }),
  };
  const pending: Operation = { name, metadata, done: false };
  const response = (body: Record<string, unknown>): Operation => ({
    name,
    metadata,
    done: true,
    response: {
      "@type": typeUrl(version, RESPONSE[kind]),
      ...body,
    },
  });
  switch (kind) {
    case "uploadModel":
    case "deleteModel":
      throw new RpcError("NOT_FOUND", `operation ${name} not found: it is an operation of a model`);
    case "createEndpoint":
      if (endpoint === undefined) throw new RpcError("NOT_FOUND", `operation ${name} not found`);
      return response(toVertexEndpoint(parent, endpoint, { allDeploymentStates: true }));
    case "deleteEndpoint":
      return endpoint === undefined || endpoint.metadata.deletionTimestamp !== undefined
        ? response({})
        : pending;
    case "undeployModel":
      if (endpoint === undefined) return response({});
      return entry === undefined && status === undefined ? response({}) : pending;
    case "deployModel":
    case "mutateDeployedModel": {
      if (endpoint === undefined || entry === undefined) {
        throw new RpcError(
          "NOT_FOUND",
          `operation ${name} not found: deployed model ${model} is not in endpoint ${endpointId}`,
        );
      }
      const deployed = { deployedModel: toDeployedModel(parent, entry, status) };
      const state = stateOf(endpoint, model);
      if (kind === "deployModel" && cancelledDeployments(endpoint.metadata.annotations).includes(model)) {
        const heir = endpoint.spec.deployedModels.find(
          (m) => m.rolloutOptions?.previousDeployedModel === model,
        );
        return {
          name,
          metadata,
          done: true,
          error: new RpcError(
            "CANCELLED",
            `the rolling deployment of deployed model ${model} was cancelled` +
              (heir === undefined ? "" : `: deployed model ${heir.id} rolls the previous model back onto it`),
          ).toStatus(),
        };
      }
      if (state === "FAILED") {
        return {
          name,
          metadata,
          done: true,
          error: new RpcError(
            status?.reason === "ProgressDeadlineExceeded" ? "DEADLINE_EXCEEDED" : "FAILED_PRECONDITION",
            `deployed model ${model} FAILED (${status?.reason ?? "unknown reason"}) and was reverted: ${status?.message ?? ""}`,
          ).toStatus(),
        };
      }
      if (kind === "deployModel")
        return state === "DEPLOYED" || state === "REPLACED" ? response(deployed) : pending;
      const observed = endpoint.status?.observedGeneration ?? 0;
      return observed >= (endpoint.metadata.generation ?? 0) && state !== "BEING_DEPLOYED"
        ? response(deployed)
        : pending;
    }
  }
}

/**
 * A model's operation: uploadModel (done once the model has the version the id names: at once, as
 * the upload writes it) and deleteModel (done once the model is gone).
 */
export function deriveModelOperation(
  version: string,
  parent: Parent,
  modelId: string,
  id: string,
  model: Model | undefined,
): Operation {
  const { kind, model: versionId } = parseOperationId(id);
  const name = `${modelName(parent, modelId)}/operations/${id}`;
  const created = model?.metadata.creationTimestamp;
  const metadata = {
    "@type": typeUrl(version, METADATA[kind]),
    genericMetadata: timestamps({ createTime: created, updateTime: created }),
  };
  if (kind === "deleteModel") {
    return model === undefined
      ? { name, metadata, done: true, response: { "@type": typeUrl(version, RESPONSE[kind]) } }
      : { name, metadata, done: false };
  }
  if (kind !== "uploadModel" || model?.spec.versions.some((v) => v.id === versionId) !== true) {
    throw new RpcError("NOT_FOUND", `operation ${name} not found`);
  }
  return {
    name,
    metadata,
    done: true,
    response: {
      "@type": typeUrl(version, RESPONSE[kind]),
      model: modelName(parent, modelId),
      modelVersionId: versionId,
    },
  };
}
