/**
 * An informer: a reflector that keeps a local cache (Store) of one resource in sync with the API
 * server, and tells subscribers which keys changed. Modelled on client-go's Reflector and
 * SharedIndexInformer:
 *
 * 1. List (all pages, a consistent read) and replace the cache, then watch from the list's
 *    resourceVersion with allowWatchBookmarks.
 * 2. When a watch ends (the server's timeoutSeconds, a dropped connection, an error event), watch
 *    again from the LAST resourceVersion seen (an object's or a bookmark's): nothing is replayed.
 * 3. When the API server answers 410 Gone (that resourceVersion was compacted, or the API server
 *    restarted and its watch cache starts later), list again and diff the result against the cache:
 *    only objects whose resourceVersion changed are reported as updated, only new keys as added,
 *    only vanished keys as deleted (with `finalStateUnknown`, as the delete itself was not seen).
 * 4. A watchdog aborts a watch that has been silent (no event, no bookmark) for `stallTimeoutMs`
 *    and starts a new one from the last resourceVersion: a half-open TCP connection or a stuck
 *    proxy cannot freeze the cache.
 * 5. Repeated failures back off exponentially with jitter (200 ms .. 30 s by default); a watch that
 *    delivered events or stayed up for `healthyWatchMs` resets the backoff. A first 410 relists at
 *    once.
 * 6. `relist()` drops the watch and lists again at once, diffing as in 3, and resolves once a list
 *    that began after the call is in the cache: a replica that has just taken the lead uses it so
 *    its cache holds every write its predecessor made, however far its own watch lagged.
 *
 * Subscribers receive keys and objects, never a FIFO of raw watch events: a controller maps each
 * change to the key of the object it reconciles and enqueues that. Cached objects are frozen.
 *
 * Everything with an effect is injected: the list/watch functions (ListWatch), the clock, the
 * random source for jitter, the logger and the metrics callbacks.
 */
import {
  backoffDelay,
  isAborted,
  realClock,
  sleep,
  type BackoffOptions,
  type Clock,
  type Timer,
} from "./clock.ts";
import { classifyApiError, GoneError, type KubeError } from "./errors.ts";
import { noopLogger, type Logger } from "./logger.ts";
import { deepFreeze, objectKey, type DeepReadonly, type KubeObject } from "./objects.ts";
import { Store, type IndexFunc, type ReadonlyStore } from "./store.ts";

/** One page-complete list: every object and the resourceVersion to watch from. */
export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }
  | { readonly type: "ERROR"; readonly error: KubeError };

export interface WatchOptions {
  readonly resourceVersion: string;
  /** Asks the server to end the watch after this long (it then closes the stream normally). */
  readonly timeoutSeconds: number;
  readonly allowWatchBookmarks: boolean;
  /** Aborting it must end the stream: the iterator throws or returns. */
  readonly signal: AbortSignal;
}

/**
 * How an informer reads its resource. The selector (namespace, labels, fields) is part of the
 * ListWatch, so list and watch always agree on it. `client.ts` builds real ones.
 */
export interface ListWatch<T> {
  /** A consistent list of every object (all pages). Throws a KubeError-classifiable error. */
  list(options: { readonly signal: AbortSignal }): Promise<ListResult<T>>;
  /** The events after `resourceVersion`. Ends when the server closes the stream; throws on failure. */
  watch(options: WatchOptions): AsyncIterable<WatchEvent<T>>;
}

export type InformerEvent<T> =
  | { readonly type: "add"; readonly key: string; readonly object: DeepReadonly<T> }
  | {
      readonly type: "update";
      readonly key: string;
      readonly object: DeepReadonly<T>;
      readonly old: DeepReadonly<T>;
    }
  | {
      readonly type: "delete";
      readonly key: string;
      /** The deleted object's final state, or the last state cached when finalStateUnknown. */
      readonly object: DeepReadonly<T>;
      /** True when the delete was inferred from a relist rather than seen as a watch event. */
      readonly finalStateUnknown: boolean;
    };

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

