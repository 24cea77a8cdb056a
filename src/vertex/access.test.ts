import { describe, expect, it } from "vitest";

import { ForbiddenError, TransientError } from "../kube/errors.ts";
import type { HttpRequest, Transport } from "../kube/transport.ts";
import type { Review } from "../kube/access-review.ts";
import { AccessCache, type ReadAccess, type Reviewer, selfReviewer } from "./access.ts";
import { RpcError } from "./status.ts";

const GET: ReadAccess = {
  verb: "get",
  group: "serving.modelendpoint.io",
  resource: "modelendpoints",
  namespace: "team-a",
};

/** GET in another namespace. */
const inTeam = (namespace: string): ReadAccess => ({ ...GET, namespace });

/** A reviewer that records each question and answers with `answer`. */
function reviewer(
  answer: (access: ReadAccess) => Promise<Review> = () => Promise.resolve({ allowed: true }),
): {
  readonly asked: ReadAccess[];
  readonly review: Reviewer;
} {
  const asked: ReadAccess[] = [];
  return {
    asked,
    review: (access) => {
      asked.push(access);
      return answer(access);
    },
  };
}

/** A cache on a clock the test moves, keeping answers 1 s. */
function cache(maxEntries?: number): { cache: AccessCache; clock: { now: number } } {
  const clock = { now: 0 };
  return {
    cache: new AccessCache({
      ttlMs: 1_000,
      now: () => clock.now,
      ...(maxEntries === undefined ? {} : { maxEntries }),
    }),
    clock,
  };
}

/** The RpcError a check fails with. */
async function refusal(check: Promise<void>): Promise<RpcError> {
  const err = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(err)}`);
  return err;
}

describe("AccessCache", () => {
  it("reuses an allowed answer within ttlMs and asks again after", async () => {
    const { cache: access, clock } = cache();
    const { asked, review } = reviewer();
    await access.check("alice", review, GET);
    clock.now = 999;
    await access.check("alice", review, GET);
    expect(asked).toEqual([GET]);
    clock.now = 1_000;
    await access.check("alice", review, GET);
    expect(asked).toEqual([GET, GET]);
  });

  it("a denied answer is PERMISSION_DENIED naming the verb, resource, group, namespace and reason", async () => {
    const { cache: access } = cache();
    const { asked, review } = reviewer(() => Promise.resolve({ allowed: false, reason: "no RBAC rule" }));
    const err = await refusal(access.check("alice", review, GET));
    expect(err.status).toBe("PERMISSION_DENIED");
    expect(err.message).toBe(
      "permission denied: the caller may not get modelendpoints.serving.modelendpoint.io in namespace team-a (no RBAC rule)",
    );
    // The denial is kept too.
    expect((await refusal(access.check("alice", review, GET))).status).toBe("PERMISSION_DENIED");
    expect(asked).toHaveLength(1);
  });

  it("a denial without a reason or a namespace says no more than it knows", async () => {
    const { cache: access } = cache();
    const { review } = reviewer(() => Promise.resolve({ allowed: false, reason: "" }));
    const err = await refusal(access.check("alice", review, { ...GET, verb: "list", namespace: "" }));
    expect(err.message).toBe(
      "permission denied: the caller may not list modelendpoints.serving.modelendpoint.io",
    );
  });

  it("concurrent checks of the same question share one review", async () => {
    const { cache: access } = cache();
    let answer: (review: Review) => void = () => undefined;
    const { asked, review } = reviewer(
      () =>
        new Promise((resolve) => {
          answer = resolve;
        }),
    );
    const first = access.check("alice", review, GET);
    const second = access.check("alice", review, GET);
    expect(asked).toHaveLength(1);
    answer({ allowed: true });
    await Promise.all([first, second]);
    expect(asked).toHaveLength(1);
  });

  it("callers, verbs, resources and namespaces are separate questions", async () => {
    const { cache: access } = cache();
    const { asked, review } = reviewer();
    const questions: [string, ReadAccess][] = [
      ["alice", GET],
      ["bob", GET],
      ["alice", { ...GET, verb: "list" }],
      ["alice", inTeam("team-b")],
      ["alice", { ...GET, resource: "models" }],
      ["alice", { ...GET, group: "other.example.io" }],
    ];
    for (const [caller, question] of questions) await access.check(caller, review, question);
    for (const [caller, question] of questions) await access.check(caller, review, question);
    expect(asked).toEqual(questions.map(([, question]) => question));
  });

  it.each([
    ["401", new ForbiddenError("401 Unauthorized", { code: 401 }), "UNAUTHENTICATED"],
    ["403", new ForbiddenError("403 Forbidden", { code: 403 }), "PERMISSION_DENIED"],
    ["a transient failure", new TransientError("connection refused"), "UNAVAILABLE"],
  ] as const)("a review failing with %s is %s and is not kept", async (_what, error, status) => {
    const { cache: access } = cache();
    let fail = true;
    const { asked, review } = reviewer(() =>
      fail ? Promise.reject(error) : Promise.resolve({ allowed: true }),
    );
    expect((await refusal(access.check("alice", review, GET))).status).toBe(status);
    fail = false;
    await access.check("alice", review, GET);
    expect(asked).toHaveLength(2);
  });

  it("beyond maxEntries the oldest answer goes first", async () => {
    const { cache: access } = cache(2);
    const { asked, review } = reviewer();
    for (const namespace of ["a", "b", "c"]) await access.check("alice", review, inTeam(namespace));
    expect(asked).toHaveLength(3);
    await access.check("alice", review, inTeam("b"));
    await access.check("alice", review, inTeam("c"));
    expect(asked).toHaveLength(3);
    await access.check("alice", review, inTeam("a"));
    expect(asked.map((a) => a.namespace)).toEqual(["a", "b", "c", "a"]);
  });

  it("an answer asked again after ttlMs counts as the newest", async () => {
    const { cache: access, clock } = cache(2);
    const { asked, review } = reviewer();
    await access.check("alice", review, inTeam("a"));
    await access.check("alice", review, inTeam("b"));
    clock.now = 1_000;
    await access.check("alice", review, inTeam("a"));
    await access.check("alice", review, inTeam("c")); // evicts b, not a
    await access.check("alice", review, inTeam("a"));
    expect(asked.map((a) => a.namespace)).toEqual(["a", "b", "a", "c"]);
  });
});

describe("selfReviewer", () => {
  /** A transport that records its requests and answers each with `answer`. */
  function transport(answer: unknown): { requests: HttpRequest[]; transport: Transport } {
    const requests: HttpRequest[] = [];
    return {
      requests,
      transport: {
        request: (req) => {
          requests.push(req);
          return Promise.resolve(answer);
        },
        stream: () => {
          throw new Error("test: no streams");
        },
      },
    };
  }

  it("POSTs a SelfSubjectAccessReview of the question and reads its status", async () => {
    const fake = transport({ status: { allowed: true } });
    expect(await selfReviewer(fake.transport)(GET)).toEqual({ allowed: true, reason: undefined });
    expect(fake.requests).toEqual([
      {
        method: "POST",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              verb: "get",
              group: "serving.modelendpoint.io",
              resource: "modelendpoints",
              namespace: "team-a",
            },
          },
        },
      },
    ]);
  });

  it("a denial keeps its reason; an answer without a status is a denial", async () => {
    const denied = transport({ status: { allowed: false, reason: "no RBAC rule" } });
    expect(await selfReviewer(denied.transport)(GET)).toEqual({ allowed: false, reason: "no RBAC rule" });
    expect(await selfReviewer(transport(undefined).transport)(GET)).toEqual({
      allowed: false,
      reason: undefined,
    });
  });
});
