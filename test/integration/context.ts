/**
 * What every integration test file uses: the suite's control plane (from global-setup.ts), API
 * clients for it, a namespace of its own, and `eventually` to await a condition.
 */
import { randomBytes } from "node:crypto";

import { CoreV1Api, KubeConfig, type V1Container, type V1ReplicaSet } from "@kubernetes/client-node";
import { inject } from "vitest";

import { ControlPlaneClient } from "../../src/testing/control-server.ts";
import type { ProvidedControlPlane } from "./global-setup.ts";

export function controlPlane(): ProvidedControlPlane {
  return inject("controlPlane");
}

/** The suite's Gateway API data plane: `url` serves the HTTPRoutes whose parentRefs name `parentRef`. */
export function gateway(): ProvidedControlPlane["gateway"] {
  return controlPlane().gateway;
}

/** Fault injection and restricted identities for the suite's control plane. */
export function controlPlaneClient(): ControlPlaneClient {
  return new ControlPlaneClient(controlPlane().controlUrl);
}

/** A KubeConfig for the admin kubeconfig, or for the kubeconfig at `path`. */
export function kubeConfig(path: string = controlPlane().kubeconfig): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function createNamespace(prefix: string, kc: KubeConfig = kubeConfig()): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** A ReplicaSet of `replicas` pods labelled `app: <name>`, each with `containers`. */
export function replicaSetOf(name: string, containers: V1Container[], replicas: number): V1ReplicaSet {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

/**
 * Awaits a condition: calls `probe` until it returns a value other than undefined/false, and
 * returns that value. On timeout it throws with `what` and the last value or error seen, so a
 * failing test says what it was waiting for and what it saw instead.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      const detail = options.describe ? `; state: ${await options.describe()}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${seen})${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