/** Why a watch was started again ("relist": `relist()` was called). */
export type WatchRestartReason = "closed" | "error" | "stalled" | "expired" | "relist";
/** Why a list was made: the first, after 410 Gone, again after a failed list, or `relist()`. */
export type ListReason = "initial" | "expired" | "retry" | "requested";

/** Counters the informer reports; the operator wires them to prom-client. */
export interface InformerMetrics {
  watchRestarted?(informer: string, reason: WatchRestartReason): void;
  listed?(informer: string, reason: ListReason): void;
}

export interface InformerOptions<T extends KubeObject> {
  /** Names this informer in logs and metrics ("pods", "modelendpoints"). */
  readonly name: string;
  readonly listWatch: ListWatch<T>;
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>>;
  /**
   * Slims each object before it is cached (drop managedFields, unused status, ...), to keep memory
   * low at thousands of objects. It receives a fresh object it may modify and return.
   */
  readonly transform?: (obj: T) => T;
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for jitter; Math.random by default. */
  readonly random?: () => number;
  readonly logger?: Logger;
  readonly metrics?: InformerMetrics;
  /** Base watch timeout; each watch asks for a random value in [t, 2t) (default 300 s). */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent this long is restarted (default 120 000 ms; bookmarks count as activity). */
  readonly stallTimeoutMs?: number;
  /** A watch that stayed up this long counts as healthy and resets the backoff (default 10 000 ms). */
  readonly healthyWatchMs?: number;
  /** Backoff between failed attempts (default 200 ms .. 30 s, factor 2, jitter 0.5). */
  readonly backoff?: BackoffOptions;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.5 };

interface WatchOutcome {
  readonly reason: WatchRestartReason | "stopped";
  /** It delivered at least one event or lasted healthyWatchMs. */
  readonly healthy: boolean;
  readonly error?: KubeError;
}

export class Informer<T extends KubeObject> {
  readonly name: string;
  private readonly listWatch: ListWatch<T>;
  private readonly cache: Store<T>;
  private readonly transform: ((obj: T) => T) | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly metrics: InformerMetrics;
  private readonly watchTimeoutSeconds: number;
  private readonly stallTimeoutMs: number;
  private readonly healthyWatchMs: number;
  private readonly backoff: BackoffOptions;

  private readonly handlers = new Set<InformerHandler<T>>();
  private resourceVersion = "";
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  /** The current watch's own abort, for `relist()`. */
  private watchAbort: AbortController | undefined;
  /** Callers of `relist()` whose list has not begun yet. */
  private relistWaiters: ((listed: boolean) => void)[] = [];

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.listWatch = options.listWatch;
    this.cache = new Store<T>(options.indexers ?? {});
    this.transform = options.transform;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? noopLogger;
    this.metrics = options.metrics ?? {};
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 120_000;
    this.healthyWatchMs = options.healthyWatchMs ?? 10_000;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** The cache. Read-only: objects are frozen. */
  get store(): ReadonlyStore<T> {
    return this.cache;
  }

  /** True once the first list has been applied (and stays true). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the next watch would start from ("" before the first list). */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /**
   * Calls `handler` for every change from now on (the first list reports every object as added).
   * Returns the function that unsubscribes. A handler that throws is logged and does not stop the
   * informer or the other handlers.
   */
  subscribe(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  /** Starts listing and watching in the background. Calling it again while running does nothing. */
  start(): void {
    if (this.running !== undefined) return;
    const abort = new AbortController();
    this.abort = abort;
    this.running = this.run(abort.signal);
  }

  /** Stops the watch and waits until the loop has ended. The cache keeps its content. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = undefined;
    this.abort = undefined;
    for (const wake of this.syncWaiters) wake();
    this.syncWaiters = [];
    for (const answer of this.relistWaiters.splice(0)) answer(false);
  }

  /**
   * Lists again now: the current watch is dropped, the list replaces the cache (only differences
   * reported), and watching resumes from it. Resolves true once a list that began after this call
   * is in the cache, false if the informer stops first. A list already under way does not count:
   * it may have been answered before the call.
   */
  relist(): Promise<boolean> {
    if (this.running === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.relistWaiters.push(resolve);
      this.watchAbort?.abort(new Error("relist requested"));
    });
  }

