import {
  clamp,
  decideReplicas,
  DEFAULT_AUTOSCALING_POLICY,
  isAutoscaled,
  resolveMetrics,
  type AutoscaleDecision,
} from "./autoscale.ts";
import { findChains, findHead, resolveInheritance, resolveRevisions } from "./chains.ts";
import type { Inherited, Link } from "./chains.ts";
import type { MemberCounts } from "./replicas.ts";
import { parseTime, toEpochMs, toEpochSeconds } from "./time.ts";
import { DEPLOYED_MODEL_STATES, FailureReason } from "./types.ts";
import type {
  AutoscalingStatus,
  DedicatedResources,
  DeployedModelSpec,
  DeployedModelState,
  Instant,
  Placement,
  PodSnapshot,
  RecordedDeployedModelStatus,
  ReplicaSetSnapshot,
  Snapshot,
} from "./types.ts";

/**
 * The context of one pass (Argo Rollouts' rolloutContext): everything the planner needs, gathered and
 * classified from the snapshot before anything is decided. Building it never fails: malformed recorded
 * status is dropped field by field, and whatever memory is missing is rebuilt conservatively.
 */
export interface PlanContext {
  readonly snapshot: Snapshot;
  /** `now` as given, in milliseconds, for requeue arithmetic. */
  readonly nowMs: number;
  /** `now` in whole seconds, for everything else (see time.ts). */
  readonly now: number;
  /** One per spec entry, in spec order (a duplicated id keeps its first entry). */
  readonly members: readonly Member[];
  readonly byId: ReadonlyMap<string, Member>;
  readonly chains: readonly Chain[];
  /**
   * ReplicaSets whose entry left spec together with its whole chain (an undeploy): deleted at once.
   * A ReplicaSet whose entry left spec while its chain still has members in spec is a member of that
   * chain instead ({@link Member.removed}), drained within the budgets and deleted at 0.
   */
  readonly removed: readonly ReplicaSetSnapshot[];
  /** The highest revision number the endpoint has given, this pass's new ones included. */
  readonly latestRevision: number;
  /**
   * What is remembered of the ancestors of each model, nearest first: its ReplicaSet's lineage, the
   * links status records give, and the previous model its spec entry names.
   */
  readonly ancestors: ReadonlyMap<string, readonly string[]>;
}

/** A chain and its pool. */
export interface Chain {
  /** In spec order; members whose entry left spec (still being drained) come last. */
  readonly members: readonly Member[];
  /** The member whose link leaves the chain: the root, or the oldest survivor once the root left spec. */
  readonly head: Member;
  /**
   * N: the root's minReplicaCount; once the root left spec, the head's remembered (inherited)
   * dedicatedResources, else the pool size kept on its ReplicaSets. Undefined when nothing remembers
   * it: such a chain is left alone rather than scaled on a guess.
   */
  readonly poolSize: number | undefined;
  /** Set when the chain's compute has maxReplicaCount above minReplicaCount: N is autoscaled. */
  readonly autoscale?: ChainAutoscale;
}

/** An autoscaled chain: N (its poolSize) as this pass decided it, and what it was decided from. */
export interface ChainAutoscale {
  readonly min: number;
  readonly max: number;
  /** N before this pass. */
  readonly before: number;
  readonly decision: AutoscaleDecision;
  /** When N last changed (epoch seconds), this pass included. */
  readonly lastScaleTime: number | undefined;
  /** The head's recorded autoscaling status, for a pass that read nothing new. */
  readonly recorded: AutoscalingStatus | undefined;
}

/** The validated part of a recorded deployed-model status. */
export interface RecordView {
  readonly revisionNumber?: number;
  readonly state?: DeployedModelState;
  readonly reason?: FailureReason;
  readonly message?: string;
  readonly availableReplicaCount?: number;
  readonly createTime?: number;
  readonly progressTime?: number;
  readonly previousDeployedModel?: string;
  readonly dedicatedResources?: DedicatedResources;
  readonly serviceAccount?: string;
  readonly placement?: Placement;
  /** The chain's N and when it last changed, as the head's autoscaling record says. */
  readonly autoscaling?: {
    readonly desired: number;
    readonly lastScaleTime?: number;
    readonly status: AutoscalingStatus;
  };
}

