import { createServer, connect, type Server, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

import { afterEach, describe, expect, it } from "vitest";

import { freePort } from "./harness.ts";
import { kubeconfigWithServer, TcpProxy } from "./tcp-proxy.ts";

/** An echo server on a free port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

/** A client connected to `port` that collects what it receives and notes when it closes. */
async function client(
  port: number,
): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  let closed = false;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.on("error", () => undefined);
  socket.on("close", () => (closed = true));
  await new Promise<void>((resolve) =>
    socket.once("connect", () => {
      resolve();
    }),
  );
  return { socket, received: () => text, closed: () => closed };
}

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (probe()) return;
    await delay(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe("TcpProxy", () => {
  it("forwards both ways", async () => {
    const echo = await echoServer();
    cleanup.push(() => void echo.server.close());
    const proxy = await TcpProxy.start({ port: echo.port });
    cleanup.push(() => proxy.stop());
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write("hello");
    await until("the echo", () => c.received() === "hello");
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, stalled: 0 });
  });

  it("cut() resets every open connection; new ones work", async () => {
    const echo = await echoServer();
    cleanup.push(() => void echo.server.close());
    const proxy = await TcpProxy.start({ port: echo.port });
    cleanup.push(() => proxy.stop());
    const a = await client(proxy.port);
    await until("the proxy to count it", () => proxy.stats().open === 1);
    expect(proxy.cut()).toBe(1);
    await until("the client to see the close", a.closed);
    const b = await client(proxy.port);
    cleanup.push(() => void b.socket.destroy());
    b.socket.write("again");
    await until("the echo", () => b.received() === "again");
    expect(proxy.stats()).toMatchObject({ accepted: 2, open: 1, cut: 1 });
  });

  it("stall() keeps connections open but silent; new connections are forwarded", async () => {
    const echo = await echoServer();
    cleanup.push(() => void echo.server.close());
    const proxy = await TcpProxy.start({ port: echo.port });
    cleanup.push(() => proxy.stop());
    const a = await client(proxy.port);
    cleanup.push(() => void a.socket.destroy());
    a.socket.write("one");
    await until("the first echo", () => a.received() === "one");
    expect(proxy.stall()).toBe(1);
    a.socket.write("two");
    await delay(200);
    expect(a.received()).toBe("one");
    expect(a.closed()).toBe(false);
    const b = await client(proxy.port);
    cleanup.push(() => void b.socket.destroy());
    b.socket.write("fresh");
    await until("the new connection's echo", () => b.received() === "fresh");
    expect(proxy.stats()).toMatchObject({ open: 2, stalled: 1, stalledTotal: 1 });
    expect(proxy.releaseStalled()).toBe(1);
    await until("the stalled client to see the close", a.closed);
  });

  it("closes the client's connection when the target refuses", async () => {
    const proxy = await TcpProxy.start({ port: await freePort() });
    cleanup.push(() => proxy.stop());
    const c = await client(proxy.port);
    await until("the close", c.closed);
    expect(proxy.stats()).toMatchObject({ open: 0, upstreamFailures: 1 });
  });
});

describe("kubeconfigWithServer", () => {
  it("points every cluster at the new server", () => {
    const text =
      "clusters:\n- name: local\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: x\n";
    expect(kubeconfigWithServer(text, "https://127.0.0.1:7000")).toBe(
      text.replace("https://127.0.0.1:6443", "https://127.0.0.1:7000"),
    );
  });
});
