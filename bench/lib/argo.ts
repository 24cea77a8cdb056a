/**
 * Argo Rollouts' controller (rollouts-controller), the rollout comparison's third system: found in
 * the binary cache where `make argo-rollouts` builds it (hack/controlplane-build.sh --with
 * argo-rollouts, with its CRDs next to it), its CRDs installed, and run as a child process against
 * the control plane as the admin, watching only the bench's namespace.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { cacheDir, pinnedVersion } from "../../src/testing/binaries.ts";
import type { ControlPlane } from "../../src/testing/controlplane.ts";
import { freePort, waitFor } from "../../src/testing/harness.ts";
import { Supervised } from "../../src/testing/process.ts";

const MODULE = "github.com/argoproj/argo-rollouts";

export interface ArgoRolloutsBuild {
  /** The pinned release, e.g. "v1.10.1". */
  readonly version: string;
  readonly binary: string;
  /** The folder of its CRDs (Rollout, AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Experiment). */
  readonly crds: string;
}

/** Where the build puts the controller; `missing` says how to build it when it is not there. */
export function findArgoRollouts(
  env: NodeJS.ProcessEnv = process.env,
): ArgoRolloutsBuild & { missing?: string } {
  const version = pinnedVersion("argo-rollouts", MODULE);
  const dir = join(cacheDir(env), "bin", `argo-rollouts-${version}`);
  const found = { version, binary: join(dir, "rollouts-controller"), crds: join(dir, "crds") };
  if (existsSync(found.binary) && existsSync(join(found.crds, "rollout-crd.yaml"))) return found;
  return {
    ...found,
    missing: `Argo Rollouts ${version} is not built (no ${found.binary}); 'make argo-rollouts' builds it (a few minutes of Go)`,
  };
}

/** Installs Argo Rollouts' CRDs and waits until each is Established. */
export async function installArgoCrds(cp: ControlPlane, build: ArgoRolloutsBuild): Promise<void> {
  await cp.kubectl(["apply", "--server-side", "-f", build.crds]);
  await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", build.crds]);
}

export interface ArgoRolloutsOptions {
  readonly build: ArgoRolloutsBuild;
  readonly kubeconfig: string;
  /** The one namespace it watches (--namespaced). */
  readonly namespace: string;
  readonly logFile: string;
}

/** The controller's flags: one namespace, no leader election, its two ports free ones. */
export function argoRolloutsArgs(
  o: Pick<ArgoRolloutsOptions, "kubeconfig" | "namespace">,
  ports: { readonly metrics: number; readonly healthz: number },
): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    "--namespaced",
    `--namespace=${o.namespace}`,
    "--leader-elect=false",
    `--metricsPort=${String(ports.metrics)}`,
    `--healthzPort=${String(ports.healthz)}`,
    "--loglevel=info",
  ];
}

export class ArgoRolloutsController {
  readonly args: readonly string[];
  readonly logFile: string;
  readonly #proc: Supervised;

  private constructor(args: readonly string[], logFile: string, proc: Supervised) {
    this.args = args;
    this.logFile = logFile;
    this.#proc = proc;
  }

  /**
   * Starts the controller and waits until its /healthz answers 200 and it logged "Started
   * controller" (its caches synced, its workers running; /healthz alone answers before that).
   */
  static async start(o: ArgoRolloutsOptions): Promise<ArgoRolloutsController> {
    const ports = { metrics: await freePort(), healthz: await freePort() };
    const args = argoRolloutsArgs(o, ports);
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Its notification settings are read from this namespace (there are none).
    env["POD_NAMESPACE"] = o.namespace;
    delete env["KUBERNETES_SERVICE_HOST"];
    delete env["KUBERNETES_SERVICE_PORT"];
    const proc = Supervised.start({
      name: "rollouts-controller",
      command: o.build.binary,
      args,
      logFile: o.logFile,
      env,
    });
    const controller = new ArgoRolloutsController(args, o.logFile, proc);
    try {
      await waitFor(
        `rollouts-controller /healthz and "Started controller" in ${o.logFile}`,
        async () =>
          (await fetch(`http://127.0.0.1:${String(ports.healthz)}/healthz`)).ok &&
          readFileSync(o.logFile, "utf8").includes("Started controller"),
        {
          timeoutMs: 60_000,
          intervalMs: 100,
          check: () => {
            proc.assertRunning();
          },
        },
      );
    } catch (err) {
      await controller.stop();
      throw err;
    }
    return controller;
  }

  get pid(): number {
    const pid = this.#proc.pid;
    if (pid === undefined) throw new Error("rollouts-controller has no pid");
    return pid;
  }

  async stop(): Promise<void> {
    await this.#proc.stop(5_000);
  }
}
