/**
 * The operator's one HTTP port: /metrics (Prometheus), /healthz (the process is alive and its
 * event loop turns) and /readyz (caches synced and, with leader election, either leading or
 * standing by ready to take over).
 */
import { createServer, type Server } from "node:http";

import type { Registry } from "prom-client";

export interface HealthSource {
  /** Empty when ready; otherwise the reasons it is not (shown in the /readyz body). */
  notReadyReasons(): readonly string[];
}

export interface OperatorServer {
  readonly server: Server;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startServer(options: {
  host: string;
  port: number;
  registry: Registry;
  health: HealthSource;
}): Promise<OperatorServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    switch (path) {
      case "/metrics":
        options.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": options.registry.contentType }).end(text);
          },
          (err: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
          },
        );
        return;
      case "/healthz":
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
        return;
      case "/readyz": {
        const reasons = options.health.notReadyReasons();
        if (reasons.length === 0) res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
        else res.writeHead(503, { "content-type": "text/plain" }).end(`not ready:\n${reasons.join("\n")}\n`);
        return;
      }
      default:
        res
          .writeHead(404, { "content-type": "text/plain" })
          .end("not found; try /metrics, /healthz, /readyz\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
