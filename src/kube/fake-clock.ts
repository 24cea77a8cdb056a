/**
 * A Clock whose time moves only when a test says so. `advance(ms)` fires the due timers in time
 * order and lets promise callbacks settle between them, so async code driven by timers (backoff
 * loops, renew loops) runs deterministically and without real sleeps.
 */
import type { Clock, Timer } from "./clock.ts";

interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private scheduled: Scheduled[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const entry: Scheduled = {
      at: this.nowMs + Math.max(0, ms),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.scheduled.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Timers scheduled and not yet fired or cancelled. */
  pending(): number {
    return this.scheduled.filter((entry) => !entry.cancelled).length;
  }

  /** When the next timer fires, or undefined when none is pending. */
  nextAt(): number | undefined {
    return this.next()?.at;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = this.next();
      if (next === undefined || next.at > target) break;
      this.nowMs = Math.max(this.nowMs, next.at);
      next.cancelled = true;
      this.scheduled = this.scheduled.filter((entry) => !entry.cancelled);
      next.callback();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }

  /** Moves the time forward without firing any timer, as when the event loop was blocked. */
  jump(ms: number): void {
    this.nowMs += ms;
  }

  /** Advances to the next pending timer and fires it (and any due at the same instant). */
  async fireNext(): Promise<void> {
    const next = this.next();
    if (next === undefined) throw new Error("FakeClock: no timer pending");
    await this.advance(next.at - this.nowMs);
  }

  private next(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const entry of this.scheduled) {
      if (entry.cancelled) continue;
      if (best === undefined || entry.at < best.at || (entry.at === best.at && entry.seq < best.seq))
        best = entry;
    }
    return best;
  }
}

/**
 * Lets pending promise callbacks run: a few turns of the event loop (no time passes on any clock).
 * Chains of awaits settle within these turns.
 */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) {
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
}
