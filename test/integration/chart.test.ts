/**
 * The Helm chart on the real control plane: lint, template output accepted by the API server,
 * install, and its RBAC proved sufficient (the operator, running out of cluster as the chart's
 * ServiceAccount, completes a rolling deployment) and minimal (that identity can do exactly what
 * docs/operator.md "Permissions" lists, nothing more), cluster-wide and in the namespaced mode.
 *
 * Pods of the chart's Deployment run on kwok nodes, so no container runs in cluster: the operator
 * process runs here, with a token of the chart's ServiceAccount and the flags the chart renders.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

import { findBinaries } from "../../src/testing/binaries.ts";
import { controlPlane, controlPlaneClient, createNamespace, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd, rollingEntry } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "charts", "model-endpoint-operator");
const HELM = findBinaries().helm;
/** The local helm build has no default Kubernetes version stamped in; the chart needs >= 1.33. */
const KUBE_VERSION = `--kube-version=${findBinaries().kubernetesVersion}`;

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly rules?: readonly Rule[];
  readonly spec?: unknown;
}

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

interface Container {
  readonly args: readonly string[];
  readonly env: readonly { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  readonly securityContext: Record<string, unknown>;
  readonly livenessProbe: { httpGet: { path: string; port: string } };
  readonly readinessProbe: { httpGet: { path: string; port: string } };
  readonly resources: { requests?: object; limits?: object };
}

interface DeploymentSpec {
  readonly replicas: number;
  readonly strategy?: { type: string };
  readonly template: {
    spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] };
  };
}

