import { judgeFirstSeen } from "./admission.ts";
import { calculateProgressDeadlineSeconds } from "./budgets.ts";
import type { Budgets } from "./budgets.ts";
import { findIntended } from "./chains.ts";
import { findLineage, gatherContext, isServable } from "./context.ts";
import type { Chain, Member, PlanContext } from "./context.ts";
import { checkProgress, findPreviousIntended, summarizeUnready } from "./deadline.ts";
import type { Failure } from "./deadline.ts";
import { planChainStep } from "./rolling.ts";
import { statusMayWait } from "./settling.ts";
import type { ChainStep, Judged, ReplicaDecision } from "./rolling.ts";
import { sameJson } from "./json.ts";
import { buildCondition, buildDeployedModelStatus, decideConditions } from "./status.ts";
import type { ChainSummary, FailedMember } from "./status.ts";
import { calculateEffectiveSplit, calculateExactSplit, findServingPods } from "./traffic.ts";
import { memoizedFormatTime } from "./time.ts";
import { ConditionReason, EventReason, REFUSAL_REASONS, unschedulableVerdict } from "./types.ts";
import type {
  AutoscalingStatus,
  Action,
  DedicatedResources,
  DeployedModelState,
  DeployedModelStatus,
  EndpointStatus,
  FailureReason,
  Instant,
  Plan,
  PlanEvent,
  ReplicaSetSnapshot,
  RolloutOptions,
  RolloutSettings,
  SetPodServing,
  Snapshot,
} from "./types.ts";

/**
 * Plans one pass for one ModelEndpoint: the actions of one safe step, the complete new status, the
 * events to record, and when to come back. Pure and total: the same snapshot and `now` always give
 * the same plan, nothing is read from outside, nothing throws on odd input.
 *
 * Gather -> decide -> assemble, the way a Deployment sync does it:
 *
 * 1. gather the context (chains, revisions, inherited values, counts; status memory validated);
 * 2. R8 first: every chain's running rollout is checked against its progress deadline;
 * 3. R10: entries seen for the first time are accepted or refused, once;
 * 4. per chain, the intended member (R3) and one rolling step (R4, R5, R9);
 * 5. completion: the intended member becomes DEPLOYED, the ones it replaced REPLACED (R7);
 * 6. entries that left spec have their ReplicaSets deleted;
 * 7. traffic: which Ready pods carry the serving label (R6, R11);
 * 8. status, conditions, events, requeue.
 *
 * Planning the snapshot that results from applying a plan (same pods, same `now`) yields no actions,
 * no events and the same status: every event is tied to an action or to a status change, and a
 * ReplicaSet whose new spec is not yet observed holds its chain's next step.
 */
