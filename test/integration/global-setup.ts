/**
 * One real control plane for the whole integration suite: started once before the first test file,
 * stopped after the last. Test files reach it through `inject("controlPlane")` (see ./context.ts).
 *
 * Teardown checks that no process of the control plane is left: the suite itself proves the
 * harness cleans up.
 */
import type { TestProject } from "vitest/node";

import { ControlPlane } from "../../src/testing/controlplane.ts";
import { serveControlApi } from "../../src/testing/control-server.ts";
import { isAlive } from "../../src/testing/process.ts";

export interface ProvidedControlPlane {
  readonly kubeconfig: string;
  readonly controlUrl: string;
  readonly kubectl: string;
  readonly dir: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: ProvidedControlPlane;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cp = await ControlPlane.start({
    nodes: 3,
    keepDir: process.env["MEO_KEEP_CONTROLPLANE"] === "1",
    log: (line) => {
      console.log(`[controlplane] ${line}`);
    },
  });
  const control = await serveControlApi(cp, () => cp.stop());
  project.provide("controlPlane", {
    kubeconfig: cp.kubeconfigPath,
    controlUrl: control.url,
    kubectl: cp.binaries.kubectl,
    dir: cp.dir,
  });
  return async () => {
    const pids = cp.pids();
    control.server.close();
    await cp.stop();
    const left = pids.filter(isAlive);
    if (left.length > 0)
      throw new Error(`control-plane processes left running after stop: ${left.join(", ")}`);
    console.log(`[controlplane] stopped; ${pids.length} processes checked, none left`);
  };
}
