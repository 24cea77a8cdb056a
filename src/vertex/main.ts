/**
 * The Vertex AI API server: `node src/vertex/main.ts` (`make vertex-api`). See docs/vertex-api.md.
 *
 *   --kubeconfig <file>         the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)
 *   --address <ip>              where to listen (default 0.0.0.0; 127.0.0.1 with --local)
 *   --port <n>                  (default $VERTEX_API_PORT or 8088)
 *   --location <l>              the one location answered (default us-central1)
 *   --project-namespace p=ns    project p lives in namespace ns (repeatable; default: ns = p)
 *   --gateway-url <url>         :predict through this Gateway (the operator's --gateway); default:
 *                               straight to a ready pod of the drawn model
 *   --local                     every request acts as the kubeconfig's identity; only on loopback
 *   --progress-deadline-seconds <n>
 *                               the deadline of a rolling deployment whose request gives none (the
 *                               client libraries cannot: it is an extension); default the CRD's 600
 *   --tls-cert <file> --tls-key <file>
 *                               serve HTTPS with this PEM certificate chain and key (both or neither);
 *                               the files are read at start: restart the process after a renewal
 *   --help                      this text
 *
 * Reads (get, list, operations, predict) are answered from informer caches the server fills with
 * its own identity (list and watch of ModelEndpoints, Models and the operator's EndpointSlices in
 * every namespace), each first authorized for the caller with a SelfSubjectAccessReview kept for
 * 10 s (access.ts). Writes are sent as the caller. Without --local each request acts as its bearer
 * token (Authorization: Bearer ...), so the cluster's RBAC decides what it may do; without a token:
 * 401. With --local every request acts as the kubeconfig's identity.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { isIP } from "node:net";
import { parseArgs } from "node:util";

import { serve } from "@hono/node-server";

import { KubeClient } from "../kube/client.ts";
import { KubeconfigError, loadCredentials, withBearerToken, type Loaded } from "../kube/kubeconfig.ts";
import type { Logger, LogFn } from "../kube/logger.ts";
import { VERSION } from "../version.ts";
import { AccessCache, selfReviewer } from "./access.ts";
import { createApp, type Identity } from "./app.ts";
import { MODELS, modelResolver } from "./models.ts";
import { Caches, type View } from "./reads.ts";
import { RpcError } from "./status.ts";

const USER_AGENT = `model-endpoint-operator-vertex-api/${VERSION}`;
/** Clients kept for the most recent bearer tokens. */
const MAX_IDENTITIES = 256;

class UsageError extends Error {
  override readonly name = "UsageError";
}

function identityOf(client: KubeClient, view: View): Identity {
  return {
    cluster: { endpoints: client.modelEndpoints(), resolveModel: modelResolver(client.resource(MODELS)) },
    models: { models: client.resource(MODELS), endpoints: client.modelEndpoints() },
    view,
  };
}

/** Warnings and errors (a cache that cannot list or watch) on stderr, a line each. */
function stderrLogger(): Logger {
  const line =
    (level: string): LogFn =>
    (fields, message) => {
      process.stderr.write(`vertex-api ${level}: ${message} ${JSON.stringify(fields)}\n`);
    };
  const ignore: LogFn = () => undefined;
  return { debug: ignore, info: ignore, warn: line("warning"), error: line("error") };
}

const USAGE = `usage: node src/vertex/main.ts [options]
  --kubeconfig <file>         the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --address <ip>              where to listen (default 0.0.0.0; 127.0.0.1 with --local)
  --port <n>                  (default $VERTEX_API_PORT or 8088)
  --location <l>              the one location answered (default us-central1)
  --project-namespace p=ns    project p lives in namespace ns (repeatable; default: ns = p)
  --gateway-url <url>         :predict through this Gateway (the operator's --gateway); default:
                              straight to a ready pod of the drawn model
  --local                     every request acts as the kubeconfig's identity; only on loopback
  --progress-deadline-seconds <n>
                              the deadline of a rolling deployment whose request gives none (the
                              client libraries cannot: it is an extension); default the CRD's 600
  --tls-cert <file> --tls-key <file>
                              serve HTTPS with this PEM certificate chain and key (both or neither);
                              the files are read at start: restart the process after a renewal
  --help                      this text
`;

