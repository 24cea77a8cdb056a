/**
 * Records events.k8s.io/v1 Events about an object (the ModelEndpoint a rollout step belongs to),
 * the way client-go's events recorder does:
 *
 * - Aggregation: an event identical to one recorded within `seriesWindowMs` (same object, type,
 *   reason, action and note) does not create a new Event; it bumps the first one's
 *   `series.count` and `series.lastObservedTime`. Bumps are written in batches, at most one patch per
 *   Event every `seriesFlushMs`, so a hot loop costs a counter, not an API call per occurrence.
 * - Rate limit per object: a token bucket (burst 25, one token every 10 s by default) bounds how
 *   many new Events one object can produce; beyond it they are dropped and counted.
 *
 * `record` never throws and never waits. This is the one place in the runtime where dropping an
 * error is right: an Event is a diagnostic side channel, and the state it describes is in the
 * object's status conditions. Failing or slowing a reconcile because the Events API refused a write
 * would turn an observability hiccup into an outage of the thing being observed. Failures are logged
 * (warn) and counted through `onDropped`, never silently lost.
 */
import { realClock, type Clock, type Timer } from "./clock.ts";
import { classifyApiError, NotFoundError } from "./errors.ts";
import { noopLogger, type Logger } from "./logger.ts";
import { microTime, type DeepReadonly, type Event, type KubeObject } from "./objects.ts";

/** The merge patch that bumps an Event's series. */
export interface EventSeriesPatch {
  readonly series: { readonly count: number; readonly lastObservedTime: string };
}

/** Where Events go: create one, and merge-patch its series. */
export interface EventSink {
  create(event: Event): Promise<unknown>;
  patch(namespace: string, name: string, patch: EventSeriesPatch): Promise<unknown>;
}

export type EventType = "Normal" | "Warning";

export interface EventInput {
  readonly type: EventType;
  /** Why the action was taken, CamelCase ("ScaledUp", "ProgressDeadlineExceeded"). */
  readonly reason: string;
  /** What was done, CamelCase ("Scale", "ShiftTraffic", "Revert"). */
  readonly action: string;
  /** Human-readable; truncated to 1 kB as the API requires. */
  readonly note: string;
}

export type DropReason = "rateLimited" | "createFailed" | "invalidObject";

export interface EventRecorderOptions {
  readonly sink: EventSink;
  /** The controller's name, "serving.modelendpoint.io/model-endpoint-operator". */
  readonly reportingController: string;
  /** This replica's identity (pod name). */
  readonly reportingInstance: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly random?: () => number;
  /** New Events one object may produce at once (default 25). */
  readonly burst?: number;
  /** One more new Event per object every this many ms (default 10 000). */
  readonly refillIntervalMs?: number;
  /** Identical events this close together form a series (default 6 minutes, as client-go). */
  readonly seriesWindowMs?: number;
  /** How often pending series counts are written (default 10 000 ms). */
  readonly seriesFlushMs?: number;
  /** How many series and buckets to remember (default 4096; the oldest are forgotten). */
  readonly maxTracked?: number;
  readonly onDropped?: (reason: DropReason) => void;
}

interface Series {
  readonly namespace: string;
  readonly name: string;
  created: boolean;
  count: number;
  written: number;
  lastObservedAt: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const MAX_NOTE_BYTES = 1024;

export class EventRecorder {
  private readonly options: EventRecorderOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly seriesWindowMs: number;
  private readonly seriesFlushMs: number;
  private readonly maxTracked: number;

  private readonly series = new Map<string, Series>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private flushTimer: Timer | undefined;

  constructor(options: EventRecorderOptions) {
    this.options = options;
    this.clock = options.clock ?? realClock;
    this.logger = options.logger ?? noopLogger;
    this.random = options.random ?? Math.random;
    this.burst = options.burst ?? 25;
    this.refillIntervalMs = options.refillIntervalMs ?? 10_000;
    this.seriesWindowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.seriesFlushMs = options.seriesFlushMs ?? 10_000;
    this.maxTracked = options.maxTracked ?? 4096;
  }

  /** Records an event about `regarding`. Never throws; the write happens in the background. */
  record(regarding: DeepReadonly<KubeObject>, input: EventInput): void {
    try {
      this.recordUnsafe(regarding, input);
    } catch (err) {
      this.drop("invalidObject", { err, reason: input.reason }, "cannot record an event");
    }
  }

