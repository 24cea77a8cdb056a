import { describe, expect, it } from "vitest";

import { ConflictError } from "../kube/errors.ts";
import { readPlanReplace, REPLACE_ATTEMPTS, type Replaceable } from "./replace.ts";

interface Doc {
  readonly version: number;
  readonly value: string;
}

/** A store whose next `conflicts` replaces are refused, as when someone writes in between. */
function store(conflicts: number): Replaceable<Doc> & { reads: number; stored: Doc } {
  let refused = 0;
  const s = {
    reads: 0,
    stored: { version: 1, value: "a" },
    get: () => {
      s.reads++;
      return Promise.resolve(s.stored);
    },
    replace: (next: Doc) => {
      if (refused < conflicts) {
        refused++;
        // Someone else's write: the next read sees a newer version.
        s.stored = { version: s.stored.version + 1, value: s.stored.value };
        return Promise.reject(new ConflictError("the object has been modified", { code: 409 }));
      }
      s.stored = { ...next, version: s.stored.version + 1 };
      return Promise.resolve(s.stored);
    },
  };
  return s;
}

const append = (current: Doc) => ({
  planned: current.version,
  next: { ...current, value: `${current.value}b` },
});

describe("readPlanReplace", () => {
  it("plans again from a fresh read after a conflict, and writes the plan of the last read", async () => {
    const s = store(2);
    const paused: number[] = [];
    const { planned, written } = await readPlanReplace(s, "ns", "doc", append, {
      pause: (attempt) => {
        paused.push(attempt);
        return Promise.resolve();
      },
    });
    expect(paused).toEqual([2, 3]);
    expect(s.reads).toBe(3);
    expect(planned.planned).toBe(3);
    expect(written).toEqual({ version: 4, value: "ab" });
  });

  it("gives the caller the conflict once the attempts are spent", async () => {
    const s = store(REPLACE_ATTEMPTS);
    const noPause = { pause: () => Promise.resolve() };
    await expect(readPlanReplace(s, "ns", "doc", append, noPause)).rejects.toBeInstanceOf(ConflictError);
    expect(s.reads).toBe(REPLACE_ATTEMPTS);
    const patient = store(4);
    await expect(
      readPlanReplace(patient, "ns", "doc", append, { ...noPause, attempts: 5 }),
    ).resolves.toMatchObject({
      written: { value: "ab" },
    });
  });

  it("writes nothing on a dry run, and nothing when the plan throws", async () => {
    const s = store(0);
    const dry = await readPlanReplace(s, "ns", "doc", append, { dryRun: true });
    expect(dry).toEqual({ planned: { planned: 1, next: { version: 1, value: "ab" } }, written: undefined });
    await expect(
      readPlanReplace(s, "ns", "doc", () => {
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(s.stored).toEqual({ version: 1, value: "a" });
  });
});