/** What a ReplicaSet's status says, for the deployed model's status record. */
export interface Observed {
  /**
   * The lower of the ReplicaSet's counter and its pods seen alive (not terminating, not Succeeded or
   * Failed). The ReplicaSet controller computes `status.replicas` from the pods it saw before it
   * acted, so after a scale-down its first status still counts the pods it has just deleted; once
   * the watch shows them terminating they no longer count, without waiting for its next status.
   * The counts are used only when the ReplicaSet has observed its latest spec (rolling.ts), and a
   * ReplicaSet that has observed its spec creates no pods above it: what it may still have beyond
   * its spec is what is seen alive.
   */
  readonly replicas: number;
  /** The lower of the ReplicaSet's counter and the Ready pods seen. */
  readonly readyReplicas: number;
  /** The lower of the ReplicaSet's counter and the Ready pods seen. */
  readonly availableReplicas: number;
}

/** One spec entry and everything known about it at the start of the pass. */
export interface Member {
  readonly id: string;
  readonly index: number;
  readonly spec: DeployedModelSpec;
  /** The chain link: the named previous model, or its nearest ancestor in spec once it left. */
  readonly previousId: string | undefined;
  /** The previous model the entry names (recorded when first seen, else as in spec); R10 judges this one. */
  readonly namedPreviousId: string | undefined;
  readonly revision: number;
  readonly record: RecordView | undefined;
  /** The recorded status as read, for "did anything change" comparisons. */
  readonly raw: RecordedDeployedModelStatus | undefined;
  readonly replicaSet: ReplicaSetSnapshot | undefined;
  readonly pods: readonly PodSnapshot[];
  /** Neither a status record nor a ReplicaSet: this pass is the first to see it (R10 judges it now). */
  readonly firstSeen: boolean;
  /** No valid recorded state, but it exists in the cluster: its state is rebuilt as BEING_DEPLOYED. */
  readonly rebuilt: boolean;
  /** State at the start of the pass; undefined when first seen. */
  readonly startState: DeployedModelState | undefined;
  readonly inherited: Inherited;
  readonly observed: Observed;
  readonly counts: MemberCounts;
  /** Its ReplicaSet's counters describe an older spec (observedGeneration < generation > 1). */
  readonly stale: boolean;
  /**
   * Its entry left spec while other members of its chain stayed (a git revert of a rolling
   * deployment, a member removed mid-rollout): only its ReplicaSet remains, drained like an old
   * member's and deleted at 0. It is never intended, has no status record and no traffic key.
   * `spec` is a stand-in holding the rollout settings its ReplicaSet remembers.
   */
  readonly removed: boolean;
}