  /** Writes pending series counts and waits for every write in flight (for shutdown and tests). */
  async flush(): Promise<void> {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    this.writeSeries();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private recordUnsafe(regarding: DeepReadonly<KubeObject>, input: EventInput): void {
    const meta = regarding.metadata;
    const name = meta?.name;
    if (name === undefined || name === "" || regarding.kind === undefined) {
      this.drop("invalidObject", { reason: input.reason }, "event regarding an object without kind or name");
      return;
    }
    const namespace = meta?.namespace ?? "";
    const objectId = meta?.uid ?? `${regarding.kind}/${namespace}/${name}`;
    const note = truncate(input.note);
    const key = [objectId, input.type, input.reason, input.action, note].join("\u0000");
    const now = this.clock.now();

    const existing = this.series.get(key);
    if (existing !== undefined && now - existing.lastObservedAt <= this.seriesWindowMs) {
      existing.count++;
      existing.lastObservedAt = now;
      touch(this.series, key, existing);
      this.scheduleFlush();
      return;
    }

    if (!this.takeToken(objectId, now)) {
      this.drop(
        "rateLimited",
        { object: objectId, reason: input.reason },
        "event rate limit reached; dropped",
      );
      return;
    }

    const eventNamespace = namespace === "" ? "default" : namespace;
    const eventName = `${name}.${randomHex(this.random)}`;
    const entry: Series = {
      namespace: eventNamespace,
      name: eventName,
      created: false,
      count: 1,
      written: 1,
      lastObservedAt: now,
    };
    touch(this.series, key, entry);
    this.evictOldest(this.series);

    const event: Event = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: eventName, namespace: eventNamespace },
      eventTime: microTime(now),
      reportingController: this.options.reportingController,
      reportingInstance: this.options.reportingInstance,
      action: input.action,
      reason: input.reason,
      type: input.type,
      note,
      regarding: {
        apiVersion: regarding.apiVersion ?? "",
        kind: regarding.kind,
        name,
        ...(namespace === "" ? {} : { namespace }),
        ...(meta?.uid === undefined ? {} : { uid: meta.uid }),
        ...(meta?.resourceVersion === undefined ? {} : { resourceVersion: meta.resourceVersion }),
      },
    };
    this.track(
      this.options.sink.create(event).then(
        () => {
          entry.created = true;
          if (entry.count > entry.written) this.scheduleFlush();
        },
        (err: unknown) => {
          // Forget the series so the next identical event tries a create again.
          if (this.series.get(key) === entry) this.series.delete(key);
          this.drop(
            "createFailed",
            { err: classifyApiError(err), reason: input.reason },
            "cannot create an event",
          );
        },
      ),
    );
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.writeSeries();
    }, this.seriesFlushMs);
  }

  private writeSeries(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.series) {
      if (now - entry.lastObservedAt > this.seriesWindowMs && entry.count === entry.written) {
        this.series.delete(key); // the series ended; the next occurrence starts a new Event
        continue;
      }
      if (!entry.created || entry.count === entry.written) continue;
      const count = entry.count;
      const patch: EventSeriesPatch = {
        series: { count, lastObservedTime: microTime(entry.lastObservedAt) },
      };
      entry.written = count;
      this.track(
        this.options.sink.patch(entry.namespace, entry.name, patch).then(
          () => undefined,
          (err: unknown) => {
            const error = classifyApiError(err);
            if (error instanceof NotFoundError && this.series.get(key) === entry) this.series.delete(key);
            this.logger.warn(
              { err: error, event: `${entry.namespace}/${entry.name}` },
              "cannot update an event series",
            );
          },
        ),
      );
    }
  }

  private takeToken(objectId: string, now: number): boolean {
    const bucket = this.buckets.get(objectId) ?? { tokens: this.burst, updatedAt: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updatedAt) / this.refillIntervalMs);
    bucket.updatedAt = now;
    touch(this.buckets, objectId, bucket);
    this.evictOldest(this.buckets);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private evictOldest<V>(map: Map<string, V>): void {
    while (map.size > this.maxTracked) {
      const oldest = map.keys().next();
      if (oldest.done === true) return;
      map.delete(oldest.value);
    }
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private drop(reason: DropReason, fields: Record<string, unknown>, message: string): void {
    this.options.onDropped?.(reason);
    this.logger.warn({ ...fields, dropped: reason }, message);
  }
}

/** Moves `key` to the newest end of the map's insertion order. */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

function truncate(note: string): string {
  if (Buffer.byteLength(note) <= MAX_NOTE_BYTES) return note;
  let cut = note.slice(0, MAX_NOTE_BYTES - 3);
  while (Buffer.byteLength(cut) > MAX_NOTE_BYTES - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

function randomHex(random: () => number): string {
  let out = "";
  for (let i = 0; i < 16; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}
