/**
 * Which version of a Model a reference names: the `@...` of `models/M@...` in a Vertex AI request.
 * Pure functions of a parsed Model.
 *
 * - `""` (no `@`) and `"default"`: the default version: the version whose aliases include
 *   "default", or else the version with the highest id (the newest: ids only grow).
 * - a version id (`"3"`): that version.
 * - an alias (`"golden"`): the version that has it (aliases are unique across versions).
 */
import { DEFAULT_VERSION_ALIAS } from "./constants.ts";
import { compareVersionIds, VERSION_ALIAS, VERSION_ID, type Model, type ModelVersion } from "./model.ts";

/** Why a reference names no version. */
export type ModelVersionErrorReason =
  /** Neither a version id nor an alias: a malformed reference (Vertex AI: INVALID_ARGUMENT). */
  | "InvalidReference"
  /** A well-formed version id that the model does not have (NOT_FOUND). */
  | "VersionNotFound"
  /** A well-formed alias that no version of the model has (NOT_FOUND). */
  | "AliasNotFound";

export interface ModelVersionError {
  readonly reason: ModelVersionErrorReason;
  /** The model's name (metadata.name). */
  readonly model: string;
  /** The reference as given. */
  readonly ref: string;
  readonly message: string;
}

export type ModelVersionResult =
  | { readonly ok: true; readonly version: ModelVersion }
  | { readonly ok: false; readonly error: ModelVersionError };

const versionId = new RegExp(VERSION_ID);
const versionAlias = new RegExp(VERSION_ALIAS);

/** The model's default version: the one with the alias "default", else the highest id. */
export function defaultModelVersion(model: Model): ModelVersion | undefined {
  const versions = model.spec.versions;
  const marked = versions.find((v) => v.aliases?.includes(DEFAULT_VERSION_ALIAS) ?? false);
  return marked ?? newestVersion(versions);
}

/** The version with the highest id. */
function newestVersion(versions: readonly ModelVersion[]): ModelVersion | undefined {
  return versions.reduce<ModelVersion | undefined>(
    (newest, v) => (newest === undefined || compareVersionIds(v.id, newest.id) > 0 ? v : newest),
    undefined,
  );
}

/**
 * The version `ref` names in `model` ("", "default", a version id or an alias), or why none: a
 * typed error naming the model and what was not found.
 */
export function resolveModelVersion(model: Model, ref: string): ModelVersionResult {
  const name = model.metadata.name;
  const fail = (reason: ModelVersionErrorReason, message: string): ModelVersionResult => ({
    ok: false,
    error: { reason, model: name, ref, message },
  });
  if (ref === "" || ref === DEFAULT_VERSION_ALIAS) {
    const version = defaultModelVersion(model);
    return version === undefined
      ? fail("VersionNotFound", `model ${name} has no versions`)
      : { ok: true, version };
  }
  if (versionId.test(ref)) {
    const version = model.spec.versions.find((v) => v.id === ref);
    return version === undefined
      ? fail("VersionNotFound", `model ${name} has no version ${ref}`)
      : { ok: true, version };
  }
  if (versionAlias.test(ref)) {
    const version = model.spec.versions.find((v) => v.aliases?.includes(ref) ?? false);
    return version === undefined
      ? fail("AliasNotFound", `model ${name} has no version with the alias ${ref}`)
      : { ok: true, version };
  }
  return fail(
    "InvalidReference",
    `${JSON.stringify(ref)} is neither a version id (1, 2, 3, ...) nor a version alias ` +
      "(a lowercase letter, then letters, digits and '-', ending with a lowercase letter or digit)",
  );
}

/** The id the next version added to `model` gets: one above its highest (1 for no versions). */
export function nextModelVersionId(model: Model): string {
  return (BigInt(newestVersion(model.spec.versions)?.id ?? "0") + 1n).toString();
}