/** Gathers a snapshot into a {@link PlanContext}. */
export function gatherContext(snapshot: Snapshot, now: Instant): PlanContext {
  const entries = uniqueEntries(snapshot.spec.deployedModels);
  const specIds = new Set(entries.map((e) => e.id));
  const rawById = new Map<string, RecordedDeployedModelStatus>();
  for (const raw of snapshot.status?.deployedModels ?? []) {
    if (!rawById.has(raw.id)) rawById.set(raw.id, raw);
  }
  const records = new Map<string, RecordView>();
  for (const [id, raw] of rawById) records.set(id, readRecord(raw));
  const replicaSets = indexReplicaSets(snapshot.replicaSets);
  const podsById = new Map<string, PodSnapshot[]>();
  for (const pod of snapshot.pods) {
    const list = podsById.get(pod.deployedModelId);
    if (list === undefined) podsById.set(pod.deployedModelId, [pod]);
    else list.push(pod);
  }

  const parents = findParents(replicaSets.values());
  const links: Link[] = entries.map((entry, index) => ({
    id: entry.id,
    index,
    previousId: findLink(entry, records, specIds, replicaSets.get(entry.id)?.lineage, parents),
  }));
  const linkById = new Map(links.map((l) => [l.id, l]));
  const previousOf = (id: string): string | undefined => linkById.get(id)?.previousId;
  const knownRevision = (id: string): number | undefined =>
    records.get(id)?.revisionNumber ?? replicaSets.get(id)?.revision;
  let given = readLatestRevision(snapshot.status?.latestRevisionNumber);
  for (const id of new Set([...records.keys(), ...replicaSets.keys()])) {
    given = Math.max(given, knownRevision(id) ?? 0);
  }
  const revisions = resolveRevisions(links, knownRevision, given);
  const inherited = resolveInheritance(entries, previousOf, (id) => records.get(id));

  const members: Member[] = entries.map((spec, index) => {
    const record = records.get(spec.id);
    const replicaSet = replicaSets.get(spec.id);
    const pods = podsById.get(spec.id) ?? [];
    const firstSeen = !rawById.has(spec.id) && replicaSet === undefined;
    const startState = record?.state ?? (firstSeen ? undefined : "BEING_DEPLOYED");
    const observed = observe(replicaSet, pods);
    return {
      id: spec.id,
      index,
      spec,
      previousId: links[index]?.previousId,
      namedPreviousId: namedPrevious(spec, records),
      revision: revisions.get(spec.id) ?? 1,
      record,
      raw: rawById.get(spec.id),
      replicaSet,
      pods,
      firstSeen,
      rebuilt: !firstSeen && record?.state === undefined,
      startState,
      inherited: inherited.get(spec.id) ?? { disableContainerLogging: false, enableAccessLogging: false },
      observed,
      counts: countMember(spec.id, replicaSet, observed),
      stale: isStale(replicaSet),
      removed: false,
    };
  });
  const byId = new Map(members.map((m) => [m.id, m]));

  const groups = findChains(links).flatMap((ids) => {
    const chainMembers = ids.flatMap((id) => byId.get(id) ?? []);
    const head = findHead(chainMembers);
    const headMember = head === undefined ? undefined : byId.get(head.id);
    return headMember === undefined ? [] : [{ members: chainMembers, head: headMember }];
  });

  // ReplicaSets whose entry left spec: a member of the chain they descend from or that descends
  // from them (drained within its budgets), or, when no member of their chain is left, undeployed.
  const ghosts = groups.map((): Member[] => []);
  const ancestors = new Map<string, readonly string[]>();
  const named = new Map(entries.map((e) => [e.id, e.rolloutOptions?.previousDeployedModel]));
  for (const id of new Set([...replicaSets.keys(), ...records.keys(), ...named.keys()])) {
    const own = named.get(id);
    ancestors.set(id, [
      ...(replicaSets.get(id)?.lineage ?? []),
      ...recordedAncestors(id, records),
      ...(own === undefined ? [] : [own]),
    ]);
  }
  const ghostChains = findGhostChains(
    new Set([...replicaSets.keys(), ...rawById.keys()]),
    ancestors,
    groups,
    specIds,
  );
  const removed: ReplicaSetSnapshot[] = [];
  let nextIndex = entries.length;
  // Entries that left spec with a ReplicaSet, or (for the one pass after) only a status record.
  const leftIds = new Set([...replicaSets.keys(), ...rawById.keys()].filter((id) => !specIds.has(id)));
  for (const id of leftIds) {
    const rs = replicaSets.get(id);
    const c = ghostChains.get(id);
    if (c === undefined) {
      if (rs !== undefined) removed.push(rs);
      continue;
    }
    ghosts[c]?.push(
      removedMember(id, nextIndex++, rs, podsById.get(id) ?? [], groups[c]?.head.id, {
        revision: knownRevision(id) ?? 0,
        record: records.get(id),
        raw: rawById.get(id),
      }),
    );
  }
  const chains: Chain[] = groups.map((group, c) => {
    const chainMembers = [...group.members, ...(ghosts[c] ?? [])];
    const poolSize = findPoolSize(group.head, group.members);
    const autoscale = autoscaleChain(group.head, chainMembers, poolSize, snapshot, toEpochMs(now));
    return autoscale === undefined
      ? { members: chainMembers, head: group.head, poolSize }
      : { members: chainMembers, head: group.head, poolSize: autoscale.decision.desired, autoscale };
  });

  let latestRevision = given;
  for (const chain of chains) {
    for (const member of chain.members) latestRevision = Math.max(latestRevision, member.revision);
  }
  return {
    snapshot,
    nowMs: toEpochMs(now),
    now: toEpochSeconds(now),
    members,
    byId,
    chains,
    removed,
    latestRevision,
    ancestors,
  };
}

