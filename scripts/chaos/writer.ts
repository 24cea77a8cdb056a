/**
 * A concurrent writer: another tool (a GitOps agent, a policy engine, a person) that keeps editing
 * the ModelEndpoints' labels and annotations while the operator writes their status. Every edit
 * moves the object's resourceVersion, so the operator's status writes, which carry the version they
 * were computed from, meet 409 Conflicts and must plan again rather than lose or overwrite anything.
 *
 * It remembers the last value it wrote to each endpoint, so the run can check at the end that
 * nothing (the operator's status writes included) dropped the metadata it set.
 */
import { setTimeout as delay } from "node:timers/promises";

import type { Cluster } from "./cluster.ts";
import type { Rng } from "./rng.ts";

export const POKE_ANNOTATION = "chaos.modelendpoint.io/poked";
export const POKE_LABEL = "chaos.modelendpoint.io/pokes";

export class ConcurrentWriter {
  readonly #cluster: Cluster;
  readonly #rng: Rng;
  /** Endpoint -> the last counter value written successfully. */
  readonly last = new Map<string, number>();
  writes = 0;
  failures = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(cluster: Cluster, rng: Rng) {
    this.#cluster = cluster;
    this.#rng = rng;
  }

  /** Starts editing `endpoints()` every 100-300 ms. */
  start(endpoints: () => readonly string[]): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await delay(this.#rng.int(100, 300));
        const names = endpoints();
        if (names.length === 0) continue;
        const name = this.#rng.pick(names);
        const value = this.writes + 1;
        try {
          await this.#cluster.patchMetadata(name, {
            annotations: { [POKE_ANNOTATION]: String(value) },
            labels: { [POKE_LABEL]: String(value % 7) },
          });
          this.writes = value;
          this.last.set(name, value);
        } catch {
          // the API server is down now and then
          this.failures++;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}