function parse(argv: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        kubeconfig: { type: "string" },
        address: { type: "string" },
        port: { type: "string", default: process.env["VERTEX_API_PORT"] ?? "8088" },
        location: { type: "string", default: "us-central1" },
        "project-namespace": { type: "string", multiple: true, default: [] },
        "gateway-url": { type: "string" },
        local: { type: "boolean", default: false },
        "progress-deadline-seconds": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined))
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither for plain HTTP");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port ${values.port}: a port number`);
  const deadline = values["progress-deadline-seconds"];
  const progressDeadlineSeconds = deadline === undefined ? undefined : Number(deadline);
  if (
    progressDeadlineSeconds !== undefined &&
    !(Number.isInteger(progressDeadlineSeconds) && progressDeadlineSeconds >= 1)
  )
    throw new UsageError(
      `--progress-deadline-seconds ${deadline ?? ""}: a whole number of seconds, at least 1`,
    );
  const address = values.address ?? (values.local ? "127.0.0.1" : "0.0.0.0");
  if (values.local && !(address === "127.0.0.1" || address === "::1" || address === "localhost")) {
    throw new UsageError(
      `--local acts as the kubeconfig's identity for every caller, so it listens on loopback only, not ${address}`,
    );
  }
  if (isIP(address) === 0 && address !== "localhost")
    throw new UsageError(`--address ${address}: an IP address`);
  const projectNamespaces = new Map<string, string>();
  for (const pair of values["project-namespace"]) {
    const [project, namespace, extra] = pair.split("=");
    if (
      project === undefined ||
      namespace === undefined ||
      extra !== undefined ||
      project === "" ||
      namespace === ""
    ) {
      throw new UsageError(`--project-namespace ${pair}: project=namespace`);
    }
    projectNamespaces.set(project, namespace);
  }
  return { ...values, port, address, projectNamespaces, progressDeadlineSeconds };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parse>;
  let loaded: Loaded;
  try {
    options = parse(process.argv.slice(2));
    if (options.help) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    loaded = await loadCredentials(options.kubeconfig);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof KubeconfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const own = KubeClient.fromKubeConfig(loaded.credentials, { userAgent: USER_AGENT });
  const caches = new Caches(own, stderrLogger());
  const filling = setInterval(() => {
    process.stdout.write(
      "vertex-api: still filling the caches (list ModelEndpoints, Models, EndpointSlices)\n",
    );
  }, 10_000);
  await caches.start();
  clearInterval(filling);
  const accessCache = new AccessCache();
  const local = options.local
    ? identityOf(
        own,
        caches.view(() => Promise.resolve()),
      )
    : undefined;
  const identities = new Map<string, Identity>();
  const identify = (token: string | undefined): Identity => {
    if (local !== undefined) return local;
    if (token === undefined) {
      throw new RpcError(
        "UNAUTHENTICATED",
        "a bearer token is required (Authorization: Bearer <Kubernetes token>)",
      );
    }
    let found = identities.get(token);
    if (found === undefined) {
      const client = KubeClient.fromKubeConfig(withBearerToken(loaded.access, token), {
        userAgent: USER_AGENT,
      });
      const review = selfReviewer(client.transport);
      found = identityOf(
        client,
        caches.view((access) => accessCache.check(token, review, access)),
      );
      if (identities.size >= MAX_IDENTITIES) identities.delete(identities.keys().next().value ?? "");
    }
    identities.delete(token);
    identities.set(token, found);
    return found;
  };
  const app = createApp({
    location: options.location,
    projectNamespaces: options.projectNamespaces,
    gatewayUrl: options["gateway-url"],
    deployDefaults: { progressDeadlineSeconds: options.progressDeadlineSeconds },
    identify,
  });
  let tls: { cert: Buffer; key: Buffer } | undefined;
  try {
    tls =
      options["tls-cert"] === undefined || options["tls-key"] === undefined
        ? undefined
        : { cert: readFileSync(options["tls-cert"]), key: readFileSync(options["tls-key"]) };
  } catch (err) {
    process.stderr.write(`cannot read the TLS files: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const listen = {
    fetch: app.fetch,
    port: options.port,
    hostname: options.address,
    ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
  };
  const server = serve(listen, (info) => {
    process.stdout.write(
      `vertex-api ${VERSION}: ${tls === undefined ? "http" : "https"}://${info.address.includes(":") ? `[${info.address}]` : info.address}:${String(info.port)} ` +
        `(location ${options.location}${options.local ? ", local: the kubeconfig's identity" : ", callers' bearer tokens"})\n`,
    );
  });
  const stop = (): void => {
    server.close(() => {
      void caches.stop().then(() => process.exit(0));
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

await main();
