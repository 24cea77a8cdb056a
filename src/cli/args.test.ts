import { describe, expect, it } from "vitest";

import { parseBudget, parseCommand, parseDuration, parseTrafficSplit, UsageError } from "./args.ts";

describe("parseCommand", () => {
  it.each([
    [[], { kind: "help", topic: "main" }],
    [["--help"], { kind: "help", topic: "main" }],
    [["help", "rollout", "status"], { kind: "help", topic: "rollout status" }],
    [["deploy", "-h"], { kind: "help", topic: "deploy" }],
    [["rollout", "--help"], { kind: "help", topic: "rollout" }],
    [["--version"], { kind: "version" }],
    [
      ["get", "-n", "ml", "--all-deployment-states", "-o", "wide"],
      {
        kind: "get",
        target: { namespace: "ml" },
        allNamespaces: false,
        allDeploymentStates: true,
        output: "wide",
      },
    ],
    [
      ["-A", "get"],
      { kind: "get", target: {}, allNamespaces: true, allDeploymentStates: false, output: "table" },
    ],
    [
      ["rollout", "status", "fraud", "m2", "--timeout", "90s", "--context", "kind"],
      {
        kind: "rollout-status",
        target: { context: "kind" },
        name: "fraud",
        deployedModel: "m2",
        timeoutMs: 90_000,
      },
    ],
    [
      ["rollout", "status", "fraud"],
      { kind: "rollout-status", target: {}, name: "fraud", timeoutMs: 600_000 },
    ],
    [
      ["rollout", "history", "fraud", "-o", "json"],
      { kind: "rollout-history", target: {}, name: "fraud", output: "json" },
    ],
  ] as const)("%j", (argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });

  it("parses deploy with budgets, env, args and a port", () => {
    expect(
      parseCommand([
        "deploy",
        "fraud",
        "m2",
        "--image",
        "img:2",
        "--model",
        "fraud@2",
        "--previous",
        "m1",
        "--max-surge",
        "1",
        "--max-unavailable",
        "20%",
        "--progress-deadline",
        "5m",
        "--env",
        "A=b=c",
        "--env",
        "X=",
        "--arg=--workers",
        "--arg",
        "2",
        "--port",
        "9000",
        "--dry-run",
      ]),
    ).toEqual({
      kind: "deploy",
      target: {},
      name: "fraud",
      id: "m2",
      image: "img:2",
      model: "fraud@2",
      previous: "m1",
      budgets: { maxSurge: { replicas: 1 }, maxUnavailable: { percent: 20 }, progressDeadlineSeconds: 300 },
      port: 9000,
      env: [
        { name: "A", value: "b=c" },
        { name: "X", value: "" },
      ],
      args: ["--workers", "2"],
      command: [],
      dryRun: true,
    });
  });

  it("parses rollback and undeploy", () => {
    expect(parseCommand(["rollback", "fraud", "--from", "m2", "--id", "m3"])).toEqual({
      kind: "rollback",
      target: {},
      name: "fraud",
      from: "m2",
      id: "m3",
      budgets: {},
      dryRun: false,
    });
    expect(parseCommand(["undeploy", "fraud", "m1", "--traffic-split", "m2=100"])).toEqual({
      kind: "undeploy",
      target: {},
      name: "fraud",
      id: "m1",
      trafficSplit: { m2: 100 },
      dryRun: false,
    });
  });

  it.each([
    [["frobnicate"], 'unknown command "frobnicate"', "main"],
    [["rollout"], "rollout needs a subcommand: status or history", "rollout"],
    [["rollout", "undo", "x"], 'unknown rollout subcommand "undo"', "rollout"],
    [["get", "--timeout", "1s"], '--timeout is not a flag of "get"', "get"],
    [["get", "a", "b"], 'unexpected argument "b"', "get"],
    [["get", "a", "-A"], "a NAME and --all-namespaces do not go together", "get"],
    [["get", "-o", "xml"], "--output must be table, wide, json or yaml", "get"],
    [["deploy", "fraud"], "deploy needs NAME and ID", "deploy"],
    [["deploy", "fraud", "M2", "--image", "i", "--model", "m"], 'ID "M2" must be a DNS label', "deploy"],
    [["deploy", "fraud", "m2", "--model", "m"], "deploy needs --image", "deploy"],
    [
      ["deploy", "fraud", "m2", "--image", "i", "--model", "m", "--max-surge", "101%"],
      "--max-surge must be an integer from 0 to 100",
      "deploy",
    ],
    [
      ["deploy", "fraud", "m2", "--image", "i", "--model", "m", "--env", "NOVALUE"],
      "--env must be NAME=VALUE",
      "deploy",
    ],
    [
      ["deploy", "fraud", "m2", "--image", "i", "--model", "m", "--progress-deadline", "1500ms"],
      "whole number of seconds",
      "deploy",
    ],
    [["rollout", "status", "fraud", "--timeout", "soon"], "--timeout must be a duration", "rollout status"],
    [["undeploy", "fraud", "m1", "--traffic-split", "m2=90"], "must sum to 100, not 90", "undeploy"],
    [["get", "--bogus"], "Unknown option '--bogus'", "main"],
  ] as const)("refuses %j", (argv, message, topic) => {
    let error: unknown;
    try {
      parseCommand(argv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toContain(message);
    expect((error as UsageError).topic).toBe(topic);
  });
});

describe("values", () => {
  it.each([
    ["90", 90_000],
    ["90s", 90_000],
    ["10m", 600_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["0", 0],
  ])("duration %s = %d ms", (text, ms) => {
    expect(parseDuration(text, "--timeout", "main")).toBe(ms);
  });

  it("reads budgets as counts or percentages", () => {
    expect(parseBudget("3", "--max-surge", "deploy")).toEqual({ replicas: 3 });
    expect(parseBudget("25%", "--max-surge", "deploy")).toEqual({ percent: 25 });
    expect(() => parseBudget("-1", "--max-surge", "deploy")).toThrow(UsageError);
  });

  it("reads traffic splits, empty meaning no traffic", () => {
    expect(parseTrafficSplit("m1=80, m2=20", "undeploy")).toEqual({ m1: 80, m2: 20 });
    expect(parseTrafficSplit("", "undeploy")).toEqual({});
    expect(() => parseTrafficSplit("m1=50,m1=50", "undeploy")).toThrow("names m1 twice");
  });
});
