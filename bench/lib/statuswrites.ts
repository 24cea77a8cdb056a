/**
 * ModelEndpoint status writes that changed nothing. The API server drops an update that changes
 * nothing (no new resourceVersion, no watch event), so such a write is visible only as the
 * difference between the status writes it accepted (its request counters) and the status changes
 * a watcher saw.
 */
import type { WriteBreakdown } from "./apiserver.ts";
import type { StatusRecord } from "./timeline.ts";

export interface StatusWriteCount {
  /** Status writes the API server accepted (modelendpoints/status, 2xx). */
  readonly accepted: number;
  /** Watch events whose status differed from the previous version's. */
  readonly changed: number;
  /** ... of which differed only in timestamps. */
  readonly timesOnly: number;
  /** Accepted writes that produced no change (accepted - changed). */
  readonly unchanged: number;
  /** The operator's own count (modelendpoint_status_writes_total), as a cross-check of `accepted`. */
  readonly operatorCounted: number;
}

export function countStatusWrites(
  seen: readonly StatusRecord[],
  writes: WriteBreakdown,
  operatorCounted: number,
): StatusWriteCount {
  const changed = seen.filter((s) => s.changed).length;
  const accepted = Object.entries(writes.byKey)
    .filter(([k]) => /modelendpoints\/status PUT 2/.test(k))
    .reduce((sum, [, v]) => sum + v, 0);
  return {
    accepted,
    changed,
    timesOnly: seen.filter((s) => s.timesOnly).length,
    unchanged: accepted - changed,
    operatorCounted,
  };
}
