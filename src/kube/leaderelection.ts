/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it,
 * so two operator replicas can run and only one writes.
 *
 * - Acquire: every retryPeriod (with jitter) read the Lease; take it when it is free (no holder, or
 *   released) or expired. Expiry is judged on this process' clock: a Lease counts as expired when
 *   its record has not changed for its leaseDurationSeconds since WE observed it (the holder's
 *   renewTime is not compared with our clock, so clock skew between nodes does not matter).
 * - Every write is an update with the resourceVersion read (or a create that fails when the Lease
 *   exists): two candidates can never both believe they won; the loser gets a 409 and retries.
 * - Renew: every retryPeriod. If no renew has succeeded for renewDeadline, leadership is lost AT
 *   ONCE: a timer aborts the leading AbortSignal the instant the deadline passes, even while a renew
 *   request still hangs, before anything else runs. `isLeader()` also checks the deadline on the
 *   clock, so a write guarded by it cannot slip through between the deadline and the timer.
 * - Graceful stop (the run signal aborts): abort the leading signal, let onStartedLeading's work
 *   finish (bounded by renewDeadline), then release the Lease (holder "" and leaseDurationSeconds 1)
 *   so a successor takes over within a retryPeriod instead of waiting out the lease.
 *
 *     lease 15 s, renew deadline 10 s, retry 2 s: the leader renews every 2 s; if the API server
 *     is unreachable from t=0 it stops writing at t=10 s; a standby takes over once it has seen the
 *     same record for 15 s, so at t >= 15 s: never two writers.
 */
import { isAborted, realClock, sleep, type Clock, type Timer } from "./clock.ts";
import { classifyApiError } from "./errors.ts";
import { noopLogger, type Logger } from "./logger.ts";
import { microTime, type Lease } from "./objects.ts";

