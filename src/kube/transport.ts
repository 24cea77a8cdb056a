/**
 * HTTP to the API server, authenticated by client-node's KubeConfig (or, where its weight matters
 * and the kubeconfig is plain, by kubeconfig.ts: any Credentials).
 *
 * KubeConfig does what is hard to get right (kubeconfig files, in-cluster service-account tokens
 * that rotate, exec and OIDC credential plugins, client certificates, proxies): for every request
 * `applyToHTTPSOptions` fills in fresh credentials and a Node https (or proxy) agent. The requests
 * themselves are plain node:https, because the runtime needs what client-node's generated API
 * classes and its Watch do not give:
 *
 * - one object representation for caches and writes (JSON as sent; see objects.ts);
 * - a watch whose silence the informer's own watchdog judges (client-node's Watch aborts any
 *   stream quiet for a hard-coded 30 s, shorter than the API server's bookmark interval);
 * - the Status body of a failed watch request (410 Gone), a per-request timeout and AbortSignal,
 *   and the exact Content-Type of each patch flavour without rewriting headers in middleware;
 * - connections that are kept alive: client-node's agent opens one TLS connection per request and
 *   builds a TLS context (CA, client certificate and key parsed again) for each. When no proxy is
 *   configured, requests go through a keep-alive agent of this transport's own with one TLS context
 *   per set of credentials, so a write costs one round trip, not a handshake and a round trip.
 *
 * Every failure leaves here as a KubeError (errors.ts).
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";

import { VERSION } from "../version.ts";
import {
  AbortedError,
  classifyApiError,
  errorFromResponse,
  TerminalError,
  TransientError,
} from "./errors.ts";

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The API path, "/api/v1/namespaces/ns/pods". */
  readonly path: string;
  readonly query?: Query;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Default "application/json"; patches say which flavour. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Overrides the transport's default request timeout. */
  readonly timeoutMs?: number;
}

export interface StreamRequest {
  readonly path: string;
  readonly query?: Query;
  /** Ends the stream: the iterator throws an AbortedError. */
  readonly signal: AbortSignal;
}

/**
 * Where the API server is and how to authenticate to it: what the transport needs of a kubeconfig.
 * client-node's KubeConfig has this shape; so has the lighter loader of kubeconfig.ts.
 */
export interface Credentials {
  /** The API server's URL and the proxy to reach it through; null when nothing is configured. */
  getCurrentCluster(): { readonly server: string; readonly proxyUrl?: string | undefined } | null;
  /** Fills in one request's TLS options and Authorization header with fresh credentials. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

/** How the client and the informers reach the API server. Tests inject fakes of this or above it. */
export interface Transport {
  /** One request; the parsed JSON answer (undefined when empty). Throws a KubeError. */
  request(req: HttpRequest): Promise<unknown>;
  /** A streaming GET (a watch): one parsed JSON value per line. Throws a KubeError. */
  stream(req: StreamRequest): AsyncIterable<unknown>;
}

export interface KubeConfigTransportOptions {
  /** Per-request timeout (default 30 000 ms); for a stream, the time to the response headers. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

/**
 * An idle kept-alive connection is closed after this long: well below the API server's own idle
 * timeout (90 s), so the server never closes a connection at the moment it is reused.
 */
const IDLE_CONNECTION_MS = 30_000;
/** Idle connections kept open for reuse (more are closed once their request is done). */
const MAX_IDLE_CONNECTIONS = 16;
/** Methods that may be sent again when a reused connection turned out to be closed. */
const IDEMPOTENT = new Set(["GET", "PUT", "PATCH", "DELETE"]);

/** The request options that make up a TLS identity: a pooled connection serves only its own. */
const TLS_FIELDS = ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const;

/** https.request hands its options to tls.connect, which takes a ready TLS context. */
type PooledRequestOptions = RequestOptions & Pick<ConnectionOptions, "secureContext">;

/** A keep-alive agent for one protocol and TLS identity, and that identity's parsed TLS context. */
interface Pool {
  readonly protocol: string;
  readonly identity: readonly unknown[];
  readonly agent: HttpAgent;
  readonly secureContext: SecureContext | undefined;
}

function sameIdentity(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.every((x, i) => {
    const y = b[i];
    if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
    if (Array.isArray(x) && Array.isArray(y)) return sameIdentity(x, y) && x.length === y.length;
    return x === y;
  });
}

export class KubeConfigTransport implements Transport {
  private readonly kubeConfig: Credentials;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private pool: Pool | undefined;

  constructor(kubeConfig: Credentials, options: KubeConfigTransportOptions = {}) {
    this.kubeConfig = kubeConfig;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? `model-endpoint-operator/${VERSION}`;
  }

  async request(req: HttpRequest): Promise<unknown> {
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const { response, timedOut, done } = await this.open(req.method, req.path, req.query, headers, body, {
      signal: req.signal,
      timeoutMs,
      wholeRequest: true,
    });
    try {
      const text = await readText(response);
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) throw errorFromResponse(status, text, response.headers);
      return text.trim() === "" ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      if (timedOut()) throw timeoutError(timeoutMs, err);
      if (req.signal?.aborted === true)
        throw new AbortedError("request aborted by the caller", { cause: err });
      throw classifyApiError(err);
    } finally {
      done();
    }
  }

