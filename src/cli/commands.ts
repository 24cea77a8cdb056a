/**
 * The plugin's commands against the API server, through the project's own client (src/kube). Every
 * effect comes in through CliDeps (the connection, output, the clock), so tests can drive them.
 */
import { stringify } from "yaml";

import {
  AbortedError,
  GoneError,
  TransientError,
  type KubeObject,
  type ResourceClient,
} from "../kube/index.ts";
import type { Command, Target } from "./args.ts";
import { EndpointError, parseEndpoint, viewOf, type RawEndpoint } from "../edits/endpoint.ts";
import { readPlanReplace, type Replaceable } from "../edits/replace.ts";
import {
  checkPlan,
  planDeploy,
  planRollback,
  planUndeploy,
  type DeployRequest,
  type EditPlan,
} from "../edits/plan.ts";
import { defaultTarget, judge, type Progress } from "./progress.ts";
import { renderGet, renderHistory } from "./render.ts";
import type { ModelEndpoint } from "../api/index.ts";

/** Exit codes (also in --help and docs/plugin.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, error: 4 } as const;

export interface Connection {
  readonly endpoints: ResourceClient<KubeObject>;
  /** The namespace the command works in. */
  readonly namespace: string;
}

export interface CliDeps {
  readonly connect: (target: Target) => Connection;
  readonly out: (text: string) => void;
  readonly now: () => Date;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

type Of<K extends Command["kind"]> = Extract<Command, { kind: K }>;

/** Runs a parsed command (not help or version); resolves with the exit code. */
export async function runCommand(
  cmd: Exclude<Command, { kind: "help" | "version" }>,
  deps: CliDeps,
): Promise<number> {
  const conn = deps.connect(cmd.target);
  switch (cmd.kind) {
    case "get":
      return get(cmd, conn, deps);
    case "rollout-history":
      return history(cmd, conn, deps);
    case "rollout-status":
      return rolloutStatus(cmd, conn, deps);
    case "deploy":
      return write(
        conn,
        deps,
        cmd.name,
        cmd.dryRun,
        (raw, parsed) => planDeploy(raw, parsed, deployRequest(cmd)),
        cmd.name,
      );
    case "rollback":
      return write(
        conn,
        deps,
        cmd.name,
        cmd.dryRun,
        (raw, parsed) => planRollback(raw, parsed, cmd),
        cmd.name,
      );
    case "undeploy":
      return write(conn, deps, cmd.name, cmd.dryRun, (raw, parsed) => planUndeploy(raw, parsed, cmd));
  }
}

function printObjects(
  objects: readonly KubeObject[],
  output: "json" | "yaml",
  single: boolean,
  deps: CliDeps,
): void {
  const value = single ? objects[0] : { apiVersion: "v1", kind: "List", items: objects };
  deps.out(output === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value));
}

async function get(cmd: Of<"get">, conn: Connection, deps: CliDeps): Promise<number> {
  const objects =
    cmd.name === undefined
      ? (await conn.endpoints.list(cmd.allNamespaces ? undefined : conn.namespace)).items
      : [await conn.endpoints.get(conn.namespace, cmd.name)];
  if (cmd.output === "json" || cmd.output === "yaml") {
    printObjects(objects, cmd.output, cmd.name !== undefined, deps);
    return EXIT.ok;
  }
  const views = objects.map((o) => viewOf(parseEndpoint(o)));
  deps.out(
    renderGet(views, {
      allDeploymentStates: cmd.allDeploymentStates,
      wide: cmd.output === "wide",
      showNamespace: cmd.allNamespaces,
    }),
  );
  return EXIT.ok;
}

async function history(cmd: Of<"rollout-history">, conn: Connection, deps: CliDeps): Promise<number> {
  const raw = await conn.endpoints.get(conn.namespace, cmd.name);
  if (cmd.output === "json" || cmd.output === "yaml") {
    const view = viewOf(parseEndpoint(raw));
    const value = view.models.map(({ intended: _, ...m }) => m);
    deps.out(cmd.output === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value));
    return EXIT.ok;
  }
  deps.out(renderHistory(viewOf(parseEndpoint(raw)), { wide: cmd.output === "wide" }));
  return EXIT.ok;
}

/**
 * Reads, plans, checks and writes the endpoint at the resourceVersion it read; on a conflict
 * (someone changed it meanwhile) it starts over from a fresh read, so the plan's checks (traffic,
 * states) are always judged on what it replaces.
 */
