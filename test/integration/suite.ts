/**
 * The set-up most integration test files share: the CRD installed, fresh namespaces, and the
 * operator as a process watching them, started before the file's tests and stopped after them
 * with nothing logged at error level.
 */
import { expect } from "vitest";

import { createNamespace, kubeConfig } from "./context.ts";
import { Endpoints, installCrd } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";

export interface Suite {
  /** The first namespace, where `endpoints` reads. */
  readonly ns: string;
  /** Every namespace the operator watches, the first one first. */
  readonly namespaces: readonly string[];
  readonly endpoints: Endpoints;
  readonly operator: OperatorProcess;
}

/** Creates a namespace named after `prefix` (and one after each of `more`) and starts the operator. */
export async function startSuite(
  prefix: string,
  more: readonly string[] = [],
  extraArgs: readonly string[] = [],
): Promise<Suite> {
  await installCrd();
  const namespaces: string[] = [];
  for (const name of [prefix, ...more]) namespaces.push(await createNamespace(name));
  const ns = namespaces[0] ?? "";
  const operator = new OperatorProcess({ namespaces, extraArgs });
  await operator.start();
  return { ns, namespaces, endpoints: new Endpoints(kubeConfig(), ns), operator };
}

/** Stops the operator and checks that it logged no error. */
export async function stopSuite(operator: OperatorProcess): Promise<void> {
  await operator.stop();
  expect(operator.problems()).toEqual([]);
}
