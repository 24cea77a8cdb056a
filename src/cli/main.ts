#!/usr/bin/env node
/**
 * kubectl-modelendpoint: the kubectl plugin for ModelEndpoints (`kubectl modelendpoint ...`).
 * Installed as an npm bin; kubectl finds it on PATH by its name. See docs/plugin.md and --help.
 *
 * The only module of the plugin that reads argv and the environment or exits the process.
 */
import { setTimeout as delay } from "node:timers/promises";

import { KubeConfig } from "@kubernetes/client-node";

import { KubeClient, KubeError } from "../kube/index.ts";
import { VERSION } from "../version.ts";
import { parseCommand, UsageError, type Target } from "./args.ts";
import { EXIT, runCommand, type Connection } from "./commands.ts";
import { EndpointError } from "../edits/endpoint.ts";
import { HELP } from "./help.ts";
import { Refusal } from "../edits/plan.ts";

function connect(target: Target): Connection {
  const kc = new KubeConfig();
  if (target.kubeconfig !== undefined) kc.loadFromFile(target.kubeconfig);
  else kc.loadFromDefault();
  if (target.context !== undefined) {
    if (kc.getContextObject(target.context) === null) {
      throw new UsageError(`the kubeconfig has no context "${target.context}"`, "main");
    }
    kc.setCurrentContext(target.context);
  }
  const namespace = target.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  const client = KubeClient.fromKubeConfig(kc, { userAgent: `kubectl-modelendpoint/${VERSION}` });
  return { endpoints: client.modelEndpoints(), namespace };
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const cmd = parseCommand(argv);
    if (cmd.kind === "help") {
      process.stdout.write(HELP[cmd.topic]);
      return EXIT.ok;
    }
    if (cmd.kind === "version") {
      process.stdout.write(`kubectl-modelendpoint ${VERSION}\n`);
      return EXIT.ok;
    }
    return await runCommand(cmd, {
      connect,
      out: (text) => process.stdout.write(text),
      now: () => new Date(),
      sleep: (ms, signal) => delay(ms, undefined, { signal }),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n\n${HELP[err.topic]}`);
      return EXIT.usage;
    }
    if (err instanceof Refusal) {
      process.stderr.write(
        `error: ${err.message}${err.pluginHint === undefined ? "" : ` (${err.pluginHint})`}\n`,
      );
      return EXIT.error;
    }
    if (err instanceof EndpointError || err instanceof KubeError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kubectl-modelendpoint: fatal: ${String(err)}\n`);
    process.exit(EXIT.error);
  },
);
