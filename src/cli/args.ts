/**
 * The plugin's command line: `kubectl modelendpoint <command> [args] [flags]`, parsed into one
 * typed Command (pure; no I/O). Every problem is a UsageError naming the fix.
 */
import { parseArgs } from "node:util";

import { HELP, type HelpTopic } from "./help.ts";

/** A count of replicas or a percentage of the chain's pool (Vertex AI's two forms of a budget). */
import type { Budget, Budgets } from "../edits/plan.ts";

export type { Budget, Budgets };

export type Output = "table" | "wide" | "json" | "yaml";

/** Where to talk to: the kubeconfig, its context, the namespace. */
export interface Target {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Unset: the context's namespace, else "default". */
  readonly namespace?: string;
}

export type Command =
  | { readonly kind: "help"; readonly topic: HelpTopic }
  | { readonly kind: "version" }
  | {
      readonly kind: "get";
      readonly target: Target;
      readonly name?: string;
      readonly allNamespaces: boolean;
      readonly allDeploymentStates: boolean;
      readonly output: Output;
    }
  | {
      readonly kind: "rollout-status";
      readonly target: Target;
      readonly name: string;
      readonly deployedModel?: string;
      /** 0: wait for ever. */
      readonly timeoutMs: number;
    }
  | {
      readonly kind: "rollout-history";
      readonly target: Target;
      readonly name: string;
      readonly output: Output;
    }
  | {
      readonly kind: "deploy";
      readonly target: Target;
      readonly name: string;
      readonly id: string;
      readonly image: string;
      readonly model: string;
      readonly previous?: string;
      readonly budgets: Budgets;
      readonly port?: number;
      readonly env: readonly { readonly name: string; readonly value: string }[];
      readonly args: readonly string[];
      readonly command: readonly string[];
      readonly serviceAccount?: string;
      readonly dryRun: boolean;
    }
  | {
      readonly kind: "rollback";
      readonly target: Target;
      readonly name: string;
      /** The revision rolled back from (default: the newest rolling deployment). */
      readonly from?: string;
      /** The new entry's id (default: `<previous id>-r<revision>`). */
      readonly id?: string;
      readonly budgets: Budgets;
      readonly dryRun: boolean;
    }
  | {
      readonly kind: "undeploy";
      readonly target: Target;
      readonly name: string;
      readonly id: string;
      /** Replaces spec.trafficSplit in the same write (Vertex AI's UndeployModel trafficSplit). */
      readonly trafficSplit?: Readonly<Record<string, number>>;
      readonly dryRun: boolean;
    };

export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The help to print after the message. */
  readonly topic: HelpTopic;

  constructor(message: string, topic: HelpTopic) {
    super(message);
    this.topic = topic;
  }
}

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  namespace: { type: "string", short: "n" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "all-namespaces": { type: "boolean", short: "A" },
  "all-deployment-states": { type: "boolean" },
  output: { type: "string", short: "o" },
  timeout: { type: "string" },
  image: { type: "string" },
  model: { type: "string" },
  previous: { type: "string" },
  "max-surge": { type: "string" },
  "max-unavailable": { type: "string" },
  "progress-deadline": { type: "string" },
  port: { type: "string" },
  env: { type: "string", multiple: true },
  arg: { type: "string", multiple: true },
  command: { type: "string", multiple: true },
  "service-account": { type: "string" },
  from: { type: "string" },
  id: { type: "string" },
  "traffic-split": { type: "string" },
  "dry-run": { type: "boolean" },
} as const;
type OptionName = keyof typeof OPTIONS;