/**
 * A member whose entry left spec: only its ReplicaSet (or, for one pass, its status record) is left.
 * Its `spec` is a stand-in that carries the rollout settings its ReplicaSet remembers, linked to the
 * chain's head, so the chain's budgets can be those it was rolled out with.
 */
function removedMember(
  id: string,
  index: number,
  rs: ReplicaSetSnapshot | undefined,
  pods: readonly PodSnapshot[],
  head: string | undefined,
  memory: {
    readonly revision: number;
    readonly record: RecordView | undefined;
    readonly raw: RecordedDeployedModelStatus | undefined;
  },
): Member {
  const observed = observe(rs, pods);
  const settings = rs?.rolloutSettings;
  return {
    id,
    index,
    spec: {
      id,
      model: "",
      containerSpec: {},
      ...(settings === undefined || head === undefined
        ? {}
        : { rolloutOptions: { ...settings, previousDeployedModel: head } }),
    },
    previousId: undefined,
    namedPreviousId: undefined,
    revision: memory.revision,
    record: memory.record,
    raw: memory.raw,
    replicaSet: rs,
    pods,
    firstSeen: false,
    rebuilt: false,
    startState: undefined,
    inherited: { disableContainerLogging: false, enableAccessLogging: false },
    observed,
    counts: countMember(id, rs, observed),
    stale: isStale(rs),
    removed: true,
  };
}

/**
 * The chain each model whose entry left spec (with a ReplicaSet, or a status record from the last
 * pass) belongs to, by index into `groups`: it is related to its ancestors (its lineage, the links
 * status records give, the previous model a spec entry names) and to every model that has it among
 * its ancestors; it belongs to the chain of the first related model still in spec, or of
 * a related ReplicaSet that belongs to one (so m1 <- m2 <- m3 with m1 and m2 removed still ties m1 to
 * m3 through m2). One whose relations reach no model in spec is absent: its whole chain left spec,
 * which is an undeploy.
 *
 * m1 <- m2, m2 DEPLOYED, the user removes m2 (git revert): m2's lineage [m1] finds m1's chain.
 * m1 <- m2 mid-rollout, the user removes m1: m2's lineage [m1] passes through m1, so m1's pods are
 * drained as m2 comes up instead of vanishing at once.
 */
function findGhostChains(
  known: ReadonlySet<string>,
  ancestors: ReadonlyMap<string, readonly string[]>,
  groups: readonly { readonly members: readonly Member[] }[],
  specIds: ReadonlySet<string>,
): ReadonlyMap<string, number> {
  const chainOf = new Map<string, number>();
  groups.forEach((g, c) => {
    for (const m of g.members) chainOf.set(m.id, c);
  });
  const pending = [...known].filter((id) => !specIds.has(id));
  const related = (a: string, b: string): boolean =>
    (ancestors.get(a) ?? []).includes(b) || (ancestors.get(b) ?? []).includes(a);
  const result = new Map<string, number>();
  for (let changed = true; changed;) {
    changed = false;
    for (const id of pending) {
      if (result.has(id)) continue;
      // Its own ancestors first, nearest first; then whatever has it as an ancestor.
      const near = (ancestors.get(id) ?? []).find((a) => chainOf.has(a));
      const far = near ?? [...chainOf.keys()].find((other) => related(id, other));
      const c = far === undefined ? undefined : chainOf.get(far);
      if (c === undefined) continue;
      result.set(id, c);
      chainOf.set(id, c);
      changed = true;
    }
  }
  return result;
}

/** The ancestors status records give, nearest first, following each record's previousDeployedModel. */
function recordedAncestors(id: string, records: ReadonlyMap<string, RecordView>): string[] {
  const ancestors: string[] = [];
  let current = records.get(id)?.previousDeployedModel;
  while (current !== undefined && current !== id && !ancestors.includes(current)) {
    ancestors.push(current);
    current = records.get(current)?.previousDeployedModel;
  }
  return ancestors;
}

/**
 * Its ReplicaSet's counters describe an older spec, so no step may be planned on them. A ReplicaSet
 * whose spec never changed since it was created (generation 1) is not: whether or not its
 * controller has seen it yet, it creates at most the replicas it was created with, which its spec
 * counts already.
 */