export function plan(snapshot: Snapshot, now: Instant): Plan {
  const ctx = gatherContext(snapshot, now);

  // 2. The progress deadline, before anything else.
  const progress = checkProgress(ctx);

  // 3. First-seen entries, judged against the states after failures.
  const refusals = judgeFirstSeen(ctx, (id) =>
    progress.failures.has(id) ? "FAILED" : ctx.byId.get(id)?.startState,
  );
  const judged = judgeMembers(ctx, progress.failures, refusals);
  const judgedOf = (id: string): Judged => judged.get(id) ?? { state: "BEING_DEPLOYED" };
  const reasonOf = (id: string): FailureReason | undefined => judged.get(id)?.reason;

  // 4. The intended member of each chain (R3), revived when the revision above it left spec, and
  // one step per chain.
  const intendeds = ctx.chains.map((chain) => {
    const pick = findIntended(
      chain.members.map((m) => ({
        id: m.id,
        index: m.index,
        revision: m.revision,
        state: judgedOf(m.id).state,
        removed: m.removed,
      })),
    );
    return pick === undefined ? undefined : ctx.byId.get(pick.id);
  });
  const revived = new Set<string>();
  ctx.chains.forEach((chain, c) => {
    const intended = intendeds[c];
    if (intended !== undefined && isRevived(chain, intended, judgedOf(intended.id).state)) {
      revived.add(intended.id);
      judged.set(intended.id, { state: "BEING_DEPLOYED" });
    }
  });
  const steps = ctx.chains.map((chain, c) => planChainStep(chain, intendeds[c], judgedOf));

  // 5. Final states.
  const finalState = new Map<string, DeployedModelState>();
  ctx.chains.forEach((chain, c) => {
    const step = steps[c];
    for (const member of chain.members) {
      if (member.removed) continue;
      let state = judgedOf(member.id).state;
      if (step?.complete === true && step.intended !== undefined) {
        if (member.id === step.intended.id) state = "DEPLOYED";
        else if (state === "BEING_DEPLOYED" || state === "DEPLOYED") state = "REPLACED";
      }
      finalState.set(member.id, state);
    }
  });
  const stateOf = (id: string): DeployedModelState => finalState.get(id) ?? "BEING_DEPLOYED";

  // 7. Traffic.
  const chainShares = ctx.chains.map((chain) =>
    chain.members.reduce((sum, m) => sum + shareOf(ctx, m.id), 0),
  );
  const routes = findRouteConflicts(ctx, steps, chainShares);
  const trafficChains = ctx.chains.map((chain, c) => ({
    share: routes.shares[c] ?? 0,
    members: chain.members,
  }));
  const serving = findServingPods(trafficChains);
  // Members whose entry left spec serve until they are drained, and the effective split says so.
  // Through a gateway each member is weighted by the pods it keeps once this pass's steps are taken:
  // pods above its ReplicaSet's count are on their way out, and a member whose last pods go leaves
  // the route first (the controller holds the scale-down until the gateway has dropped it).
  const replicasAfter = new Map(
    ctx.chains.flatMap((chain) => chain.members.map((m) => [m.id, m.counts.replicas])),
  );
  for (const d of steps.flatMap((s) => s.decisions)) {
    replicasAfter.set(d.member.id, d.kind === "create" ? d.replicas : d.to);
  }
  const trafficSplit = snapshot.exactWeights
    ? calculateExactSplit(trafficChains, replicasAfter)
    : calculateEffectiveSplit(
        [...ctx.members, ...ctx.chains.flatMap((chain) => chain.members.filter((m) => m.removed))].map(
          (m) => [m.id, serving.perMember.get(m.id) ?? 0],
        ),
      );

  // 8. Status.
  const format = memoizedFormatTime();
  const progressTimes = new Map<string, number | undefined>();
  const deployedModels: DeployedModelStatus[] = [];
  const summaries: ChainSummary[] = [];
  ctx.chains.forEach((chain, c) => {
    const step = steps[c];
    if (step === undefined) return;
    const failedHere = chain.members.some((m) => progress.failures.has(m.id));
    // The clock restarts when the chain's target changed (a failure above, a revival), and when this
    // pass retires old replicas: that is progress (R8), counted when the step is taken because a
    // member whose entry left spec keeps no status record to observe it by in the next pass.
    const retires = step.decisions.some(
      (d) => d.kind === "scale" && d.member.id !== step.intended?.id && d.to < d.from,
    );
    const restarted = failedHere || retires || (step.intended !== undefined && revived.has(step.intended.id));
    for (const member of chain.members) {
      if (member.removed) continue;
      progressTimes.set(
        member.id,
        decideProgressTime(ctx, chain, member, step, stateOf(member.id), restarted, progress),
      );
    }
    summaries.push(summarizeChain(chain, step, stateOf, reasonOf));
  });
  const unserved = findUnservedChains(ctx, steps, chainShares, stateOf, progressTimes);
  const chainIndex = new Map<string, number>();
  ctx.chains.forEach((chain, c) => {
    for (const m of chain.members) chainIndex.set(m.id, c);
  });
  for (const member of ctx.members) {
    const c = chainIndex.get(member.id);
    const chain = c === undefined ? undefined : ctx.chains[c];
    const step = c === undefined ? undefined : steps[c];
    const own = judged.get(member.id);
    deployedModels.push(
      buildDeployedModelStatus(
        {
          id: member.id,
          revisionNumber: member.revision,
          state: stateOf(member.id),
          replicas: member.observed.replicas,
          readyReplicas: member.observed.readyReplicas,
          availableReplicaCount: member.observed.availableReplicas,
          createTime: member.record?.createTime ?? ctx.now,
          message: describeMember(member, chain, step, stateOf, own?.failure),
          previousDeployedModel: member.previousId,
          reason: stateOf(member.id) === "FAILED" ? own?.reason : undefined,
          progressTime: progressTimes.get(member.id),
          dedicatedResources: resourcesOf(member, chain?.poolSize),
          serviceAccount: member.inherited.serviceAccount,
          autoscaling: chain?.head.id === member.id ? autoscalingOf(chain, format) : undefined,
          placement: member.inherited.placement,
        },
        member.raw,
        ctx.now,
        format,
      ),
    );
  }
  const failed: FailedMember[] = deployedModels.flatMap((s) =>
    s.state === "FAILED" && s.reason !== undefined
      ? [{ id: s.id, reason: s.reason, message: s.message }]
      : [],
  );
  const status: EndpointStatus = {
    observedGeneration: snapshot.endpoint.generation,
    conditions: decideConditions(summaries, {
      failed,
      unserved: unserved.flatMap((u) => (u.degradedAt <= ctx.now ? [u.message] : [])),
      routeConflicts: routes.conflicts,
    }).map((d) =>
      buildCondition(d, snapshot.status?.conditions, snapshot.endpoint.generation, ctx.now, format),
    ),
    trafficSplit,
    deployedModels,
    latestRevisionNumber: ctx.latestRevision,
  };

  const sole = soleServingChain(routes.shares);
  const servesOnceReady = (id: string): boolean => sole !== undefined && chainIndex.get(id) === sole;
  const actions = orderActions(ctx, steps, serving.podNames, servesOnceReady, (member) => {
    const c = chainIndex.get(member.id);
    return (c === undefined ? undefined : ctx.chains[c]?.poolSize) ?? 0;
  });

  const events = collectEvents(
    ctx,
    steps,
    { failures: progress.failures, refusals, revived },
    stateOf,
    reasonOf,
    trafficSplit,
  );
  const degraded = status.conditions.find((c) => c.type === "Degraded");
  const recordedDegraded = snapshot.status?.conditions?.find((c) => c.type === "Degraded");
  if (recordedDegraded?.reason !== degraded?.reason) {
    if (degraded?.reason === ConditionReason.TrafficNotServed)
      events.push({ type: "Warning", reason: EventReason.TrafficNotServed, message: degraded.message });
    if (degraded?.reason === ConditionReason.RouteConflict)
      events.push({ type: "Warning", reason: EventReason.RouteConflict, message: degraded.message });
  }
  // One Warning when a model's status first carries the scheduler's verdict, not one per pass.
  const recordedMessages = new Map((snapshot.status?.deployedModels ?? []).map((m) => [m.id, m.message]));
  for (const m of status.deployedModels) {
    const verdict = unschedulableVerdict(m.message);
    if (verdict !== undefined && unschedulableVerdict(recordedMessages.get(m.id)) === undefined) {
      events.push({
        type: "Warning",
        reason: EventReason.PodUnschedulable,
        message: `pods of ${m.id} cannot be scheduled: ${verdict}`,
        deployedModelId: m.id,
      });
    }
  }
  for (const chain of ctx.chains) {
    const a = chain.autoscale;
    if (a === undefined || a.decision.desired === a.before) continue;
    const readings = a.decision.readings
      .map(
        (r) =>
          `${r.metricName.split("/").slice(-2).join(" ")} ${r.currentValue === undefined ? "unknown" : `${String(r.currentValue)}%`} (target ${String(r.target)}%)`,
      )
      .join(", ");
    events.push({
      type: "Normal",
      reason: EventReason.Autoscaled,
      message: `chain of ${chain.head.id} scaled from ${String(a.before)} to ${String(a.decision.desired)} replicas: ${readings}`,
      deployedModelId: chain.head.id,
    });
  }
  const requeueAfterMs = findRequeue(ctx, steps, stateOf, progressTimes, unserved);
  const autoscaled = ctx.chains.flatMap((chain) =>
    chain.autoscale === undefined ? [] : [[chain.head.id, chain.autoscale.decision.proposals] as const],
  );
  return {
    actions,
    status,
    events,
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
    ...(routes.route === undefined ? {} : { predictRoute: routes.route }),
    ...(autoscaled.length === 0 ? {} : { autoscalingProposals: Object.fromEntries(autoscaled) }),
    ...(statusMayWait(snapshot, actions, status) ? { statusMayWait: true as const } : {}),
  };
}

