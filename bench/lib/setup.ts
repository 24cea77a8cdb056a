/** What every benchmark does first on its control plane: the CRD installed, a client of its own. */
import { join, resolve } from "node:path";

import { KubeConfig } from "@kubernetes/client-node";

import { KubeClient } from "../../src/kube/client.ts";
import type { ControlPlane } from "../../src/testing/controlplane.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Installs the ModelEndpoint CRD and waits until it is Established. */
export async function installCrds(cp: ControlPlane): Promise<void> {
  await cp.kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
  await cp.kubectl(["wait", "--for=condition=Established", "crd/modelendpoints.serving.modelendpoint.io"]);
}

/** A client of the control plane as the admin, named as the bench in the API server's logs. */
export function benchClient(cp: ControlPlane): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return KubeClient.fromKubeConfig(kc, { userAgent: "model-endpoint-operator-bench" });
}