async function write(
  conn: Connection,
  deps: CliDeps,
  name: string,
  dryRun: boolean,
  plan: (raw: RawEndpoint, parsed: ModelEndpoint) => EditPlan,
  follow?: string,
): Promise<number> {
  const { planned } = await readPlanReplace(
    conn.endpoints as Replaceable<RawEndpoint>,
    conn.namespace,
    name,
    (raw) => {
      const edit = plan(raw, parseEndpoint(raw));
      checkPlan(raw, edit.next);
      return edit;
    },
    { dryRun },
  );
  if (dryRun) {
    deps.out(`${planned.summary} (dry run: nothing written)\n${stringify({ deployedModel: planned.entry })}`);
    return EXIT.ok;
  }
  deps.out(`${planned.summary}\n`);
  if (follow !== undefined) {
    deps.out(
      `follow it: kubectl modelendpoint rollout status ${follow} ${planned.entry.id} -n ${conn.namespace}\n`,
    );
  }
  return EXIT.ok;
}

/**
 * Follows a rollout: reads the endpoint, then watches it (field selector on its name) and judges
 * every version it sees, printing a line when the progress changes. A watch that ends or fails is
 * resumed from a fresh read after a second.
 */
async function rolloutStatus(cmd: Of<"rollout-status">, conn: Connection, deps: CliDeps): Promise<number> {
  const abort = new AbortController();
  const timer =
    cmd.timeoutMs > 0
      ? setTimeout(() => {
          abort.abort(new Error("timeout"));
        }, cmd.timeoutMs)
      : undefined;
  let target = cmd.deployedModel;
  let last = "";
  const consider = (raw: unknown): number | undefined => {
    const view = viewOf(parseEndpoint(raw));
    let progress: Progress;
    if (target === undefined && view.observedGeneration === view.generation) target = defaultTarget(view);
    if (target === undefined) {
      if (view.observedGeneration === view.generation)
        throw new EndpointError(`${view.name} has no deployed models`);
      progress = {
        phase: "waiting",
        line: `waiting for the operator to observe generation ${view.generation}`,
      };
    } else {
      progress = judge(view, target);
    }
    if (progress.line !== last) {
      deps.out(`${deps.now().toISOString().slice(11, 19)} ${progress.line}\n`);
      last = progress.line;
    }
    if (progress.phase === "done") return EXIT.ok;
    if (progress.phase === "failed") return EXIT.failed;
    return undefined;
  };
  try {
    for (;;) {
      try {
        const raw = await conn.endpoints.get(conn.namespace, cmd.name, { signal: abort.signal });
        const first = consider(raw);
        if (first !== undefined) return first;
        const events = conn.endpoints
          .listWatch(conn.namespace, { fieldSelector: `metadata.name=${cmd.name}` })
          .watch({
            resourceVersion: raw.metadata?.resourceVersion ?? "",
            timeoutSeconds: 300,
            allowWatchBookmarks: false,
            signal: abort.signal,
          });
        for await (const event of events) {
          if (event.type === "DELETED") throw new EndpointError(`${cmd.name} was deleted`);
          if (event.type === "ERROR") break;
          if (event.type === "BOOKMARK") continue;
          const code = consider(event.object);
          if (code !== undefined) return code;
        }
      } catch (err) {
        if (abort.signal.aborted || err instanceof AbortedError) break;
        // A dropped connection or an expired resourceVersion: read again. Anything else is final.
        if (!(err instanceof TransientError || err instanceof GoneError)) throw err;
      }
      if (abort.signal.aborted) break;
      await deps.sleep(1000, abort.signal).catch(() => undefined);
    }
    deps.out(`timed out after ${cmd.timeoutMs / 1000}s; last: ${last || "nothing read"}\n`);
    return EXIT.timeout;
  } finally {
    clearTimeout(timer);
  }
}

/** The container the deploy flags describe, as the shared edit takes it. */
function deployRequest(cmd: Extract<Command, { kind: "deploy" }>): DeployRequest {
  const containerSpec: Record<string, unknown> = { imageUri: cmd.image };
  if (cmd.command.length > 0) containerSpec["command"] = [...cmd.command];
  if (cmd.args.length > 0) containerSpec["args"] = [...cmd.args];
  if (cmd.env.length > 0) containerSpec["env"] = cmd.env.map((e) => ({ ...e }));
  if (cmd.port !== undefined) containerSpec["ports"] = [{ containerPort: cmd.port }];
  return {
    id: cmd.id,
    model: cmd.model,
    containerSpec,
    previous: cmd.previous,
    budgets: cmd.budgets,
    serviceAccount: cmd.serviceAccount,
  };
}