/** Runs a binary; rejects with its stderr. */
async function run(file: string, args: readonly string[], input?: string): Promise<string> {
  const child = execFileAsync(file, [...args], { maxBuffer: 32 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`${file} ${args.join(" ")}: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

const admin = (): string => `--kubeconfig=${controlPlane().kubeconfig}`;
const helm = (args: readonly string[]): Promise<string> => run(HELM, [admin(), ...args]);
const kubectlAs = (kubeconfig: string, args: readonly string[], input?: string): Promise<string> =>
  run(controlPlane().kubectl, [`--kubeconfig=${kubeconfig}`, ...args], input);

/** `helm template` of the chart with --set values; every manifest, parsed. */
async function template(namespace: string, values: readonly string[] = []): Promise<Manifest[]> {
  const out = await helm(["template", "meo", CHART, "-n", namespace, KUBE_VERSION, ...values]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function find(manifests: readonly Manifest[], kind: string, namespace?: string): Manifest[] {
  return manifests.filter(
    (m) => m.kind === kind && (namespace === undefined || m.metadata.namespace === namespace),
  );
}

function deploymentOf(manifests: readonly Manifest[]): DeploymentSpec {
  const [deployment] = find(manifests, "Deployment");
  return deployment?.spec as DeploymentSpec;
}

/** The operator's flags as the chart renders them, minus the port (a free one here, not :8080). */
function chartArgs(manifests: readonly Manifest[]): string[] {
  const container = deploymentOf(manifests).template.spec.containers[0];
  return (container?.args ?? []).filter((a) => !a.startsWith("--metrics-bind-address="));
}

/**
 * What `kubectl auth can-i --list` grants this identity in `namespace`, beyond what every
 * authenticated identity gets (discovery, self reviews): one "resource [names] verb" line each.
 */
async function grants(
  kubeconfig: string,
  namespace: string,
  baseline: ReadonlySet<string>,
): Promise<string[]> {
  const out = await kubectlAs(kubeconfig, ["auth", "can-i", "--list", "-n", namespace]);
  const lines = new Set<string>();
  for (const row of out.split("\n").slice(1)) {
    const match = /^(\S+)\s+\[\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]/.exec(row);
    if (match === null) continue; // a non-resource URL
    const [, resource, names, verbs] = match as unknown as [string, string, string, string];
    for (const verb of verbs.split(" ")) {
      const line = `${resource}${names === "" ? "" : ` [${names}]`} ${verb}`;
      if (!baseline.has(line)) lines.add(line);
    }
  }
  return [...lines].sort();
}

/** Every "resource verb" pair an identity without any binding is granted (system:authenticated). */
async function baselineGrants(namespace: string): Promise<Set<string>> {
  await run(controlPlane().kubectl, [admin(), "create", "serviceaccount", "nobody", "-n", namespace]);
  const kubeconfig = await controlPlaneClient().kubeconfigFor({
    serviceAccount: { namespace, name: "nobody" },
  });
  return new Set(await grants(kubeconfig, namespace, new Set()));
}

/** docs/operator.md "Permissions", as `kubectl auth can-i --list` prints them. */
const WORKLOAD_GRANTS = [
  "events.events.k8s.io create",
  "events.events.k8s.io patch",
  "endpointslices.discovery.k8s.io list",
  "endpointslices.discovery.k8s.io watch",
  "httproutes.gateway.networking.k8s.io create",
  "httproutes.gateway.networking.k8s.io delete",
  "httproutes.gateway.networking.k8s.io get",
  "httproutes.gateway.networking.k8s.io list",
  "httproutes.gateway.networking.k8s.io patch",
  "httproutes.gateway.networking.k8s.io watch",
  "poddisruptionbudgets.policy create",
  "poddisruptionbudgets.policy delete",
  "poddisruptionbudgets.policy get",
  "poddisruptionbudgets.policy list",
  "poddisruptionbudgets.policy patch",
  "poddisruptionbudgets.policy watch",
  "modelendpoints.serving.modelendpoint.io get",
  "modelendpoints.serving.modelendpoint.io list",
  "modelendpoints.serving.modelendpoint.io watch",
  "modelendpoints.serving.modelendpoint.io/status update",
  "pods list",
  "pods patch",
  "pods watch",
  "replicasets.apps create",
  "replicasets.apps delete",
  "replicasets.apps get",
  "replicasets.apps list",
  "replicasets.apps patch",
  "replicasets.apps watch",
  "services create",
  "services delete",
  "services get",
  "services list",
  "services watch",
].sort();
const LEASE_GRANTS = [
  "leases.coordination.k8s.io create",
  "leases.coordination.k8s.io [model-endpoint-operator] get",
  "leases.coordination.k8s.io [model-endpoint-operator] update",
];

/** Deploys m1 (2 replicas), rolls m2 onto it and waits until m2 is DEPLOYED and m1 REPLACED. */
async function rollOut(endpoints: Endpoints, name: string): Promise<void> {
  await applyEndpoint(endpoints.namespace, firstDeployment(name, "m1", 2));
  await endpoints.waitForState(name, "m1", "DEPLOYED");
  const manifest = firstDeployment(name, "m1", 2) as { spec: { deployedModels: object[] } };
  manifest.spec.deployedModels.push(
    rollingEntry("m2", "m1", "registry.example/fraud:2.0", {
      maxSurgeReplicas: 1,
      maxUnavailableReplicas: 0,
    }),
  );
  await applyEndpoint(endpoints.namespace, manifest);
  await endpoints.waitForState(name, "m2", "DEPLOYED");
  await endpoints.waitForState(name, "m1", "REPLACED");
  await endpoints.waitForCondition(name, "Ready", "True");
}

const kc = kubeConfig();
let baseline: Set<string>;

beforeAll(async () => {
  await installCrd();
  baseline = await baselineGrants(await createNamespace("chart-base"));
});

describe("the chart, rendered", () => {
  it("passes helm lint --strict with the defaults and with every option on", async () => {
    await helm(["lint", CHART, "--strict", KUBE_VERSION]);
    await helm([
      "lint",
      CHART,
      "--strict",
      KUBE_VERSION,
      "--set=watchNamespaces={a,b},replicas=2,serviceMonitor.enabled=true,grafanaDashboard.enabled=true",
      "--set=rbac.ownerReferencesPermissionEnforcement=true,image.digest=sha256:" + "0".repeat(64),
    ]);
  });

  it("is accepted by the API server (server-side dry run), cluster-wide and namespaced", async () => {
    const ns = await createNamespace("chart-dry");
    const watched = await createNamespace("chart-dry-w");
    for (const values of [
      [],
      [`--set=watchNamespaces={${watched}}`, "--set=replicas=2,grafanaDashboard.enabled=true"],
      ["--set=leaderElection.enabled=false,metrics.service.enabled=false"],
    ]) {
      const out = await helm(["template", "meo", CHART, "-n", ns, KUBE_VERSION, "--include-crds", ...values]);
      const applied = await run(
        controlPlane().kubectl,
        [admin(), "apply", "--server-side", "--dry-run=server", "-f", "-"],
        out,
      );
      expect(applied).toContain(
        "deployment.apps/meo-model-endpoint-operator serverside-applied (server dry run)",
      );
    }
  });

  it("renders a hardened Deployment with the documented flags, probes and downward-API env", async () => {
    const spec = deploymentOf(await template("meo-system"));
    const pod = spec.template.spec;
    const [container] = pod.containers;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container?.resources.requests).toBeDefined();
    expect(container?.resources.limits).toBeDefined();
    expect(container?.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container?.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container?.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath])).toEqual([
      ["POD_NAMESPACE", "metadata.namespace"],
      ["POD_NAME", "metadata.name"],
    ]);
    // Every flag the chart passes is one docs/operator.md documents.
    const documented = readFileSync(join(ROOT, "docs", "operator.md"), "utf8");
    for (const arg of container?.args ?? []) expect(documented).toContain(`\`${arg.split("=")[0] ?? ""} `);
    expect(container?.args).toContain("--leader-elect=true");
  });

  it("keeps leader election on with several replicas, and refuses invalid values", async () => {
    expect(chartArgs(await template("x", ["--set=replicas=3"]))).toContain("--leader-elect=true");
    expect(deploymentOf(await template("x", ["--set=leaderElection.enabled=false"])).strategy).toEqual({
      type: "Recreate",
    });
    await expect(template("x", ["--set=replicas=2,leaderElection.enabled=false"])).rejects.toThrow(
      /leaderElection.enabled=false needs replicas: 1/,
    );
    await expect(template("x", ["--set=watchNamespaces={Not_A_Namespace}"])).rejects.toThrow(
      /watchNamespaces\/0.*does not match pattern/,
    );
    await expect(template("x", ["--set=workers=0"])).rejects.toThrow(/workers/);
    await expect(template("x", ["--set=unknownValue=1"])).rejects.toThrow(/additional properties/i);
  });

  it("renders the ServiceMonitor and a dashboard whose every metric the operator documents", async () => {
    const manifests = await template("meo-system", [
      "--set=serviceMonitor.enabled=true,grafanaDashboard.enabled=true,serviceMonitor.labels.release=prom",
    ]);
    const [monitor] = find(manifests, "ServiceMonitor");
    expect(monitor?.spec).toMatchObject({ endpoints: [{ port: "metrics", path: "/metrics" }] });
    const [dashboard] = find(manifests, "ConfigMap");
    const json = (dashboard as unknown as { data: Record<string, string> }).data[
      "model-endpoint-operator.json"
    ];
    const documented = readFileSync(join(ROOT, "docs", "operator.md"), "utf8");
    const metrics = new Set(json?.match(/modelendpoint_[a-z_]+/g) ?? []);
    expect(metrics.size).toBeGreaterThan(8);
    for (const metric of metrics) {
      expect(documented, metric).toContain(metric.replace(/_(bucket|sum|count)$/, ""));
    }
  });
});

