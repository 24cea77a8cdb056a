import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { afterEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";

import {
  KubeconfigError,
  loadCredentials,
  readKubeconfig,
  StaticCredentials,
  withBearerToken,
} from "./kubeconfig.ts";
import type { Credentials } from "./transport.ts";

const SERVER = "https://api.example.test:6443";
const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** A kubeconfig whose current context "dev" names cluster "c1" and user "u1". */
function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "dev",
    contexts: [{ name: "dev", context: { cluster: "c1", user: "u1" } }],
    clusters: [{ name: "c1", cluster: { server: SERVER, ...cluster } }],
    users: [{ name: "u1", user }],
    ...overrides,
  });
}

/** What the credentials put into an empty request's options. */
async function applied(credentials: Credentials): Promise<RequestOptions> {
  const options: RequestOptions = {};
  await credentials.applyToHTTPSOptions(options);
  return options;
}

/** The credentials of a reading the light loader supports. */
function credentialsOf(reading: ReturnType<typeof readKubeconfig>): StaticCredentials {
  if (!("credentials" in reading)) throw new Error(`unexpectedly unsupported: ${reading.unsupported}`);
  return reading.credentials;
}

const dirs: string[] = [];
/** A fresh directory under the OS's temporary directory, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-test-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  vi.unstubAllEnvs();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("readKubeconfig", () => {
  it("a token user: the Authorization header and the server, nothing else", async () => {
    const credentials = credentialsOf(readKubeconfig(kubeconfig({}, { token: "abc" }), "/nowhere"));
    expect(credentials.getCurrentCluster()).toEqual({ server: SERVER });
    expect(await applied(credentials)).toEqual({ headers: { Authorization: "Bearer abc" } });
  });

  it("decodes inline client certificate, key and CA from base64", async () => {
    const text = kubeconfig(
      { "certificate-authority-data": b64("CA PEM") },
      { "client-certificate-data": b64("CERT PEM"), "client-key-data": b64("KEY PEM") },
    );
    const credentials = credentialsOf(readKubeconfig(text, "/nowhere"));
    expect(await applied(credentials)).toEqual({
      ca: Buffer.from("CA PEM"),
      cert: Buffer.from("CERT PEM"),
      key: Buffer.from("KEY PEM"),
    });
    expect(credentials.access.ca).toEqual(Buffer.from("CA PEM"));
  });

  it("keeps the request's other headers when it adds the Authorization header", async () => {
    const credentials = credentialsOf(readKubeconfig(kubeconfig({}, { token: "abc" }), "/nowhere"));
    const options: RequestOptions = { headers: { "User-Agent": "test" } };
    await credentials.applyToHTTPSOptions(options);
    expect(options.headers).toEqual({ "User-Agent": "test", Authorization: "Bearer abc" });
  });

  it("reads file references relative to the kubeconfig's directory; absolute ones as they are", async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    mkdirSync(join(dir, "certs"));
    writeFileSync(join(dir, "ca.crt"), "CA FILE");
    writeFileSync(join(dir, "certs", "client.crt"), "CERT FILE");
    writeFileSync(join(elsewhere, "client.key"), "KEY FILE");
    writeFileSync(join(dir, "token"), "file-token\n");
    const text = kubeconfig(
      { "certificate-authority": "ca.crt" },
      {
        "client-certificate": "certs/client.crt",
        "client-key": join(elsewhere, "client.key"),
        tokenFile: "token",
      },
    );
    expect(await applied(credentialsOf(readKubeconfig(text, dir)))).toEqual({
      ca: Buffer.from("CA FILE"),
      cert: Buffer.from("CERT FILE"),
      key: Buffer.from("KEY FILE"),
      headers: { Authorization: "Bearer file-token" },
    });
  });

  it("inline data wins over a file reference", () => {
    const text = kubeconfig(
      { "certificate-authority-data": b64("INLINE CA"), "certificate-authority": "missing.crt" },
      { token: "abc" },
    );
    expect(credentialsOf(readKubeconfig(text, tempDir())).access.ca).toEqual(Buffer.from("INLINE CA"));
  });

  it("insecure-skip-tls-verify and tls-server-name", async () => {
    const text = kubeconfig(
      { "insecure-skip-tls-verify": true, "tls-server-name": "kubernetes.default" },
      {},
    );
    expect(await applied(credentialsOf(readKubeconfig(text, "/nowhere")))).toEqual({
      rejectUnauthorized: false,
      servername: "kubernetes.default",
    });
  });

  it("a context without a user sends no credentials", async () => {
    const text = kubeconfig({}, {}, { contexts: [{ name: "dev", context: { cluster: "c1" } }] });
    expect(await applied(credentialsOf(readKubeconfig(text, "/nowhere")))).toEqual({});
  });

  it.each([
    [
      "an exec user",
      {},
      { exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1" } },
      "user field exec",
    ],
    ["an auth-provider", {}, { "auth-provider": { name: "oidc" } }, "user field auth-provider"],
    ["a proxy-url", { "proxy-url": "http://proxy:3128" }, { token: "abc" }, "a proxy-url"],
  ])("%s is unsupported", (_what, cluster, user, reason) => {
    expect(readKubeconfig(kubeconfig(cluster, user), "/nowhere")).toEqual({ unsupported: reason });
  });

  it.each([
    ["the current-context", { "current-context": undefined }, "the kubeconfig has no current-context"],
    ["the context", { "current-context": "prod" }, "the kubeconfig has no context prod"],
    [
      "the cluster",
      { clusters: [{ name: "c2", cluster: { server: SERVER } }] },
      "the kubeconfig has no cluster c1",
    ],
    ["the user", { users: [] }, "the kubeconfig has no user u1"],
    ["the server", { clusters: [{ name: "c1", cluster: {} }] }, "cluster c1 has no server"],
  ])("missing %s is a KubeconfigError that says so", (_what, overrides, message) => {
    const read = () => readKubeconfig(kubeconfig({}, { token: "abc" }, overrides), "/nowhere");
    expect(read).toThrow(KubeconfigError);
    expect(read).toThrow(message);
  });

  it("a document that is not a mapping is a KubeconfigError", () => {
    expect(() => readKubeconfig("- a\n- b\n", "/nowhere")).toThrow(KubeconfigError);
  });
});

describe("StaticCredentials with a token file", () => {
  it("reads the file again only once its last reading is 60 s old", async () => {
    const file = join(tempDir(), "token");
    writeFileSync(file, "old\n");
    let now = 1_000_000;
    const credentials = new StaticCredentials({ server: SERVER }, { tokenFile: file }, () => now);
    const authorization = async () => (await applied(credentials)).headers;

    expect(await authorization()).toEqual({ Authorization: "Bearer old" });
    writeFileSync(file, "new\n");
    now += 59_999;
    expect(await authorization()).toEqual({ Authorization: "Bearer old" });
    now += 1;
    expect(await authorization()).toEqual({ Authorization: "Bearer new" });
  });
});

describe("withBearerToken", () => {
  it("the access's cluster and CA, with the given token", async () => {
    const credentials = withBearerToken({ server: SERVER, ca: Buffer.from("CA") }, "caller-token");
    expect(credentials.getCurrentCluster()).toEqual({ server: SERVER });
    expect(await applied(credentials)).toEqual({
      ca: Buffer.from("CA"),
      headers: { Authorization: "Bearer caller-token" },
    });
  });
});

describe("loadCredentials", () => {
  /** A kubeconfig file in a temporary directory, with its CA in a file beside it. */
  function writeKubeconfig(user: Record<string, unknown> = { token: "abc" }): string {
    const dir = tempDir();
    writeFileSync(join(dir, "ca.crt"), "CA FILE");
    const path = join(dir, "config");
    writeFileSync(path, kubeconfig({ "certificate-authority": "ca.crt" }, user));
    return path;
  }

  it("a kubeconfig path: StaticCredentials and the access, its files relative to the kubeconfig", async () => {
    const loaded = await loadCredentials(writeKubeconfig(), {});
    expect(loaded.credentials).toBeInstanceOf(StaticCredentials);
    expect(loaded.access).toMatchObject({ server: SERVER, ca: Buffer.from("CA FILE") });
    expect(loaded.heavy).toBeUndefined();
    expect((await applied(loaded.credentials)).headers).toEqual({ Authorization: "Bearer abc" });
  });

  it("a single file in $KUBECONFIG, empty entries ignored", async () => {
    const path = writeKubeconfig();
    const loaded = await loadCredentials(undefined, { KUBECONFIG: `${delimiter}${path}${delimiter}` });
    expect(loaded.credentials).toBeInstanceOf(StaticCredentials);
    expect(loaded.access.server).toBe(SERVER);
  });

  it("a missing explicit path, or a missing file named in $KUBECONFIG, is a KubeconfigError", async () => {
    const missing = join(tempDir(), "missing");
    for (const [path, env] of [
      [missing, {}],
      [undefined, { KUBECONFIG: missing }],
    ] as const) {
      const err = await loadCredentials(path, env).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeconfigError);
      expect((err as KubeconfigError).message).toContain(`cannot read the kubeconfig ${missing}`);
    }
  });

  it("no ~/.kube/config and not in a cluster is a KubeconfigError", async () => {
    // homedir() follows $HOME: an empty temporary directory stands in for the home directory.
    const home = tempDir();
    vi.stubEnv("HOME", home);
    await expect(loadCredentials(undefined, {})).rejects.toThrow(
      new KubeconfigError(
        `no kubeconfig (${join(home, ".kube", "config")} does not exist) and not running in a cluster`,
      ),
    );
  });

  it("an exec user falls back to client-node's KubeConfig, with the reason and the cluster", async () => {
    const loaded = await loadCredentials(
      writeKubeconfig({ exec: { command: "false", apiVersion: "v1" } }),
      {},
    );
    expect(loaded.heavy).toBe("user field exec");
    expect(loaded.credentials).not.toBeInstanceOf(StaticCredentials);
    expect(loaded.credentials.getCurrentCluster()?.server).toBe(SERVER);
    expect(loaded.access).toMatchObject({ server: SERVER, ca: Buffer.from("CA FILE") });
  });
});
