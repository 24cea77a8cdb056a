import { describe, expect, it } from "vitest";

import { parseEndpoint, viewOf } from "../edits/endpoint.ts";
import { endpointFixture, type ModelFixture } from "../edits/fixtures.ts";
import { defaultTarget, judge } from "./progress.ts";
import { renderGet, renderHistory, table } from "./render.ts";

const view = (
  models: ModelFixture[],
  options: Parameters<typeof endpointFixture>[0] extends infer O ? Partial<O> : never = {},
) => viewOf(parseEndpoint(endpointFixture({ models, ...options })));

describe("rollout status", () => {
  it("follows a rollback after a git revert: the revived revision, until its chain is back on it", () => {
    // m2 left spec; m1 (REPLACED before) is BEING_DEPLOYED again while m2's pods drain.
    const during = view(
      [{ id: "m1", state: "BEING_DEPLOYED", replicas: 2, ready: 2, message: "2/3 replicas available" }],
      {
        effective: { m1: 50, m2: 50 },
      },
    );
    expect(defaultTarget(during)).toBe("m1");
    expect(judge(during, "m1")).toEqual({
      phase: "progressing",
      line: "m1 (revision 1) BEING_DEPLOYED: 2/3 replicas available [m1 2/2 available]; traffic m1=50,m2=50",
    });
    const after = view([{ id: "m1", state: "DEPLOYED", replicas: 3, ready: 3 }], { effective: { m1: 100 } });
    expect(judge(after, "m1").phase).toBe("done");
  });

  it.each([
    [
      "waits until the operator observed the latest generation",
      view([{ id: "m1", state: "DEPLOYED" }], { generation: 3, observed: 2 }),
      "m1",
      "waiting",
      "waiting for the operator to observe generation 3 of fraud",
    ],
    [
      "waits for a model not in status yet",
      view([
        { id: "m1", state: "DEPLOYED" },
        { id: "m2", previous: "m1" },
      ]),
      "m2",
      "waiting",
      "waiting for m2 to appear in the status",
    ],
    [
      "reports progress with both revisions' replicas and the traffic",
      view(
        [
          { id: "m1", state: "DEPLOYED", replicas: 2 },
          {
            id: "m2",
            previous: "m1",
            state: "BEING_DEPLOYED",
            replicas: 2,
            ready: 1,
            message: "1/3 new replicas available",
          },
        ],
        { effective: { m1: 67, m2: 33 } },
      ),
      "m2",
      "progressing",
      "m2 (revision 2) BEING_DEPLOYED: 1/3 new replicas available [m1 2/2 available, m2 1/2 available]; traffic m1=67,m2=33",
    ],
    [
      "is not done while the previous revision still holds replicas",
      view(
        [
          { id: "m1", state: "DEPLOYED", replicas: 1 },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
        ],
        { effective: { m1: 25, m2: 75 } },
      ),
      "m2",
      "progressing",
      "m2 (revision 2) DEPLOYED, retiring m1 1/1 available; traffic m1=25,m2=75",
    ],
    [
      "is done when the chain converged on it",
      view(
        [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "DEPLOYED" },
        ],
        { effective: { m2: 100 } },
      ),
      "m2",
      "done",
      "m2 (revision 2) rolled out: DEPLOYED, 3/3 replicas available; traffic m2=100",
    ],
    [
      "fails on FAILED with the reason and message",
      view([
        { id: "m1", state: "DEPLOYED" },
        {
          id: "m2",
          previous: "m1",
          state: "FAILED",
          reason: "ProgressDeadlineExceeded",
          message: "0/3 new replicas became ready",
        },
      ]),
      "m2",
      "failed",
      "m2 (revision 2) FAILED (ProgressDeadlineExceeded): 0/3 new replicas became ready; traffic m1=100",
    ],
    [
      "fails when a later revision replaced it (a rollback)",
      view(
        [
          { id: "m1", state: "REPLACED" },
          { id: "m2", previous: "m1", state: "REPLACED" },
          { id: "m3", previous: "m2", state: "DEPLOYED" },
        ],
        { effective: { m3: 100 } },
      ),
      "m2",
      "failed",
      "m2 (revision 2) was REPLACED by m3; traffic m3=100",
    ],
    [
      "fails for a model that is gone",
      view([{ id: "m1", state: "DEPLOYED" }]),
      "m9",
      "failed",
      "m9 is not a deployed model of fraud (any more)",
    ],
  ] as const)("%s", (_label, v, id, phase, line) => {
    expect(judge(v, id)).toEqual({ phase, line });
  });

  it("follows the rollout in progress, else the newest rolling deployment, else the last model", () => {
    expect(
      defaultTarget(
        view([
          { id: "a", state: "DEPLOYED" },
          { id: "b", previous: "a", state: "BEING_DEPLOYED" },
        ]),
      ),
    ).toBe("b");
    expect(
      defaultTarget(
        view([
          { id: "a", state: "REPLACED" },
          { id: "b", previous: "a", state: "DEPLOYED" },
        ]),
      ),
    ).toBe("b");
    expect(defaultTarget(view([{ id: "a", state: "DEPLOYED" }]))).toBe("a");
  });
});

describe("rendering", () => {
  const inProgress = view(
    [
      { id: "m1", state: "DEPLOYED", replicas: 2 },
      {
        id: "m2",
        previous: "m1",
        state: "BEING_DEPLOYED",
        replicas: 2,
        ready: 1,
        message: "1/3 new replicas available",
      },
    ],
    { effective: { m1: 67, m2: 33 }, ready: "False" },
  );

  it("get lists served models and counts the rest, unless --all-deployment-states", () => {
    expect(renderGet([inProgress], { allDeploymentStates: false, wide: false, showNamespace: false })).toBe(
      "fraud: Ready=False (NewRevisionProgressing), Progressing=False (RolloutComplete), Degraded=False (AsExpected); traffic m1=67,m2=33\n" +
        "  ID   REVISION   MODEL               STATE      READY   AVAILABLE   TRAFFIC   SPEC   IMAGE\n" +
        "  m1   1          fraud-detector@m1   DEPLOYED   2/2     2           67%       100%   registry.example/fraud:m1\n" +
        "  (m2 BEING_DEPLOYED not shown: --all-deployment-states lists it)\n",
    );
    const all = renderGet([inProgress], { allDeploymentStates: true, wide: true, showNamespace: true });
    expect(all).toMatch(/^ml\/fraud: /);
    expect(all).toContain(
      "m2   2          fraud-detector@m2   BEING_DEPLOYED   1/2     1           33%       0%     registry.example/fraud:m2   m1         1/3 new replicas available",
    );
    expect(renderGet([], { allDeploymentStates: false, wide: false, showNamespace: false })).toBe(
      "No ModelEndpoints found.\n",
    );
  });

  it("history lists each chain's revisions, oldest first, marking the one it converges on", () => {
    const text = renderHistory(inProgress, { wide: false });
    const lines = text.trimEnd().split("\n");
    expect(lines[1]).toMatch(
      /^m1\s+1\s+m1\s+-\s+fraud-detector@m1\s+registry\.example\/fraud:m1\s+DEPLOYED\s+2026-11-27T10:00:00Z/,
    );
    expect(lines[2]).toMatch(/^m1\s+2\s+m2\s+m1\s+.*BEING_DEPLOYED \*/);
    expect(lines[3]).toBe("(* the revision each chain converges on)");
  });

  it("pads columns to the widest cell", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A     BB\nxxx   y\n");
  });
});
