import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";

import { AbortedError, GoneError, NotFoundError, TransientError } from "./errors.ts";
import { KubeConfigTransport } from "./transport.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A plain-HTTP stand-in for the API server on loopback, and a transport pointed at it. */
async function serve(
  handler: Handler,
  timeoutMs = 2_000,
): Promise<{ transport: KubeConfigTransport; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: url, skipTLSVerify: true }],
    users: [{ name: "u", token: "secret-token" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return { transport: new KubeConfigTransport(kc, { timeoutMs }), url };
}

function json(res: ServerResponse, code: number, value: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

describe("KubeConfigTransport.request", () => {
  it("sends credentials, query and a JSON body, and parses the answer", async () => {
    let seen: { url?: string; auth?: string; type?: string; body?: string } = {};
    const { transport } = await serve((req, res, body) => {
      seen = {
        ...(req.url === undefined ? {} : { url: req.url }),
        ...(req.headers.authorization === undefined ? {} : { auth: req.headers.authorization }),
        ...(req.headers["content-type"] === undefined ? {} : { type: req.headers["content-type"] }),
        body,
      };
      json(res, 200, { ok: true });
    });
    const answer = await transport.request({
      method: "PATCH",
      path: "/api/v1/namespaces/ns/pods/p",
      query: { fieldManager: "meo", force: true, skipped: undefined },
      body: { metadata: { labels: { a: "b" } } },
      contentType: "application/merge-patch+json",
    });
    expect(answer).toEqual({ ok: true });
    expect(seen).toEqual({
      url: "/api/v1/namespaces/ns/pods/p?fieldManager=meo&force=true",
      auth: "Bearer secret-token",
      type: "application/merge-patch+json",
      body: '{"metadata":{"labels":{"a":"b"}}}',
    });
  });

  it("turns a Status answer into its typed error", async () => {
    const { transport } = await serve((_req, res) => {
      json(res, 404, { kind: "Status", code: 404, reason: "NotFound", message: 'pods "p" not found' });
    });
    const err = await transport
      .request({ method: "GET", path: "/api/v1/namespaces/ns/pods/p" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).message).toContain('pods "p" not found');
  });

  it("times out as a TransientError, and an abort by the caller is an AbortedError", async () => {
    const { transport } = await serve(() => undefined, 50); // never answers
    await expect(transport.request({ method: "GET", path: "/slow" })).rejects.toBeInstanceOf(TransientError);

    const abort = new AbortController();
    const pending = transport.request({
      method: "GET",
      path: "/slow",
      signal: abort.signal,
      timeoutMs: 60_000,
    });
    abort.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
  });

  it("a refused connection is a TransientError", async () => {
    const { transport } = await serve(() => undefined);
    const server = servers.pop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await expect(transport.request({ method: "GET", path: "/" })).rejects.toBeInstanceOf(TransientError);
  });
});

describe("KubeConfigTransport.stream", () => {
  it("yields one value per line, whatever the chunk boundaries", async () => {
    const { transport } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"type":"ADDED","object":{"n":1}}\n{"type":"MOD');
      res.write('IFIED","object":{"n":2}}\n\n{"type":"DELETED",');
      res.end('"object":{"n":3}}');
    });
    const values: unknown[] = [];
    for await (const value of transport.stream({ path: "/w", signal: new AbortController().signal })) {
      values.push(value);
    }
    expect(values).toEqual([
      { type: "ADDED", object: { n: 1 } },
      { type: "MODIFIED", object: { n: 2 } },
      { type: "DELETED", object: { n: 3 } },
    ]);
  });

  it("reports a refused watch with the API server's Status (410 Gone)", async () => {
    const { transport } = await serve((_req, res) => {
      json(res, 410, {
        kind: "Status",
        code: 410,
        reason: "Expired",
        message: "too old resource version: 1 (5)",
      });
    });
    const read = async (): Promise<void> => {
      for await (const _ of transport.stream({ path: "/w", signal: new AbortController().signal })) {
        // nothing arrives
      }
    };
    await expect(read()).rejects.toBeInstanceOf(GoneError);
  });

  it("ends with an AbortedError when the caller aborts mid-stream", async () => {
    const { transport } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"type":"ADDED","object":{}}\n'); // then stays open
    });
    const abort = new AbortController();
    const read = async (): Promise<number> => {
      let count = 0;
      for await (const _ of transport.stream({ path: "/w", signal: abort.signal })) {
        count++;
        abort.abort();
      }
      return count;
    };
    await expect(read()).rejects.toBeInstanceOf(AbortedError);
  });
});