/** Every member's state and failure after R8 and R10: the failure if it failed now, else as it was. */
function judgeMembers(
  ctx: PlanContext,
  failures: ReadonlyMap<string, Failure>,
  refusals: ReadonlyMap<string, Failure | undefined>,
): Map<string, Judged & { readonly failure?: Failure | undefined }> {
  const judged = new Map<string, Judged & { readonly failure?: Failure | undefined }>();
  for (const member of ctx.members) {
    const failure = failures.get(member.id) ?? refusals.get(member.id);
    if (failure !== undefined) {
      judged.set(member.id, { state: "FAILED", reason: failure.reason, failure });
    } else {
      const state = refusals.has(member.id) ? "BEING_DEPLOYED" : (member.startState ?? "BEING_DEPLOYED");
      judged.set(member.id, { state, reason: state === "FAILED" ? member.record?.reason : undefined });
    }
  }
  return judged;
}

/**
 * The index of the endpoint's only chain with a traffic share (the sum of its members' spec shares),
 * when exactly one has one. Every Ready
 * pod of that chain serves (traffic rules 2 and 3), so its pods carry the `serving` label from birth
 * (the ReplicaSet's pod template) and start serving the moment they turn Ready, without a label write.
 */
function soleServingChain(chainShares: readonly number[]): number | undefined {
  const withShare = chainShares.flatMap((share, c) => (share > 0 ? [c] : []));
  return withShare.length === 1 ? withShare[0] : undefined;
}

/**
 * The actions in the order to apply them: creations and scale-ups, pods that start serving, pods
 * that stop, scale-downs, deletions of ReplicaSets whose entry left spec. Capacity and traffic are
 * added before they are taken away; terminating pods are left alone.
 *
 * A Ready pod carries the label when the traffic choice picked it. A pod that is not Ready gets no
 * traffic whatever its label (Kubernetes lists it as not ready), so its label only says whether it
 * serves the moment it turns Ready: yes in the endpoint's only chain with a share, else no.
 */
function orderActions(
  ctx: PlanContext,
  steps: readonly ChainStep[],
  serving: ReadonlySet<string>,
  servesOnceReady: (deployedModelId: string) => boolean,
  poolOf: (member: Member) => number,
): Action[] {
  const decisions = steps.flatMap((s) => s.decisions);
  const labels = ctx.snapshot.pods.flatMap((pod): SetPodServing[] => {
    const want = isServable(pod) ? serving.has(pod.name) : servesOnceReady(pod.deployedModelId);
    return pod.deleting || want === pod.serving
      ? []
      : [{ kind: "setPodServing", podName: pod.name, deployedModelId: pod.deployedModelId, serving: want }];
  });
  return [
    ...decisions
      .filter((d) => d.kind === "create" || d.to > d.from)
      .map((d) => toAction(d, ctx, poolOf, servesOnceReady)),
    ...labels.filter((a) => a.serving),
    ...labels.filter((a) => !a.serving),
    ...decisions
      .filter((d) => d.kind === "scale" && d.to < d.from)
      .map((d) => toAction(d, ctx, poolOf, servesOnceReady)),
    ...findDeletions(ctx).map((rs): Action => ({
      kind: "deleteReplicaSet",
      deployedModelId: rs.deployedModelId,
      replicaSetName: rs.name,
    })),
  ];
}