/** What the elector needs from the API: one Lease, read and written with preconditions. */
export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  get(signal: AbortSignal): Promise<Lease | undefined>;
  /** Creates it; throws (ConflictError, AlreadyExists) when another candidate was first. */
  create(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /** Replaces it; `metadata.resourceVersion` is the precondition (ConflictError when stale). */
  update(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

export interface LeaderElectionOptions {
  /** This candidate's unique identity (pod name + a random suffix). */
  readonly identity: string;
  /** Where the Lease lives; used when it has to be created. */
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly client: LeaseClient;
  /** How long a Lease stays valid after its last renew (default 15 000 ms; written in seconds). */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up (default 10 000 ms). */
  readonly renewDeadlineMs?: number;
  /** How often to try to acquire or renew (default 2 000 ms; acquiring adds up to 20% jitter). */
  readonly retryPeriodMs?: number;
  /** Release the Lease when the run signal aborts (default true). */
  readonly releaseOnCancel?: boolean;
  /**
   * Called when this candidate becomes leader. `signal` aborts the moment leadership ends; the work
   * must stop writing then and should settle its promise promptly.
   */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once leadership ended (lost or released), after the leading signal was aborted. */
  readonly onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to this candidate). */
  readonly onNewLeader?: (identity: string) => void;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** Why `run` returned: the caller stopped it, or the lease was lost. */
export type ElectionEnd = "stopped" | "lost";

const JITTER_FACTOR = 1.2;

export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  private leading = false;
  private leaderAbort: AbortController | undefined;
  private lastRenewAt = 0;
  private deadlineTimer: Timer | undefined;
  private lostWhileLeading: (() => void) | undefined;
  private observed: { holder: string; renewTime: string; resourceVersion: string } | undefined;
  private observedAt = 0;
  private lastLease: Lease | undefined;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.identity = options.identity;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? noopLogger;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (options.identity === "") throw new Error("leader election: identity must not be empty");
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new Error("leader election: leaseDuration must be greater than renewDeadline");
    }
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) {
      throw new Error(`leader election: renewDeadline must be greater than retryPeriod * ${JITTER_FACTOR}`);
    }
    if (this.leaseDurationMs < 1000) throw new Error("leader election: leaseDuration must be at least 1 s");
  }

  /**
   * True while this candidate leads and its last renew is younger than renewDeadline. Check it
   * before every write. When the deadline has passed but the timer has not fired yet (a busy event
   * loop), it ends leadership on the spot and returns false.
   */
  isLeader(): boolean {
    if (!this.leading) return false;
    if (this.clock.now() - this.lastRenewAt < this.renewDeadlineMs) return true;
    this.loseLeadership("renew deadline passed");
    return false;
  }

  /**
   * Campaigns until leader, leads until `signal` aborts ("stopped", the Lease is released) or a
   * renew deadline passes ("lost"). It may be called again after it returned.
   */
  async run(signal: AbortSignal): Promise<ElectionEnd> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal)) break;
      await sleep(this.clock, this.retryPeriodMs * (1 + (JITTER_FACTOR - 1) * this.random()), signal);
    }
    if (isAborted(signal)) return "stopped";
    return this.lead(signal);
  }

  private async lead(signal: AbortSignal): Promise<ElectionEnd> {
    const leaderAbort = new AbortController();
    this.leaderAbort = leaderAbort;
    this.leading = true;
    this.armDeadline();
    this.logger.info({ identity: this.identity, lease: this.leaseRef() }, "became leader");

    const lost = Promise.withResolvers<"lost">();
    this.lostWhileLeading = () => {
      lost.resolve("lost");
    };

    const work = Promise.resolve()
      .then(() => this.options.onStartedLeading(leaderAbort.signal))
      .catch((err: unknown) => {
        this.logger.error({ identity: this.identity, err }, "the leading work failed");
      });

    const renewing = this.renewLoop(signal, leaderAbort.signal);
    const end = await Promise.race([lost.promise, renewing]);
    this.lostWhileLeading = undefined;
    if (end === "lost") return "lost";

    // Graceful stop: stop the work first, then hand the Lease over.
    this.stopLeading("stopped");
    const finished = await this.within(work, this.renewDeadlineMs);
    if (this.options.releaseOnCancel ?? true) {
      if (finished) await this.release();
      else
        this.logger.warn(
          { identity: this.identity },
          "leading work did not stop in time; not releasing the lease",
        );
    }
    return "stopped";
  }

  /** Renews every retryPeriod until `signal` (stop) or `leading` (lost) aborts. */
  private async renewLoop(signal: AbortSignal, leading: AbortSignal): Promise<"stopped" | "lost"> {
    const either = AbortSignal.any([signal, leading]);
    while (!either.aborted) {
      await sleep(this.clock, this.retryPeriodMs, either);
      if (isAborted(either)) break;
      const attempt = new AbortController();
      const abortAttempt = (): void => {
        attempt.abort();
      };
      either.addEventListener("abort", abortAttempt, { once: true });
      try {
        await this.tryAcquireOrRenew(attempt.signal);
      } finally {
        either.removeEventListener("abort", abortAttempt);
      }
    }
    return signal.aborted ? "stopped" : "lost";
  }

  /** One read and, when allowed, one conditional write. True when this candidate holds the Lease. */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const startedAt = this.clock.now();
    let current: Lease | undefined;
    try {
      current = await this.options.client.get(signal);
    } catch (err) {
      this.logger.warn({ identity: this.identity, err: classifyApiError(err) }, "cannot read the lease");
      return false;
    }
    if (isAborted(signal)) return false;
    const now = this.clock.now();
    if (current === undefined) {
      return this.write(
        "create",
        {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.leaseName, namespace: this.options.leaseNamespace },
          spec: this.record(now, now, 0),
        },
        startedAt,
        signal,
      );
    }

    this.observe(current, now);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && holder !== this.identity) {
      // Another candidate wrote the Lease: if we thought we led, we do not any more.
      if (this.leading) this.loseLeadership(`the lease is held by ${holder}`);
      if (now < this.observedAt + durationMs) return false; // held and not expired
    }
    const ours = holder === this.identity;
    const transitions = spec.leaseTransitions ?? 0;
    const acquireTime = ours && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now);
    const next: Lease = {
      ...current,
      spec: { ...this.record(now, now, ours ? transitions : transitions + 1), acquireTime },
    };
    return this.write("update", next, startedAt, signal);
  }

  private async write(
    verb: "create" | "update",
    lease: Lease,
    startedAt: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    try {
      const written =
        verb === "create"
          ? await this.options.client.create(lease, signal)
          : await this.options.client.update(lease, signal);
      this.observe(written, this.clock.now());
      this.lastLease = written;
      if (isAborted(signal)) return false;
      // The lease is ours from the moment the request was sent: count the deadline from then.
      this.lastRenewAt = startedAt;
      if (this.leading) this.armDeadline();
      return true;
    } catch (err) {
      this.logger.info(
        { identity: this.identity, err: classifyApiError(err), verb },
        verb === "create" ? "cannot create the lease" : "cannot update the lease",
      );
      return false;
    }
  }

  private record(acquiredAt: number, renewedAt: number, transitions: number): NonNullable<Lease["spec"]> {
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: microTime(acquiredAt),
      renewTime: microTime(renewedAt),
      leaseTransitions: transitions,
    };
  }

  /** Notes when the Lease's record last changed, on our clock. */
  private observe(lease: Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? "";
    const record = {
      holder,
      renewTime: lease.spec?.renewTime ?? "",
      resourceVersion: lease.metadata?.resourceVersion ?? "",
    };
    const previous = this.observed;
    if (
      previous?.holder === record.holder &&
      previous.renewTime === record.renewTime &&
      previous.resourceVersion === record.resourceVersion
    ) {
      return;
    }
    this.observed = record;
    this.observedAt = now;
    if (previous?.holder !== holder && holder !== "") {
      this.logger.info({ identity: this.identity, leader: holder }, "new leader observed");
      this.options.onNewLeader?.(holder);
    }
  }

  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    const remaining = this.lastRenewAt + this.renewDeadlineMs - this.clock.now();
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.loseLeadership("renew deadline passed");
    }, remaining);
  }

  /** Lost: abort the leading signal first, then tell everyone. */
  private loseLeadership(why: string): void {
    if (!this.leading) return;
    this.stopLeading("lost");
    this.logger.error({ identity: this.identity, lease: this.leaseRef(), why }, "lost leadership");
    this.lostWhileLeading?.();
  }

  private stopLeading(how: "lost" | "stopped"): void {
    if (!this.leading) return;
    this.leaderAbort?.abort(new Error(how === "lost" ? "leadership lost" : "leadership released"));
    this.leading = false;
    this.deadlineTimer?.cancel();
    this.deadlineTimer = undefined;
    try {
      this.options.onStoppedLeading?.();
    } catch (err) {
      this.logger.error({ identity: this.identity, err }, "onStoppedLeading threw");
    }
  }

  /** Hands the Lease over: no holder and a 1 s duration, conditional on our last write. */
  private async release(): Promise<void> {
    const lease = this.lastLease;
    if (lease?.spec?.holderIdentity !== this.identity) return;
    const now = microTime(this.clock.now());
    const released: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      },
    };
    const abort = new AbortController();
    const timer = this.clock.setTimeout(() => {
      abort.abort();
    }, this.renewDeadlineMs);
    try {
      this.lastLease = await this.options.client.update(released, abort.signal);
      this.logger.info({ identity: this.identity, lease: this.leaseRef() }, "released the lease");
    } catch (err) {
      // Someone else already holds it (409), or the API server is unreachable: the lease then
      // expires by itself after leaseDuration. Nothing is lost by not releasing.
      this.logger.warn({ identity: this.identity, err: classifyApiError(err) }, "cannot release the lease");
    } finally {
      timer.cancel();
    }
  }

  /** Waits for `promise`, at most `ms`; true when it settled in time. */
  private async within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: Timer | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = this.clock.setTimeout(() => {
        resolve(false);
      }, ms);
    });
    const result = await Promise.race([promise.then(() => true as const), timeout]);
    timer?.cancel();
    return result;
  }

  private leaseRef(): string {
    return `${this.options.leaseNamespace}/${this.options.leaseName}`;
  }
}
