/**
 * A work queue of string keys ("namespace/name"), with client-go's workqueue semantics:
 *
 * - De-duplicated: a key added several times before a worker takes it is processed once.
 * - One in flight per key: a key added while a worker processes it is not handed to another worker;
 *   it is queued again when the first worker calls `done(key)`. So two reconciles of one object
 *   never run at the same time, and a change seen during a reconcile is never lost.
 * - `addAfter(key, ms)`: the key becomes ready later; when several delays are pending for one key,
 *   the earliest wins. One timer serves the whole queue (a min-heap of due times), not one per key.
 * - `addRateLimited(key)`: per-key exponential backoff for failures, 5 ms doubling to 5 minutes by
 *   default; `forget(key)` after a success resets it.
 *
 *     failures of one key: 1st retry after 5 ms, 2nd 10 ms, 3rd 20 ms, ... 17th 327 s -> capped 300 s
 *
 * - `shutDown()`: stops accepting keys, drops the pending ones (a level-based controller loses
 *   nothing: after a restart or a new leadership the informers' first list enqueues every object
 *   again), wakes idle workers, and resolves once the keys in flight are done.
 *
 * `runWorkers` runs N concurrent workers over a queue with controller-runtime's reconcile contract.
 */
import { realClock, type Clock, type Timer } from "./clock.ts";
import { TerminalError, TransientError } from "./errors.ts";
import { noopLogger, type Logger } from "./logger.ts";

export interface RateLimitOptions {
  /** The first retry's delay (default 5 ms). */
  readonly baseDelayMs: number;
  /** The longest delay (default 300 000 ms). */
  readonly maxDelayMs: number;
}

/** Hooks for metrics; the operator wires them to prom-client gauges and counters. */
export interface WorkQueueMetrics {
  /** The number of keys ready and waiting for a worker, after every change. */
  depth?(queue: string, depth: number): void;
  /** A key was added (before de-duplication). */
  added?(queue: string): void;
  /** A key was re-queued with rate limiting (a failed reconcile). */
  retried?(queue: string): void;
}

export interface WorkQueueOptions {
  /** Names the queue in metrics and logs. */
  readonly name: string;
  readonly clock?: Clock;
  readonly rateLimit?: RateLimitOptions;
  readonly metrics?: WorkQueueMetrics;
}

interface Due {
  readonly at: number;
  readonly key: string;
}

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimit: RateLimitOptions;
  private readonly metrics: WorkQueueMetrics;

  /** Keys ready for a worker, in order. Never holds a key that is being processed. */
  private ready: string[] = [];
  /** Keys that need processing: those in `ready` plus those added while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private waiters: ((key: string | undefined) => void)[] = [];

  /** Earliest pending due time per key; heap entries that disagree with it are stale. */
  private readonly dueAt = new Map<string, number>();
  private readonly heap = new MinHeap<Due>((a, b) => a.at - b.at);
  private timer: Timer | undefined;
  private timerAt = Infinity;

  private readonly failures = new Map<string, number>();
  private shuttingDown = false;
  private drained: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? realClock;
    this.rateLimit = options.rateLimit ?? { baseDelayMs: 5, maxDelayMs: 300_000 };
    this.metrics = options.metrics ?? {};
  }

  /** Keys ready and waiting for a worker. */
  len(): number {
    return this.ready.length;
  }

  /** Keys handed to a worker and not yet done. */
  inFlight(): number {
    return this.processing.size;
  }

  /** Keys waiting for their addAfter time. */
  delayed(): number {
    return this.dueAt.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Marks `key` as needing processing now. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.added?.(this.name);
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    this.push(key);
  }

  /** Adds `key` after `delayMs`; the earliest of several pending delays for one key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const pending = this.dueAt.get(key);
    if (pending !== undefined && pending <= at) return;
    this.dueAt.set(key, at);
    this.heap.push({ at, key });
    this.schedule();
  }

  /**
   * Adds `key` after its backoff delay and counts a failure for it. `atLeastMs` raises the delay,
   * e.g. to honour a server's Retry-After.
   */
  addRateLimited(key: string, atLeastMs = 0): void {
    if (this.shuttingDown) return;
    this.metrics.retried?.(this.name);
    this.addAfter(key, Math.max(atLeastMs, this.nextBackoff(key)));
  }

  /** Forgets the failures of `key` (call after it was processed successfully). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many rate-limited re-queues `key` had since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next key to process, waiting while there is none; undefined once the queue shuts down.
   * The caller must call `done(key)` when finished with it.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.ready.shift();
    if (key !== undefined) {
      this.take(key);
      this.metrics.depth?.(this.name, this.ready.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
    });
  }

  /** Ends the processing of `key`; if it was added meanwhile, it becomes ready again. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.shuttingDown && this.processing.size === 0) {
      for (const resolve of this.drained) resolve();
      this.drained = [];
    }
  }

  /**
   * Stops accepting keys and drops the pending ones; idle workers get undefined. Resolves when every
   * key in flight is done.
   */
  shutDown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.timer?.cancel();
      this.timer = undefined;
      this.timerAt = Infinity;
      this.heap.clear();
      this.dueAt.clear();
      this.ready = [];
      this.dirty.clear();
      this.metrics.depth?.(this.name, 0);
      for (const resolve of this.waiters) resolve(undefined);
      this.waiters = [];
    }
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained.push(resolve);
    });
  }

  private nextBackoff(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const { baseDelayMs, maxDelayMs } = this.rateLimit;
    // 2^failures overflows to Infinity long after it passed maxDelayMs; min() keeps it finite.
    return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures, 62));
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.take(key);
      waiter(key);
      return;
    }
    this.ready.push(key);
    this.metrics.depth?.(this.name, this.ready.length);
  }

  private take(key: string): void {
    this.processing.add(key);
    this.dirty.delete(key);
  }

  /** Arms the single timer for the earliest due key, if it is earlier than the armed one. */
  private schedule(): void {
    const next = this.heap.peek();
    if (next === undefined || next.at >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = next.at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.fireDue();
    }, next.at - this.clock.now());
  }

  private fireDue(): void {
    const now = this.clock.now();
    for (let next = this.heap.peek(); next !== undefined && next.at <= now; next = this.heap.peek()) {
      this.heap.pop();
      if (this.dueAt.get(next.key) !== next.at) continue; // superseded by an earlier time
      this.dueAt.delete(next.key);
      this.add(next.key);
    }
    this.schedule();
  }
}

