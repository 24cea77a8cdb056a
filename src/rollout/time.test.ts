import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatTime, parseTime, toEpochSeconds } from "./time.ts";

describe("time: whole seconds, RFC 3339 as metav1.Time", () => {
  it.each([
    [0, "1970-01-01T00:00:00Z"],
    [951_782_400, "2000-02-29T00:00:00Z"],
    [1_795_773_600, "2026-11-27T10:00:00Z"],
    [4_107_542_399, "2100-02-28T23:59:59Z"],
    [253_402_300_799, "9999-12-31T23:59:59Z"],
  ])("%i is %s and back", (seconds, text) => {
    expect(formatTime(seconds)).toBe(text);
    expect(parseTime(text)).toBe(seconds);
  });

  it("agrees with Date for any second from 1970 to 9999", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799 }), (seconds) => {
        const text = new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
        expect(formatTime(seconds)).toBe(text);
        expect(parseTime(text)).toBe(seconds);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ["2026-11-27T10:00:00.750Z", 1_795_773_600],
    ["2026-11-27T11:00:00+01:00", 1_795_773_600],
    ["garbage", undefined],
    [undefined, undefined],
  ])("parses %s as %s (other shapes by Date.parse, fractions floored)", (text, seconds) => {
    expect(parseTime(text)).toBe(seconds);
  });

  it("floors now to the second", () => {
    expect(toEpochSeconds(1_795_773_600_999)).toBe(1_795_773_600);
    expect(toEpochSeconds(new Date(1_795_773_600_000))).toBe(1_795_773_600);
  });
});
