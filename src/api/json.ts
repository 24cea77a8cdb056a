/** Small helpers over JSON-shaped values. */

/**
 * Deep equality with JSON semantics, as CEL's `==` on objects decoded from JSON: same keys (a key
 * whose value is `undefined` counts as absent), same list order, same scalars. The implementation
 * is the rollout engine's (which may import nothing outside itself); this is its name here.
 */
export { sameJson as jsonEqual } from "../rollout/json.ts";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
