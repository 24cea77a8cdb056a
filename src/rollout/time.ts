import type { Instant } from "./types.ts";

/**
 * Time inside the engine is whole epoch seconds. Kubernetes serialises metav1.Time at second
 * precision, so a timestamp with milliseconds would come back different from what was written and
 * the controller would see a changed status on every pass. `now` is floored once per plan: a
 * deadline therefore fires at the first pass at or after it, up to one second late, never early.
 */

/** Epoch milliseconds of `now`, as given. */
export function toEpochMs(now: Instant): number {
  return typeof now === "number" ? now : now.getTime();
}

/** Whole epoch seconds, rounded down. */
export function toEpochSeconds(now: Instant): number {
  return Math.floor(toEpochMs(now) / 1000);
}

/** RFC 3339 at second precision, the way the API server writes metav1.Time: "2026-11-27T10:00:00Z". */
export function formatTime(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * A {@link formatTime} that remembers what it formatted, for one plan: a pass formats the same few
 * seconds (now, creation and progress times) many times over.
 */
export function memoizedFormatTime(): (epochSeconds: number) => string {
  const seen = new Map<number, string>();
  return (epochSeconds) => {
    let text = seen.get(epochSeconds);
    if (text === undefined) {
      text = formatTime(epochSeconds);
      seen.set(epochSeconds, text);
    }
    return text;
  };
}

/** Epoch seconds of an RFC 3339 string, or undefined when absent or unparseable. */
export function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** Epoch milliseconds of a pod's creation time in any of the shapes clients give it; NaN sorts last. */
export function instantMs(value: Date | number | string): number {
  if (typeof value === "string") return Date.parse(value);
  return toEpochMs(value);
}
