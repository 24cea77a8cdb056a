/**
 * The operator's entry point: configuration, logger, metrics, the Kubernetes client, the operator
 * and its HTTP port; graceful shutdown on SIGTERM/SIGINT (release the lease, finish in-flight
 * reconciles, stop watches). The only module that exits the process.
 */
import { pino, type Logger as PinoLogger } from "pino";

import { servesHttpRoutes } from "./controller/dataplane.ts";
import { ConfigError, loadConfig, placementProfile, USAGE, type Config } from "./config.ts";
import { Operator } from "./controller/operator.ts";
import { KubeClient } from "./kube/client.ts";
import { KubeconfigError, loadCredentials, type Loaded } from "./kube/kubeconfig.ts";
import { Metrics } from "./metrics.ts";
import { startServer } from "./server.ts";
import { VERSION } from "./version.ts";

async function makeLogger(config: Config): Promise<PinoLogger> {
  const options = { level: config.logLevel, base: { component: "model-endpoint-operator" } };
  if (config.logFormat === "json") return pino(options);
  const { default: pretty } = await import("pino-pretty");
  return pino(
    options,
    pretty({ colorize: process.stdout.isTTY, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,component" }),
  );
}

async function main(): Promise<number> {
  let config: Config;
  try {
    const loaded = loadConfig();
    if (loaded === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    config = loaded;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = await makeLogger(config);
  let loaded: Loaded;
  try {
    loaded = await loadCredentials(config.kubeconfig);
  } catch (err) {
    if (!(err instanceof KubeconfigError)) throw err;
    logger.error({ err: err.message }, "cannot load credentials for the API server");
    return 2;
  }
  // Plain kubeconfigs and in-cluster credentials are read without client-node's KubeConfig, which
  // loads its whole generated API (about 65 MB of resident memory); exec plugins still use it.
  if (loaded.heavy !== undefined)
    logger.info({ why: loaded.heavy }, "credentials through client-node's KubeConfig");
  const metrics = new Metrics();
  const client = KubeClient.fromKubeConfig(loaded.credentials, {
    userAgent: `model-endpoint-operator/${VERSION}`,
  });
  // Asked once: a cluster that gains Gateway API later needs a restart of the operator (documented).
  const gatewayApi = await servesHttpRoutes(client.transport).catch((err: unknown) => {
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      "could not ask whether the cluster serves Gateway API; endpoints get no HTTPRoute until the operator restarts",
    );
    return false;
  });
  const operator = new Operator({
    client,
    gatewayApi,
    dataPlane: { defaultGateway: config.gateway, location: config.location },
    modelPods: { runAsUser: config.modelPodUser, placement: placementProfile(config) },
    autoscaling: {
      policy: {
        syncPeriodMs: config.autoscalingSyncPeriodSeconds * 1000,
        scaleDownStabilizationMs: config.autoscalingDownscaleStabilizationSeconds * 1000,
        tolerance: config.autoscalingTolerance,
      },
      dutyCycleMetric: config.acceleratorDutyCycleMetric,
    },
    logger,
    metrics,
    namespaces: config.namespaces,
    workers: config.workers,
    identity: config.identity,
    stallTimeoutMs: config.watchStallTimeoutSeconds * 1000,
    ...(config.leaderElect
      ? {
          leaderElection: {
            namespace: config.leaseNamespace,
            name: config.leaseName,
            leaseDurationMs: config.leaseDurationSeconds * 1000,
            renewDeadlineMs: config.renewDeadlineSeconds * 1000,
            retryPeriodMs: config.retryPeriodSeconds * 1000,
          },
        }
      : {}),
  });
  const server = await startServer({
    host: config.metricsBindAddress.host,
    port: config.metricsBindAddress.port,
    registry: metrics.registry,
    health: { notReadyReasons: () => operator.notReadyReasons() },
  });
  logger.info(
    {
      version: VERSION,
      server: loaded.access.server,
      namespaces: config.namespaces.length === 0 ? "all" : config.namespaces,
      leaderElection: config.leaderElect,
      identity: config.identity,
      metricsPort: server.port,
      gatewayApi,
      defaultGateway:
        config.gateway === undefined ? "none" : `${config.gateway.namespace}/${config.gateway.name}`,
    },
    "starting",
  );
  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal }, "shutting down");
      await operator.stop();
      await server.close();
      logger.info({}, "stopped");
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        stop(signal).then(
          () => {
            resolve(0);
          },
          (err: unknown) => {
            logger.error({ err }, "shutdown failed");
            resolve(1);
          },
        );
      });
    }
  });
  await operator.start();
  logger.info({ leader: operator.isLeader() }, "running");
  return done;
}

main().then(
  (code) => {
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(
      `model-endpoint-operator: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