  /** Resolves true once synced, or false if `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        resolve(false);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.synced);
      });
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let listReason: ListReason = "initial";
    let failures = 0;
    while (!signal.aborted) {
      if (this.relistWaiters.length > 0 && !needList) {
        needList = true;
        listReason = "requested";
      }
      if (needList) {
        this.metrics.listed?.(this.name, listReason);
        // The callers this list answers: those who asked before it began.
        const answering = this.relistWaiters.splice(0);
        try {
          const result = await this.listWatch.list({ signal });
          if (isAborted(signal)) {
            this.relistWaiters.unshift(...answering);
            break;
          }
          this.replace(result.items);
          this.resourceVersion = result.resourceVersion;
          needList = false;
          for (const answer of answering) answer(true);
          // failures is not reset here: only a healthy watch proves the loop is not spinning.
          this.markSynced();
          this.logger.debug(
            {
              informer: this.name,
              reason: listReason,
              objects: this.cache.size,
              resourceVersion: result.resourceVersion,
            },
            "listed",
          );
        } catch (err) {
          this.relistWaiters.unshift(...answering);
          if (isAborted(signal)) break;
          failures++;
          listReason = "retry";
          const delayMs = backoffDelay(failures, this.backoff, this.random);
          this.logger.warn(
            { informer: this.name, err: classifyApiError(err), attempt: failures, delayMs },
            "list failed; retrying",
          );
          await sleep(this.clock, delayMs, signal);
          continue;
        }
      }

      // A relist asked for while the list above was under way: list again before watching.
      if (this.relistWaiters.length > 0) continue;
      const outcome = await this.watchOnce(signal);
      if (outcome.reason === "stopped" || isAborted(signal)) break;
      this.metrics.watchRestarted?.(this.name, outcome.reason);
      failures = outcome.healthy ? 0 : failures + 1;
      const fields = { informer: this.name, reason: outcome.reason, resourceVersion: this.resourceVersion };
      if (outcome.reason === "relist") {
        this.logger.debug(fields, "relist requested");
        continue;
      }
      if (outcome.reason === "expired") {
        needList = true;
        listReason = "expired";
        this.logger.info({ ...fields, err: outcome.error }, "resourceVersion expired; relisting");
      } else if (outcome.reason === "closed") {
        this.logger.debug(fields, "watch closed; resuming");
      } else {
        this.logger.warn(
          { ...fields, err: outcome.error },
          "watch failed; resuming from the last resourceVersion",
        );
      }
      // A first 410 relists at once (the usual case after an API server restart); repeated
      // failures of any kind back off.
      const immediate = failures === 0 || (outcome.reason === "expired" && failures === 1);
      if (!immediate) await sleep(this.clock, backoffDelay(failures, this.backoff, this.random), signal);
    }
  }

  /** One watch, from the last resourceVersion until it ends, fails or stalls. */
  private async watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    const watchAbort = new AbortController();
    this.watchAbort = watchAbort;
    const forward = (): void => {
      watchAbort.abort(signal.reason);
    };
    signal.addEventListener("abort", forward, { once: true });

    const started = this.clock.now();
    let lastActivity = started;
    let events = 0;
    const watch = { stalled: false };
    let watchdog: Timer | undefined;
    const check = (): void => {
      const idle = this.clock.now() - lastActivity;
      if (idle >= this.stallTimeoutMs) {
        watch.stalled = true;
        this.logger.warn({ informer: this.name, idleMs: idle }, "watch silent too long; restarting it");
        watchAbort.abort(new Error(`watch silent for ${idle} ms`));
      } else {
        watchdog = this.clock.setTimeout(check, this.stallTimeoutMs - idle);
      }
    };
    watchdog = this.clock.setTimeout(check, this.stallTimeoutMs);
    const healthy = (): boolean => events > 0 || this.clock.now() - started >= this.healthyWatchMs;

