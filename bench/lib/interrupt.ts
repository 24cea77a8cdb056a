/**
 * What a bench run undoes when it is interrupted (Ctrl-C, SIGTERM) as when it ends: a control
 * plane's folder under the temporary directory (etcd's data, gigabytes after a fleet of 5000), the
 * operator's memory cgroup, the compile cache, the pod addresses on lo.
 *
 * A `finally` block does not run when a signal ends the process, so each part holds its undo here
 * while it runs (`hold`) and lets its `finally` block release it (run it once). The first SIGINT or
 * SIGTERM runs every undo still held, newest first, and exits 130; a second one exits at once. The
 * child processes go by themselves (they get the terminal's signal, and die with the bench
 * besides), so an undo only has to wait for them and remove what they leave.
 */

type Cleanup = () => Promise<void>;

/** An undo held for a signal until its owner releases it. */
export interface Held {
  /** Runs the undo (once, whoever asks first: a signal or the owner) and lets it go. */
  release(): Promise<void>;
}

export interface Interrupts {
  /** Holds `cleanup` for a signal until the returned Held is released. */
  hold(cleanup: Cleanup): Held;
  /** Set once a signal has come: every undo's end, after which the process exits. */
  readonly interrupted: Promise<void> | undefined;
}

export interface InterruptDeps {
  readonly log: (line: string) => void;
  readonly exit: (code: number) => void;
}

/** The registry, with its effects injected; `onSignal` is what a signal handler calls. */
export function createInterrupts(deps: InterruptDeps): Interrupts & { onSignal(signal: string): void } {
  const cleanups = new Set<Cleanup>();
  let interrupted: Promise<void> | undefined;

  const runAll = async (signal: string): Promise<void> => {
    deps.log(`${signal}: stopping what runs (${String(cleanups.size)} parts); again to exit at once`);
    for (const cleanup of [...cleanups].reverse()) {
      try {
        await cleanup();
      } catch (err) {
        deps.log(`${signal}: an undo failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    deps.exit(130);
  };

  return {
    get interrupted() {
      return interrupted;
    },
    onSignal(signal) {
      if (interrupted !== undefined) {
        deps.exit(130);
        return;
      }
      interrupted = runAll(signal);
    },
    hold(cleanup) {
      // Once only: a signal's undo and the owner's own (its body failed, its control plane gone)
      // meet here.
      let done: Promise<void> | undefined;
      const once = (): Promise<void> => (done ??= cleanup());
      cleanups.add(once);
      return {
        async release() {
          // Still held while it runs, so that a signal during a slow undo waits for it.
          try {
            await once();
          } finally {
            cleanups.delete(once);
          }
        },
      };
    },
  };
}

/** The process's registry: SIGINT and SIGTERM run its undos. */
export function processInterrupts(log: (line: string) => void): Interrupts {
  const interrupts = createInterrupts({ log, exit: (code) => process.exit(code) });
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      interrupts.onSignal(signal);
    });
  return interrupts;
}
