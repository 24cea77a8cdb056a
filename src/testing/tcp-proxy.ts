/**
 * A TCP proxy on 127.0.0.1 for fault tests: put it between a client (the operator) and the API
 * server, point the client's kubeconfig at it, and break the client's connections on demand.
 *
 * It forwards bytes and knows nothing of TLS or HTTP: the API server's certificate is for 127.0.0.1,
 * so TLS works through it unchanged.
 *
 * - `cut()` destroys every open connection on both sides, as a load balancer or a NAT table that
 *   forgets its flows does: the client sees ECONNRESET or an early end and must reconnect.
 * - `stall()` stops forwarding on every open connection without closing it: no FIN, no RST, bytes
 *   sent either way are neither delivered nor refused. A client notices only through its own
 *   timeouts, which is what a half-open connection behind a dead proxy does (the informer's
 *   watchdog must act). Connections opened afterwards are forwarded normally. Stalled connections
 *   are closed when the client gives up on them, or by `releaseStalled()` / `stop()`.
 *
 *     const proxy = await TcpProxy.start({ port: cp.ports.apiserver });
 *     // kubeconfig: server https://127.0.0.1:<proxy.port>
 *     proxy.stall();   // the operator's watches go silent
 *     proxy.cut();     // the operator's connections are reset
 *     await proxy.stop();
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxyOptions {
  /** The port to forward to on `host`. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The port to listen on (127.0.0.1); a free one when omitted. */
  readonly listenPort?: number;
}

export interface TcpProxyStats {
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections open now (stalled ones included). */
  readonly open: number;
  /** Connections stalled now. */
  readonly stalled: number;
  /** Connections destroyed by cut(). */
  readonly cut: number;
  /** Connections stalled by stall(), in total. */
  readonly stalledTotal: number;
  /** Connections closed because the target refused or dropped them. */
  readonly upstreamFailures: number;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  stalled: boolean;
}

export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #accepted = 0;
  #cut = 0;
  #stalledTotal = 0;
  #upstreamFailures = 0;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listens on 127.0.0.1 and forwards every connection to `host:port`. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const host = options.host ?? "127.0.0.1";
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.listenPort ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    const proxy = new TcpProxy(server, typeof address === "object" && address ? address.port : 0);
    server.on("connection", (client) => {
      proxy.#forward(client, host, options.port);
    });
    return proxy;
  }

  #forward(client: Socket, host: string, port: number): void {
    this.#accepted++;
    const upstream = connect({ host, port });
    const pair: Pair = { client, upstream, stalled: false };
    this.#pairs.add(pair);
    let connected = false;
    const close = (): void => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    upstream.once("connect", () => {
      connected = true;
      if (pair.stalled) return;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on("error", () => {
      if (!connected) this.#upstreamFailures++;
      close();
    });
    client.on("error", close);
    upstream.on("close", close);
    client.on("close", close);
  }

  /** Destroys every open connection (stalled ones too); returns how many. */
  cut(): number {
    const pairs = [...this.#pairs];
    for (const pair of pairs) {
      this.#pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#cut += pairs.length;
    return pairs.length;
  }

  /** Silently stops forwarding on every open connection; returns how many were stalled now. */
  stall(): number {
    let count = 0;
    for (const pair of this.#pairs) {
      if (pair.stalled) continue;
      pair.stalled = true;
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
      count++;
    }
    this.#stalledTotal += count;
    return count;
  }

  /** Closes the stalled connections the clients have not given up on yet; returns how many. */
  releaseStalled(): number {
    const stalled = [...this.#pairs].filter((p) => p.stalled);
    for (const pair of stalled) {
      this.#pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
    return stalled.length;
  }

  stats(): TcpProxyStats {
    const open = [...this.#pairs];
    return {
      accepted: this.#accepted,
      open: open.length,
      stalled: open.filter((p) => p.stalled).length,
      cut: this.#cut,
      stalledTotal: this.#stalledTotal,
      upstreamFailures: this.#upstreamFailures,
    };
  }

  /** Stops listening and closes every connection. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    await closed;
  }
}

/** The kubeconfig `text` with every cluster's server replaced by `server` (e.g. a proxy's URL). */
export function kubeconfigWithServer(text: string, server: string): string {
  return text.replace(/^(\s*server:\s*).*$/gm, `$1${server}`);
}
