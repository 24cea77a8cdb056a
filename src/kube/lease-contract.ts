/**
 * The contract every LeaseClient keeps, run against the in-memory FakeLeaseStore (unit tests) and
 * the real API server (integration tests), so the fake cannot drift from what leader election
 * relies on: a missing Lease reads as undefined, a create of an existing Lease and an update with a
 * stale resourceVersion are refused with ConflictError, every write returns a new resourceVersion.
 */
import { describe, expect, it } from "vitest";

import { ConflictError } from "./errors.ts";
import type { LeaseClient } from "./leaderelection.ts";
import type { Lease } from "./objects.ts";

export interface LeaseClientUnderTest {
  readonly client: LeaseClient;
  readonly namespace: string;
  readonly name: string;
}

export function leaseClientContract(label: string, fresh: () => Promise<LeaseClientUnderTest>): void {
  describe(`LeaseClient contract: ${label}`, () => {
    const signal = new AbortController().signal;
    const lease = (under: LeaseClientUnderTest, holder: string): Lease => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: under.name, namespace: under.namespace },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15 },
    });

    it("reads a missing Lease as undefined, then reads back what was created", async () => {
      const under = await fresh();
      expect(await under.client.get(signal)).toBeUndefined();
      const created = await under.client.create(lease(under, "a"), signal);
      expect(created.metadata?.resourceVersion).toBeTruthy();
      const read = await under.client.get(signal);
      expect(read?.spec?.holderIdentity).toBe("a");
      expect(read?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    });

    it("refuses to create a Lease that exists", async () => {
      const under = await fresh();
      await under.client.create(lease(under, "a"), signal);
      const err = await under.client.create(lease(under, "b"), signal).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((await under.client.get(signal))?.spec?.holderIdentity).toBe("a");
    });

    it("updates only from the current resourceVersion", async () => {
      const under = await fresh();
      const created = await under.client.create(lease(under, "a"), signal);
      const updated = await under.client.update(
        { ...created, spec: { ...created.spec, holderIdentity: "b" } },
        signal,
      );
      expect(updated.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
      const stale = await under.client
        .update({ ...created, spec: { ...created.spec, holderIdentity: "c" } }, signal)
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(ConflictError);
      expect((await under.client.get(signal))?.spec?.holderIdentity).toBe("b");
    });
  });
}
