import { describe, expect, it } from "vitest";

import { percentile } from "./stats.ts";

describe("percentile", () => {
  it("takes the nearest rank, whatever the order of the values", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