/**
 * The ReplicaSets to delete: those whose whole chain left spec (an undeploy, at once), and those of
 * members that left spec once every such member of the chain is drained to 0 with no pod left. They
 * go together because each one's lineage may be what ties another to the chain (m1 <- m2 <- m3 with
 * m1 and m2 removed: m2's lineage is what says m1 belongs to m3's chain).
 */
function findDeletions(ctx: PlanContext): ReplicaSetSnapshot[] {
  const drained = ctx.chains.flatMap((chain) => {
    const left = chain.members.filter((m) => m.removed && m.replicaSet !== undefined);
    const done = left.every((m) => !m.stale && m.counts.replicas === 0 && m.observed.replicas === 0);
    return done ? left.flatMap((m) => (m.replicaSet?.deleting === false ? [m.replicaSet] : [])) : [];
  });
  return [...ctx.removed.filter((rs) => !rs.deleting), ...drained];
}

/**
 * A chain's intended member is revived (BEING_DEPLOYED, with a new progress clock) when it was
 * REPLACED (the revisions above it left spec), or when the member the chain was converging on at the
 * last pass left spec (a git revert after completion or mid-rollout, onto a DEPLOYED, REPLACED or
 * superseded member): either way the chain now rolls back onto it. Removing a FAILED entry revives
 * nothing: the chain had already gone back below it.
 */
function isRevived(chain: Chain, intended: Member, state: DeployedModelState): boolean {
  if (state === "REPLACED") return true;
  const before = findPreviousIntended(chain);
  return before !== undefined && before.removed && before.id !== intended.id;
}

/**
 * Traffic rule 5: behind the one endpoint Service, every chain that serves must answer the same
 * predict route, or a client gets 404 on part of its requests. When the snapshot gives the routes
 * (the endpoint is reached through its Service), the chains with a share keep it only if they answer
 * the route of the chain with the largest share (the first in spec order on a tie); the others get
 * no traffic through the Service (their own Services still answer) and each is described for
 * Degraded=True RouteConflict. prod (80%, /v1/predict) and exp (20%, its default route): prod serves
 * all traffic; "exp (traffic 20%) answers /v1/endpoints/ep/deployedModels/exp:predict, not
 * /v1/predict of prod (traffic 80%) ...".
 */
function findRouteConflicts(
  ctx: PlanContext,
  steps: readonly ChainStep[],
  shares: readonly number[],
): { readonly shares: readonly number[]; readonly conflicts: readonly string[]; readonly route?: string } {
  const routes = ctx.snapshot.routes;
  if (routes === undefined) return { shares, conflicts: [] };
  const routeOf = (c: number): string | undefined => {
    const id = steps[c]?.intended?.id ?? ctx.chains[c]?.head.id;
    return id === undefined ? undefined : routes[id];
  };
  const nameOf = (c: number): string =>
    (ctx.chains[c]?.members ?? [])
      .filter((m) => !m.removed)
      .map((m) => m.id)
      .join(", ");
  let first: number | undefined;
  shares.forEach((share, c) => {
    if (share > 0 && routeOf(c) !== undefined && (first === undefined || share > (shares[first] ?? 0)))
      first = c;
  });
  if (first === undefined) return { shares, conflicts: [] };
  const route = routeOf(first);
  const leader = `${String(route)} of ${nameOf(first)} (traffic ${shares[first] ?? 0}%)`;
  const conflicts: string[] = [];
  const kept = shares.map((share, c) => {
    const own = routeOf(c);
    if (share <= 0 || own === undefined || own === route) return share;
    conflicts.push(
      `${nameOf(c)} (traffic ${share}%) answers ${own}, not ${leader}: it gets no traffic through the endpoint's Service; deploy it again as a new entry with predictRoute ${String(route)}`,
    );
    return 0;
  });
  return { shares: kept, conflicts, ...(route === undefined ? {} : { route }) };
}

/** A chain the split gives a share that serves nothing, and from when that is Degraded. */
interface UnservedChain {
  readonly message: string;
  /** Epoch seconds: Degraded from then on (now, or the end of a DEPLOYED chain's grace). */
  readonly degradedAt: number;
}

/**
 * Chains whose traffic share is served by no pod: no member (removed ones included) has a Ready
 * pod. That is Degraded at once when the chain has no live revision or an unknown pool size (nothing
 * will bring it back by itself), and after the progress deadline when its revision is DEPLOYED
 * (pods that died and are coming back get that long). A chain that is rolling is left to R8: its
 * rollout fails at the deadline and the chain reverts.
 */
