/**
 * Model pods under Pod Security "restricted": a namespace that enforces it admits them when the
 * operator runs them as a non-root user (`--model-pod-user`), and refuses them otherwise, which the
 * endpoint's status says. The API server's own PodSecurity admission judges the pods the
 * ReplicaSet controller creates.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd, kubectl } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";
import { stopSuite } from "./suite.ts";

/** A namespace whose pods must pass Pod Security "restricted". */
async function restrictedNamespace(prefix: string): Promise<string> {
  const ns = await createNamespace(prefix);
  await kubectl(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
  return ns;
}

let asUser = "";
let asImage = "";
const operators: OperatorProcess[] = [];

beforeAll(async () => {
  await installCrd();
  asUser = await restrictedNamespace("podsec-user");
  asImage = await restrictedNamespace("podsec-image");
  operators.push(
    new OperatorProcess({ namespaces: [asUser], extraArgs: ["--model-pod-user=1000"] }),
    new OperatorProcess({ namespaces: [asImage] }),
  );
  for (const operator of operators) await operator.start();
});

afterAll(async () => {
  for (const operator of operators) await stopSuite(operator);
});

describe("model pods under Pod Security restricted", () => {
  it("are admitted when the operator runs them as a non-root user", async () => {
    const endpoints = new Endpoints(kubeConfig(), asUser);
    await applyEndpoint(asUser, firstDeployment("fraud", "m1", 2));
    const m1 = await endpoints.waitForState("fraud", "m1", "DEPLOYED");
    expect(m1.availableReplicaCount).toBe(2);
    const pods = JSON.parse(await kubectl(["get", "pods", "-n", asUser, "-o", "json"])) as {
      items: { spec: { securityContext?: object; automountServiceAccountToken?: boolean } }[];
    };
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(pod.spec.automountServiceAccountToken).toBe(false);
    }
  });

  it("are refused as their image's user, and the status says what the admission said", async () => {
    const endpoints = new Endpoints(kubeConfig(), asImage);
    await applyEndpoint(asImage, firstDeployment("fraud", "m1", 2));
    await eventually("the refusal in m1's status message", async () => {
      const m1 = await endpoints.model("fraud", "m1");
      return (
        m1?.state === "BEING_DEPLOYED" && /pods cannot be created: .*runAsNonRoot/.test(m1.message ?? "")
      );
    });
    // What the refusal named is all it named: the rest of "restricted" the pods already pass.
    const message = (await endpoints.model("fraud", "m1"))?.message ?? "";
    expect(message).not.toMatch(/allowPrivilegeEscalation|capabilities|seccompProfile/);
  });
});
