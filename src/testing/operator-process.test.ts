/**
 * OperatorProcess against a stand-in for src/main.ts: a small script that logs its metrics port as
 * the operator does and serves /readyz and /metrics. Its behaviour is chosen through the
 * environment: FAKE_EXIT (exit at once with that code), FAKE_UNREADY (/readyz answers 503),
 * FAKE_IGNORE_TERM (SIGTERM does nothing).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, afterEach, describe, expect, it } from "vitest";

import {
  FAST_LEASE,
  OperatorExitedError,
  OperatorProcess,
  operatorArgs,
  type OperatorExit,
  type OperatorProcessOptions,
} from "./operator-process.ts";

const FAKE = `
import { createServer } from "node:http";
const log = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
if (process.env.FAKE_EXIT !== undefined) {
  log({ level: 50, msg: "cannot start" });
  process.exit(Number(process.env.FAKE_EXIT));
}
const server = createServer((req, res) => {
  if (req.url === "/readyz") res.statusCode = process.env.FAKE_UNREADY === undefined ? 200 : 503;
  if (req.url === "/metrics") res.write('modelendpoint_leader 1\\nmodelendpoint_writes_total{resource="pods"} 2\\nmodelendpoint_writes_total{resource="services"} 3\\n');
  res.end();
});
server.listen(0, "127.0.0.1", () => {
  log({ level: 30, msg: "listening", metricsPort: server.address().port, argv: process.argv.slice(2), wrapped: process.env.FAKE_WRAPPED ?? "" });
  log({ level: 40, msg: "a warning" });
});
process.on("SIGTERM", () => {
  if (process.env.FAKE_IGNORE_TERM === undefined) process.exit(0);
});
`;

const dir = mkdtempSync(join(tmpdir(), "meo-operator-process-test-"));
const main = join(dir, "fake-operator.mjs");
writeFileSync(main, FAKE);

const started: OperatorProcess[] = [];
let made = 0;

function fake(
  env: Record<string, string> = {},
  options: Partial<OperatorProcessOptions> = {},
): OperatorProcess {
  const op = new OperatorProcess({
    kubeconfig: "/dev/null",
    main,
    env: { ...process.env, ...env },
    logFile: join(dir, `${String(++made)}-${options.identity ?? "operator"}.log`),
    ...options,
  });
  started.push(op);
  return op;
}

afterEach(async () => {
  for (const op of started.splice(0)) await op.kill();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("operatorArgs", () => {
  it("runs every namespace without leader election by default, logging JSON at info", () => {
    expect(operatorArgs({ kubeconfig: "/k" })).toEqual([
      "--kubeconfig=/k",
      "--metrics-bind-address=127.0.0.1:0",
      "--log-format=json",
      "--log-level=info",
      "--leader-elect=false",
    ]);
  });

  it("adds namespaces, identity, leader election and the extra flags last", () => {
    expect(
      operatorArgs({
        kubeconfig: "/k",
        namespaces: ["a", "b"],
        identity: "replica-a",
        logLevel: "debug",
        leaderElection: { leaseNamespace: "a", ...FAST_LEASE },
        extraArgs: ["--workers=2"],
      }),
    ).toEqual([
      "--kubeconfig=/k",
      "--namespaces=a,b",
      "--metrics-bind-address=127.0.0.1:0",
      "--log-format=json",
      "--log-level=debug",
      "--identity=replica-a",
      "--leader-elect=true",
      "--lease-namespace=a",
      "--lease-duration-seconds=4",
      "--renew-deadline-seconds=3",
      "--retry-period-seconds=1",
      "--workers=2",
    ]);
  });
});

describe("OperatorProcess", () => {
  it("starts, is ready, serves metrics, and stops on SIGTERM with exit code 0", async () => {
    const exits: OperatorExit[] = [];
    const op = fake({}, { identity: "a", onExit: (e) => exits.push(e) });
    await op.start();
    expect(op.running).toBe(true);
    expect(op.pid).toBeGreaterThan(0);
    expect(op.logFile).toMatch(/a\.log$/);
    expect(await op.metric("modelendpoint_leader")).toBe(1);
    expect(await op.metric("modelendpoint_writes_total", 'resource="services"')).toBe(3);
    expect(await op.metric("modelendpoint_absent")).toBeUndefined();
    expect(op.tail()).toContain('"--kubeconfig=/dev/null"');
    expect(op.tail()).toContain('"--identity=a"');
    expect(await op.stop()).toBe(0);
    expect(op.running).toBe(false);
    expect(exits).toEqual([{ code: 0, requested: true }]);
  });

  it("lists problems from the chosen level up", async () => {
    const errors = fake();
    const warnings = fake({}, { problemLevel: "warn" });
    await Promise.all([errors.start(), warnings.start()]);
    expect(errors.problems()).toEqual([]);
    expect(warnings.problems()).toEqual(['{"level":40,"msg":"a warning"}']);
  });

  it("starts again after a kill, appending to the same log and reading the new process's port", async () => {
    const op = fake();
    await op.start();
    const first = { pid: op.pid, url: op.url };
    await op.kill();
    await op.start();
    expect(op.pid).not.toBe(first.pid);
    const ports = [...readFileSync(op.logFile, "utf8").matchAll(/"metricsPort":(\d+)/g)].map((m) => m[1]);
    expect(ports).toHaveLength(2);
    expect(op.url).toBe(`http://127.0.0.1:${String(ports[1])}`);
    expect((await fetch(`${op.url}/readyz`)).ok).toBe(true);
  });

  it("fails at once with the log when the process exits during start, and reports the crash", async () => {
    const exits: OperatorExit[] = [];
    const op = fake({ FAKE_EXIT: "3" }, { onExit: (e) => exits.push(e), startTimeoutMs: 60_000 });
    const began = Date.now();
    const err: unknown = await op.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperatorExitedError);
    expect(String(err)).toContain("exited (3) before it logged its metrics port");
    expect(String(err)).toContain("cannot start");
    expect(Date.now() - began).toBeLessThan(30_000);
    expect(exits).toEqual([{ code: 3, requested: false }]);
  });

  it("names /readyz when it is not ready in time, and leaves the process running", async () => {
    const op = fake({ FAKE_UNREADY: "1" }, { readyTimeoutMs: 300 });
    await expect(op.start()).rejects.toThrow(/still waiting for a 200 from \/readyz after 300 ms/);
    expect(op.running).toBe(true);
    await expect(op.start("listening")).rejects.toThrow("already running");
  });

  it("only waits for the metrics port when asked to", async () => {
    const op = fake({ FAKE_UNREADY: "1" }, { readyTimeoutMs: 1 });
    await op.start("listening");
    expect((await fetch(`${op.url}/readyz`)).status).toBe(503);
  });

  it("sends SIGKILL when SIGTERM is ignored for the grace period", async () => {
    const op = fake({ FAKE_IGNORE_TERM: "1" }, { stopGraceMs: 200 });
    await op.start();
    expect(await op.stop()).toBe("SIGKILL");
  });

  it("runs the command through `wrap`, keeping the pid", async () => {
    const op = fake(
      {},
      {
        wrap: (command, args) => ["/bin/sh", ["-c", 'FAKE_WRAPPED=yes exec "$0" "$@"', command, ...args]],
      },
    );
    await op.start();
    expect(op.tail()).toContain('"wrapped":"yes"');
    expect(readFileSync(`/proc/${String(op.pid)}/cmdline`, "utf8")).toContain("fake-operator.mjs");
  });

  it("has nothing to stop before it was started", async () => {
    const op = fake();
    expect(await op.stop()).toBeUndefined();
    expect(() => op.pid).toThrow(/no process/);
    expect(() => op.url).toThrow(/metrics port/);
    expect(op.tail()).toBe("");
    expect(op.problems()).toEqual([]);
  });
});