function isStale(replicaSet: ReplicaSetSnapshot | undefined): boolean {
  return (
    replicaSet !== undefined &&
    !replicaSet.deleting &&
    replicaSet.generation > 1 &&
    replicaSet.observedGeneration < replicaSet.generation
  );
}

function readLatestRevision(value: number | undefined): number {
  return value !== undefined && Number.isInteger(value) && value >= 0 ? value : 0;
}

/**
 * The chain link of an entry: the previous model as recorded when first seen, else as in spec. When
 * the previous model has left spec, the link follows that model's own recorded link to the nearest
 * ancestor still in spec, so removing a middle revision never splits a chain.
 *
 * m1 <- m2 <- m3, the user removes the replaced m2 (m1 keeps the traffic key): the pass that sees it
 * gone still has m2's record (previous m1), so m3 links to m1 and records that; the chain, its pool
 * and its traffic share stay one. An entry seen for the first time is linked the same way (a refused
 * entry still belongs to its chain, so a traffic key put on it is not stranded), while R10 judges it
 * against the model it names ({@link namedPrevious}). When status was lost too, the lineage kept on
 * the entry's ReplicaSet gives the nearest ancestor still in spec.
 */
function findLink(
  entry: DeployedModelSpec,
  records: ReadonlyMap<string, RecordView>,
  specIds: ReadonlySet<string>,
  lineage: readonly string[] | undefined,
  parents: ReadonlyMap<string, string>,
): string | undefined {
  const named = namedPrevious(entry, records);
  let current = named;
  const seen = new Set<string>();
  while (current !== undefined && !specIds.has(current) && !seen.has(current)) {
    seen.add(current);
    current = records.get(current)?.previousDeployedModel ?? parents.get(current);
  }
  if (current !== undefined && specIds.has(current)) return current;
  // Status no longer knows the way (it was lost): the ancestors kept on its ReplicaSet do, or, for an
  // entry without one, those another ReplicaSet's lineage gives it.
  const kept = lineage?.find((id) => specIds.has(id));
  if (kept !== undefined) return kept;
  current = parents.get(entry.id);
  seen.clear();
  while (current !== undefined && !specIds.has(current) && !seen.has(current)) {
    seen.add(current);
    current = parents.get(current);
  }
  return current ?? named;
}

/**
 * Each model's previous one as the lineages on ReplicaSets tell it: a ReplicaSet of m4 with lineage
 * [m3, m2, m1] says m4 <- m3 <- m2 <- m1. With status lost, this links an entry that has no
 * ReplicaSet of its own (a revision superseded before it ran) through removed models to its chain.
 */
function findParents(replicaSets: Iterable<ReplicaSetSnapshot>): ReadonlyMap<string, string> {
  const parents = new Map<string, string>();
  for (const rs of replicaSets) {
    const line = [rs.deployedModelId, ...(rs.lineage ?? [])];
    for (let i = 0; i + 1 < line.length; i++) {
      const child = line[i];
      const parent = line[i + 1];
      if (child !== undefined && parent !== undefined && !parents.has(child)) parents.set(child, parent);
    }
  }
  return parents;
}

/**
 * The chain ancestors of a member, nearest first, following links, and past a model that left spec
 * through what is remembered of it (its ReplicaSet's lineage, status records); for a new ReplicaSet's
 * lineage. Keeping the whole ancestry ties a removed ancestor that is still being drained to the
 * chain even after the models between them are gone.
 */
export function findLineage(member: Member, ctx: PlanContext): string[] {
  const lineage: string[] = [];
  let current = member.previousId;
  while (current !== undefined && !lineage.includes(current) && current !== member.id) {
    lineage.push(current);
    const next: Member | undefined = ctx.byId.get(current);
    if (next === undefined) {
      for (const id of ctx.ancestors.get(current) ?? []) {
        if (!lineage.includes(id) && id !== member.id) lineage.push(id);
      }
      break;
    }
    current = next.previousId;
  }
  return lineage;
}

