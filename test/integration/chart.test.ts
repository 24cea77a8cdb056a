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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

import { loadConfig, placementProfile } from "../../src/config.ts";
import { findBinaries } from "../../src/testing/binaries.ts";
import { freePort, waitFor } from "../../src/testing/harness.ts";
import { Supervised } from "../../src/testing/process.ts";
import { controlPlane, controlPlaneClient, createNamespace, eventually, kubeConfig } from "./context.ts";
import { applyEndpoint, Endpoints, firstDeployment, installCrd, rollingEntry } from "./endpoints.ts";
import { OperatorProcess } from "./operator-process.ts";

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "charts", "model-endpoint-operator");
const HELM = findBinaries().helm;
/** The local helm build has no default Kubernetes version stamped in; the chart needs >= 1.33. */
const KUBE_VERSION = `--kube-version=${findBinaries().kubernetesVersion}`;
/** The Vertex AI API server's objects in release "meo" (vertexApi.enabled). */
const VERTEX_API = "meo-model-endpoint-operator-vertex-api";

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly annotations?: Record<string, string>;
  };
  readonly rules?: readonly Rule[];
  readonly subjects?: readonly { readonly kind: string; readonly name: string }[];
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
  readonly env: readonly { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
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

/**
 * The hardening both Deployments have: non-root with the RuntimeDefault seccomp profile, no
 * privilege (escalation), a read-only root filesystem, no capabilities, and resources set.
 */
function expectHardened(
  pod: { readonly securityContext: Record<string, unknown> },
  container:
    | {
        readonly securityContext: Record<string, unknown>;
        readonly resources: { requests?: object; limits?: object };
      }
    | undefined,
): void {
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

/** The script the image's node runs: args replace the image's CMD, so the chart names it first. */
const OPERATOR_SCRIPT = "/app/src/main.ts";

/**
 * The operator's flags as the chart renders them, minus the script and the port (a free one here,
 * not :8080).
 */
function chartArgs(manifests: readonly Manifest[]): string[] {
  const args = deploymentOf(manifests).template.spec.containers[0]?.args ?? [];
  const at = args.indexOf(OPERATOR_SCRIPT);
  // node's own flags come before it; "sizes V8's heap ..." pins them.
  expect(at, "the script, after node's own flags").toBeGreaterThanOrEqual(0);
  return args.slice(at + 1).filter((a) => !a.startsWith("--metrics-bind-address="));
}

/** node's own flags, before the script. */
function nodeArgs(manifests: readonly Manifest[]): string[] {
  const args = deploymentOf(manifests).template.spec.containers[0]?.args ?? [];
  return args.slice(0, args.indexOf(OPERATOR_SCRIPT));
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
  "pods.metrics.k8s.io list",
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
      "--set=vertexApi.enabled=true,vertexApi.tls.secretName=vertex-api-tls",
    ]);
  });

  it("is accepted by the API server (server-side dry run), cluster-wide, namespaced and with the Vertex AI API server", async () => {
    const ns = await createNamespace("chart-dry");
    const watched = await createNamespace("chart-dry-w");
    const applied = (object: string): string => `${object} serverside-applied (server dry run)`;
    const operator = [
      applied("deployment.apps/meo-model-endpoint-operator"),
      applied("validatingadmissionpolicy.admissionregistration.k8s.io/meo-model-endpoint-operator-limits"),
      applied(
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/meo-model-endpoint-operator-limits",
      ),
      applied("prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/meo-model-endpoint-operator"),
      applied("flowschema.flowcontrol.apiserver.k8s.io/meo-model-endpoint-operator"),
    ];
    for (const [values, expected] of [
      [[], operator],
      [[`--set=watchNamespaces={${watched}}`, "--set=replicas=2,grafanaDashboard.enabled=true"], operator],
      [["--set=leaderElection.enabled=false,metrics.service.enabled=false"], operator],
      [
        [
          "--set=vertexApi.enabled=true,vertexApi.tls.secretName=vertex-api-tls,vertexApi.replicas=2",
          "--set=vertexApi.projectNamespaces.my-project=ml,vertexApi.gatewayUrl=http://gateway.gateway-system.svc",
        ],
        [
          ...operator,
          applied(`deployment.apps/${VERTEX_API}`),
          applied(`service/${VERTEX_API}`),
          applied(`serviceaccount/${VERTEX_API}`),
          applied(`clusterrole.rbac.authorization.k8s.io/${VERTEX_API}`),
          applied(`clusterrolebinding.rbac.authorization.k8s.io/${VERTEX_API}`),
        ],
      ],
    ] as const) {
      const out = await helm(["template", "meo", CHART, "-n", ns, KUBE_VERSION, "--include-crds", ...values]);
      const answer = await run(
        controlPlane().kubectl,
        [admin(), "apply", "--server-side", "--dry-run=server", "-f", "-"],
        out,
      );
      for (const line of expected) expect(answer).toContain(line);
    }
  });

  it("refuses replica counts and budgets above admissionLimits, naming the deployed model (a ValidatingAdmissionPolicy)", async () => {
    const ns = await createNamespace("chart-limits");
    const manifests = await template("meo-system", [
      "--set=admissionLimits.maxReplicaCount=4,admissionLimits.maxBudgetReplicas=1",
    ]);
    const name = `limits-${ns}`;
    // The rendered policy and binding, under a name of this test's, bound to its namespace only:
    // the API server is shared with the other tests.
    const policy = { ...named(manifests, "ValidatingAdmissionPolicy", "meo-model-endpoint-operator-limits") };
    const binding = named(
      manifests,
      "ValidatingAdmissionPolicyBinding",
      "meo-model-endpoint-operator-limits",
    );
    const objects = [
      { ...policy, metadata: { ...policy.metadata, name } },
      {
        ...binding,
        metadata: { ...binding.metadata, name },
        spec: {
          ...(binding.spec as object),
          policyName: name,
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } },
        },
      },
    ];
    const kubectl = (args: readonly string[], input?: string): Promise<string> =>
      run(controlPlane().kubectl, [admin(), ...args], input);
    await kubectl(["apply", "-f", "-"], objects.map((o) => JSON.stringify(o)).join("\n"));
    try {
      // The policy takes effect once the API server has compiled it.
      const message = await eventually("the policy refusing 5 replicas", async () => {
        const refused = await applyEndpoint(ns, firstDeployment("big", "m1", 5)).then(
          () => undefined,
          (err: unknown) => String(err),
        );
        if (refused === undefined) await kubectl(["delete", "modelendpoint", "big", "-n", ns]);
        return refused;
      });
      expect(message).toMatch(
        /deployed model m1: minReplicaCount and maxReplicaCount may be at most 4 in this cluster \(admissionLimits\.maxReplicaCount\)/,
      );
      await applyEndpoint(ns, firstDeployment("fits", "m1", 4));
      const rolling = firstDeployment("fits", "m1", 4) as { spec: { deployedModels: object[] } };
      rolling.spec.deployedModels.push(
        rollingEntry("m2", "m1", "registry.example/fraud:2.0", {
          maxSurgeReplicas: 2,
          maxUnavailableReplicas: 0,
        }),
      );
      await expect(applyEndpoint(ns, rolling)).rejects.toThrow(
        /deployed model m2: maxSurgeReplicas and maxUnavailableReplicas may be at most 1 in this cluster/,
      );
    } finally {
      await kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name]);
    }
    const off = await template("meo-system", ["--set=admissionLimits.enabled=false"]);
    expect(off.filter((m) => m.kind.startsWith("ValidatingAdmissionPolicy"))).toEqual([]);
  });

  it("gives the operator's ServiceAccount a priority level of its own (API Priority and Fairness), unless apiPriority.enabled=false", async () => {
    const manifests = await template("meo-system", ["--set=serviceAccount.name=meo-sa"]);
    const level = named(manifests, "PriorityLevelConfiguration", "meo-model-endpoint-operator");
    expect(level.spec).toMatchObject({ type: "Limited", limited: { nominalConcurrencyShares: 30 } });
    const schema = named(manifests, "FlowSchema", "meo-model-endpoint-operator");
    expect(schema.spec).toMatchObject({
      priorityLevelConfiguration: { name: "meo-model-endpoint-operator" },
      // Before service-accounts (9000), where every other ServiceAccount goes.
      matchingPrecedence: 1000,
      rules: [
        {
          subjects: [{ kind: "ServiceAccount", serviceAccount: { name: "meo-sa", namespace: "meo-system" } }],
        },
      ],
    });
    expect(deploymentOf(manifests).template.spec.serviceAccountName).toBe("meo-sa");
    const off = await template("meo-system", ["--set=apiPriority.enabled=false"]);
    expect(off.filter((m) => m.apiVersion.startsWith("flowcontrol."))).toEqual([]);
    await expect(template("x", ["--set=apiPriority.matchingPrecedence=10000"])).rejects.toThrow(
      /apiPriority\/matchingPrecedence/,
    );
  });

  it("renders a hardened Deployment with the documented flags, probes and downward-API env", async () => {
    const manifests = await template("meo-system");
    const spec = deploymentOf(manifests);
    const pod = spec.template.spec;
    const [container] = pod.containers;
    expectHardened(pod, container);
    expect(container?.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container?.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container?.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value])).toEqual([
      ["POD_NAMESPACE", "metadata.namespace"],
      ["POD_NAME", "metadata.name"],
      ["MALLOC_ARENA_MAX", "2"],
    ]);
    // Every flag the chart passes is one docs/operator.md documents.
    const documented = readFileSync(join(ROOT, "docs", "operator.md"), "utf8");
    for (const arg of chartArgs(manifests)) expect(documented).toContain(`\`${arg.split("=")[0] ?? ""} `);
    expect(container?.args).toContain("--leader-elect=true");
  });

  it("sizes V8's heap from the container's memory limit with flags this Node accepts, and not without a limit", async () => {
    const flags = nodeArgs(await template("x"));
    expect(flags).toEqual(["--max-old-space-size-percentage=75", "--max-semi-space-size=4"]);
    // The image's node and this one are both Node 24: an unknown flag would stop it at once.
    await run(process.execPath, [...flags, "-e", "0"]);
    await expect(run(process.execPath, ["--max-old-space-size-percentag=75", "-e", "0"])).rejects.toThrow(
      /bad option/,
    );
    expect(nodeArgs(await template("x", ["--set=heapLimitPercent=0"]))).toEqual(["--max-semi-space-size=4"]);
    // Without a memory limit the percentage would be of the node's memory.
    expect(nodeArgs(await template("x", ["--set=resources.limits=null"]))).toEqual([
      "--max-semi-space-size=4",
    ]);
    expect(nodeArgs(await template("x", ["--set=heapLimitPercent=0", "--set=semiSpaceMiB=0"]))).toEqual([]);
    await expect(template("x", ["--set=heapLimitPercent=101"])).rejects.toThrow(/heapLimitPercent/);
    await expect(template("x", ["--set=semiSpaceMiB=-1"])).rejects.toThrow(/semiSpaceMiB/);
  });

  it("holds glibc's malloc to the arenas the values give, and leaves its default with 0", async () => {
    const env = async (set: string[]) =>
      deploymentOf(await template("x", set)).template.spec.containers[0]?.env.filter(
        (e) => e.name === "MALLOC_ARENA_MAX",
      );
    expect(await env([])).toEqual([{ name: "MALLOC_ARENA_MAX", value: "2" }]);
    expect(await env(["--set=mallocArenaMax=4"])).toEqual([{ name: "MALLOC_ARENA_MAX", value: "4" }]);
    expect(await env(["--set=mallocArenaMax=0"])).toEqual([]);
    await expect(template("x", ["--set=mallocArenaMax=two"])).rejects.toThrow(/mallocArenaMax/);
  });

  it("passes the placement values as the operator's --placement-* flags, which it accepts", async () => {
    const flags = (args: string[]) => args.filter((a) => a.startsWith("--placement-"));
    expect(flags(chartArgs(await template("x")))).toEqual([
      "--placement-profile=generic",
      "--placement-instance-type-selector=true",
      "--placement-daemonset-reserve=cpu=200m,memory=256Mi",
    ]);
    const gke = flags(
      chartArgs(
        await template("x", [
          "--set=placement.profile=gke",
          "--set=placement.instanceTypeSelector=false",
          "--set=placement.daemonSetReserve.memory=1Gi",
          "--set=placement.acceleratorLabels.NVIDIA_L4=l4-pool",
          "--set=placement.acceleratorLabels.NVIDIA_B200=b200",
        ]),
      ),
    );
    expect(gke).toEqual([
      "--placement-profile=gke",
      "--placement-instance-type-selector=false",
      "--placement-daemonset-reserve=cpu=200m,memory=1Gi",
      "--placement-accelerator-labels=NVIDIA_B200=b200,NVIDIA_L4=l4-pool",
    ]);
    const config = loadConfig(gke, {}, false);
    expect(config === "help" ? undefined : placementProfile(config)).toMatchObject({
      name: "gke",
      instanceTypeSelector: false,
      daemonSetReserve: { cpuMillis: 200, memoryMi: 1024 },
      acceleratorLabels: { NVIDIA_L4: "l4-pool", NVIDIA_B200: "b200", NVIDIA_TESLA_T4: "nvidia-tesla-t4" },
    });
    for (const bad of ["--set=placement.profile=eks", "--set=placement.acceleratorLabels.NVIDIA_K80=k80"]) {
      await expect(template("x", [bad]), bad).rejects.toThrow(/placement|NVIDIA_K80/);
    }
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

interface VertexApiDeployment {
  readonly replicas: number;
  readonly selector: { readonly matchLabels: Record<string, string> };
  readonly template: {
    readonly metadata: { readonly labels: Record<string, string> };
    readonly spec: {
      readonly serviceAccountName: string;
      readonly automountServiceAccountToken: boolean;
      readonly securityContext: Record<string, unknown>;
      readonly containers: readonly {
        readonly args: readonly string[];
        readonly ports: readonly object[];
        readonly securityContext: Record<string, unknown>;
        readonly readinessProbe: Record<string, unknown>;
        readonly livenessProbe: Record<string, unknown>;
        readonly resources: { requests?: object; limits?: object };
        readonly volumeMounts: readonly { name: string; mountPath: string; readOnly?: boolean }[];
      }[];
      readonly volumes: readonly ({ readonly name: string } & Record<string, unknown>)[];
    };
  };
}

function named(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} rendered`);
  return found;
}

function vertexApiOf(manifests: readonly Manifest[]): VertexApiDeployment {
  return named(manifests, "Deployment", VERTEX_API).spec as VertexApiDeployment;
}

describe("the Vertex AI API server in the chart (vertexApi)", () => {
  it("renders nothing of it unless vertexApi.enabled", async () => {
    const manifests = await template("meo-system");
    expect(manifests.filter((m) => m.metadata.name.includes("vertex-api"))).toEqual([]);
    expect(find(manifests, "Deployment").map((m) => m.metadata.name)).toEqual([
      "meo-model-endpoint-operator",
    ]);
  });

  it("renders a hardened Deployment with the values as flags, TCP probes, a Service, and a ServiceAccount that may only read", async () => {
    const manifests = await template("meo-system", [
      "--set=vertexApi.enabled=true,vertexApi.replicas=2,vertexApi.port=9443,vertexApi.tls.secretName=vertex-api-tls",
      "--set=vertexApi.projectNamespaces.my-project=ml,vertexApi.projectNamespaces.123456789=ml-staging",
      "--set=vertexApi.gatewayUrl=http://gateway.gateway-system.svc,dataPlane.location=europe-west4",
      "--set=vertexApi.service.type=LoadBalancer,vertexApi.service.annotations.team=ml",
    ]);
    const deployment = vertexApiOf(manifests);
    const pod = deployment.template.spec;
    const [container] = pod.containers;
    expect(deployment.replicas).toBe(2);
    expect(container?.args).toEqual([
      "--max-semi-space-size=4",
      "/app/src/vertex/main.ts",
      "--port=9443",
      // Not set: dataPlane.location, the path of the operator's HTTPRoutes behind the Gateway.
      "--location=europe-west4",
      "--project-namespace=123456789=ml-staging",
      "--project-namespace=my-project=ml",
      "--gateway-url=http://gateway.gateway-system.svc",
      "--tls-cert=/etc/vertex-api/tls/tls.crt",
      "--tls-key=/etc/vertex-api/tls/tls.key",
    ]);
    expect(container?.ports).toEqual([{ name: "api", containerPort: 9443, protocol: "TCP" }]);
    for (const probe of [container?.readinessProbe, container?.livenessProbe]) {
      expect(probe).toMatchObject({ tcpSocket: { port: "api" } });
      expect(probe).not.toHaveProperty("httpGet");
    }
    // The operator's hardening, from the same values.
    expect(pod.securityContext).toEqual(deploymentOf(manifests).template.spec.securityContext);
    expectHardened(pod, container);
    // Its own ServiceAccount, whose token fills the caches (in-cluster credentials).
    expect(pod.serviceAccountName).toBe(VERTEX_API);
    expect(pod.automountServiceAccountToken).toBe(true);
    // The TLS Secret, read-only.
    expect(container?.volumeMounts).toContainEqual({
      name: "tls",
      mountPath: "/etc/vertex-api/tls",
      readOnly: true,
    });
    expect(pod.volumes).toContainEqual(
      expect.objectContaining({
        name: "tls",
        secret: expect.objectContaining({ secretName: "vertex-api-tls" }),
      }),
    );
    // The Service reaches these pods and only these: the operator's selectors do not match them.
    const service = named(manifests, "Service", VERTEX_API);
    expect(service.metadata.annotations).toEqual({ team: "ml" });
    expect(service.spec).toMatchObject({
      type: "LoadBalancer",
      selector: deployment.selector.matchLabels,
      ports: [{ name: "https", appProtocol: "https", port: 9443, targetPort: "api", protocol: "TCP" }],
    });
    expect(deployment.template.metadata.labels).toMatchObject(deployment.selector.matchLabels);
    const operatorSelector = (
      named(manifests, "Service", "meo-model-endpoint-operator-metrics").spec as {
        selector: Record<string, string>;
      }
    ).selector;
    expect(deployment.template.metadata.labels).not.toMatchObject(operatorSelector);
    // Read-only: one ClusterRole with get/list/watch only, bound to its ServiceAccount alone.
    const role = named(manifests, "ClusterRole", VERTEX_API) as Manifest & {
      rules: { verbs: string[]; resources: string[] }[];
    };
    expect(role.rules.flatMap((r) => r.verbs).every((v) => ["get", "list", "watch"].includes(v))).toBe(true);
    expect(role.rules.flatMap((r) => r.resources).sort()).toEqual([
      "endpointslices",
      "modelendpoints",
      "models",
    ]);
    for (const binding of manifests) {
      if ((binding.subjects ?? []).some((s) => s.name === VERTEX_API)) {
        expect(`${binding.kind}/${binding.metadata.name}`).toBe(`ClusterRoleBinding/${VERTEX_API}`);
      }
    }
  });

  it("refuses invalid vertexApi values", async () => {
    const refused: [string, RegExp][] = [
      ["vertexApi.port=0", /vertexApi\/port/],
      [
        "vertexApi.projectNamespaces.my-project=Not_A_Namespace",
        /projectNamespaces\/my-project.*does not match pattern/,
      ],
      ["vertexApi.gatewayUrl=gateway.gateway-system.svc", /gatewayUrl.*does not match pattern/],
      ["vertexApi.gatewayUrl=http://gateway.gateway-system.svc/", /gatewayUrl.*does not match pattern/],
      ["vertexApi.service.type=ExternalName", /vertexApi\/service\/type/],
      ["vertexApi.tls=vertex-api-tls", /vertexApi\/tls/],
      ["vertexApi.token=x", /additional properties/i],
      [
        "vertexApi.enabled=true,vertexApi.gatewayUrl=http://gateway.gateway-system.svc,vertexApi.location=europe-west4",
        /vertexApi.location europe-west4 differs from dataPlane.location us-central1/,
      ],
    ];
    for (const [values, message] of refused) {
      await expect(template("x", [`--set=${values}`]), values).rejects.toThrow(message);
    }
  });

  describe("run as the chart runs it", () => {
    let dir = "";
    let server: Supervised | undefined;

    afterAll(async () => {
      await server?.stop();
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    it("fills its caches as its own read-only ServiceAccount and answers as its caller's token", async () => {
      const ns = await createNamespace("chart-vx");
      const releaseNs = await createNamespace("chart-vx-sa");
      const manifests = await template(releaseNs, [
        "--set=vertexApi.enabled=true",
        `--set=vertexApi.projectNamespaces.my-project=${ns}`,
      ]);
      const pod = vertexApiOf(manifests).template.spec;
      const [container] = pod.containers;
      // In the pod, the ServiceAccount's token is its identity (in-cluster credentials). Here:
      // the chart's ServiceAccount and read-only RBAC applied, and a kubeconfig with its token.
      const kubectl = (args: readonly string[], input?: string): Promise<string> =>
        run(controlPlane().kubectl, [admin(), ...args], input);
      const own = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].map((kind) =>
        named(manifests, kind, VERTEX_API),
      );
      await kubectl(["apply", "-f", "-"], own.map((m) => JSON.stringify(m)).join("\n"));
      const ownToken = (await kubectl(["create", "token", VERTEX_API, "-n", releaseNs])).trim();
      dir = mkdtempSync(join(tmpdir(), "chart-vertex-api-"));
      const suite = kubeConfig().getCurrentCluster();
      writeFileSync(
        join(dir, "kubeconfig"),
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [
            { name: "c", cluster: { server: suite?.server, "certificate-authority-data": suite?.caData } },
          ],
          users: [{ name: "vertex-api", user: { token: ownToken } }],
          contexts: [{ name: "c", context: { cluster: "c", user: "vertex-api" } }],
          "current-context": "c",
        }),
      );
      expect(container?.args.some((arg) => arg.startsWith("--kubeconfig"))).toBe(false);
      const port = await freePort();
      const args = (container?.args ?? []).map((arg) =>
        arg.startsWith("/app/")
          ? join(ROOT, arg.slice("/app/".length)) // the image's WORKDIR holds the repository's src/
          : arg.startsWith("--port=")
            ? `--port=${String(port)}`
            : arg,
      );
      args.push(`--kubeconfig=${join(dir, "kubeconfig")}`);
      const started = Supervised.start({
        name: "vertex-api",
        command: join(ROOT, "node_modules", ".bin", "node"),
        args,
        logFile: join(dir, "vertex-api.log"),
      });
      server = started;
      const url = `http://127.0.0.1:${String(port)}`;
      await waitFor(
        `the Vertex AI API server on ${url}`,
        async () => (await fetch(`${url}/`)).status === 501,
        {
          timeoutMs: 30_000,
          check: () => {
            started.assertRunning();
          },
        },
      );

      // A caller allowed to read endpoints in the project's namespace, and an endpoint there.
      await kubectl(["create", "serviceaccount", "caller", "-n", ns]);
      await kubectl(["create", "role", "reader", "--verb=get,list", "--resource=modelendpoints", "-n", ns]);
      await kubectl([
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        `--serviceaccount=${ns}:caller`,
        "-n",
        ns,
      ]);
      await applyEndpoint(ns, firstDeployment("fraud", "m1", 1));
      const token = (await kubectl(["create", "token", "caller", "-n", ns])).trim();

      const list = `${url}/v1/projects/my-project/locations/us-central1/endpoints`;
      const anonymous = await fetch(list);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: { status: "UNAUTHENTICATED" } });
      // The endpoint reaches the server's cache by its watch.
      let body: { endpoints?: { name: string }[] } = {};
      await waitFor(
        "the endpoint listed by the server",
        async () => {
          const answer = await fetch(list, { headers: { authorization: `Bearer ${token}` } });
          body = (await answer.json()) as typeof body;
          expect(answer.status, JSON.stringify(body)).toBe(200);
          return (body.endpoints?.length ?? 0) > 0;
        },
        { timeoutMs: 15_000 },
      );
      expect(body.endpoints?.map((e) => e.name)).toEqual([
        "projects/my-project/locations/us-central1/endpoints/fraud",
      ]);
    });
  });

  it("helm install creates its Deployment, which becomes available, its Service and ServiceAccount, and binds it to its read-only ClusterRole only", async () => {
    const releaseNs = await createNamespace("chart-vx-rel");
    const name = "meo-vx-model-endpoint-operator-vertex-api";
    await helm([
      "install",
      "meo-vx",
      CHART,
      "-n",
      releaseNs,
      "--set=vertexApi.enabled=true",
      "--wait",
      "--timeout=90s",
    ]);
    try {
      const kubectl = (args: readonly string[]): Promise<string> =>
        run(controlPlane().kubectl, [admin(), ...args]);
      const objects = await kubectl([
        "get",
        "-n",
        releaseNs,
        "serviceaccount,configmap,service,deployment,role,rolebinding,clusterrole,clusterrolebinding",
        "-l",
        "app.kubernetes.io/instance=meo-vx,app.kubernetes.io/component=vertex-api",
        "-o",
        "name",
      ]);
      expect(objects.trim().split("\n").sort()).toEqual([
        `clusterrole.rbac.authorization.k8s.io/${name}`,
        `clusterrolebinding.rbac.authorization.k8s.io/${name}`,
        `deployment.apps/${name}`,
        `service/${name}`,
        `serviceaccount/${name}`,
      ]);
      expect(
        await kubectl([
          "get",
          "-n",
          releaseNs,
          `deployment/${name}`,
          "-o",
          "jsonpath={.status.availableReplicas}",
        ]),
      ).toBe("1");
      const bindings = JSON.parse(
        await kubectl(["get", "rolebindings,clusterrolebindings", "-A", "-o", "json"]),
      ) as {
        items: Manifest[];
      };
      const subjects = bindings.items.flatMap((b) => b.subjects ?? []).map((s) => s.name);
      expect(subjects).toContain("meo-vx-model-endpoint-operator");
      expect(
        bindings.items
          .filter((b) => (b.subjects ?? []).some((s) => s.name === name))
          .map((b) => `${b.kind}/${b.metadata.name}`),
      ).toEqual([`ClusterRoleBinding/${name}`]);
    } finally {
      await helm(["uninstall", "meo-vx", "-n", releaseNs, "--wait"]);
    }
  });
});
