/**
 * May this caller read that? The server answers reads from caches filled with its own (read-only)
 * identity, so before each read it asks the cluster whether the caller may: a
 * SelfSubjectAccessReview sent with the caller's token, which every authenticated identity may
 * create. The answer is kept for `ttlMs` (10 s by default) per token, verb, resource and namespace,
 * so a client polling an operation costs the API server one review every 10 s, not one per call;
 * concurrent reads with the same question share one review. A revoked permission therefore still
 * reads for up to `ttlMs`; writes are always sent with the caller's token and decided by the
 * cluster there and then.
 */
import { reviewSelf, type Review } from "../kube/access-review.ts";
import type { Transport } from "../kube/transport.ts";
import { fromKubeError, RpcError } from "./status.ts";

export interface ReadAccess {
  readonly verb: "get" | "list";
  readonly group: string;
  readonly resource: string;
  readonly namespace: string;
}

/** Asks the cluster about one caller: a SelfSubjectAccessReview made with that caller's token. */
export type Reviewer = (access: ReadAccess) => Promise<Review>;

/** The reviewer of the caller whose token `transport` sends. */
export function selfReviewer(transport: Transport): Reviewer {
  return (access) => reviewSelf(transport, access);
}

export interface AccessCacheOptions {
  readonly ttlMs?: number;
  /** Answers kept at most; the oldest go first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/** Reviews kept per caller and question for a while. */
export class AccessCache {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly answers = new Map<string, { readonly at: number; readonly review: Promise<Review> }>();

  constructor(options: AccessCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves when `caller` may; PERMISSION_DENIED (or the review's failure) otherwise. */
  async check(caller: string, review: Reviewer, access: ReadAccess): Promise<void> {
    const key = `${caller}\n${access.verb}\n${access.group}\n${access.resource}\n${access.namespace}`;
    const now = this.now();
    let entry = this.answers.get(key);
    if (entry === undefined || now - entry.at >= this.ttlMs) {
      entry = { at: now, review: review(access) };
      this.answers.delete(key);
      this.answers.set(key, entry);
      // A failed review is not kept: the next read asks again (unless a newer one took its place).
      const asked = entry;
      asked.review.catch(() => {
        if (this.answers.get(key) === asked) this.answers.delete(key);
      });
      while (this.answers.size > this.maxEntries) {
        const oldest = this.answers.keys().next().value;
        if (oldest === undefined) break;
        this.answers.delete(oldest);
      }
    }
    let answer: Review;
    try {
      answer = await entry.review;
    } catch (err) {
      throw fromKubeError(err, "the access review");
    }
    if (!answer.allowed) {
      const where = access.namespace === "" ? "" : ` in namespace ${access.namespace}`;
      throw new RpcError(
        "PERMISSION_DENIED",
        `permission denied: the caller may not ${access.verb} ${access.resource}.${access.group}${where}` +
          (answer.reason === undefined || answer.reason === "" ? "" : ` (${answer.reason})`),
      );
    }
  }
}
