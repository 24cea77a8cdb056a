/**
 * The quiet check of the chaos run: once nothing changes any more, the operators must not keep
 * reconciling. Each replica's count comes from its metrics (modelendpoint_reconcile_duration_seconds
 * counts every pass, leader or standby), read before and after the quiet seconds. A read that got no
 * answer is not a count of 0: that made every pass since the replica started look like a quiet one.
 * Such a replica is counted from its log instead.
 *
 * The logs (the operators run at debug level) also say what the passes were: each pass logs
 * "reconciled" with its key, the reason of its requeue and how many writes it made, and each key an
 * informer event queued logs "enqueued" with the informer. A hot loop thus names its endpoint and
 * what keeps sending it round: a requeue reason (the pass asked to come back) or an informer
 * (something keeps changing).
 *
 * Only passes that wrote or asked to come back count towards a hot loop. A pass that does neither
 * answered a change someone else made (kube-controller-manager settling a budget's status, a watch
 * delivering late after a restart) and cannot send itself round: without a write there is no event
 * of its own to come back on. Passes the metric counted that the log does not show count as hot,
 * so a missing log cannot hide a loop.
 */
import { readFileSync } from "node:fs";

export interface ReplicaLog {
  readonly identity: string;
  readonly file: string;
}

/** The passes of one replica for one endpoint key in a time window. */
export interface KeyPasses {
  readonly identity: string;
  readonly key: string;
  passes: number;
  /** Passes that wrote, asked to come back, or failed (or whose line does not say how many writes). */
  active: number;
  /** Requeue reason ("none": no requeue; "error": failed, retried with backoff) -> passes. */
  readonly why: Map<string, number>;
  /** "<informer> <event type>" -> times it queued the key. */
  readonly enqueued: Map<string, number>;
  shortestRequeueMs: number;
}

interface LoggedLine {
  readonly time?: number;
  readonly msg?: string;
  readonly key?: string;
  readonly result?: string;
  readonly why?: string;
  readonly requeueAfterMs?: number;
  readonly writes?: number;
  readonly informer?: string;
  readonly event?: string;
}

/** The passes and enqueues in `lines` (JSON log lines) between `from` and `to` (epoch ms). */
export function countPasses(
  logs: readonly { readonly identity: string; readonly lines: readonly string[] }[],
  from: number,
  to: number,
): KeyPasses[] {
  const byKey = new Map<string, KeyPasses>();
  for (const { identity, lines } of logs) {
    for (const line of lines) {
      if (!line.includes('"msg":"reconciled"') && !line.includes('"msg":"enqueued"')) continue;
      let entry: LoggedLine;
      try {
        entry = JSON.parse(line) as LoggedLine;
      } catch {
        continue; // a line cut short by a kill
      }
      if (entry.time === undefined || entry.time < from || entry.time > to) continue;
      const key = entry.key ?? "?";
      const id = `${identity} ${key}`;
      const passes = byKey.get(id) ?? {
        identity,
        key,
        passes: 0,
        active: 0,
        why: new Map<string, number>(),
        enqueued: new Map<string, number>(),
        shortestRequeueMs: Infinity,
      };
      byKey.set(id, passes);
      if (entry.msg === "reconciled") {
        passes.passes++;
        const why = entry.result === "error" ? "error" : (entry.why ?? "none");
        passes.why.set(why, (passes.why.get(why) ?? 0) + 1);
        if (why !== "none" || entry.writes !== 0) passes.active++;
        if (entry.requeueAfterMs !== undefined)
          passes.shortestRequeueMs = Math.min(passes.shortestRequeueMs, entry.requeueAfterMs);
      } else {
        const source = `${entry.informer ?? "?"} ${entry.event ?? "?"}`;
        passes.enqueued.set(source, (passes.enqueued.get(source) ?? 0) + 1);
      }
    }
  }
  return [...byKey.values()].sort((a, b) => b.passes - a.passes);
}

/** `countPasses` over the replicas' log files. */
export function countLoggedPasses(replicas: readonly ReplicaLog[], from: number, to: number): KeyPasses[] {
  return countPasses(
    replicas.map((r) => ({ identity: r.identity, lines: readFileSync(r.file, "utf8").split("\n") })),
    from,
    to,
  );
}

/**
 * One line per replica and key, the busiest first: "operator-a chaos/ep-1: 140 passes, 139 wrote or
 * came back (requeue plan 138, none 2; shortest requeue 0 ms; enqueued by pods update 2)".
 */
export function describePasses(passes: readonly KeyPasses[]): string {
  const counts = (m: ReadonlyMap<string, number>): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
  const lines = passes.map((p) => {
    const parts = p.passes > 0 ? [`requeue ${counts(p.why)}`] : [];
    if (Number.isFinite(p.shortestRequeueMs)) parts.push(`shortest requeue ${p.shortestRequeueMs} ms`);
    if (p.enqueued.size > 0) parts.push(`enqueued by ${counts(p.enqueued)}`);
    return `${p.identity} ${p.key}: ${p.passes} pass${p.passes === 1 ? "" : "es"}, ${p.active} wrote or came back (${parts.join("; ")})`;
  });
  return lines.length === 0 ? "no pass logged" : lines.join("\n  ");
}

/** One replica's reconcile metric around the quiet seconds; undefined when /metrics did not answer. */
export interface ReplicaCount {
  readonly identity: string;
  readonly before: number | undefined;
  readonly after: number | undefined;
}

/**
 * The reconciles of the quiet seconds: the metric's increase of each replica, or its logged passes
 * when a read got no answer or the counter went back (a restart); the log is `passes`
 * (`countPasses`). `hot` is what counts towards a hot loop: the logged passes that wrote or asked to come back, and the passes the metric counted
 * beyond the log. `notes` says which replicas were counted from the log and why, and which logs
 * fell short of the metric.
 */
export function countQuietReconciles(
  counts: readonly ReplicaCount[],
  passes: readonly KeyPasses[],
): {
  readonly total: number;
  readonly hot: number;
  readonly notes: readonly string[];
} {
  let total = 0;
  let hot = 0;
  const notes: string[] = [];
  for (const { identity, before, after } of counts) {
    const own = passes.filter((p) => p.identity === identity);
    const logged = own.reduce((n, p) => n + p.passes, 0);
    hot += own.reduce((n, p) => n + p.active, 0);
    if (before !== undefined && after !== undefined && after >= before) {
      const counted = after - before;
      total += counted;
      if (counted > logged) {
        notes.push(
          `${identity}: its metric counted ${counted} passes, its log ${logged}; the ${counted - logged} not logged count as hot`,
        );
        hot += counted - logged;
      }
      continue;
    }
    const unanswered = [before === undefined ? "before" : [], after === undefined ? "after" : []].flat();
    const why =
      unanswered.length > 0
        ? `/metrics did not answer ${unanswered.join(" and ")} the quiet seconds`
        : `its count went back from ${String(before)} to ${String(after)}`;
    notes.push(`${identity}: ${why}; counted from its log: ${logged} passes`);
    total += logged;
  }
  return { total, hot, notes };
}
