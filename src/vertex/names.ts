/**
 * Vertex AI resource names and where they live in the cluster.
 *
 * `projects/{project}/locations/{location}` is a namespace: the one named like the project, unless
 * the server's `--project-namespace project=namespace` maps it elsewhere. The server answers one
 * location (`--location`); another is NOT_FOUND. An endpoint id is a ModelEndpoint's name, a
 * model id a Model's name.
 */
import { randomInt } from "node:crypto";

import { RpcError } from "./status.ts";

export interface NameSettings {
  /** The one location answered, e.g. "us-central1". */
  readonly location: string;
  /** Project -> namespace, where it is not the namespace named like the project. */
  readonly projectNamespaces: ReadonlyMap<string, string>;
}

/** `projects/P/locations/L`, resolved. */
export interface Parent {
  readonly project: string;
  readonly location: string;
  readonly namespace: string;
}

/** A Kubernetes namespace name (DNS-1123 label). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function resolveParent(settings: NameSettings, project: string, location: string): Parent {
  if (location !== settings.location) {
    throw new RpcError(
      "NOT_FOUND",
      `location ${location} not found: this server answers projects/${project}/locations/${settings.location}`,
    );
  }
  const namespace = settings.projectNamespaces.get(project) ?? project;
  if (!NAMESPACE.test(namespace)) {
    throw new RpcError(
      "INVALID_ARGUMENT",
      `project ${JSON.stringify(project)} names no Kubernetes namespace (a DNS label: lowercase letters, digits and '-'); map it with --project-namespace`,
    );
  }
  return { project, location, namespace };
}

export function parentName(parent: Parent): string {
  return `projects/${parent.project}/locations/${parent.location}`;
}

export function endpointName(parent: Parent, id: string): string {
  return `${parentName(parent)}/endpoints/${id}`;
}

export function modelName(parent: Parent, id: string): string {
  return `${parentName(parent)}/models/${id}`;
}

/**
 * A caller's endpoint id, as Vertex allows it and a ModelEndpoint name needs it: a letter, then at
 * most 39 lowercase letters, digits or '-', not ending in '-' (the operator's Services are named
 * after it, and Service names start with a letter). Vertex also allows up to 9 digits; those are
 * refused here, with the reason.
 */
const ENDPOINT_ID = /^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/;

export function checkEndpointId(id: string): string {
  if (ENDPOINT_ID.test(id)) return id;
  throw new RpcError(
    "INVALID_ARGUMENT",
    /^[0-9]+$/.test(id)
      ? `endpointId ${id}: a numeric id cannot name a ModelEndpoint (its Services need a name starting with a letter); use a letter first, e.g. e${id}`
      : `endpointId ${JSON.stringify(id)} must be a letter followed by at most 39 lowercase letters, digits or '-', not ending in '-'`,
    [{ field: "endpointId", description: "a DNS-1035 label of at most 40 characters" }],
  );
}

/** `n` random decimal digits, the first not 0. */
function digits(n: number): string {
  let out = String(randomInt(1, 10));
  while (out.length < n) out += String(randomInt(0, 10));
  return out;
}

/** A new endpoint id when the caller gives none: "e" and 15 digits (Vertex's are all digits). */
export function newEndpointId(): string {
  return `e${digits(15)}`;
}

/** A new deployed model id when the caller gives none: 16 digits, like Vertex's. */
export function newDeployedModelId(): string {
  return digits(16);
}

/**
 * `projects/P/locations/L/models/M`, `.../models/M@3`, `.../models/M@alias` -> the model id and
 * the version reference ("" for the default version).
 */
export function parseModelName(parent: Parent, name: string): { model: string; version: string } {
  const prefix = `${parentName(parent)}/models/`;
  const match = name.startsWith(prefix)
    ? /^([a-z0-9][-a-z0-9]*)(?:@([a-zA-Z0-9][-a-zA-Z0-9]*))?$/.exec(name.slice(prefix.length))
    : null;
  if (match?.[1] === undefined) {
    throw new RpcError(
      "INVALID_ARGUMENT",
      `deployedModel.model ${JSON.stringify(name)} must be ${prefix}<model id>[@<version id or alias>]`,
      [{ field: "deployedModel.model", description: "a model resource name of this project and location" }],
    );
  }
  return { model: match[1], version: match[2] ?? "" };
}