    const timeoutSeconds = Math.floor(this.watchTimeoutSeconds * (1 + this.random()));
    try {
      const stream = this.listWatch.watch({
        resourceVersion: this.resourceVersion,
        timeoutSeconds,
        allowWatchBookmarks: true,
        signal: watchAbort.signal,
      });
      for await (const event of stream) {
        if (isAborted(signal)) return { reason: "stopped", healthy: true };
        if (watch.stalled || this.relistWaiters.length > 0) break;
        lastActivity = this.clock.now();
        if (event.type === "ERROR") {
          const reason = event.error instanceof GoneError ? "expired" : "error";
          return { reason, healthy: healthy(), error: event.error };
        }
        events++;
        this.apply(event);
      }
      if (isAborted(signal)) return { reason: "stopped", healthy: true };
      if (this.relistWaiters.length > 0) return { reason: "relist", healthy: true };
      return { reason: watch.stalled ? "stalled" : "closed", healthy: healthy() };
    } catch (err) {
      if (isAborted(signal)) return { reason: "stopped", healthy: true };
      if (this.relistWaiters.length > 0) return { reason: "relist", healthy: true };
      if (watch.stalled) return { reason: "stalled", healthy: healthy() };
      const error = classifyApiError(err);
      return { reason: error instanceof GoneError ? "expired" : "error", healthy: healthy(), error };
    } finally {
      watchdog.cancel();
      signal.removeEventListener("abort", forward);
      watchAbort.abort();
      this.watchAbort = undefined;
    }
  }

  private apply(event: Exclude<WatchEvent<T>, { type: "ERROR" }>): void {
    if (event.type === "BOOKMARK") {
      if (event.resourceVersion !== "") this.resourceVersion = event.resourceVersion;
      return;
    }
    const obj = this.prepare(event.object);
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (obj !== undefined) {
      if (event.type === "DELETED") {
        const key = objectKey(obj);
        if (this.cache.delete(key) !== undefined) {
          this.emit({ type: "delete", key, object: obj, finalStateUnknown: false });
        }
      } else {
        this.upsert(obj);
      }
    }
    if (resourceVersion !== undefined && resourceVersion !== "") this.resourceVersion = resourceVersion;
  }

  /** Makes the cache equal to `items`, reporting only real differences. */
  private replace(items: readonly T[]): void {
    const listed = new Set<string>();
    for (const item of items) {
      const obj = this.prepare(item);
      if (obj === undefined) continue;
      listed.add(objectKey(obj));
      this.upsert(obj);
    }
    for (const key of this.cache.keys()) {
      if (listed.has(key)) continue;
      const old = this.cache.delete(key);
      if (old !== undefined) this.emit({ type: "delete", key, object: old, finalStateUnknown: true });
    }
  }

  private upsert(obj: DeepReadonly<T>): void {
    const key = objectKey(obj);
    const cached = this.cache.get(key);
    const resourceVersion = obj.metadata?.resourceVersion;
    if (
      cached !== undefined &&
      resourceVersion !== undefined &&
      cached.metadata?.resourceVersion === resourceVersion
    ) {
      return; // the same version of the object: nothing happened
    }
    this.cache.put(obj);
    this.emit(
      cached === undefined
        ? { type: "add", key, object: obj }
        : { type: "update", key, object: obj, old: cached },
    );
  }

  /** Transforms and freezes an incoming object; undefined when the transform failed. */
  private prepare(obj: T): DeepReadonly<T> | undefined {
    if (this.transform === undefined) return deepFreeze(obj);
    try {
      return deepFreeze(this.transform(obj));
    } catch (err) {
      this.logger.error(
        { informer: this.name, key: objectKey(obj), err },
        "transform failed; the object is not cached (a bug in the transform)",
      );
      return undefined;
    }
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of [...this.handlers]) {
      try {
        handler(event);
      } catch (err) {
        this.logger.error(
          { informer: this.name, key: event.key, err },
          "informer handler threw (a bug in the handler)",
        );
      }
    }
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const wake of this.syncWaiters) wake();
    this.syncWaiters = [];
  }
}