function findUnservedChains(
  ctx: PlanContext,
  steps: readonly ChainStep[],
  chainShares: readonly number[],
  stateOf: (id: string) => DeployedModelState,
  progressTimes: ReadonlyMap<string, number | undefined>,
): UnservedChain[] {
  return ctx.chains.flatMap((chain, c): UnservedChain[] => {
    const share = chainShares[c] ?? 0;
    if (share <= 0 || servesAny(chain)) return [];
    const name = chain.members
      .filter((m) => !m.removed)
      .map((m) => m.id)
      .join(", ");
    const intended = steps[c]?.intended;
    if (chain.poolSize === undefined) {
      return [
        { message: `${name} (traffic ${share}%): nothing serves, pool size unknown`, degradedAt: ctx.now },
      ];
    }
    if (intended === undefined) {
      return [
        {
          message: `${name} (traffic ${share}%): nothing serves, every revision FAILED`,
          degradedAt: ctx.now,
        },
      ];
    }
    if (stateOf(intended.id) !== "DEPLOYED") return [];
    const deadline = calculateProgressDeadlineSeconds(intended.spec);
    const why = summarizeUnready(intended.pods);
    return [
      {
        message: `${name} (traffic ${share}%): nothing serves, no Ready replica of ${intended.id} for ${deadline}s${why === undefined ? "" : ` (${why})`}`,
        degradedAt: (progressTimes.get(intended.id) ?? ctx.now) + deadline,
      },
    ];
  });
}

/** Some pod of the chain (a removed member's included) is Ready and may receive traffic. */
function servesAny(chain: Chain): boolean {
  return chain.members.some((m) => m.pods.some(isServable));
}