/** What a reconcile returns: nothing, or when to look at the key again although nothing changed. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

export type ReconcileHandler = (key: string) => Promise<ReconcileResult | undefined>;

export type ReconcileOutcome = "success" | "requeue" | "error" | "terminal";

export interface WorkerOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** A reconcile threw a TerminalError: record it (condition, Event); it will not be retried. */
  readonly onTerminalError?: (key: string, error: TerminalError) => void;
  /** Every reconcile's outcome and duration, for metrics. */
  readonly onReconciled?: (key: string, outcome: ReconcileOutcome, durationMs: number) => void;
}

/**
 * Runs `workers` concurrent loops that take keys from `queue` and call `handler`, until the queue
 * shuts down; resolves when every loop has ended. The contract, as controller-runtime's:
 *
 * - success: the key's failures are forgotten; `requeueAfterMs` schedules another look;
 * - TerminalError: forgotten and recorded through onTerminalError, not retried (it cannot succeed
 *   until the object changes, and a change enqueues the key anyway);
 * - any other error: re-queued with the key's backoff (at least a TransientError's retryAfterMs).
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  handler: ReconcileHandler,
  options: WorkerOptions = {},
): Promise<void> {
  const logger = options.logger ?? noopLogger;
  const clock = options.clock ?? realClock;
  const loop = async (): Promise<void> => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const started = clock.now();
      let outcome: ReconcileOutcome;
      try {
        const result = await handler(key);
        queue.forget(key);
        const requeueAfterMs = result?.requeueAfterMs;
        if (requeueAfterMs === undefined) {
          outcome = "success";
        } else {
          outcome = "requeue";
          queue.addAfter(key, requeueAfterMs);
        }
      } catch (err) {
        if (err instanceof TerminalError) {
          outcome = "terminal";
          queue.forget(key);
          logger.error({ queue: queue.name, key, err }, "reconcile failed for good; not retrying");
          options.onTerminalError?.(key, err);
        } else {
          outcome = "error";
          const atLeastMs = err instanceof TransientError ? (err.retryAfterMs ?? 0) : 0;
          queue.addRateLimited(key, atLeastMs);
          logger.warn(
            { queue: queue.name, key, err, requeues: queue.numRequeues(key) },
            "reconcile failed; retrying with backoff",
          );
        }
      } finally {
        queue.done(key);
      }
      const ms = clock.now() - started;
      // Not "reconciled": that is the reconciler's own line, one per pass, which the chaos run's
      // quiet check counts.
      logger.debug({ queue: queue.name, key, outcome, ms }, "processed");
      options.onReconciled?.(key, outcome, ms);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
}

/** A binary min-heap. */
class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly less: (a: T, b: T) => number;
  constructor(less: (a: T, b: T) => number) {
    this.less = less;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || this.less(item, p) >= 0) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      let smallestItem = last;
      const l = items[left];
      if (l !== undefined && this.less(l, smallestItem) < 0) {
        smallest = left;
        smallestItem = l;
      }
      const r = items[right];
      if (r !== undefined && this.less(r, smallestItem) < 0) {
        smallest = right;
        smallestItem = r;
      }
      if (smallest === i) break;
      items[i] = smallestItem;
      i = smallest;
    }
    items[i] = last;
    return top;
  }
}
