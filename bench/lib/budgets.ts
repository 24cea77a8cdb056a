/**
 * The physical floor of a rolling update: how many "waves" of pods becoming Ready it takes when
 * every controller action is instant and every new pod is Ready exactly D after it was created.
 * The floor is waves x D; anything a controller takes above it is its overhead.
 *
 * Budgets resolve as a Deployment's do (and as R4 says): a percentage of N, surge rounded up,
 * unavailable rounded down; both 0 makes unavailable 1.
 *
 *     N 10, surge 2, unavailable 0:  +2 | Ready, -2 +2 | ... : 5 waves
 *     N 10, surge 0, unavailable 2:  -2 +2 | Ready, -2 +2 | ... : 5 waves
 *     N 10, 25% / 25% (surge 3, unavailable 2): -2 +5 | Ready, -5 +5 | Ready, -3 : 2 waves
 */
import type { Budget } from "./objects.ts";

export function resolveBudgets(
  n: number,
  surge: Budget,
  unavailable: Budget,
): { surge: number; unavailable: number } {
  const pct = (b: Budget): number | undefined => (typeof b === "number" ? undefined : Number(b.slice(0, -1)));
  const s = pct(surge);
  const u = pct(unavailable);
  const resolved = {
    surge: s === undefined ? (surge as number) : Math.ceil((n * s) / 100),
    unavailable: u === undefined ? (unavailable as number) : Math.floor((n * u) / 100),
  };
  if (resolved.surge === 0 && resolved.unavailable === 0) resolved.unavailable = 1;
  return resolved;
}

/** Waves of readiness an ideal controller needs to replace N pods within the budgets. */
export function floorWaves(n: number, surge: number, unavailable: number): number {
  let old = n;
  let ready = 0;
  let pending = 0;
  let waves = 0;
  for (;;) {
    for (let changed = true; changed;) {
      const remove = Math.max(0, Math.min(old, old + ready - (n - unavailable)));
      old -= remove;
      const add = Math.max(0, Math.min(n - ready - pending, n + surge - (old + ready + pending)));
      pending += add;
      changed = remove > 0 || add > 0;
    }
    if (old === 0 && ready === n) return waves;
    if (pending === 0)
      throw new Error(
        `no progress possible: N ${String(n)}, surge ${String(surge)}, unavailable ${String(unavailable)}`,
      );
    ready += pending;
    pending = 0;
    waves++;
  }
}
