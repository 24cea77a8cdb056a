/**
 * Values the API leaves to the operator when a field is omitted, in one place so the controller,
 * the docs and the tests agree.
 */
import { DEFAULT_CONTAINER_PORT } from "./constants.ts";
import type { ContainerSpec } from "./spec.ts";

/** The port that serves predictions and health checks: the first listed, else 8080 (as on Vertex AI). */
export function servingPort(containerSpec: ContainerSpec): number {
  return containerSpec.ports?.[0]?.containerPort ?? DEFAULT_CONTAINER_PORT;
}

/** An HTTP route of a deployed model, as the container is told it (AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE). */
export interface Routes {
  readonly predictRoute: string;
  readonly healthRoute: string;
}

/**
 * The routes of a deployed model. When containerSpec leaves them unset, Vertex AI's defaults
 * apply: `/v1/endpoints/<endpoint>/deployedModels/<id>:predict` and `.../deployedModels/<id>`.
 *
 * `<id>` is `chainRootId`, the id of the rollout chain's first model (the one deployed without
 * rolloutOptions), not the model's own id: every revision of a chain then serves the same paths,
 * so a client of the endpoint's Service reaches old and new replicas alike during a rollout (the
 * admission rule that a rolling deployment's routes equal its previous model's compares the fields
 * as written, so "both unset" stays equal in effect too).
 */
export function resolveRoutes(
  endpointName: string,
  chainRootId: string,
  containerSpec: ContainerSpec,
): Routes {
  const base = `/v1/endpoints/${endpointName}/deployedModels/${chainRootId}`;
  return {
    predictRoute: containerSpec.predictRoute ?? `${base}:predict`,
    healthRoute: containerSpec.healthRoute ?? base,
  };
}

/** `fraud-detector@2` -> {name: "fraud-detector", version: "2"} (AIP_MODEL_NAME, AIP_VERSION_NAME). */
export function splitModelName(model: string): { readonly name: string; readonly version: string } {
  const at = model.lastIndexOf("@");
  return at <= 0 ? { name: model, version: "" } : { name: model.slice(0, at), version: model.slice(at + 1) };
}
