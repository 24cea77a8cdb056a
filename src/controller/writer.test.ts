import { describe, expect, it } from "vitest";

import { KubeClient } from "../kube/client.ts";
import { ConflictError, errorFromResponse, ForbiddenError, TerminalError } from "../kube/errors.ts";
import type { ReplicaSet } from "../kube/objects.ts";
import type { HttpRequest, StreamRequest, Transport } from "../kube/transport.ts";
import { ApiWriter } from "./writer.ts";

/** Answers each request with the next scripted answer (an Error rejects). */
class ScriptedTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  readonly answers: unknown[];

  constructor(...answers: unknown[]) {
    this.answers = answers;
  }

  request(req: HttpRequest): Promise<unknown> {
    this.requests.push(req);
    const answer = this.answers.shift();
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }

  // eslint-disable-next-line require-yield -- never watched here
  async *stream(_req: StreamRequest): AsyncIterable<unknown> {
    await Promise.resolve();
    throw new Error("not used");
  }
}

/** The API server's refusal: a Status with this code, reason and message, as the client classifies it. */
function refusal(code: number, reason: string, message?: string, details?: object): Error {
  return errorFromResponse(
    code,
    {
      kind: "Status",
      code,
      reason,
      ...(message === undefined ? {} : { message }),
      ...(details === undefined ? {} : { details }),
    },
    undefined,
  );
}

const rs: ReplicaSet = {
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: { name: "fraud-m1", namespace: "ml" },
};

describe("ApiWriter.createReplicaSet", () => {
  it("turns a 422 into a terminal error carrying the API server's reason", async () => {
    const refused = refusal(
      422,
      "Invalid",
      'ReplicaSet.apps "fraud-m1" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    );
    const writer = new ApiWriter(new KubeClient(new ScriptedTransport(refused)));
    const error = await writer.createReplicaSet(rs, "uid-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerminalError);
    expect((error as Error).message).toBe(
      'the API server refused ReplicaSet ml/fraud-m1: ReplicaSet.apps "fraud-m1" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    );
  });

  it("leaves a 403 retryable: a permission can be granted later", async () => {
    const forbidden = refusal(403, "Forbidden", "no");
    const writer = new ApiWriter(new KubeClient(new ScriptedTransport(forbidden)));
    const error = await writer.createReplicaSet(rs, "uid-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).not.toBeInstanceOf(TerminalError);
  });

  it("takes AlreadyExists of its own object as done, and anyone else's as terminal", async () => {
    const exists = refusal(409, "AlreadyExists");
    const owned = (uid: string): ReplicaSet => ({
      ...rs,
      metadata: {
        ...rs.metadata,
        ownerReferences: [{ apiVersion: "v", kind: "ModelEndpoint", name: "fraud", uid, controller: true }],
      },
    });
    await new ApiWriter(new KubeClient(new ScriptedTransport(exists, owned("uid-1")))).createReplicaSet(
      rs,
      "uid-1",
    );
    const error = await new ApiWriter(new KubeClient(new ScriptedTransport(exists, owned("uid-2"))))
      .createReplicaSet(rs, "uid-1")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerminalError);
  });
});

describe("ApiWriter.scaleReplicaSet", () => {
  it("sets spec.replicas with a JSON patch that tests the count the plan saw, not the resourceVersion", async () => {
    const transport = new ScriptedTransport({ ...rs, spec: { replicas: 2 } });
    await new ApiWriter(new KubeClient(transport)).scaleReplicaSet("ml", "fraud-m1", 3, 2);
    expect(transport.requests).toEqual([
      expect.objectContaining({
        method: "PATCH",
        path: "/apis/apps/v1/namespaces/ml/replicasets/fraud-m1",
        contentType: "application/json-patch+json",
        body: [
          { op: "test", path: "/spec/replicas", value: 3 },
          { op: "replace", path: "/spec/replicas", value: 2 },
        ],
      }),
    ]);
  });

  it("turns a failed test (someone else scaled it) into a conflict: plan again, not a refusal for good", async () => {
    const failedTest = refusal(
      422,
      "Invalid",
      "the server rejected our request due to an error in our request",
      {},
    );
    const writer = new ApiWriter(new KubeClient(new ScriptedTransport(failedTest)));
    const error = await writer.scaleReplicaSet("ml", "fraud-m1", 3, 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
  });

  it("leaves a refusal that names a field (an invalid result) as it is: that is no conflict", async () => {
    const invalid = refusal(
      422,
      "Invalid",
      'ReplicaSet.apps "fraud-m1" is invalid: spec.replicas: Invalid value: -1',
      {
        causes: [{ field: "spec.replicas", message: "Invalid value: -1" }],
      },
    );
    const writer = new ApiWriter(new KubeClient(new ScriptedTransport(invalid)));
    const error = await writer.scaleReplicaSet("ml", "fraud-m1", 1, -1).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain("spec.replicas: Invalid value: -1");
  });
});