describe("the kind quickstart's examples", () => {
  it("are accepted by the API server once rewritten to the reference model server", async () => {
    const ns = await createNamespace("chart-kind");
    for (const file of ["01-first-deployment", "02-rolling-deployment", "03-rollback", "04-traffic-split"]) {
      const manifest = await run(join(ROOT, "node_modules", ".bin", "node"), [
        join(ROOT, "scripts", "kind-example.ts"),
        join(ROOT, "examples", `${file}.yaml`),
      ]);
      // The server's image runs by its own entrypoint: no example arguments reach it.
      const models = (JSON.parse(manifest) as { spec: { deployedModels: { containerSpec: object }[] } }).spec
        .deployedModels;
      for (const { containerSpec } of models) {
        expect(containerSpec).toMatchObject({ imageUri: "model-server:dev" });
        expect(containerSpec).not.toHaveProperty("args");
        expect(containerSpec).not.toHaveProperty("command");
      }
      await run(
        controlPlane().kubectl,
        [admin(), "apply", "--server-side", "--dry-run=server", "-n", ns, "-f", "-"],
        manifest,
      );
    }
  });
});

describe("the chart, installed cluster-wide (the default)", () => {
  let releaseNs = "";
  let workNs = "";
  let saKubeconfig = "";
  let operator: OperatorProcess | undefined;
  let endpoints: Endpoints;

  beforeAll(async () => {
    releaseNs = await createNamespace("chart-rel");
    workNs = await createNamespace("chart-work");
    endpoints = new Endpoints(kc, workNs);
  });

  afterAll(async () => {
    if (operator === undefined) return;
    await operator.stop();
    expect(operator.problems()).toEqual([]);
  });

  it("helm install creates the ServiceAccount, cluster RBAC, Lease Role, Service and a Deployment that becomes available", async () => {
    await helm([
      "install",
      "meo",
      CHART,
      "-n",
      releaseNs,
      "--set=grafanaDashboard.enabled=true",
      "--wait",
      "--timeout=90s",
    ]);
    const out = await run(controlPlane().kubectl, [
      admin(),
      "get",
      "-n",
      releaseNs,
      "serviceaccount,role,rolebinding,service,deployment,configmap",
      "-l",
      "app.kubernetes.io/instance=meo",
      "-o",
      "name",
    ]);
    expect(out.trim().split("\n").sort()).toEqual([
      "configmap/meo-model-endpoint-operator-dashboard",
      "deployment.apps/meo-model-endpoint-operator",
      "role.rbac.authorization.k8s.io/meo-model-endpoint-operator-leader-election",
      "rolebinding.rbac.authorization.k8s.io/meo-model-endpoint-operator-leader-election",
      "service/meo-model-endpoint-operator-metrics",
      "serviceaccount/meo-model-endpoint-operator",
    ]);
    await run(controlPlane().kubectl, [
      admin(),
      "get",
      "clusterrole/meo-model-endpoint-operator",
      "clusterrolebinding/meo-model-endpoint-operator",
    ]);
    const available = await run(controlPlane().kubectl, [
      admin(),
      "get",
      "-n",
      releaseNs,
      "deployment/meo-model-endpoint-operator",
      "-o",
      "jsonpath={.status.availableReplicas}",
    ]);
    expect(available).toBe("1");
  });

  it("grants the ServiceAccount exactly the documented permissions, and refuses the rest", async () => {
    saKubeconfig = await controlPlaneClient().kubeconfigFor({
      serviceAccount: { namespace: releaseNs, name: "meo-model-endpoint-operator" },
    });
    expect(await grants(saKubeconfig, workNs, baseline)).toEqual(WORKLOAD_GRANTS);
    expect(await grants(saKubeconfig, releaseNs, baseline)).toEqual(
      [...WORKLOAD_GRANTS, ...LEASE_GRANTS].sort(),
    );
    // Cluster-wide reads work (all namespaces), as the informers do them.
    await kubectlAs(saKubeconfig, ["get", "modelendpoints,replicasets,pods,services", "-A"]);
    // Verbs the chart did not grant, as real requests.
    for (const args of [
      ["delete", "modelendpoint", "anything", "-n", workNs],
      ["get", "secrets", "-n", workNs],
      ["get", "configmaps", "-n", workNs],
      ["create", "deployment", "x", "--image=x", "-n", workNs],
      ["get", "lease", "another-lease", "-n", releaseNs],
      ["get", "leases", "-n", workNs],
      ["get", "nodes"],
    ]) {
      await expect(kubectlAs(saKubeconfig, args), args.join(" ")).rejects.toThrow(/Forbidden|forbidden/);
    }
  });

  it("is enough for the operator, run as that ServiceAccount with the chart's flags, to complete a rolling deployment", async () => {
    const manifests = await template(releaseNs);
    operator = new OperatorProcess({
      // Watches are limited to this file's namespace so that endpoints other test files left behind
      // stay untouched; the cluster-wide lists above prove the ClusterRole covers every namespace.
      namespaces: [workNs],
      kubeconfig: saKubeconfig,
      extraArgs: [...chartArgs(manifests), `--lease-namespace=${releaseNs}`],
    });
    await operator.start();
    await rollOut(endpoints, "rbac");
    const lease = await run(controlPlane().kubectl, [
      admin(),
      "get",
      "lease",
      "model-endpoint-operator",
      "-n",
      releaseNs,
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]);
    expect(lease).toBe(operator.identity);
    // Every metric the dashboard charts is one the running operator exports.
    const exported = await operator.metrics();
    const dashboard = readFileSync(join(CHART, "dashboards", "model-endpoint-operator.json"), "utf8");
    for (const metric of new Set(dashboard.match(/modelendpoint_[a-z_]+/g) ?? [])) {
      const family = metric.replace(/_(bucket|sum|count)$/, "");
      expect(exported, metric).toContain(`# TYPE ${family} `);
    }
  });

  it("helm uninstall removes what it installed and keeps the CRD (and with it every endpoint)", async () => {
    await helm(["uninstall", "meo", "-n", releaseNs, "--wait"]);
    await expect(
      run(controlPlane().kubectl, [admin(), "get", "clusterrole/meo-model-endpoint-operator"]),
    ).rejects.toThrow(/NotFound/);
    await run(controlPlane().kubectl, [admin(), "get", "crd/modelendpoints.serving.modelendpoint.io"]);
    expect((await endpoints.get("rbac")).status?.conditions?.length).toBe(4);
  });
});

