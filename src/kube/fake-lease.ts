/**
 * An in-memory Lease with the API server's rules for create and update (409 when it exists, 409 when
 * the resourceVersion precondition is stale), for tests of leader election and of whatever runs
 * under it. `lease-contract.ts` holds it to the same contract as the real API server.
 */
import { ConflictError, NotFoundError, TransientError } from "./errors.ts";
import type { LeaseClient } from "./leaderelection.ts";
import type { Lease } from "./objects.ts";

/** Faults a test switches on and off while an elector runs. */
export interface LeaseFaults {
  /** Every call fails as if the API server were unreachable. */
  down?: boolean;
  /** Every call hangs until its signal aborts. */
  hang?: boolean;
}

export interface LeaseWrite {
  readonly by: string;
  readonly verb: "create" | "update";
  readonly holder: string;
  /** The resourceVersion the write was conditional on ("" for a create). */
  readonly precondition: string;
}

export class FakeLeaseStore {
  lease: Lease | undefined;
  readonly writes: LeaseWrite[] = [];
  private resourceVersion = 0;

  /** A client for candidate `name`, failing as `faults` say at the time of each call. */
  client(name: string, faults: LeaseFaults = {}): LeaseClient {
    const guard = async (signal: AbortSignal): Promise<void> => {
      if (faults.hang === true) {
        await new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            reject(new DOMException("aborted", "AbortError"));
          });
        });
      }
      if (faults.down === true) throw new TransientError("connect ECONNREFUSED");
    };
    return {
      get: async (signal) => {
        await guard(signal);
        return this.lease === undefined ? undefined : structuredClone(this.lease);
      },
      create: async (lease, signal) => {
        await guard(signal);
        this.writes.push({
          by: name,
          verb: "create",
          holder: lease.spec?.holderIdentity ?? "",
          precondition: "",
        });
        if (this.lease !== undefined) {
          throw new ConflictError("409 AlreadyExists", { code: 409, status: { reason: "AlreadyExists" } });
        }
        return this.store(lease);
      },
      update: async (lease, signal) => {
        await guard(signal);
        const precondition = lease.metadata?.resourceVersion ?? "";
        this.writes.push({
          by: name,
          verb: "update",
          holder: lease.spec?.holderIdentity ?? "",
          precondition,
        });
        if (this.lease === undefined) throw new NotFoundError("404 NotFound", { code: 404 });
        if (precondition !== this.lease.metadata?.resourceVersion) {
          throw new ConflictError("409 Conflict", { code: 409, status: { reason: "Conflict" } });
        }
        return this.store(lease);
      },
    };
  }

  private store(lease: Lease): Lease {
    this.resourceVersion++;
    this.lease = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(this.resourceVersion) },
    };
    return structuredClone(this.lease);
  }
}
