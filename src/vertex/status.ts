/**
 * Errors as Google APIs return them over HTTP: `{"error": {"code": 404, "message": "...", "status":
 * "NOT_FOUND", "details": [...]}}`, where `code` is the HTTP status of the canonical code and
 * `status` its name (https://cloud.google.com/apis/design/errors). A long-running operation's
 * `error` is a google.rpc.Status proper: `code` there is the canonical code (4, not 504).
 *
 * Every failure a handler meets ends as an RpcError: the handler's own refusals, request bodies
 * that do not parse, and the Kubernetes API's answers (`fromKubeError`: a CRD rule's refusal keeps
 * the rule's message).
 */
import { ConflictError, ForbiddenError, InvalidError, KubeError, NotFoundError } from "../kube/errors.ts";

/** The canonical codes this server answers with, and their HTTP statuses. */
export const RPC_CODES = {
  CANCELLED: { code: 1, http: 499 },
  INVALID_ARGUMENT: { code: 3, http: 400 },
  DEADLINE_EXCEEDED: { code: 4, http: 504 },
  NOT_FOUND: { code: 5, http: 404 },
  ALREADY_EXISTS: { code: 6, http: 409 },
  PERMISSION_DENIED: { code: 7, http: 403 },
  FAILED_PRECONDITION: { code: 9, http: 400 },
  ABORTED: { code: 10, http: 409 },
  UNIMPLEMENTED: { code: 12, http: 501 },
  INTERNAL: { code: 13, http: 500 },
  UNAVAILABLE: { code: 14, http: 503 },
  UNAUTHENTICATED: { code: 16, http: 401 },
} as const;

export type RpcCode = keyof typeof RPC_CODES;

/** A google.rpc.BadRequest field violation, for INVALID_ARGUMENT. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

export class RpcError extends Error {
  override readonly name = "RpcError";
  readonly status: RpcCode;
  readonly violations: readonly FieldViolation[];

  constructor(status: RpcCode, message: string, violations: readonly FieldViolation[] = []) {
    super(message);
    this.status = status;
    this.violations = violations;
  }

  get httpStatus(): number {
    return RPC_CODES[this.status].http;
  }

  /** The HTTP error body: `code` is the HTTP status, as Google's REST APIs send it. */
  toJSON(): { error: Record<string, unknown> } {
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        status: this.status,
        ...(this.violations.length === 0
          ? {}
          : {
              details: [
                {
                  "@type": "type.googleapis.com/google.rpc.BadRequest",
                  fieldViolations: this.violations,
                },
              ],
            }),
      },
    };
  }

  /** The same error as a long-running operation's `error` field (google.rpc.Status). */
  toStatus(): { code: number; message: string } {
    return { code: RPC_CODES[this.status].code, message: this.message };
  }
}

/**
 * A Kubernetes API failure as the Vertex API says it: 404 NOT_FOUND, 403 PERMISSION_DENIED, a
 * refused write (a CRD rule, 422) INVALID_ARGUMENT with the rule's messages, a write conflict
 * ABORTED (the caller retries from a fresh read first), 401 UNAUTHENTICATED; anything else
 * UNAVAILABLE.
 */
export function fromKubeError(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof NotFoundError) return new RpcError("NOT_FOUND", `${what} not found`);
  // Before Forbidden, which classifies 401 and 403 alike.
  if (err instanceof KubeError && err.code === 401)
    return new RpcError("UNAUTHENTICATED", "the Kubernetes API refused the bearer token");
  if (err instanceof ForbiddenError)
    return new RpcError("PERMISSION_DENIED", err.status?.message ?? err.message);
  if (err instanceof ConflictError) {
    return err.reason === "AlreadyExists"
      ? new RpcError("ALREADY_EXISTS", `${what} already exists`)
      : new RpcError("ABORTED", `${what} changed while this request ran; try again: ${err.message}`);
  }
  if (err instanceof InvalidError) {
    const causes = err.status?.details?.causes ?? [];
    return new RpcError(
      "INVALID_ARGUMENT",
      err.status?.message ?? err.message,
      causes.map((c) => ({ field: c.field ?? "", description: c.message ?? "" })),
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RpcError("UNAVAILABLE", `the Kubernetes API did not answer for ${what}: ${message}`);
}
