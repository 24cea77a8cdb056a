/**
 * The endpoints `npm run bench:cel` writes the status of: documented examples with a rolling
 * deployment added to them, halfway through that rollout, and the status the operator's engine
 * computes for them (plan() over a fake cluster, with the summary columns the controller adds). So
 * the status has what a real one has: a deployedModels entry per model with its compute and
 * placement, four conditions, the effective traffic split and the summary strings.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { parse } from "yaml";

import { parseModelEndpoint } from "../../src/api/index.ts";
import { plan } from "../../src/rollout/index.ts";
import { FakeCluster } from "../../src/rollout/testing/cluster.ts";
import { summarize } from "../../src/rollout/summary.ts";
import type { EndpointSpec } from "../../src/rollout/types.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

export interface EndpointFixture {
  /** A short name for tables. */
  readonly name: string;
  /** What it holds, for the report. */
  readonly description: string;
  /** The object as first created (no rolling deployment yet). */
  readonly created: Record<string, unknown>;
  /** The spec with the rolling deployment added: the update applied before the status is written. */
  readonly updatedSpec: Record<string, unknown>;
  /** The status the operator writes halfway through the rollout. */
  readonly status: Record<string, unknown>;
}

interface ExampleDocument {
  metadata: { name: string; [key: string]: unknown };
  spec: { deployedModels: Record<string, unknown>[]; [key: string]: unknown };
  [key: string]: unknown;
}

function readExample(file: string): ExampleDocument {
  return parse(readFileSync(join(ROOT, "examples", file), "utf8")) as ExampleDocument;
}

/**
 * The status after `passes` operator passes (5 s apart) over a fake cluster whose pods become
 * Ready 12 s after creation: a rolling deployment is then partway, its chain BEING_DEPLOYED.
 */
function engineStatus(spec: EndpointSpec, before: EndpointSpec, passes: number): Record<string, unknown> {
  const cluster = new FakeCluster({ spec: before, readyAfter: () => 12 });
  const step = (): void => {
    cluster.apply(plan(cluster.snapshot(), cluster.now * 1000));
    cluster.syncReplicaSets();
    cluster.advanceTo(cluster.now + 5);
    cluster.syncReplicaSets();
  };
  // The first deployment settles, then the rolling deployment is added and runs for `passes`.
  for (let i = 0; i < 20; i++) step();
  cluster.setSpec(spec);
  for (let i = 0; i < passes; i++) step();
  const result = plan(cluster.snapshot(), cluster.now * 1000);
  return JSON.parse(JSON.stringify({ ...result.status, ...summarize(result.status) })) as Record<
    string,
    unknown
  >;
}

function engineSpec(doc: ExampleDocument): EndpointSpec {
  const parsed = parseModelEndpoint(doc);
  if (!parsed.ok) throw new Error(`${doc.metadata.name}: ${JSON.stringify(parsed.issues)}`);
  return { trafficSplit: parsed.value.spec.trafficSplit, deployedModels: parsed.value.spec.deployedModels };
}

/**
 * `example` with `rolling` (a deployed model with rolloutOptions) added to its deployedModels, and
 * `placement` given to its first model (inherited along the chain), as one endpoint fixture.
 */
function fixture(args: {
  name: string;
  description: string;
  example: string;
  placement?: Record<string, unknown>;
  rolling: Record<string, unknown>;
  passes: number;
}): EndpointFixture {
  const doc = readExample(args.example);
  const first = doc.spec.deployedModels[0];
  if (first !== undefined && args.placement !== undefined) first["placement"] = args.placement;
  const created = { ...doc, metadata: { name: doc.metadata.name } };
  const updated: ExampleDocument = {
    ...doc,
    spec: { ...doc.spec, deployedModels: [...doc.spec.deployedModels, args.rolling] },
  };
  return {
    name: args.name,
    description: args.description,
    created,
    updatedSpec: updated.spec,
    status: engineStatus(engineSpec(updated), engineSpec(doc), args.passes),
  };
}

/** A rolling deployment of `previous` with the same container as it, under a new model version. */
function rollingOf(
  doc: ExampleDocument,
  previous: string,
  id: string,
  model: string,
): Record<string, unknown> {
  const base = doc.spec.deployedModels.find((m) => m["id"] === previous);
  if (base === undefined) throw new Error(`no deployed model ${previous}`);
  return {
    id,
    model,
    containerSpec: base["containerSpec"],
    rolloutOptions: { previousDeployedModel: previous, maxSurgeReplicas: 1, maxUnavailableReplicas: 0 },
  };
}

/** The endpoints, built once: examples/04-traffic-split.yaml and examples/06-gpu-model.yaml. */
export function endpointFixtures(): EndpointFixture[] {
  const split = readExample("04-traffic-split.yaml");
  const gpu = readExample("06-gpu-model.yaml");
  return [
    fixture({
      name: "split",
      description:
        "examples/04-traffic-split.yaml (prod 80 / exp 20, e2-standard-4) plus prod-v2 rolling onto prod, 3 deployed models, partway",
      example: "04-traffic-split.yaml",
      rolling: rollingOf(split, "prod", "prod-v2", "recommender@8"),
      passes: 4,
    }),
    fixture({
      name: "gpu",
      description:
        "examples/06-gpu-model.yaml (g2-standard-8 + NVIDIA_L4, nodeSelector) plus a GPU toleration and s2 rolling onto s1, 2 deployed models, partway",
      example: "06-gpu-model.yaml",
      placement: {
        nodeSelector: { "cloud.google.com/gke-nodepool": "l4-serving" },
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      },
      rolling: rollingOf(gpu, "s1", "s2", "summarizer@2"),
      passes: 3,
    }),
  ];
}
