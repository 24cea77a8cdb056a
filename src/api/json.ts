/** Small helpers over JSON-shaped values. */

/**
 * Deep equality with JSON semantics, as CEL's `==` on objects decoded from JSON: same keys (a key
 * whose value is `undefined` counts as absent), same list order, same scalars.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isRecord(a) && isRecord(b) && !Array.isArray(b)) {
    const keysA = definedKeys(a);
    const keysB = definedKeys(b);
    return keysA.length === keysB.length && keysA.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function definedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined);
}