const TARGET: readonly OptionName[] = ["namespace", "kubeconfig", "context", "help"];
const BUDGETS: readonly OptionName[] = ["max-surge", "max-unavailable", "progress-deadline"];
const ALLOWED: Record<Exclude<HelpTopic, "main" | "rollout">, readonly OptionName[]> = {
  get: [...TARGET, "all-namespaces", "all-deployment-states", "output"],
  "rollout status": [...TARGET, "timeout"],
  "rollout history": [...TARGET, "output"],
  deploy: [
    ...TARGET,
    ...BUDGETS,
    "image",
    "model",
    "previous",
    "port",
    "env",
    "arg",
    "command",
    "service-account",
    "dry-run",
  ],
  rollback: [...TARGET, ...BUDGETS, "from", "id", "dry-run"],
  undeploy: [...TARGET, "traffic-split", "dry-run"],
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses `argv` (the arguments after the plugin's name). */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), "main");
  }
  const { values, positionals, tokens } = parsed;
  const [verb, ...rest] = positionals;
  if (values.version === true && verb === undefined) return { kind: "version" };
  if (verb === undefined || verb === "help") return { kind: "help", topic: helpTopic(rest) };

  let topic: Exclude<HelpTopic, "main">;
  let args: string[];
  if (verb === "rollout") {
    const [sub, ...more] = rest;
    if (sub === undefined) {
      if (values.help === true) return { kind: "help", topic: "rollout" };
      throw new UsageError("rollout needs a subcommand: status or history", "rollout");
    }
    if (sub !== "status" && sub !== "history") {
      throw new UsageError(`unknown rollout subcommand "${sub}": use status or history`, "rollout");
    }
    topic = `rollout ${sub}`;
    args = more;
  } else if (verb === "get" || verb === "deploy" || verb === "rollback" || verb === "undeploy") {
    topic = verb;
    args = rest;
  } else {
    throw new UsageError(`unknown command "${verb}"`, "main");
  }
  if (values.help === true) return { kind: "help", topic };

  const used = new Set(tokens.filter((t) => t.kind === "option").map((t) => t.name));
  const allowed = ALLOWED[topic];
  for (const name of used) {
    if (!(allowed as readonly string[]).includes(name))
      throw new UsageError(`--${name} is not a flag of "${topic}"`, topic);
  }
  const target: Target = {
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
  };
  const positional = (count: number, names: string): string[] => {
    if (args.length > count) throw new UsageError(`unexpected argument "${args[count] ?? ""}"`, topic);
    if (args.length < count) throw new UsageError(`${topic} needs ${names}`, topic);
    return args;
  };
  const dryRun = values["dry-run"] === true;

  switch (topic) {
    case "get": {
      if (args.length > 1) throw new UsageError(`unexpected argument "${args[1] ?? ""}"`, topic);
      const [name] = args;
      if (name !== undefined && values["all-namespaces"] === true) {
        throw new UsageError("a NAME and --all-namespaces do not go together", topic);
      }
      return {
        kind: "get",
        target,
        ...(name === undefined ? {} : { name }),
        allNamespaces: values["all-namespaces"] === true,
        allDeploymentStates: values["all-deployment-states"] === true,
        output: parseOutput(values.output, topic),
      };
    }
    case "rollout status": {
      if (args.length < 1) throw new UsageError("rollout status needs NAME", topic);
      if (args.length > 2) throw new UsageError(`unexpected argument "${args[2] ?? ""}"`, topic);
      const [name = "", deployedModel] = args;
      return {
        kind: "rollout-status",
        target,
        name,
        ...(deployedModel === undefined ? {} : { deployedModel }),
        timeoutMs:
          values.timeout === undefined ? 10 * 60_000 : parseDuration(values.timeout, "--timeout", topic),
      };
    }
    case "rollout history": {
      const [name = ""] = positional(1, "NAME");
      return { kind: "rollout-history", target, name, output: parseOutput(values.output, topic) };
    }
    case "deploy": {
      const [name = "", id = ""] = positional(2, "NAME and ID (the new deployed model's id)");
      checkId(id, "ID", topic);
      if (values.image === undefined || values.image === "")
        throw new UsageError("deploy needs --image", topic);
      if (values.model === undefined || values.model === "")
        throw new UsageError("deploy needs --model", topic);
      if (values.previous !== undefined) checkId(values.previous, "--previous", topic);
      return {
        kind: "deploy",
        target,
        name,
        id,
        image: values.image,
        model: values.model,
        ...(values.previous === undefined ? {} : { previous: values.previous }),
        budgets: parseBudgets(values, topic),
        ...(values.port === undefined ? {} : { port: parseInteger(values.port, "--port", 1, 65535, topic) }),
        env: (values.env ?? []).map((e) => parseEnv(e, topic)),
        args: values.arg ?? [],
        command: values.command ?? [],
        ...(values["service-account"] === undefined ? {} : { serviceAccount: values["service-account"] }),
        dryRun,
      };
    }
    case "rollback": {
      const [name = ""] = positional(1, "NAME");
      if (values.id !== undefined) checkId(values.id, "--id", topic);
      if (values.from !== undefined) checkId(values.from, "--from", topic);
      return {
        kind: "rollback",
        target,
        name,
        ...(values.from === undefined ? {} : { from: values.from }),
        ...(values.id === undefined ? {} : { id: values.id }),
        budgets: parseBudgets(values, topic),
        dryRun,
      };
    }
    case "undeploy": {
      const [name = "", id = ""] = positional(2, "NAME and ID (the deployed model to remove)");
      return {
        kind: "undeploy",
        target,
        name,
        id,
        ...(values["traffic-split"] === undefined
          ? {}
          : { trafficSplit: parseTrafficSplit(values["traffic-split"], topic) }),
        dryRun,
      };
    }
  }
}

