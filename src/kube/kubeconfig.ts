/**
 * Credentials for the transport without client-node, for the operator and the Vertex AI API
 * server, whose memory matters: loading client-node's KubeConfig loads its whole generated API,
 * about 65 MB of resident memory before the first request.
 *
 * This loader reads what most clusters hand out: in-cluster service-account credentials (the token
 * file is read again every minute, as it rotates), and a kubeconfig whose current user has a token,
 * a token file or a client certificate, and whose cluster has a CA (inline or file),
 * insecure-skip-tls-verify or tls-server-name. Anything else (exec and auth-provider plugins,
 * proxies, several files in $KUBECONFIG) is handed to client-node's KubeConfig, loaded only then.
 *
 * `withBearerToken` gives the same cluster with another identity: a caller's bearer token.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type { RequestOptions } from "node:https";

import { parse as parseYaml } from "yaml";

import type { Credentials } from "./transport.ts";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A token file is read again when its last reading is older than this (client-go: 1 minute). */
const TOKEN_FILE_REFRESH_MS = 60_000;

/** How to reach the API server, whoever the caller is. */
export interface ClusterAccess {
  readonly server: string;
  readonly ca?: Buffer | undefined;
  readonly insecureSkipTlsVerify?: boolean | undefined;
  readonly tlsServerName?: string | undefined;
}

/** Who the caller is: a token, a token file, or a client certificate and key. */
export interface UserAuth {
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

export class KubeconfigError extends Error {
  override readonly name = "KubeconfigError";
}

/** A cluster and a user read once; the token file, if any, again every minute. */
export class StaticCredentials implements Credentials {
  readonly access: ClusterAccess;
  private readonly user: UserAuth;
  private readonly now: () => number;
  private token: { value: string; readAt: number } | undefined;

  constructor(access: ClusterAccess, user: UserAuth, now: () => number = Date.now) {
    this.access = access;
    this.user = user;
    this.now = now;
  }

  getCurrentCluster(): { readonly server: string } {
    return { server: this.access.server };
  }

  applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    const { ca, insecureSkipTlsVerify, tlsServerName } = this.access;
    if (ca !== undefined) options.ca = ca;
    if (insecureSkipTlsVerify === true) options.rejectUnauthorized = false;
    if (tlsServerName !== undefined) options.servername = tlsServerName;
    if (this.user.cert !== undefined) options.cert = this.user.cert;
    if (this.user.key !== undefined) options.key = this.user.key;
    const token = this.bearer();
    if (token !== undefined) {
      options.headers = { ...(options.headers as Record<string, string>), Authorization: `Bearer ${token}` };
    }
    return Promise.resolve();
  }

  private bearer(): string | undefined {
    if (this.user.token !== undefined) return this.user.token;
    const file = this.user.tokenFile;
    if (file === undefined) return undefined;
    const now = this.now();
    if (this.token === undefined || now - this.token.readAt >= TOKEN_FILE_REFRESH_MS) {
      this.token = { value: readFileSync(file, "utf8").trim(), readAt: now };
    }
    return this.token.value;
  }
}

/** The same cluster, acting as the holder of `token`. */
export function withBearerToken(access: ClusterAccess, token: string): StaticCredentials {
  return new StaticCredentials(access, { token });
}

/** What a kubeconfig's current context names, or a reason the light reading does not apply. */
type Reading = { readonly credentials: StaticCredentials } | { readonly unsupported: string };

type Doc = Readonly<Record<string, unknown>>;

function isDoc(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function named(list: unknown, name: string, field: string): Doc | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry: unknown = list.find((e) => isDoc(e) && e["name"] === name);
  return isDoc(entry) && isDoc(entry[field]) ? entry[field] : undefined;
}