/** The model an entry names as its previous one: as recorded when first seen, else as in spec. */
function namedPrevious(
  entry: DeployedModelSpec,
  records: ReadonlyMap<string, RecordView>,
): string | undefined {
  return records.get(entry.id)?.previousDeployedModel ?? entry.rolloutOptions?.previousDeployedModel;
}

/** A pod the ReplicaSet controller counts in `status.replicas`: not terminating, not Succeeded or Failed. */
export function isActive(pod: PodSnapshot): boolean {
  return !pod.deleting && pod.phase !== "Succeeded" && pod.phase !== "Failed";
}

/** A pod that may receive traffic: Ready, running and not terminating (R6). */
export function isServable(pod: PodSnapshot): boolean {
  return pod.ready && !pod.deleting && pod.phase === "Running";
}

/**
 * N of a chain whose compute asks for autoscaling (maxReplicaCount above minReplicaCount): from the
 * recorded N (any member's record; the head's first) or, when status was lost, the largest
 * ReplicaSet of the chain, then decided anew from the pods' readings (autoscale.ts).
 */
function autoscaleChain(
  head: Member,
  members: readonly Member[],
  poolSize: number | undefined,
  snapshot: Snapshot,
  nowMs: number,
): ChainAutoscale | undefined {
  const resources = head.inherited.dedicatedResources;
  const min = wholeOrUndefined(resources?.minReplicaCount) ?? poolSize;
  const max = wholeOrUndefined(resources?.maxReplicaCount);
  if (resources === undefined || !isAutoscaled(resources) || min === undefined || max === undefined)
    return undefined;
  const recorded = [head, ...members].find((m) => m.record?.autoscaling !== undefined)?.record?.autoscaling;
  const largest = Math.max(0, ...members.map((m) => m.replicaSet?.specReplicas ?? 0));
  const before = clamp(recorded?.desired ?? Math.max(min, largest), min, max);
  const machine = resources.machineSpec ?? {};
  const accelerated =
    machine["acceleratorType"] !== undefined || Number(machine["acceleratorCount"] ?? 0) > 0;
  const pods = members.flatMap((m) =>
    m.pods.filter((p) => !p.deleting && (p.phase === "Running" || p.phase === "Pending")),
  );
  const decision = decideReplicas({
    min,
    max,
    metrics: resolveMetrics(resources.autoscalingMetricSpecs, accelerated),
    current: before,
    pods: pods.map((p) => ({
      ready: isServable(p),
      cpuRequestMillis: p.cpuRequestMillis,
      cpuUsageMillis: p.cpuUsageMillis,
      dutyCyclePercent: p.dutyCyclePercent,
    })),
    proposals: snapshot.autoscaling?.proposals[head.id] ?? [],
    now: nowMs,
    policy: snapshot.autoscaling?.policy ?? DEFAULT_AUTOSCALING_POLICY,
    unavailable: snapshot.autoscaling?.unavailable,
  });
  const lastScaleTime = decision.desired === before ? recorded?.lastScaleTime : Math.floor(nowMs / 1000);
  return { min, max, before, decision, lastScaleTime, recorded: recorded?.status };
}

function findPoolSize(head: Member, members: readonly Member[]): number | undefined {
  if (head.previousId === undefined) {
    return wholeOrUndefined(head.spec.dedicatedResources?.minReplicaCount) ?? 1;
  }
  const remembered = wholeOrUndefined(head.inherited.dedicatedResources?.minReplicaCount);
  if (remembered !== undefined) return remembered;
  const annotated = members.flatMap((m) => wholeOrUndefined(m.replicaSet?.poolSize) ?? []);
  return annotated.length === 0 ? undefined : Math.max(...annotated);
}

function observe(replicaSet: ReplicaSetSnapshot | undefined, pods: readonly PodSnapshot[]): Observed {
  if (replicaSet === undefined) return { replicas: 0, readyReplicas: 0, availableReplicas: 0 };
  let active = 0;
  let servable = 0;
  for (const pod of pods) {
    if (isActive(pod)) active++;
    if (isServable(pod)) servable++;
  }
  return {
    replicas: Math.min(whole(replicaSet.statusReplicas), active),
    readyReplicas: Math.min(whole(replicaSet.readyReplicas), servable),
    availableReplicas: Math.min(whole(replicaSet.availableReplicas), servable),
  };
}

