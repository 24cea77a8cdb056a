/**
 * HTTP to the API server, authenticated by client-node's KubeConfig.
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
 *   and the exact Content-Type of each patch flavour without rewriting headers in middleware.
 *
 * Every failure leaves here as a KubeError (errors.ts).
 */
import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";

import type { KubeConfig } from "@kubernetes/client-node";

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

export class KubeConfigTransport implements Transport {
  private readonly kubeConfig: KubeConfig;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(kubeConfig: KubeConfig, options: KubeConfigTransportOptions = {}) {
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
      let buffered = "";
      for await (const chunk of response as AsyncIterable<string>) {
        buffered += chunk;
        for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line !== "") yield JSON.parse(line) as unknown;
        }
      }
      if (buffered.trim() !== "") yield JSON.parse(buffered) as unknown;
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

    const options: RequestOptions = {
      method,
      headers: { Accept: "application/json", "User-Agent": this.userAgent, ...headers },
      signal: abort.signal,
    };
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const send = url.protocol === "http:" ? httpRequest : httpsRequest;
        const req = send(url, options, resolve);
        req.on("error", reject);
        req.end(body);
      });
      if (!limits.wholeRequest) clearTimeout(timer);
      return { response, timedOut: () => state.timedOut, done };
    } catch (err) {
      done();
      throw state.timedOut ? timeoutError(limits.timeoutMs, err) : classifyApiError(err);
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
