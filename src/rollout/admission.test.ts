import { describe, expect, it } from "vitest";

import { canRollOnto } from "./admission.ts";

describe("R10: what a rolling deployment may roll onto", () => {
  it.each([
    ["DEPLOYED", false, true],
    ["DEPLOYED", true, true],
    ["BEING_DEPLOYED", true, true], // a roll-over or a rollback onto an in-progress rollout (R9)
    ["BEING_DEPLOYED", false, false], // a first deployment still coming up
    ["FAILED", true, false],
    ["REPLACED", true, false],
    [undefined, false, false], // not judged yet
  ] as const)("%s (rolling deployment: %s) -> %s", (state, rolling, allowed) => {
    expect(canRollOnto(state, rolling)).toBe(allowed);
  });
});
