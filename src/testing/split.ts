/**
 * The split a prediction load observes, step by step, against the endpoint's `status.trafficSplit`:
 * for tests and the demo.
 *
 *     const follower = new SplitFollower(load, { settleMs: 1000 });
 *     follower.observe(endpoint.status.trafficSplit);   // on every read of the endpoint
 *     const steps = follower.steps(1000);               // one per split that held still
 *
 * Each time the status split changes, the load starts a new window. The first `settleMs` of it are
 * not judged: the gateway loads a new route a moment after the operator writes it (and the status
 * is read by polling), so requests sent just after a change may still follow the previous weights.
 * The rest of the window, until the next change, is one step: its answers by deployed model are
 * compared with the split status showed, in percentage points. A step with fewer answers than the
 * caller's minimum is reported but not judged (too few requests to tell a split from noise).
 */
import type { Load } from "./load.ts";

export type Split = Readonly<Record<string, number>>;

/**
 * What the tests and the demo hold a data plane to: a step of at least STEP_REQUESTS answers is
 * judged, and must be within STEP_TOLERANCE points of status; SETTLE_MS after each change of the
 * status split is left out.
 */
export const STEP_REQUESTS = 1000;
export const STEP_TOLERANCE = 5;
export const SETTLE_MS = 1000;

export interface SplitComparison {
  /** Answered requests counted. */
  readonly requests: number;
  /** The share each model answered, in percent (one decimal); every model of `expected` is listed. */
  readonly observed: Split;
  /** The largest |observed - expected| over the models, in percentage points (one decimal). */
  readonly deviation: number;
}

export interface SplitStep extends SplitComparison {
  /** status.trafficSplit while the step lasted (models at 0 left out). */
  readonly expected: Split;
  /** Whether the step had at least the minimum number of answers to be judged. */
  readonly judged: boolean;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** The split without models at 0, in a stable order: two splits are the same when their keys are. */
function normalise(split: Split): Split {
  return Object.fromEntries(
    Object.entries(split)
      .filter(([, share]) => share > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * Compares answers by deployed model with an expected split in percent. A model that answered but is
 * not in `expected` counts as expected at 0; with no answers, nothing deviates.
 */
export function compareSplit(byModel: Readonly<Record<string, number>>, expected: Split): SplitComparison {
  const requests = Object.values(byModel).reduce((sum, n) => sum + n, 0);
  const models = [...new Set([...Object.keys(expected), ...Object.keys(byModel)])].sort();
  const observed: Record<string, number> = {};
  let deviation = 0;
  for (const id of models) {
    const share = requests === 0 ? 0 : ((byModel[id] ?? 0) / requests) * 100;
    observed[id] = round1(share);
    if (requests > 0) deviation = Math.max(deviation, Math.abs(share - (expected[id] ?? 0)));
  }
  return { requests, observed, deviation: round1(deviation) };
}

export interface SplitFollowerOptions {
  /** How long after a change of the status split its requests are not judged, in ms. */
  readonly settleMs: number;
  /** The clock, in ms (default Date.now). */
  readonly now?: () => number;
}

interface Marked {
  /** The index of the load's window this step is. */
  readonly window: number;
  readonly expected: Split;
}

/** Follows a load through the changes of a status split; see the module comment. */
export class SplitFollower {
  readonly #load: Load;
  readonly #settleMs: number;
  readonly #now: () => number;
  readonly #marked: Marked[] = [];
  /** The status split now (normalised) and its key; undefined before the first observe(). */
  #current: { readonly key: string; readonly split: Split } | undefined;
  /** When the current split appeared, while its first settleMs are not over. */
  #settlingSince: number | undefined;

  constructor(load: Load, options: SplitFollowerOptions) {
    this.#load = load;
    this.#settleMs = options.settleMs;
    this.#now = options.now ?? Date.now;
  }

  /** Takes the status split as read now; call it on every read, changed or not. */
  observe(split: Split | undefined): void {
    const normal = normalise(split ?? {});
    const key = JSON.stringify(normal);
    const now = this.#now();
    if (key !== this.#current?.key) {
      this.#current = { key, split: normal };
      this.#load.mark(`settling on ${key}`);
      this.#settlingSince = now;
      return;
    }
    if (this.#settlingSince !== undefined && now - this.#settlingSince >= this.#settleMs) this.#startStep();
  }

  /**
   * Ends the current step at a boundary of the caller's (the demo's next stage): a settled split
   * goes on as a new step at once; one still settling goes on settling.
   */
  cut(): void {
    if (this.#settlingSince === undefined && this.#current !== undefined) this.#startStep();
  }

  /** Starts a judged step of the current split. */
  #startStep(): void {
    const current = this.#current;
    if (current === undefined) return;
    this.#marked.push({ window: this.#load.mark(`split ${current.key}`), expected: current.split });
    this.#settlingSince = undefined;
  }

  /** The steps so far, in order; those with fewer than `minRequests` answers are not judged. */
  steps(minRequests: number): SplitStep[] {
    const windows = this.#load.summary().windows;
    return this.#marked.flatMap(({ window, expected }) => {
      const w = windows[window];
      if (w === undefined) return [];
      const comparison = compareSplit(w.byModel, expected);
      return [{ ...comparison, expected, judged: comparison.requests >= minRequests }];
    });
  }
}

/** "m1 75 → 74.8, m2 25 → 25.2 (1,532 requests)": a step in one line. */
export function describeStep(step: SplitStep): string {
  const models = Object.keys(step.observed);
  const parts = models.map((id) => `${id} ${step.expected[id] ?? 0} → ${step.observed[id] ?? 0}`);
  return `${parts.join(", ")} (${step.requests.toLocaleString("en-US")} requests)`;
}
