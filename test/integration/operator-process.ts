/**
 * The operator as a separate process for integration tests (src/testing/operator-process.ts), with
 * the suite's defaults: the suite's control plane, a random identity, debug logs in a temporary
 * file, and leader election, when asked for, on a Lease in the first namespace with short
 * durations.
 */
import {
  FAST_LEASE,
  OperatorProcess as Operator,
  type OperatorProcessOptions as Options,
} from "../../src/testing/operator-process.ts";
import { controlPlane } from "./context.ts";

export interface OperatorProcessOptions {
  /** The namespaces it watches (--namespaces). */
  readonly namespaces: readonly string[];
  /** Its leader-election identity; default `op-<random>`. */
  readonly identity?: string;
  /** Leader election on a Lease in the first namespace (FAST_LEASE durations); default off. */
  readonly leaderElection?: boolean;
  /** Default: the suite's admin kubeconfig. */
  readonly kubeconfig?: string;
  /** Further flags, after all the others. */
  readonly extraArgs?: readonly string[];
}

export class OperatorProcess extends Operator {
  declare readonly identity: string;

  constructor(options: OperatorProcessOptions) {
    const leaderElection: Pick<Options, "leaderElection"> =
      options.leaderElection === true
        ? { leaderElection: { leaseNamespace: options.namespaces[0] ?? "default", ...FAST_LEASE } }
        : {};
    super({
      kubeconfig: options.kubeconfig ?? controlPlane().kubeconfig,
      namespaces: options.namespaces,
      identity: options.identity ?? `op-${Math.random().toString(16).slice(2, 8)}`,
      logLevel: "debug",
      ...leaderElection,
      ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
    });
  }
}