function str(doc: Doc, field: string): string | undefined {
  const value = doc[field];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Reads the current context of a kubeconfig's text; `dir` resolves the relative file names in it.
 * Pure but for the files it names.
 */
export function readKubeconfig(text: string, dir: string): Reading {
  const doc: unknown = parseYaml(text);
  if (!isDoc(doc)) throw new KubeconfigError("the kubeconfig is not a YAML mapping");
  const contextName = str(doc, "current-context");
  if (contextName === undefined) throw new KubeconfigError("the kubeconfig has no current-context");
  const context = named(doc["contexts"], contextName, "context");
  if (context === undefined) throw new KubeconfigError(`the kubeconfig has no context ${contextName}`);
  const clusterName = str(context, "cluster") ?? "";
  const cluster = named(doc["clusters"], clusterName, "cluster");
  if (cluster === undefined) throw new KubeconfigError(`the kubeconfig has no cluster ${clusterName}`);
  const userName = str(context, "user");
  const user = userName === undefined ? {} : named(doc["users"], userName, "user");
  if (user === undefined) throw new KubeconfigError(`the kubeconfig has no user ${userName ?? ""}`);
  const server = str(cluster, "server");
  if (server === undefined) throw new KubeconfigError(`cluster ${clusterName} has no server`);

  const supported = new Set([
    "token",
    "tokenFile",
    "client-certificate",
    "client-certificate-data",
    "client-key",
    "client-key-data",
  ]);
  const other = Object.keys(user).find((k) => !supported.has(k));
  if (other !== undefined) return { unsupported: `user field ${other}` };
  if (str(cluster, "proxy-url") !== undefined) return { unsupported: "a proxy-url" };

  const file = (name: string): Buffer => readFileSync(isAbsolute(name) ? name : join(dir, name));
  const bytes = (doc: Doc, data: string, path: string): Buffer | undefined => {
    const inline = str(doc, data);
    if (inline !== undefined) return Buffer.from(inline, "base64");
    const name = str(doc, path);
    return name === undefined ? undefined : file(name);
  };
  const tokenFile = str(user, "tokenFile");
  return {
    credentials: new StaticCredentials(
      {
        server,
        ca: bytes(cluster, "certificate-authority-data", "certificate-authority"),
        insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
        tlsServerName: str(cluster, "tls-server-name"),
      },
      {
        token: str(user, "token"),
        tokenFile: tokenFile === undefined || isAbsolute(tokenFile) ? tokenFile : join(dir, tokenFile),
        cert: bytes(user, "client-certificate-data", "client-certificate"),
        key: bytes(user, "client-key-data", "client-key"),
      },
    ),
  };
}

/** In-cluster: the pod's service account, the API server from KUBERNETES_SERVICE_HOST/PORT. */
function inCluster(env: NodeJS.ProcessEnv): StaticCredentials | undefined {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || port === undefined) return undefined;
  let ca: Buffer;
  try {
    ca = readFileSync(join(SERVICE_ACCOUNT_DIR, "ca.crt"));
  } catch (err) {
    throw new KubeconfigError(
      `in a cluster (KUBERNETES_SERVICE_HOST is set) but without a service-account token: ${(err as Error).message}; mount one (automountServiceAccountToken) or give a kubeconfig`,
    );
  }
  return new StaticCredentials(
    { server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, ca },
    { tokenFile: join(SERVICE_ACCOUNT_DIR, "token") },
  );
}

export interface Loaded {
  readonly credentials: Credentials;
  /** The cluster for other identities (withBearerToken). */
  readonly access: ClusterAccess;
  /** Why client-node's KubeConfig was loaded, when it was. */
  readonly heavy?: string;
}

/**
 * Loads credentials the way kubectl finds them: `path`, else $KUBECONFIG, else ~/.kube/config,
 * else in-cluster.
 */
export async function loadCredentials(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Loaded> {
  const fromEnv = (env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  const home = join(homedir(), ".kube", "config");
  const files = path !== undefined ? [path] : fromEnv.length > 0 ? fromEnv : [home];
  let text: string | undefined;
  if (files.length === 1 && files[0] !== undefined) {
    try {
      text = readFileSync(files[0], "utf8");
    } catch (err) {
      const missing = (err as { code?: string }).code === "ENOENT";
      if (!missing || path !== undefined || fromEnv.length > 0)
        throw new KubeconfigError(`cannot read the kubeconfig ${files[0]}: ${(err as Error).message}`);
    }
  }
  if (text === undefined && files.length === 1) {
    const own = inCluster(env);
    if (own === undefined)
      throw new KubeconfigError(`no kubeconfig (${home} does not exist) and not running in a cluster`);
    return { credentials: own, access: own.access };
  }
  const reading: Reading =
    text === undefined
      ? { unsupported: "several files in $KUBECONFIG" }
      : readKubeconfig(text, dirname(files[0] ?? ""));
  if ("credentials" in reading)
    return { credentials: reading.credentials, access: reading.credentials.access };
  return heavy(files, reading.unsupported);
}

/** client-node's KubeConfig, for what the light reading does not cover. */
async function heavy(files: readonly string[], why: string): Promise<Loaded> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (files.length === 1 && files[0] !== undefined) kc.loadFromFile(files[0]);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeconfigError("the kubeconfig names no current cluster");
  const ca =
    cluster.caData !== undefined
      ? Buffer.from(cluster.caData, "base64")
      : cluster.caFile !== undefined
        ? readFileSync(cluster.caFile)
        : undefined;
  return {
    credentials: kc,
    access: {
      server: cluster.server,
      ca,
      insecureSkipTlsVerify: cluster.skipTLSVerify,
      tlsServerName: cluster.tlsServerName,
    },
    heavy: why,
  };
}
