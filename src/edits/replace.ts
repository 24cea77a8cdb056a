/**
 * The write loop every edit of a stored object shares (the kubectl plugin's commands, the Vertex
 * AI API's methods): read the object, plan the whole next object from what was read, and replace
 * it at the resourceVersion read. When someone changed it meanwhile (409 Conflict), start over from
 * a fresh read, so that a plan's checks (traffic, states) are always judged on what it replaces.
 * Only after `attempts` conflicts in a row does the ConflictError reach the caller. A rollout's status
 * writes change the object every few hundred milliseconds, so attempts are spaced by a short,
 * growing, random pause: two writers that keep colliding fall apart.
 */
import { ConflictError } from "../kube/errors.ts";

/** Where the object is read and replaced: a ResourceClient, or anything shaped like one. */
export interface Replaceable<T> {
  get(namespace: string, name: string): Promise<T>;
  replace(next: T): Promise<T>;
}

/** Conflicts in a row before the last one is the caller's. */
export const REPLACE_ATTEMPTS = 8;

/** Up to 25 ms times the attempt, at random. */
function jitteredPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * attempt));
}

export interface Replaced<T, P> {
  readonly planned: P;
  /** What the API server stored; undefined on a dry run. */
  readonly written: T | undefined;
}

export async function readPlanReplace<T, P extends { readonly next: T }>(
  store: Replaceable<T>,
  namespace: string,
  name: string,
  plan: (current: T) => P,
  options: {
    readonly dryRun?: boolean;
    readonly attempts?: number;
    /** Waits before attempt `attempt` (2, 3, ...); default a random pause of up to 25 ms each. */
    readonly pause?: (attempt: number) => Promise<void>;
  } = {},
): Promise<Replaced<T, P>> {
  const attempts = options.attempts ?? REPLACE_ATTEMPTS;
  const pause = options.pause ?? jitteredPause;
  for (let attempt = 1; ; attempt++) {
    const planned = plan(await store.get(namespace, name));
    if (options.dryRun === true) return { planned, written: undefined };
    try {
      return { planned, written: await store.replace(planned.next) };
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= attempts) throw err;
      await pause(attempt + 1);
    }
  }
}
