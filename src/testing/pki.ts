/**
 * A throwaway PKI for a local control plane, made with the `openssl` command (Debian's openssl
 * package; present on nearly every Linux machine). ECDSA P-256 keys: quick to generate and accepted
 * by every Kubernetes component.
 *
 * Why openssl and not a library: Node's crypto makes keys but not X.509 certificates, and the
 * JavaScript certificate libraries would be a dependency for the tests alone; openssl is already on
 * the machines this runs on.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

export interface ClientCert {
  readonly cert: string;
  readonly key: string;
}

export class PkiError extends Error {
  override readonly name = "PkiError";
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run("openssl", [...args]);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new PkiError(
      `openssl ${args[0] ?? ""} failed: ${detail}. The local control plane needs the openssl command (Debian: apt-get install openssl).`,
      { cause: err },
    );
  }
}

async function ecKey(path: string): Promise<void> {
  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path]);
}

/** Signs a certificate for `subject` with the CA, with the given X.509 v3 extensions. */
async function signed(
  pki: Pick<Pki, "dir" | "caCert" | "caKey">,
  base: string,
  subject: string,
  extensions: string,
): Promise<ClientCert> {
  const key = join(pki.dir, `${base}.key`);
  const csr = join(pki.dir, `${base}.csr`);
  const cert = join(pki.dir, `${base}.crt`);
  const ext = join(pki.dir, `${base}.ext`);
  await ecKey(key);
  await writeFile(ext, extensions);
  await openssl(["req", "-new", "-key", key, "-subj", subject, "-out", csr]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    "-CAcreateserial",
    "-days",
    "3650",
    "-extfile",
    ext,
    "-out",
    cert,
  ]);
  return { cert, key };
}

/** A self-signed CA: <dir>/<base>.crt and <base>.key. */
async function newCa(
  dir: string,
  base: string,
  commonName: string,
): Promise<{ caCert: string; caKey: string }> {
  const caKey = join(dir, `${base}.key`);
  const caCert = join(dir, `${base}.crt`);
  await ecKey(caKey);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    caKey,
    "-subj",
    `/CN=${commonName}`,
    "-days",
    "3650",
    "-out",
    caCert,
  ]);
  return { caCert, caKey };
}

/** The CA, the API server's serving certificate (127.0.0.1, localhost) and the service-account key pair. */
export async function createPki(dir: string): Promise<Pki> {
  const { caCert, caKey } = await newCa(dir, "ca", "model-endpoint-operator-local-ca");
  const server = await signed(
    { dir, caCert, caKey },
    "apiserver",
    "/CN=kube-apiserver",
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
      "",
    ].join("\n"),
  );
  const serviceAccountKey = join(dir, "sa.key");
  const serviceAccountPub = join(dir, "sa.pub");
  await ecKey(serviceAccountKey);
  await openssl(["ec", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPub]);
  return {
    dir,
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    serviceAccountKey,
    serviceAccountPub,
  };
}

/**
 * A client certificate: Kubernetes takes the user name from the CN and the groups from the O
 * fields, so `clientCert(pki, "admin", ["system:masters"])` is a cluster admin.
 */
export async function clientCert(pki: Pki, user: string, groups: readonly string[]): Promise<ClientCert> {
  const safe = (s: string): string => s.replace(/[/\\=+,]/g, "_");
  const subject = [...groups.map((g) => `/O=${safe(g)}`), `/CN=${safe(user)}`].join("");
  const base = `client-${safe(user).replace(/[^a-zA-Z0-9_.-]/g, "_")}`;
  return signed(
    pki,
    base,
    subject,
    ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=clientAuth", ""].join("\n"),
  );
}

/**
 * A serving certificate signed by the CA, for a component the API server or a client dials:
 * `altNames` are subjectAltName entries such as "IP:127.0.0.1" or "DNS:metrics-server.kube-system.svc".
 */
export async function servingCert(pki: Pki, name: string, altNames: readonly string[]): Promise<ClientCert> {
  return signed(
    pki,
    `serving-${name}`,
    `/CN=${name}`,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${altNames.join(",")}`,
      "",
    ].join("\n"),
  );
}

/**
 * The aggregation layer's credentials: a CA of its own (the API server's requestheader CA, which
 * an aggregated API server such as metrics-server trusts for the X-Remote-User headers) and the
 * client certificate the API server proxies with. A CA apart from the cluster's, as Kubernetes
 * recommends: a client certificate of the cluster CA must not be able to assert any user.
 */
export interface FrontProxyPki {
  readonly caCert: string;
  /** CN=front-proxy-client: the name --requestheader-allowed-names lists. */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** The common name of the API server's proxy client certificate. */
export const FRONT_PROXY_CLIENT = "front-proxy-client";

export async function createFrontProxyPki(dir: string): Promise<FrontProxyPki> {
  const ca = await newCa(dir, "front-proxy-ca", "model-endpoint-operator-front-proxy-ca");
  const client = await signed(
    { dir, ...ca },
    FRONT_PROXY_CLIENT,
    `/CN=${FRONT_PROXY_CLIENT}`,
    ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=clientAuth", ""].join("\n"),
  );
  return { caCert: ca.caCert, clientCert: client.cert, clientKey: client.key };
}
