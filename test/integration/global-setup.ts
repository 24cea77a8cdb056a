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
import type { GatewayParentRef } from "../../src/testing/gateway.ts";
import { loopbackAddresses, cidrContains } from "../../src/testing/loopback.ts";
import { isAlive } from "../../src/testing/process.ts";

export interface ProvidedControlPlane {
  readonly kubeconfig: string;
  readonly controlUrl: string;
  readonly kubectl: string;
  readonly dir: string;
  /** The Gateway API data plane (Traefik): its HTTP listener and the Gateway routes attach to. */
  readonly gateway: { readonly url: string; readonly parentRef: GatewayParentRef };
}

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: ProvidedControlPlane;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cp = await ControlPlane.start({
    nodes: 3,
    gateway: true,
    // Model-server pods run as processes (see docs/controlplane.md); every other pod stays simulated.
    processes: true,
    // metrics.k8s.io from kwok's simulated usage (see docs/controlplane.md, Resource metrics).
    metrics: true,
    keepDir: process.env["MEO_KEEP_CONTROLPLANE"] === "1",
    log: (line) => {
      console.log(`[controlplane] ${line}`);
    },
  });
  const control = await serveControlApi(cp, () => cp.stop());
  const gateway = cp.gateway;
  if (!gateway) {
    await cp.stop();
    throw new Error("the control plane was started without its gateway");
  }
  project.provide("controlPlane", {
    kubeconfig: cp.kubeconfigPath,
    controlUrl: control.url,
    kubectl: cp.binaries.kubectl,
    dir: cp.dir,
    gateway: { url: gateway.url, parentRef: gateway.parentRef },
  });
  return async () => {
    const pids = cp.pids();
    control.server.close();
    await cp.stop();
    const left = pids.filter(isAlive);
    if (left.length > 0)
      throw new Error(`control-plane processes left running after stop: ${left.join(", ")}`);
    const addresses = (await loopbackAddresses()).filter((a) => cidrContains(cp.podCidr, a));
    if (addresses.length > 0) throw new Error(`pod addresses left on lo after stop: ${addresses.join(", ")}`);
    console.log(`[controlplane] stopped; ${pids.length} processes checked, none left`);
  };
}
