import type { DedicatedResources, DeployedModelSpec, DeployedModelState, Placement } from "./types.ts";

/**
 * Rollout chains (R1-R3), as pure functions over a minimal view of the spec entries so they can be
 * tested with tables. A chain is a root (an entry without rolloutOptions) plus every entry that rolls
 * onto it, directly or transitively; it owns one pool of N replicas.
 */

/** What chain arithmetic needs to know about one entry. */
export interface Link {
  readonly id: string;
  /** Spec order, the last tie-breaker everywhere. */
  readonly index: number;
  /** The entry it rolls onto (as first seen), or undefined for a root. */
  readonly previousId: string | undefined;
}

/**
 * Groups entries into chains by their links. A link to an id that is not in spec (the previous model
 * was removed after it was replaced) ends the chain there: that entry becomes its head. Each chain
 * lists its ids in spec order; chains come in the spec order of their first entry.
 *
 * m1 (root), m2 -> m1, m3 -> m2, x1 (root): two chains [m1, m2, m3] and [x1]. After the user removes
 * the replaced m1 and m2: one chain [m3] whose head m3 rolls onto an id no longer in spec.
 */
export function findChains(links: readonly Link[]): readonly (readonly string[])[] {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let current = id;
    for (;;) {
      const next = parent.get(current);
      if (next === undefined || next === current) return current;
      current = next;
    }
  };
  for (const link of links) parent.set(link.id, link.id);
  for (const link of links) {
    if (link.previousId === undefined || !parent.has(link.previousId)) continue;
    const a = find(link.id);
    const b = find(link.previousId);
    if (a !== b) parent.set(a, b);
  }
  const groups = new Map<string, string[]>();
  for (const link of [...links].sort((x, y) => x.index - y.index)) {
    const key = find(link.id);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [link.id]);
    else group.push(link.id);
  }
  return [...groups.values()];
}

/**
 * The head of a chain: the member whose link leaves the chain (a root, or an entry whose previous
 * model left spec). Links are acyclic when every entry was admitted (its previous existed before
 * it); should a hand-made cycle ever appear, the first entry in spec order stands in as the head.
 */
export function findHead(members: readonly Link[]): Link | undefined {
  const ids = new Set(members.map((m) => m.id));
  const heads = members.filter((m) => m.previousId === undefined || !ids.has(m.previousId));
  return [...heads].sort((a, b) => a.index - b.index)[0] ?? [...members].sort((a, b) => a.index - b.index)[0];
}

/**
 * Revision numbers (R1): a recorded number is kept forever; otherwise the ReplicaSet's revision label
 * (status was lost); otherwise 1 for a root, and for a rolling deployment revision(previous) + 1, or
 * more when that number was given before: a new rolling deployment's number is above every number
 * the endpoint has given (`latest`, and every number known), so no number is ever given twice.
 * A rolling deployment whose previous model is unknown counts from 0 (it is refused when first
 * seen, R10). New numbers are given in spec order, each previous model first.
 *
 * m1 (1), m2 -> m1 FAILED (2) and removed, latest 2; m3 -> m1 arrives: max(1 + 1, 2 + 1) = 3.
 * One chain in normal use: revision(previous) is the latest, so the rule is exactly previous + 1.
 * Two chains: m1 (1), m2 (2), x1 (1); x2 -> x1 gets 3, because 2 was given in the endpoint.
 */
export function resolveRevisions(
  links: readonly Link[],
  known: (id: string) => number | undefined,
  latest = 0,
): ReadonlyMap<string, number> {
  const byId = new Map(links.map((l) => [l.id, l]));
  const result = new Map<string, number>();
  const visiting = new Set<string>();
  let given = latest;
  for (const link of links) {
    const revision = known(link.id);
    if (revision !== undefined) given = Math.max(given, revision);
  }
  const revisionOf = (id: string): number => {
    const done = result.get(id);
    if (done !== undefined) return done;
    const link = byId.get(id);
    if (link === undefined) return 0;
    let revision = known(id);
    if (revision === undefined) {
      if (link.previousId === undefined || visiting.has(id)) revision = 1;
      else {
        visiting.add(id);
        const previous = byId.has(link.previousId)
          ? revisionOf(link.previousId)
          : (known(link.previousId) ?? 0);
        visiting.delete(id);
        revision = Math.max(previous + 1, given + 1);
        given = revision;
      }
    }
    result.set(id, revision);
    return revision;
  };
  for (const link of links) revisionOf(link.id);
  return result;
}

/** The values an entry resolves under R2. */
export interface Inherited {
  readonly dedicatedResources?: DedicatedResources;
  readonly serviceAccount?: string;
  readonly placement?: Placement;
  readonly disableContainerLogging: boolean;
  readonly enableAccessLogging: boolean;
}

/** What an entry remembers of its inherited values when its previous model left spec. */
export interface InheritanceMemory {
  readonly dedicatedResources?: DedicatedResources | undefined;
  readonly serviceAccount?: string | undefined;
  readonly placement?: Placement | undefined;
}

/**
 * Resolves R2 for every entry. A root uses its own values. A rolling deployment inherits
 * dedicatedResources from its previous model always (a value given on it is ignored; admission
 * forbids it), and serviceAccount, placement, disableContainerLogging and enableAccessLogging
 * unless it sets them. While the previous model is in spec the values are live (the root's minReplicaCount can be
 * changed and the chain follows); once it left spec they come from `memory` (the status record).
 *
 * m1 {dedicatedResources: N=5, serviceAccount: sa1}; m2 -> m1 {serviceAccount: sa2}; m3 -> m2 {}:
 * m2 = {N=5, sa2}, m3 = {N=5, sa2}.
 */
