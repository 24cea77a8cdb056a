/**
 * Where the control-plane binaries live. hack/controlplane-build.sh builds them from the wrapper
 * Go modules under hack/tools/ into a versioned cache outside the repository; this module computes
 * the same paths so the harness, the sandbox, the demo and the benchmarks find them.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** The repository root (two levels above this file). */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubectl: string;
  readonly kwok: string;
  readonly helm: string;
  /** metrics-server: serves metrics.k8s.io from kwok's simulated resource usage (resource-metrics.ts). */
  readonly metricsServer: string;
  /** Traefik, the Gateway API implementation of the local data plane. */
  readonly traefik: string;
  /** Folder of the Gateway API CRDs (standard channel) of the release Traefik is built against. */
  readonly gatewayApiCrds: string;
  /** The pinned Kubernetes release, e.g. "v1.37.2". */
  readonly kubernetesVersion: string;
}

export class BinariesMissingError extends Error {
  override readonly name = "BinariesMissingError";
}

/** The cache folder: $MEO_CACHE_DIR, else $XDG_CACHE_HOME/model-endpoint-operator, else ~/.cache/... */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["MEO_CACHE_DIR"]) return env["MEO_CACHE_DIR"];
  const base = env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache");
  return join(base, "model-endpoint-operator");
}

/** The version a wrapper module pins for `module`, read from hack/tools/<tool>/go.mod. */
export function pinnedVersion(tool: string, module: string, root = REPO_ROOT): string {
  const gomod = readFileSync(join(root, "hack", "tools", tool, "go.mod"), "utf8");
  for (const line of gomod.split("\n")) {
    const words = line.trim().split(/\s+/);
    const [first, second, third] = words;
    if (first === module && second) return second;
    if (first === "require" && second === module && third) return third;
  }
  throw new BinariesMissingError(`hack/tools/${tool}/go.mod does not require ${module}`);
}

/**
 * The paths of every binary, checked to exist. Throws BinariesMissingError naming `make
 * controlplane` when the cache is empty, so a user knows the one command that fixes it.
 */
export function findBinaries(env: NodeJS.ProcessEnv = process.env, root = REPO_ROOT): Binaries {
  const bin = join(cacheDir(env), "bin");
  const k8s = pinnedVersion("kubernetes", "k8s.io/kubernetes", root);
  const etcd = pinnedVersion("etcd", "go.etcd.io/etcd/server/v3", root);
  const kwok = pinnedVersion("kwok", "sigs.k8s.io/kwok", root);
  const helm = pinnedVersion("helm", "helm.sh/helm/v3", root);
  const metricsServer = pinnedVersion("metrics-server", "sigs.k8s.io/metrics-server", root);
  const traefik = pinnedVersion("traefik", "github.com/traefik/traefik/v3", root);
  const gatewayApi = pinnedVersion("traefik", "sigs.k8s.io/gateway-api", root);
  const paths: Binaries = {
    etcd: join(bin, `etcd-${etcd}`, "etcd"),
    kubeApiserver: join(bin, `kubernetes-${k8s}`, "kube-apiserver"),
    kubeControllerManager: join(bin, `kubernetes-${k8s}`, "kube-controller-manager"),
    kubeScheduler: join(bin, `kubernetes-${k8s}`, "kube-scheduler"),
    kubectl: join(bin, `kubernetes-${k8s}`, "kubectl"),
    kwok: join(bin, `kwok-${kwok}`, "kwok"),
    helm: join(bin, `helm-${helm}`, "helm"),
    metricsServer: join(bin, `metrics-server-${metricsServer}`, "metrics-server"),
    traefik: join(bin, `traefik-${traefik}`, "traefik"),
    gatewayApiCrds: join(bin, `gateway-api-${gatewayApi}`, "crds"),
    kubernetesVersion: k8s,
  };
  const files = [
    paths.etcd,
    paths.kubeApiserver,
    paths.kubeControllerManager,
    paths.kubeScheduler,
    paths.kubectl,
    paths.kwok,
    paths.helm,
    paths.metricsServer,
    paths.traefik,
    paths.gatewayApiCrds,
  ];
  const missing = files.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new BinariesMissingError(
      `control-plane binaries missing: ${missing.join(", ")}. Run 'make controlplane' (builds them with Go >= 1.26; the first build takes 10-25 minutes).`,
    );
  }
  return paths;
}