function countMember(
  id: string,
  replicaSet: ReplicaSetSnapshot | undefined,
  observed: Observed,
): MemberCounts {
  if (replicaSet === undefined) return { id, replicas: 0, pods: 0, available: 0 };
  // A ReplicaSet being deleted cannot be scaled and its pods are on their way out: they still count
  // against the surge until they are gone, never as available.
  if (replicaSet.deleting) return { id, replicas: 0, pods: observed.replicas, available: 0 };
  const replicas = whole(replicaSet.specReplicas);
  return {
    id,
    replicas,
    pods: Math.max(replicas, observed.replicas),
    available: Math.min(observed.availableReplicas, replicas),
  };
}

function uniqueEntries(entries: readonly DeployedModelSpec[]): readonly DeployedModelSpec[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    if (seen.has(entry.id)) return false;
    seen.add(entry.id);
    return true;
  });
}

/** One ReplicaSet per id; should two exist, the one not being deleted wins. */
function indexReplicaSets(
  replicaSets: readonly ReplicaSetSnapshot[],
): ReadonlyMap<string, ReplicaSetSnapshot> {
  const byId = new Map<string, ReplicaSetSnapshot>();
  for (const rs of replicaSets) {
    const existing = byId.get(rs.deployedModelId);
    if (existing === undefined || (existing.deleting && !rs.deleting)) byId.set(rs.deployedModelId, rs);
  }
  return byId;
}

const FAILURE_REASONS: ReadonlySet<string> = new Set(Object.values(FailureReason));
const STATES: ReadonlySet<string> = new Set(DEPLOYED_MODEL_STATES);

/** Validates a recorded status field by field; what cannot be trusted is left out. */
export function readRecord(raw: RecordedDeployedModelStatus): RecordView {
  const view: { -readonly [K in keyof RecordView]: RecordView[K] } = {};
  const { revisionNumber, state, reason, availableReplicaCount, previousDeployedModel, dedicatedResources } =
    raw;
  if (revisionNumber !== undefined && Number.isInteger(revisionNumber) && revisionNumber >= 1) {
    view.revisionNumber = revisionNumber;
  }
  if (state !== undefined && isState(state)) view.state = state;
  if (reason !== undefined && isFailureReason(reason)) view.reason = reason;
  if (raw.message !== undefined) view.message = raw.message;
  if (
    availableReplicaCount !== undefined &&
    Number.isFinite(availableReplicaCount) &&
    availableReplicaCount >= 0
  ) {
    view.availableReplicaCount = Math.floor(availableReplicaCount);
  }
  const createTime = parseTime(raw.createTime);
  if (createTime !== undefined) view.createTime = createTime;
  const progressTime = parseTime(raw.progressTime);
  if (progressTime !== undefined) view.progressTime = progressTime;
  if (previousDeployedModel !== undefined && previousDeployedModel !== "") {
    view.previousDeployedModel = previousDeployedModel;
  }
  const minReplicaCount = dedicatedResources?.minReplicaCount;
  if (
    dedicatedResources !== undefined &&
    minReplicaCount !== undefined &&
    Number.isFinite(minReplicaCount) &&
    minReplicaCount >= 0
  ) {
    view.dedicatedResources = dedicatedResources;
  }
  if (raw.serviceAccount !== undefined) view.serviceAccount = raw.serviceAccount;
  if (raw.placement !== undefined) view.placement = raw.placement;
  const autoscaling = raw.autoscaling;
  const desired = autoscaling?.desiredReplicaCount;
  if (autoscaling !== undefined && desired !== undefined && Number.isInteger(desired) && desired >= 1) {
    const lastScaleTime = parseTime(autoscaling.lastScaleTime);
    view.autoscaling = {
      desired,
      ...(lastScaleTime === undefined ? {} : { lastScaleTime }),
      status: autoscaling,
    };
  }
  return view;
}

function isState(value: string): value is DeployedModelState {
  return STATES.has(value);
}

function isFailureReason(value: string): value is FailureReason {
  return FAILURE_REASONS.has(value);
}

function whole(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;
}

function wholeOrUndefined(value: number | undefined): number | undefined {
  return value === undefined || !Number.isFinite(value) ? undefined : Math.max(0, Math.floor(value));
}
