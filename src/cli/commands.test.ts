import { describe, expect, it } from "vitest";

import {
  AbortedError,
  ConflictError,
  modelEndpoints,
  ResourceClient,
  type HttpRequest,
  type KubeObject,
  type StreamRequest,
  type Transport,
} from "../kube/index.ts";
import type { Command } from "./args.ts";
import { EXIT, runCommand, type CliDeps } from "./commands.ts";
import type { RawEndpoint } from "../edits/endpoint.ts";
import { endpointFixture, type ModelFixture } from "../edits/fixtures.ts";

/**
 * An API server holding one endpoint: GET answers the current version, PUT replaces it unless a
 * conflict is queued, a watch yields the versions queued with `then`.
 */
class FakeApi implements Transport {
  current: RawEndpoint;
  readonly puts: unknown[] = [];
  readonly requests: string[] = [];
  conflicts = 0;
  readonly #later: RawEndpoint[] = [];

  constructor(current: RawEndpoint) {
    this.current = current;
  }

  then(...versions: RawEndpoint[]): this {
    this.#later.push(...versions);
    return this;
  }

  request(req: HttpRequest): Promise<unknown> {
    this.requests.push(`${req.method} ${req.path}`);
    if (req.method === "PUT") {
      if (this.conflicts > 0) {
        this.conflicts--;
        // Someone else wrote meanwhile: the next read sees a new resourceVersion.
        this.current = { ...this.current, metadata: { ...this.current.metadata, resourceVersion: "43" } };
        return Promise.reject(new ConflictError("the object has been modified", { code: 409 }));
      }
      this.puts.push(req.body);
      return Promise.resolve(req.body);
    }
    return Promise.resolve(structuredClone(this.current));
  }

  async *stream(req: StreamRequest): AsyncIterable<unknown> {
    this.requests.push(`WATCH ${req.path} ${JSON.stringify(req.query)}`);
    for (const object of this.#later.splice(0)) yield { type: "MODIFIED", object };
    // Then nothing more until the caller gives up.
    await new Promise((_, reject) => {
      req.signal.addEventListener("abort", () => {
        reject(new AbortedError("aborted"));
      });
    });
  }
}

function deps(api: FakeApi, out: string[]): CliDeps {
  return {
    connect: () => ({ endpoints: new ResourceClient<KubeObject>(api, modelEndpoints()), namespace: "ml" }),
    out: (text) => out.push(text),
    now: () => new Date("2026-11-27T10:02:03Z"),
    sleep: () => Promise.resolve(),
  };
}

const deployCmd: Extract<Command, { kind: "deploy" }> = {
  kind: "deploy",
  target: {},
  name: "fraud",
  id: "m2",
  image: "img:2",
  model: "fraud@2",
  budgets: {},
  env: [],
  args: [],
  command: [],
  dryRun: false,
};

const one = (
  models: ModelFixture[],
  options: Partial<Parameters<typeof endpointFixture>[0]> = {},
): RawEndpoint => endpointFixture({ models, ...options });

describe("writes", () => {
  it("replace the endpoint at the resourceVersion they read, and re-plan from a fresh read on a conflict", async () => {
    const api = new FakeApi(one([{ id: "m1", state: "DEPLOYED" }]));
    api.conflicts = 1;
    const out: string[] = [];
    expect(await runCommand(deployCmd, deps(api, out))).toBe(EXIT.ok);
    expect(api.requests.filter((r) => r.startsWith("PUT"))).toEqual([
      "PUT /apis/serving.modelendpoint.io/v1alpha1/namespaces/ml/modelendpoints/fraud",
      "PUT /apis/serving.modelendpoint.io/v1alpha1/namespaces/ml/modelendpoints/fraud",
    ]);
    const written = api.puts[0] as RawEndpoint;
    expect(written.metadata?.resourceVersion).toBe("43");
    expect(written.spec?.deployedModels?.map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(out.join("")).toContain("follow it: kubectl modelendpoint rollout status fraud m2 -n ml");
  });

  it("write nothing on --dry-run", async () => {
    const api = new FakeApi(one([{ id: "m1", state: "DEPLOYED" }]));
    const out: string[] = [];
    expect(await runCommand({ ...deployCmd, dryRun: true }, deps(api, out))).toBe(EXIT.ok);
    expect(api.puts).toEqual([]);
    expect(out.join("")).toContain("(dry run: nothing written)\ndeployedModel:\n  id: m2\n");
  });
});

describe("rollout status", () => {
  const status = (timeoutMs = 5000): Extract<Command, { kind: "rollout-status" }> => ({
    kind: "rollout-status",
    target: {},
    name: "fraud",
    timeoutMs,
  });

  it("prints each change of progress from the watch and exits 0 when the chain converged", async () => {
    const api = new FakeApi(
      one(
        [
          { id: "m1", state: "DEPLOYED" },
          { id: "m2", previous: "m1" },
        ],
        { generation: 3, observed: 2 },
      ),
    ).then(
      one(
        [
          { id: "m1", state: "DEPLOYED", replicas: 3 },
          { id: "m2", previous: "m1", state: "BEING_DEPLOYED", replicas: 1, ready: 1 },
        ],
        {
          generation: 3,
          effective: { m1: 75, m2: 25 },
        },
      ),
      one(
        [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
        ],
        { generation: 3, effective: { m2: 100 } },
      ),
    );
    const out: string[] = [];
    expect(await runCommand(status(), deps(api, out))).toBe(EXIT.ok);
    expect(out).toEqual([
      "10:02:03 waiting for the operator to observe generation 3\n",
      "10:02:03 m2 (revision 2) BEING_DEPLOYED [m1 3/3 available, m2 1/1 available]; traffic m1=75,m2=25\n",
      "10:02:03 m2 (revision 2) rolled out: DEPLOYED, 3/3 replicas available; traffic m2=100\n",
    ]);
    expect(api.requests.find((r) => r.startsWith("WATCH"))).toContain(
      '"fieldSelector":"metadata.name=fraud"',
    );
  });

  it("exits 1 when the rollout FAILED", async () => {
    const api = new FakeApi(
      one([
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "FAILED", reason: "RolloutRefused" },
      ]),
    );
    expect(await runCommand(status(), deps(api, []))).toBe(EXIT.failed);
  });

  it("exits 3 when the timeout passes first", async () => {
    const api = new FakeApi(
      one([
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1", state: "BEING_DEPLOYED", replicas: 1 },
      ]),
    );
    const out: string[] = [];
    expect(await runCommand(status(50), deps(api, out))).toBe(EXIT.timeout);
    expect(out.at(-1)).toMatch(/^timed out after 0.05s; last: m2 \(revision 2\) BEING_DEPLOYED/);
  });
});
