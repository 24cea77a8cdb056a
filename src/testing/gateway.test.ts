/**
 * startGateway's refusals and the objects and flags it uses; the gateway itself runs in the
 * integration suite (test/integration/gateway.test.ts).
 */
import { describe, expect, it } from "vitest";

import { BinariesMissingError, type Binaries } from "./binaries.ts";
import { gatewayObjects, PROVIDERS_THROTTLE, startGateway, traefikArgs } from "./gateway.ts";

const missing: Binaries = {
  etcd: "/nonexistent/etcd",
  kubeApiserver: "/nonexistent/kube-apiserver",
  kubeControllerManager: "/nonexistent/kube-controller-manager",
  kubeScheduler: "/nonexistent/kube-scheduler",
  kubectl: "/nonexistent/kubectl",
  kwok: "/nonexistent/kwok",
  helm: "/nonexistent/helm",
  metricsServer: "/nonexistent/metrics-server",
  traefik: "/nonexistent/traefik",
  gatewayApiCrds: "/nonexistent/crds",
  kubernetesVersion: "v0.0.0",
};

describe("startGateway", () => {
  it("names make controlplane when Traefik is missing, before touching the cluster", async () => {
    const started = startGateway({ kubeconfig: "/nonexistent/kubeconfig", binaries: missing, dir: "/tmp" });
    await expect(started).rejects.toThrow(BinariesMissingError);
    await expect(started).rejects.toThrow(
      /traefik missing at \/nonexistent\/traefik. Run 'make controlplane'/,
    );
  });

  it("gives the Gateway's listener the HTTP entryPoint's port, the one Traefik maps it by", () => {
    const args = traefikArgs({ http: 41000, ping: 41001 });
    expect(args).toContain("--entryPoints.web.address=127.0.0.1:41000");
    expect(args).toContain("--ping.entryPoint=ping");
    expect(args).toContain(`--providers.providersThrottleDuration=${PROVIDERS_THROTTLE}`);
    const gateway = gatewayObjects(41000).find((o) => (o as { kind: string }).kind === "Gateway") as {
      spec: { listeners: { port: number; protocol: string }[] };
    };
    expect(gateway.spec.listeners).toEqual([
      expect.objectContaining({
        port: 41000,
        protocol: "HTTP",
        allowedRoutes: { namespaces: { from: "All" } },
      }),
    ]);
  });
});