describe("the chart, namespaced (watchNamespaces)", () => {
  let releaseNs = "";
  let watched = "";
  let other = "";
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    releaseNs = await createNamespace("chart-nrel");
    watched = await createNamespace("chart-watched");
    other = await createNamespace("chart-other");
  });

  afterAll(async () => {
    if (operator === undefined) return;
    await operator.stop();
    expect(operator.problems()).toEqual([]);
  });

  it("creates Roles only in the watched namespace and the release namespace, and no cluster role", async () => {
    await helm([
      "install",
      "meo-ns",
      CHART,
      "-n",
      releaseNs,
      `--set=watchNamespaces={${watched}}`,
      "--wait",
      "--timeout=90s",
    ]);
    const roles = await run(controlPlane().kubectl, [
      admin(),
      "get",
      "roles",
      "-A",
      "-l",
      "app.kubernetes.io/instance=meo-ns",
      "-o",
      'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
    ]);
    expect(roles.trim().split("\n").sort()).toEqual(
      [
        `${releaseNs}/meo-ns-model-endpoint-operator-leader-election`,
        `${watched}/meo-ns-model-endpoint-operator`,
      ].sort(),
    );
    const cluster = await run(controlPlane().kubectl, [
      admin(),
      "get",
      "clusterroles,clusterrolebindings",
      "-l",
      "app.kubernetes.io/instance=meo-ns",
      "-o",
      "name",
    ]);
    expect(cluster.trim()).toBe("");
  });

  it("never lets its identity read other namespaces, and the operator works in its own", async () => {
    const saKubeconfig = await controlPlaneClient().kubeconfigFor({
      serviceAccount: { namespace: releaseNs, name: "meo-ns-model-endpoint-operator" },
    });
    expect(await grants(saKubeconfig, watched, baseline)).toEqual(WORKLOAD_GRANTS);
    expect(await grants(saKubeconfig, other, baseline)).toEqual([]);
    for (const args of [
      ["get", "modelendpoints", "-n", other],
      ["get", "pods", "-n", other],
      ["get", "modelendpoints", "-A"],
      ["get", "replicasets", "-A"],
    ]) {
      await expect(kubectlAs(saKubeconfig, args), args.join(" ")).rejects.toThrow(/Forbidden|forbidden/);
    }
    const manifests = await template(releaseNs, [`--set=watchNamespaces={${watched}}`]);
    const args = chartArgs(manifests);
    expect(args).toContain(`--namespaces=${watched}`);
    // An endpoint in a namespace the release does not watch: it must stay untouched.
    await applyEndpoint(other, firstDeployment("outside", "m1", 1));
    const scoped = new OperatorProcess({
      namespaces: [watched],
      kubeconfig: saKubeconfig,
      extraArgs: [...args, `--lease-namespace=${releaseNs}`],
    });
    operator = scoped;
    await scoped.start();
    await rollOut(new Endpoints(kc, watched), "scoped");
    expect((await new Endpoints(kc, other).get("outside")).status).toBeUndefined();
    expect(scoped.tail(10_000)).not.toMatch(/forbidden/i);
  });
});