  async *stream(req: StreamRequest): AsyncIterable<unknown> {
    const { response, done } = await this.open("GET", req.path, req.query, {}, undefined, {
      signal: req.signal,
      timeoutMs: this.timeoutMs,
      wholeRequest: false,
    });
    try {
      const status = response.statusCode ?? 0;
      if (status !== 200) throw errorFromResponse(status, await readText(response), response.headers);
      response.setEncoding("utf8");
      // Each chunk is scanned once: a large object arriving in many chunks is not searched again
      // from its start for every chunk.
      let pending = "";
      for await (const chunk of response as AsyncIterable<string>) {
        let from = 0;
        for (let newline = chunk.indexOf("\n"); newline >= 0; newline = chunk.indexOf("\n", from)) {
          const line = (pending + chunk.slice(from, newline)).trim();
          pending = "";
          from = newline + 1;
          if (line !== "") yield JSON.parse(line) as unknown;
        }
        pending += chunk.slice(from);
      }
      if (pending.trim() !== "") yield JSON.parse(pending) as unknown;
    } catch (err) {
      // Aborting tears the socket down, which surfaces as ECONNRESET: say what really happened.
      throw req.signal.aborted
        ? new AbortedError("watch aborted by the caller", { cause: err })
        : classifyApiError(err);
    } finally {
      response.destroy();
      done();
    }
  }

  /**
   * Sends a request and resolves with the response once its headers arrived. The timeout covers the
   * whole exchange (`wholeRequest`) or only the wait for the headers (a stream).
   */
  private async open(
    method: string,
    path: string,
    query: Query | undefined,
    headers: Record<string, string>,
    body: string | undefined,
    limits: {
      readonly signal: AbortSignal | undefined;
      readonly timeoutMs: number;
      readonly wholeRequest: boolean;
    },
  ): Promise<{ response: IncomingMessage; timedOut: () => boolean; done: () => void }> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (cluster === null) throw new TerminalError("the kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }

    const abort = new AbortController();
    const state = { timedOut: false };
    const timer = setTimeout(() => {
      state.timedOut = true;
      abort.abort(new DOMException(`no answer within ${limits.timeoutMs} ms`, "TimeoutError"));
    }, limits.timeoutMs);
    const forward = (): void => {
      abort.abort(limits.signal?.reason);
    };
    if (limits.signal?.aborted === true) forward();
    limits.signal?.addEventListener("abort", forward, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      limits.signal?.removeEventListener("abort", forward);
    };

    const options: PooledRequestOptions = {
      method,
      headers: { Accept: "application/json", "User-Agent": this.userAgent, ...headers },
      signal: abort.signal,
    };
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
      if (cluster.proxyUrl === undefined || cluster.proxyUrl === "") this.usePool(options, url.protocol);
      const send = url.protocol === "http:" ? httpRequest : httpsRequest;
      const attempt = (): Promise<IncomingMessage> =>
        new Promise<IncomingMessage>((resolve, reject) => {
          const req: ClientRequest = send(url, options, resolve);
          req.on("error", (err: Error & { code?: string }) => {
            // A kept-alive connection the server closed just as it was reused: the request never
            // reached it, so an idempotent one is sent once more on a fresh connection.
            const closed = err.code === "ECONNRESET" || err.code === "EPIPE";
            if (req.reusedSocket && closed && IDEMPOTENT.has(method) && !abort.signal.aborted) {
              attempt().then(resolve, reject);
            } else {
              reject(err);
            }
          });
          req.end(body);
        });
      const response = await attempt();
      if (!limits.wholeRequest) clearTimeout(timer);
      return { response, timedOut: () => state.timedOut, done };
    } catch (err) {
      done();
      throw state.timedOut ? timeoutError(limits.timeoutMs, err) : classifyApiError(err);
    }
  }

  /**
   * Sends the request through this transport's keep-alive agent, with the TLS context of the
   * credentials KubeConfig just filled in (parsed once, not for every connection). New credentials
   * (a rotated client certificate) get a new agent; the old one's idle connections time out.
   */
  private usePool(options: PooledRequestOptions, protocol: string): void {
    const identity = TLS_FIELDS.map((field) => options[field]);
    let pool = this.pool;
    if (pool?.protocol !== protocol || !sameIdentity(pool.identity, identity)) {
      const agentOptions = {
        keepAlive: true,
        maxFreeSockets: MAX_IDLE_CONNECTIONS,
        timeout: IDLE_CONNECTION_MS,
        scheduling: "lifo" as const,
      };
      const secure = protocol === "https:";
      pool = {
        protocol,
        identity,
        agent: secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions),
        secureContext: secure
          ? createSecureContext({
              ...(options.ca === undefined ? {} : { ca: options.ca }),
              ...(options.cert === undefined ? {} : { cert: options.cert }),
              ...(options.key === undefined ? {} : { key: options.key }),
              ...(options.pfx === undefined ? {} : { pfx: options.pfx }),
              ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
            })
          : undefined,
      };
      this.pool = pool;
    }
    options.agent = pool.agent;
    if (pool.secureContext !== undefined) {
      options.secureContext = pool.secureContext;
      // Already in the context: left in, they would be parsed again for every new connection.
      delete options.ca;
      delete options.cert;
      delete options.key;
      delete options.pfx;
      delete options.passphrase;
    }
  }
}

function timeoutError(timeoutMs: number, cause: unknown): TransientError {
  return new TransientError(`the API server did not answer within ${timeoutMs} ms`, { cause });
}

async function readText(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response as AsyncIterable<string>) text += chunk;
  return text;
}