function shareOf(ctx: PlanContext, id: string): number {
  const value = ctx.snapshot.spec.trafficSplit[id];
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/**
 * The compute a member records and is built with: what it resolved under R2, or, for a rolling
 * deployment whose chain lost every other memory of it, the pool size alone, so the next pass still
 * knows N even if the ReplicaSet that told it goes away.
 */
function resourcesOf(member: Member, poolSize: number | undefined): DedicatedResources | undefined {
  const own = member.inherited.dedicatedResources;
  if (own !== undefined || member.previousId === undefined || poolSize === undefined) return own;
  return { minReplicaCount: poolSize };
}

/**
 * The autoscaling record of a chain's head: N before and after this pass's decision, and the
 * readings it was made from (the recorded ones when the sync period had not passed).
 */
function autoscalingOf(
  chain: Chain,
  format: (epochSeconds: number) => string,
): AutoscalingStatus | undefined {
  const a = chain.autoscale;
  if (a === undefined) return undefined;
  const { decision } = a;
  const metrics = decision.decided
    ? decision.readings.map((r) => ({
        metricName: r.metricName,
        target: r.target,
        ...(r.currentValue === undefined ? {} : { currentValue: r.currentValue }),
      }))
    : (a.recorded?.metrics ?? []);
  const notes = decision.decided
    ? [
        ...decision.readings.flatMap((r) =>
          r.missing === undefined ? [] : [`${r.metricName}: ${r.missing}`],
        ),
        ...(decision.note === undefined ? [] : [decision.note]),
      ]
    : a.recorded?.message === undefined
      ? []
      : [a.recorded.message];
  const current = chain.members.reduce((sum, m) => sum + m.observed.readyReplicas, 0);
  return {
    currentReplicaCount: current,
    desiredReplicaCount: decision.desired,
    metrics,
    ...(a.lastScaleTime === undefined ? {} : { lastScaleTime: format(a.lastScaleTime) }),
    ...(notes.length === 0 ? {} : { message: notes.join("; ") }),
  };
}

function toAction(
  decision: ReplicaDecision,
  ctx: PlanContext,
  poolOf: (member: Member) => number,
  servesOnceReady: (deployedModelId: string) => boolean,
): Action {
  const member = decision.member;
  if (decision.kind === "scale") {
    return {
      kind: "scaleReplicaSet",
      deployedModelId: member.id,
      replicaSetName: member.replicaSet?.name ?? "",
      from: decision.from,
      to: decision.to,
    };
  }
  const poolSize = poolOf(member);
  const dedicatedResources = resourcesOf(member, poolSize);
  return {
    kind: "createReplicaSet",
    deployedModelId: member.id,
    revision: member.revision,
    replicas: decision.replicas,
    poolSize,
    lineage: findLineage(member, ctx),
    ...(member.spec.rolloutOptions === undefined
      ? {}
      : { rolloutSettings: settingsOf(member.spec.rolloutOptions) }),
    serving: servesOnceReady(member.id),
    model: {
      id: member.id,
      model: member.spec.model,
      containerSpec: member.spec.containerSpec,
      revisionNumber: member.revision,
      ...member.inherited,
      ...(dedicatedResources === undefined ? {} : { dedicatedResources }),
      ...(member.previousId === undefined ? {} : { previousDeployedModel: member.previousId }),
    },
  };
}

/** rolloutOptions without the link, for the ReplicaSet to remember. */
function settingsOf(options: RolloutOptions): RolloutSettings {
  const { previousDeployedModel: _, ...settings } = options;
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}

/**
 * progressTime: `now` when the rollout of the chain made progress since the last pass (a replica
 * became available, an old one went away), started (first seen), restarted (status lost) or resumed (the
 * revision above it failed, so its clock starts again); otherwise the recorded one.
 */
function decideProgressTime(
  ctx: PlanContext,
  chain: Chain,
  member: Member,
  step: ChainStep,
  state: DeployedModelState,
  restarted: boolean,
  progress: { readonly progressed: ReadonlySet<string> },
): number | undefined {
  const recorded = member.record?.progressTime;
  if (step.intended?.id !== member.id) return recorded;
  if (state === "DEPLOYED") return decideOutageTime(chain, member, recorded, ctx.now);
  if (state !== "BEING_DEPLOYED") return recorded;
  if (member.firstSeen || member.record === undefined) return ctx.now;
  if (progress.progressed.has(member.id) || restarted) return ctx.now;
  return recorded ?? member.record.createTime ?? ctx.now;
}

/**
 * The progress time of a chain's DEPLOYED revision, which counts only while the chain serves
 * nothing: it is set to `now` by the pass that sees the chain stop serving (the recorded status had
 * Ready replicas of it) and kept while nothing serves, so a chain with a traffic share that stays
 * without a Ready replica for its progress deadline becomes Degraded (TrafficNotServed). While the
 * chain serves, it is left as recorded, so a serving chain's status does not change.
 */
function decideOutageTime(
  chain: Chain,
  member: Member,
  recorded: number | undefined,
  now: number,
): number | undefined {
  if (servesAny(chain)) return recorded;
  const servedBefore = chain.members.some((m) => (m.raw?.readyReplicas ?? 0) > 0);
  if (member.record?.state !== "DEPLOYED" || servedBefore) return now;
  return recorded ?? now;
}

/** A FAILED member whose rollout ran and was reverted (R8), as opposed to one refused (R10). */
function isRevertedFailure(
  id: string,
  stateOf: (id: string) => DeployedModelState,
  reasonOf: (id: string) => FailureReason | undefined,
): boolean {
  const reason = reasonOf(id);
  return stateOf(id) === "FAILED" && reason !== undefined && !REFUSAL_REASONS.has(reason);
}

function summarizeChain(
  chain: Chain,
  step: ChainStep,
  stateOf: (id: string) => DeployedModelState,
  reasonOf: (id: string) => FailureReason | undefined,
): ChainSummary {
  const newest = chain.members
    .filter((m) => !m.removed)
    .sort((a, b) => b.revision - a.revision || b.index - a.index)[0];
  // Reverted: the newest rollout failed and the chain went back to a live revision (a first
  // deployment that failed has nothing to go back to).
  const reverted =
    step.intended !== undefined && newest !== undefined && isRevertedFailure(newest.id, stateOf, reasonOf);
  const intended = step.intended;
  const n = chain.poolSize;
  if (n === undefined) {
    return {
      phase: "frozen",
      settled: false,
      reverted,
      message: `${chain.head.id}: pool size unknown (its root left spec and status was lost)`,
    };
  }
  // Pods as the ReplicaSets report them, never counts this pass's own actions change (idempotence).
  const removed = chain.members.filter((m) => m.removed && m.observed.replicas > 0);
  if (intended === undefined) {
    const serving = removed
      .map((m) => `; ${m.id} left spec, ${m.observed.replicas} pods still serving`)
      .join("");
    return {
      phase: "undeployed",
      settled: step.converged,
      reverted,
      message: `${chain.members
        .filter((m) => !m.removed)
        .map((m) => m.id)
        .join(", ")}: no live revision${serving}`,
    };
  }
  const draining = removed.map((m) => `; ${m.id} left spec, ${m.observed.replicas} pods draining`).join("");
  const available = `${intended.observed.availableReplicas}/${n}`;
  if (stateOf(intended.id) === "BEING_DEPLOYED") {
    const what = intended.previousId === undefined ? "replicas" : "new replicas";
    return {
      phase: "progressing",
      settled: false,
      reverted,
      message: `${intended.id}: ${available} ${what} available${draining}`,
    };
  }
  if (!step.converged) {
    // Reverting until the chain converges again after its newest rollout failed. Decided from states
    // only, never from counts that this pass's own actions change, so planning again after applying
    // the plan gives the same status.
    const failedAbove = reverted && newest.id !== intended.id;
    return {
      phase: failedAbove ? "reverting" : "scaling",
      settled: false,
      reverted,
      message: failedAbove
        ? `${intended.id}: reverting, ${available} replicas available${draining}`
        : `${intended.id}: scaling, ${available} replicas available${draining}`,
    };
  }
  return {
    phase: "steady",
    settled: step.complete,
    reverted,
    message: `${intended.id}: ${available} replicas available`,
  };
}

/** The status message of one deployed model; a FAILED or REPLACED member keeps the message it got. */
function describeMember(
  member: Member,
  chain: Chain | undefined,
  step: ChainStep | undefined,
  stateOf: (id: string) => DeployedModelState,
  failure: Failure | undefined,
): string {
  const state = stateOf(member.id);
  if (failure !== undefined) return failure.message;
  const kept = member.record?.state === state ? member.record.message : undefined;
  if ((state === "FAILED" || state === "REPLACED") && kept !== undefined) return kept;
  const n = chain?.poolSize;
  const intended = step?.intended;
  if (n === undefined)
    return "pool size unknown: the chain's root left spec and no record of its size remains";
  if (state === "FAILED") return `failed (${member.record?.reason ?? "unknown reason"})`;
  if (state === "REPLACED") {
    return intended === undefined ? "replaced" : `replaced by ${intended.id} (revision ${intended.revision})`;
  }
  const available = member.observed.availableReplicas;
  if (intended !== undefined && intended.id !== member.id) {
    return `${state === "DEPLOYED" ? "being replaced" : "superseded"} by ${intended.id} (revision ${intended.revision}): ${member.observed.replicas} replicas remaining`;
  }
  const what = state === "BEING_DEPLOYED" && member.previousId !== undefined ? "new replicas" : "replicas";
  let message = `${available}/${n} ${what} available`;
  if (state === "BEING_DEPLOYED") {
    const unready = member.pods.filter((p) => !p.deleting && !(p.ready && p.phase === "Running")).length;
    const why = summarizeUnready(member.pods);
    if (unready > 0 && why !== undefined) message += `; ${unready} not ready: ${why}`;
    const cannot = member.replicaSet?.replicaFailure;
    if (cannot !== undefined && cannot !== "") message += `; pods cannot be created: ${cannot}`;
  }
  return message;
}

function collectEvents(
  ctx: PlanContext,
  steps: readonly ChainStep[],
  judgements: {
    readonly failures: ReadonlyMap<string, Failure>;
    readonly refusals: ReadonlyMap<string, Failure | undefined>;
    readonly revived: ReadonlySet<string>;
  },
  stateOf: (id: string) => DeployedModelState,
  reasonOf: (id: string) => FailureReason | undefined,
  trafficSplit: Readonly<Record<string, number>>,
): PlanEvent[] {
  const { failures, refusals, revived } = judgements;
  const events: PlanEvent[] = [];
  const rebuilt = ctx.members.filter((m) => m.rebuilt);
  if (rebuilt.length > 0) {
    events.push({
      type: "Warning",
      reason: EventReason.StatusRebuilt,
      message: `no status record for ${rebuilt.map((m) => m.id).join(", ")}: rebuilt from ReplicaSets (revisions from labels, progress clocks restarted)`,
    });
  }
  ctx.chains.forEach((chain, c) => {
    const step = steps[c];
    if (step === undefined) return;
    const n = chain.poolSize ?? 0;
    const intended = step.intended;
    for (const member of chain.members) {
      const failure = failures.get(member.id);
      if (failure !== undefined) {
        events.push({
          type: "Warning",
          reason: EventReason.RolloutFailed,
          message: `${member.id} (revision ${member.revision}) failed: ${failure.message}`,
          deployedModelId: member.id,
        });
        events.push({
          type: "Normal",
          reason: EventReason.RolloutReverting,
          message:
            intended === undefined
              ? `scaling ${member.id} to 0: there is no earlier revision to revert to`
              : `reverting to ${intended.id} (revision ${intended.revision}): ${n} replicas, traffic returns to it`,
          deployedModelId: member.id,
        });
      }
      const refusal = refusals.get(member.id);
      if (refusals.has(member.id) && refusal !== undefined) {
        events.push({
          type: "Warning",
          reason: EventReason.RolloutRefused,
          message: `${member.id} refused: ${refusal.message}`,
          deployedModelId: member.id,
        });
      } else if (refusals.has(member.id)) {
        events.push({
          type: "Normal",
          reason: EventReason.RolloutStarted,
          message: describeStart(member, n, step.budgets),
          deployedModelId: member.id,
        });
      }
    }
    if (intended !== undefined && revived.has(intended.id)) {
      const left = chain.members.filter((m) => m.removed && m.revision > intended.revision);
      events.push({
        type: "Normal",
        reason: EventReason.RollbackStarted,
        message: `${left.length === 0 ? "the revisions above it" : left.map((m) => m.id).join(", ")} left spec: rolling back onto ${intended.id} (revision ${intended.revision}): ${n} replicas, maxSurge ${step.budgets.maxSurge}, maxUnavailable ${step.budgets.maxUnavailable}, progress deadline ${calculateProgressDeadlineSeconds(intended.spec)}s`,
        deployedModelId: intended.id,
      });
    }
    for (const decision of step.decisions) events.push(describeDecision(decision));
    if (intended !== undefined && step.complete) {
      const wasRolling = intended.record?.state === "BEING_DEPLOYED" || intended.firstSeen;
      if (wasRolling && stateOf(intended.id) === "DEPLOYED") {
        const replaced = chain.members.filter(
          (m) =>
            !m.removed &&
            m.id !== intended.id &&
            stateOf(m.id) === "REPLACED" &&
            m.record?.state !== "REPLACED",
        );
        events.push({
          type: "Normal",
          reason: EventReason.RolloutComplete,
          message: `${intended.id} (revision ${intended.revision}) deployed: ${n}/${n} replicas available${
            replaced.length === 0 ? "" : `; replaced ${replaced.map((m) => m.id).join(", ")}`
          }`,
          deployedModelId: intended.id,
        });
      }
      const failedAbove = chain.members.find(
        (m) => m.revision > intended.revision && isRevertedFailure(m.id, stateOf, reasonOf),
      );
      const failedNow = chain.members.some((m) => failures.has(m.id));
      if (failedAbove !== undefined && (failedNow || !recordedComplete(chain, intended, n))) {
        events.push({
          type: "Normal",
          reason: EventReason.RolloutReverted,
          message: `${intended.id} (revision ${intended.revision}) holds ${n}/${n} available replicas again after ${failedAbove.id} failed`,
          deployedModelId: intended.id,
        });
      }
    }
  });
  for (const rs of findDeletions(ctx)) {
    const undeployed = ctx.removed.includes(rs);
    events.push({
      type: "Normal",
      reason: EventReason.ReplicaSetDeleted,
      message: undeployed
        ? `${rs.deployedModelId} left spec: deleting its ReplicaSet ${rs.name} (${rs.statusReplicas} pods)`
        : `${rs.deployedModelId} left spec and is drained: deleting its ReplicaSet ${rs.name}`,
      deployedModelId: rs.deployedModelId,
    });
  }
  const recordedSplit = ctx.snapshot.status?.trafficSplit ?? {};
  if (!sameJson(recordedSplit, trafficSplit)) {
    events.push({
      type: "Normal",
      reason: EventReason.TrafficChanged,
      message: `effective traffic ${describeSplit(trafficSplit)} (was ${describeSplit(recordedSplit)})`,
    });
  }
  return events;
}

/** The chain was complete by its recorded status: the intended member held N available, no one else had pods. */
function recordedComplete(chain: Chain, intended: Member, n: number): boolean {
  return (
    intended.raw?.replicas === n &&
    (intended.record?.availableReplicaCount ?? -1) >= n &&
    chain.members.every((m) => m.id === intended.id || (m.raw?.replicas ?? 0) === 0)
  );
}

function describeStart(member: Member, n: number, budgets: Budgets): string {
  const deadline = calculateProgressDeadlineSeconds(member.spec);
  if (member.previousId === undefined) {
    return `deploying ${member.id} (revision ${member.revision}) with ${n} replicas, progress deadline ${deadline}s`;
  }
  return `rolling ${member.id} (revision ${member.revision}) onto ${member.previousId}: ${n} replicas, maxSurge ${budgets.maxSurge}, maxUnavailable ${budgets.maxUnavailable}, progress deadline ${deadline}s`;
}

function describeDecision(decision: ReplicaDecision): PlanEvent {
  const member = decision.member;
  if (decision.kind === "scale") {
    const direction = decision.to > decision.from ? "up" : "down";
    return {
      type: "Normal",
      reason: EventReason.ScalingReplicaSet,
      message: `scaled ${member.id} ${direction} from ${decision.from} to ${decision.to} replicas`,
      deployedModelId: member.id,
    };
  }
  const recreated =
    !member.firstSeen && (member.record?.state === "DEPLOYED" || (member.raw?.replicas ?? 0) > 0);
  return recreated
    ? {
        type: "Warning",
        reason: EventReason.ReplicaSetRecreated,
        message: `the ReplicaSet of ${member.id} was missing: recreated with ${decision.replicas} replicas`,
        deployedModelId: member.id,
      }
    : {
        type: "Normal",
        reason: EventReason.ReplicaSetCreated,
        message: `created the ReplicaSet of ${member.id} (revision ${member.revision}) with ${decision.replicas} replicas`,
        deployedModelId: member.id,
      };
}

function describeSplit(split: Readonly<Record<string, number>>): string {
  const entries = Object.entries(split);
  return entries.length === 0 ? "none" : entries.map(([id, pct]) => `${id} ${pct}%`).join(", ");
}

/** Milliseconds until the earliest progress deadline of a running rollout, if any. */
function findRequeue(
  ctx: PlanContext,
  steps: readonly ChainStep[],
  stateOf: (id: string) => DeployedModelState,
  progressTimes: ReadonlyMap<string, number | undefined>,
  unserved: readonly UnservedChain[],
): number | undefined {
  let earliest: number | undefined;
  for (const chain of unserved) {
    const at = chain.degradedAt * 1000;
    if (at > ctx.nowMs) earliest = earliest === undefined ? at : Math.min(earliest, at);
  }
  ctx.chains.forEach((chain, c) => {
    const intended = steps[c]?.intended;
    if (chain.poolSize === undefined || intended === undefined || stateOf(intended.id) !== "BEING_DEPLOYED")
      return;
    const since = progressTimes.get(intended.id) ?? ctx.now;
    const at = (since + calculateProgressDeadlineSeconds(intended.spec)) * 1000;
    // A deadline already past that did not fail the rollout waits for old pods to go (deadline.ts):
    // their going is a watch event, and a requeue now would only spin.
    if (at > ctx.nowMs) earliest = earliest === undefined ? at : Math.min(earliest, at);
  });
  return earliest === undefined ? undefined : Math.max(0, earliest - ctx.nowMs);
}
