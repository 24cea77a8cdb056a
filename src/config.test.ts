import { describe, expect, it } from "vitest";

import { ConfigError, loadConfig, placementProfile, type Config } from "./config.ts";
import { DEFAULT_PLACEMENT_PROFILE, GKE_ACCELERATOR_LABELS } from "./controller/placement.ts";

function load(argv: string[], env: NodeJS.ProcessEnv = {}, tty = false): Config {
  const config = loadConfig(argv, env, tty);
  if (config === "help") throw new Error("unexpected help");
  return config;
}

describe("loadConfig", () => {
  it("has defaults for everything", () => {
    const c = load([], { POD_NAME: "op-0" });
    expect(c).toMatchObject({
      namespaces: [],
      metricsBindAddress: { host: "0.0.0.0", port: 8080 },
      leaderElect: true,
      leaseNamespace: "default",
      leaseName: "model-endpoint-operator",
      workers: 4,
      watchStallTimeoutSeconds: 120,
      logLevel: "info",
      logFormat: "json",
      identity: "op-0",
    });
    expect(c.kubeconfig).toBeUndefined();
  });

  it("prefers flags over the environment", () => {
    const c = load(
      ["--namespaces", "a, b", "--workers=8", "--leader-elect=false", "--metrics-bind-address=:9090"],
      {
        MEO_NAMESPACES: "x",
        MEO_WORKERS: "2",
      },
    );
    expect(c.namespaces).toEqual(["a", "b"]);
    expect(c.workers).toBe(8);
    expect(c.leaderElect).toBe(false);
    expect(c.metricsBindAddress).toEqual({ host: "0.0.0.0", port: 9090 });
  });

  it("runs model pods as the image's user unless --model-pod-user names a non-root one", () => {
    expect(load([], {}).modelPodUser).toBeUndefined();
    expect(load(["--model-pod-user=1000"], {}).modelPodUser).toBe(1000);
    expect(load([], { MEO_MODEL_POD_USER: "65532" }).modelPodUser).toBe(65532);
    for (const bad of ["0", "-1", "root", "1.5", "99999999999"]) {
      expect(() => load([`--model-pod-user=${bad}`], {}), bad).toThrow(/modelPodUser/);
    }
  });

  it("sizes and places model pods with the generic profile unless told otherwise", () => {
    expect(placementProfile(load([], {}))).toEqual(DEFAULT_PLACEMENT_PROFILE);
    const gke = placementProfile(
      load(
        [
          "--placement-profile=gke",
          "--placement-instance-type-selector=false",
          "--placement-daemonset-reserve=cpu=0.5,memory=1Gi",
        ],
        { MEO_PLACEMENT_ACCELERATOR_LABELS: "NVIDIA_L4=l4, NVIDIA_B200=b200" },
      ),
    );
    expect(gke).toEqual({
      name: "gke",
      instanceTypeSelector: false,
      daemonSetReserve: { cpuMillis: 500, memoryMi: 1024 },
      acceleratorLabels: { ...GKE_ACCELERATOR_LABELS, NVIDIA_L4: "l4", NVIDIA_B200: "b200" },
    });
    // One of the two keeps the other's default.
    expect(placementProfile(load(["--placement-daemonset-reserve=memory=0"], {})).daemonSetReserve).toEqual({
      cpuMillis: 200,
      memoryMi: 0,
    });
    for (const [flag, field] of [
      ["--placement-profile=eks", "placementProfile"],
      ["--placement-daemonset-reserve=gpu=1", "placementDaemonSetReserve"],
      ["--placement-daemonset-reserve=cpu=lots", "placementDaemonSetReserve"],
      ["--placement-accelerator-labels=NVIDIA_K80=k80", "placementAcceleratorLabels"],
      ["--placement-accelerator-labels=NVIDIA_L4=not a label", "placementAcceleratorLabels"],
    ] as const) {
      expect(() => load([flag], {}), flag).toThrow(new RegExp(field));
    }
  });

  it("uses pretty logs on a terminal unless told otherwise", () => {
    expect(load([], {}, true).logFormat).toBe("pretty");
    expect(load(["--log-format=json"], {}, true).logFormat).toBe("json");
  });

  it.each([
    [["--workers=0"], "workers"],
    [["--workers=abc"], "workers"],
    [["--watch-stall-timeout-seconds=0"], "watchStallTimeoutSeconds"],
    [["--namespaces=Bad_NS"], "namespaces"],
    [["--metrics-bind-address=8080"], "metricsBindAddress"],
    [["--metrics-bind-address=:70000"], "port must be at most 65535"],
    [["--leader-elect=yes"], "leaderElect"],
    [["--log-level=loud"], "logLevel"],
    [["--renew-deadline-seconds=20"], "renew deadline (20s) must be shorter than the lease duration (15s)"],
    [["--no-such-flag"], "Unknown option '--no-such-flag'"],
  ])("rejects %j naming %s", (argv, expected) => {
    expect(() => load(argv)).toThrow(ConfigError);
    expect(() => load(argv)).toThrow(expected);
  });

  it("answers --help", () => {
    expect(loadConfig(["--help"], {}, false)).toBe("help");
  });
});
