/**
 * Time, injected. Every component of the runtime (informer, work queue, leader election, event
 * recorder) reads the time and schedules callbacks through a Clock, so unit tests drive time with
 * FakeClock instead of sleeping.
 */

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds (0 or less: on the next turn). */
  setTimeout(callback: () => void, ms: number): Timer;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The process' clock: Date.now and the global timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    // Node fires a timer longer than 2^31-1 ms (24.8 days) after 1 ms instead; clamp it.
    const handle = setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};

/**
 * Waits `ms` on `clock`, or less when `signal` aborts first. Resolves either way (true when the
 * full time passed) so loops can check their own stop condition without catching.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      timer.cancel();
      resolve(false);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Exponential backoff: `initialMs * factor^(attempt-1)`, capped at `maxMs`, plus jitter. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
  /** Adds up to this fraction of the delay at random (default 0; 0.5 adds up to 50%). */
  readonly jitter?: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry). With jitter the result is spread
 * over [d, d * (1 + jitter)] and still capped at maxMs, so many clients restarting together (after
 * an API server restart) do not come back in lockstep.
 *
 *     initial 200 ms, factor 2, max 30 s: 200, 400, 800, ... 25 600, 30 000, 30 000
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const factor = options.factor ?? 2;
  const exponent = Math.max(0, attempt - 1);
  // Cap the exponent so huge attempt counts cannot overflow to Infinity * 0 = NaN.
  const base = Math.min(options.maxMs, options.initialMs * factor ** Math.min(exponent, 64));
  const jitter = options.jitter ?? 0;
  return Math.min(options.maxMs, base * (1 + jitter * random()));
}

/**
 * Whether `signal` has aborted. A function rather than `signal.aborted` inline, because the type
 * checker narrows a property read before an await and keeps the narrowing after it.
 */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