export function resolveInheritance(
  entries: readonly DeployedModelSpec[],
  previousOf: (id: string) => string | undefined,
  memory: (id: string) => InheritanceMemory | undefined,
): ReadonlyMap<string, Inherited> {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const result = new Map<string, Inherited>();
  const visiting = new Set<string>();
  const resolve = (entry: DeployedModelSpec): Inherited => {
    const done = result.get(entry.id);
    if (done !== undefined) return done;
    const previousId = previousOf(entry.id);
    const previous = previousId === undefined ? undefined : byId.get(previousId);
    let base: {
      readonly dedicatedResources?: DedicatedResources | undefined;
      readonly serviceAccount?: string | undefined;
      readonly placement?: Placement | undefined;
      readonly disableContainerLogging?: boolean;
      readonly enableAccessLogging?: boolean;
    } = {};
    if (previous !== undefined && !visiting.has(entry.id)) {
      visiting.add(entry.id);
      base = resolve(previous);
      visiting.delete(entry.id);
    } else if (previousId !== undefined) {
      base = memory(entry.id) ?? {};
    }
    const dedicatedResources = previousId === undefined ? entry.dedicatedResources : base.dedicatedResources;
    const serviceAccount = entry.serviceAccount ?? base.serviceAccount;
    const placement = entry.placement ?? base.placement;
    const resolved: Inherited = {
      ...(dedicatedResources === undefined ? {} : { dedicatedResources }),
      ...(serviceAccount === undefined ? {} : { serviceAccount }),
      ...(placement === undefined ? {} : { placement }),
      disableContainerLogging: entry.disableContainerLogging ?? base.disableContainerLogging ?? false,
      enableAccessLogging: entry.enableAccessLogging ?? base.enableAccessLogging ?? false,
    };
    result.set(entry.id, resolved);
    return resolved;
  };
  for (const entry of entries) resolve(entry);
  return result;
}

/** A chain member as the intended-member rule sees it. */
export interface Candidate {
  readonly id: string;
  readonly index: number;
  readonly revision: number;
  readonly state: DeployedModelState;
  /** Its entry left spec; its ReplicaSet is drained like an old member's. */
  readonly removed?: boolean;
}

/**
 * The intended member of a chain (R3): the highest revision still in spec that has not FAILED,
 * whatever its state; on a tie (possible only when admission was bypassed) the later spec entry.
 * Undefined when every member still in spec FAILED: the chain then holds 0 replicas.
 *
 * m1 (1, DEPLOYED), m2 (2, BEING_DEPLOYED), m3 (3, BEING_DEPLOYED, a rollback onto m2): m3 (R9).
 * m1 (1, DEPLOYED), m2 (2, FAILED): m1 (R8, the revert target).
 * m1 (1, REPLACED), m2 (2, DEPLOYED) removed from spec (a git revert): m1 again, and the chain rolls
 * back onto it within its budgets while m2's replicas are drained.
 */
export function findIntended<T extends Candidate>(members: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const member of members) {
    if (member.state === "FAILED" || member.removed === true) continue;
    if (
      best === undefined ||
      member.revision > best.revision ||
      (member.revision === best.revision && member.index > best.index)
    ) {
      best = member;
    }
  }
  return best;
}

/**
 * The intended member as a status shows it, for read-outs (the printer columns, the kubectl plugin):
 * {@link findIntended} over the recorded states; when every member FAILED, the newest one, so that
 * a failed first deployment still shows what was asked for. A member not yet in status (no revision)
 * counts as revision 0.
 */
export function findShownIntended<
  T extends { readonly id: string; readonly revision?: number | undefined; readonly state: string },
>(members: readonly T[]): T | undefined {
  const candidates = members.map((m, index) => ({
    id: m.id,
    index,
    revision: m.revision ?? 0,
    state: m.state as DeployedModelState,
    member: m,
  }));
  const newest = [...candidates].sort((a, b) => b.revision - a.revision || b.index - a.index)[0];
  return (findIntended(candidates) ?? newest)?.member;
}

/**
 * The root of a model's chain by its previous-model links (`previous`: id -> previous id), as far
 * as they lead: m3 -> m2 -> m1 gives m1; a link to an id without a link of its own ends there.
 * Safe on cycles (it stops where it started repeating).
 */
export function findRoot(id: string, previous: ReadonlyMap<string, string>): string {
  const seen = new Set<string>();
  let at = id;
  for (;;) {
    const next = previous.get(at);
    if (next === undefined || seen.has(next)) return at;
    seen.add(at);
    at = next;
  }
}

/**
 * The order in which members being retired lose replicas: FAILED first (their pods are the ones a
 * revert wants gone), then members whose entry left spec (the user asked for them gone), then newest
 * revision first. The Deployment controller drains oldest first; here the newest non-intended member
 * is the one the user most recently moved away from (in a rollback, R9, the in-progress revision that
 * prompted it), so it goes first.
 */
export function orderForRetirement<T extends Candidate>(members: readonly T[]): readonly T[] {
  return [...members].sort((a, b) => {
    const failed = Number(b.state === "FAILED") - Number(a.state === "FAILED");
    if (failed !== 0) return failed;
    const removed = Number(b.removed === true) - Number(a.removed === true);
    if (removed !== 0) return removed;
    if (a.revision !== b.revision) return b.revision - a.revision;
    return b.index - a.index;
  });
}
