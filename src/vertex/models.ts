/**
 * deployModel's `model`: `projects/P/locations/L/models/M[@version|@alias]` is the Model resource
 * M in the project's namespace, and the version the reference names (src/api/model-version.ts).
 * Its containerSpec is written inline into the ModelEndpoint entry, so the endpoint stays
 * self-contained for GitOps: deleting or changing the Model later changes no deployed model.
 */
import { parseModel } from "../api/model-parse.ts";
import { resolveModelVersion } from "../api/model-version.ts";
import { GROUP, MODEL_KIND, MODEL_PLURAL, VERSION } from "../api/constants.ts";
import type { ResourceClient, ResourceType } from "../kube/client.ts";
import type { KubeObject } from "../kube/objects.ts";
import type { ModelResolver } from "./endpoints.ts";
import { fromKubeError, RpcError } from "./status.ts";

export const MODELS: ResourceType<KubeObject> = {
  group: GROUP,
  version: VERSION,
  plural: MODEL_PLURAL,
  kind: MODEL_KIND,
  namespaced: true,
};

/** Resolves model references with `models` (a client with the caller's identity). */
export function modelResolver(models: ResourceClient<KubeObject>): ModelResolver {
  return async (namespace, name, version) => {
    let raw: unknown;
    try {
      raw = await models.get(namespace, name);
    } catch (err) {
      throw fromKubeError(err, `model ${name}`);
    }
    const parsed = parseModel(raw);
    if (!parsed.ok) {
      throw new RpcError(
        "FAILED_PRECONDITION",
        `model ${name} does not validate: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      );
    }
    const resolved = resolveModelVersion(parsed.value, version);
    if (!resolved.ok) {
      throw new RpcError(
        resolved.error.reason === "InvalidReference" ? "INVALID_ARGUMENT" : "NOT_FOUND",
        resolved.error.message,
      );
    }
    return {
      ref: `${name}@${resolved.version.id}`,
      containerSpec: resolved.version.containerSpec,
    };
  };
}
