/**
 * The rollout engine keeps its own copies of a few API values, so that it stays free of the API
 * module (it imports nothing outside src/rollout). These tests pin each copy to the API's value.
 */
import { describe, expect, it } from "vitest";

import {
  DEFAULT_BUDGET_PERCENTAGE,
  DEFAULT_PROGRESS_DEADLINE_SECONDS as ENGINE_DEADLINE,
  DEPLOYED_MODEL_STATES as ENGINE_STATES,
} from "../rollout/index.ts";
import {
  DEFAULT_MAX_SURGE_PERCENTAGE,
  DEFAULT_MAX_UNAVAILABLE_PERCENTAGE,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  DEPLOYED_MODEL_STATES,
} from "./constants.ts";

describe("the engine's copies of API values", () => {
  it("the default progress deadline", () => {
    expect(ENGINE_DEADLINE).toBe(DEFAULT_PROGRESS_DEADLINE_SECONDS);
  });

  it("the default budgets", () => {
    expect(DEFAULT_BUDGET_PERCENTAGE).toBe(DEFAULT_MAX_SURGE_PERCENTAGE);
    expect(DEFAULT_BUDGET_PERCENTAGE).toBe(DEFAULT_MAX_UNAVAILABLE_PERCENTAGE);
  });

  it("the states of a deployed model, in order", () => {
    expect([...ENGINE_STATES]).toEqual([...DEPLOYED_MODEL_STATES]);
  });
});
