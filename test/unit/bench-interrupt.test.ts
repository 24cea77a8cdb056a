/**
 * What the bench undoes on Ctrl-C: every part still running, newest first, each once, even when
 * one undo fails or the part's own `finally` block asks for the same undo; then exit 130.
 */
import { describe, expect, it } from "vitest";

import { createInterrupts } from "../../bench/lib/interrupt.ts";

function registry() {
  const calls: string[] = [];
  const exits: number[] = [];
  const logs: string[] = [];
  const interrupts = createInterrupts({
    log: (line) => logs.push(line),
    exit: (code) => exits.push(code),
  });
  const undo =
    (name: string, fail = false) =>
    async (): Promise<void> => {
      await Promise.resolve();
      calls.push(name);
      if (fail) throw new Error(`${name} would not stop`);
    };
  return { interrupts, calls, exits, logs, undo };
}

describe("the bench's undo on a signal", () => {
  it("runs every held undo, newest first, then exits 130", async () => {
    const { interrupts, calls, exits, undo } = registry();
    interrupts.hold(undo("control plane"));
    interrupts.hold(undo("operator"));
    interrupts.onSignal("SIGINT");
    await interrupts.interrupted;
    expect(calls).toEqual(["operator", "control plane"]);
    expect(exits).toEqual([130]);
  });

  it("does not run what was released before the signal, and released undos ran once", async () => {
    const { interrupts, calls, exits, undo } = registry();
    const done = interrupts.hold(undo("first control plane"));
    await done.release();
    interrupts.hold(undo("second control plane"));
    interrupts.onSignal("SIGTERM");
    await interrupts.interrupted;
    expect(calls).toEqual(["first control plane", "second control plane"]);
    expect(exits).toEqual([130]);
  });

  it("runs an undo once when the signal and the owner's finally both ask for it", async () => {
    const { interrupts, calls, undo } = registry();
    const held = interrupts.hold(undo("control plane"));
    interrupts.onSignal("SIGINT");
    await Promise.all([held.release(), interrupts.interrupted]);
    expect(calls).toEqual(["control plane"]);
  });

  it("goes on past an undo that fails, says so, and still exits 130", async () => {
    const { interrupts, calls, exits, logs, undo } = registry();
    interrupts.hold(undo("control plane"));
    interrupts.hold(undo("operator", true));
    interrupts.onSignal("SIGINT");
    await interrupts.interrupted;
    expect(calls).toEqual(["operator", "control plane"]);
    expect(logs.some((l) => l.includes("operator would not stop"))).toBe(true);
    expect(exits).toEqual([130]);
  });

  it("a second signal exits at once, without waiting for the undos", () => {
    const { interrupts, exits } = registry();
    interrupts.hold(() => new Promise<void>(() => undefined));
    interrupts.onSignal("SIGINT");
    expect(exits).toEqual([]);
    interrupts.onSignal("SIGINT");
    expect(exits).toEqual([130]);
  });

  it("without a signal, an owner's release runs its undo and nothing exits", async () => {
    const { interrupts, calls, exits, undo } = registry();
    await interrupts.hold(undo("control plane")).release();
    expect(calls).toEqual(["control plane"]);
    expect(exits).toEqual([]);
    expect(interrupts.interrupted).toBeUndefined();
  });
});