function helpTopic(words: readonly string[]): HelpTopic {
  const topic = words.join(" ");
  return topic in HELP ? (topic as HelpTopic) : "main";
}

function parseOutput(value: string | undefined, topic: HelpTopic): Output {
  if (value === undefined) return "table";
  if (value === "table" || value === "wide" || value === "json" || value === "yaml") return value;
  throw new UsageError(`--output must be table, wide, json or yaml, not "${value}"`, topic);
}

function checkId(id: string, what: string, topic: HelpTopic): void {
  if (id.length > 22 || !DNS_LABEL.test(id)) {
    throw new UsageError(
      `${what} "${id}" must be a DNS label of at most 22 characters: lowercase letters, digits and '-'`,
      topic,
    );
  }
}

/** "10m", "90s", "1h30m", "500ms", or a number of seconds; to milliseconds. */
export function parseDuration(value: string, what: string, topic: HelpTopic): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
    throw new UsageError(`${what} must be a duration such as 90s, 10m or 1h30m, not "${value}"`, topic);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (units[unit ?? "s"] ?? 1000), 0);
}

function parseInteger(value: string, what: string, min: number, max: number, topic: HelpTopic): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, not "${value}"`, topic);
  }
  return n;
}

/** "2" is a count of replicas, "25%" a percentage of the pool. */
export function parseBudget(value: string, what: string, topic: HelpTopic): Budget {
  if (value.endsWith("%")) return { percent: parseInteger(value.slice(0, -1), what, 0, 100, topic) };
  return { replicas: parseInteger(value, what, 0, 1_000_000, topic) };
}

function parseBudgets(
  values: { "max-surge"?: string; "max-unavailable"?: string; "progress-deadline"?: string },
  topic: HelpTopic,
): Budgets {
  const surge = values["max-surge"];
  const unavailable = values["max-unavailable"];
  const deadline = values["progress-deadline"];
  let progressDeadlineSeconds: number | undefined;
  if (deadline !== undefined) {
    const ms = parseDuration(deadline, "--progress-deadline", topic);
    if (ms < 1000 || ms % 1000 !== 0) {
      throw new UsageError("--progress-deadline must be a whole number of seconds, at least 1s", topic);
    }
    progressDeadlineSeconds = ms / 1000;
  }
  return {
    ...(surge === undefined ? {} : { maxSurge: parseBudget(surge, "--max-surge", topic) }),
    ...(unavailable === undefined
      ? {}
      : { maxUnavailable: parseBudget(unavailable, "--max-unavailable", topic) }),
    ...(progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds }),
  };
}

function parseEnv(value: string, topic: HelpTopic): { name: string; value: string } {
  const at = value.indexOf("=");
  if (at <= 0) throw new UsageError(`--env must be NAME=VALUE, not "${value}"`, topic);
  return { name: value.slice(0, at), value: value.slice(at + 1) };
}

/** "m1=80,m2=20" (or "" for no traffic) to a split; the values must sum to 100 or be none. */
export function parseTrafficSplit(value: string, topic: HelpTopic): Record<string, number> {
  const split: Record<string, number> = {};
  if (value.trim() === "") return split;
  for (const part of value.split(",")) {
    const [id = "", percent = ""] = part.split("=");
    if (id.trim() === "" || percent === "") {
      throw new UsageError(`--traffic-split must be ID=PERCENT,..., not "${value}"`, topic);
    }
    if (id.trim() in split) throw new UsageError(`--traffic-split names ${id.trim()} twice`, topic);
    split[id.trim()] = parseInteger(percent.trim(), `--traffic-split share of ${id.trim()}`, 0, 100, topic);
  }
  const sum = Object.values(split).reduce((a, b) => a + b, 0);
  if (sum !== 100) throw new UsageError(`--traffic-split shares must sum to 100, not ${sum}`, topic);
  return split;
}
