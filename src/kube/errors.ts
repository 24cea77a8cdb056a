/**
 * Typed Kubernetes API errors.
 *
 * Every call the operator makes to the API server ends in one of these classes (through
 * `classifyApiError`), so callers decide with `instanceof` instead of poking at status codes:
 *
 * - NotFoundError (404): the object is gone; a reconcile usually treats it as "nothing to do".
 * - ConflictError (409): a resourceVersion precondition failed (`reason: "Conflict"`) or the name is
 *   taken (`reason: "AlreadyExists"`, see `alreadyExists`); re-read and try again.
 * - InvalidError (422, 400): the API server rejected the request itself; `causes` says which field.
 * - ForbiddenError (401, 403): RBAC or authentication; retrying only helps after someone acts.
 * - GoneError (410): a watch or list resourceVersion is too old; relist.
 * - TransientError: the network, a 5xx, a 429 (with `retryAfterMs` when the server said so), a
 *   timeout: retry with backoff.
 * - TerminalError: retrying the same request cannot succeed (405, 415, a malformed request built by
 *   the operator, ...). A reconcile that throws it is recorded and not retried.
 * - AbortedError: the caller's own AbortSignal fired (shutdown, lost leadership); not a failure of
 *   the API server.
 *
 * Each carries the original error as `cause`, the HTTP code and the API server's Status when there
 * was one. Nothing here swallows an error: classification only wraps.
 */

/** One entry of a Status' `details.causes`: which field was wrong and why. */
export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

/** The parts of a meta/v1 Status the operator reads. */
export interface ApiStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly details?: {
    readonly name?: string;
    readonly group?: string;
    readonly kind?: string;
    readonly causes?: readonly StatusCause[];
    readonly retryAfterSeconds?: number;
  };
}

export type KubeErrorKind =
  "NotFound" | "Conflict" | "Invalid" | "Forbidden" | "Gone" | "Transient" | "Terminal" | "Aborted";

export interface KubeErrorOptions {
  /** The HTTP status code, when the API server answered. */
  readonly code?: number;
  /** The API server's Status, when it sent one. */
  readonly status?: ApiStatus;
  /** The error this one classifies. */
  readonly cause?: unknown;
}

/** Base class of every classified API error. */
export abstract class KubeError extends Error {
  abstract readonly kind: KubeErrorKind;
  /** HTTP status code, or undefined when the request never got an answer. */
  readonly code: number | undefined;
  /** The Status' machine-readable reason ("AlreadyExists", "Conflict", "Expired", ...). */
  readonly reason: string | undefined;
  readonly status: ApiStatus | undefined;

  constructor(message: string, options: KubeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? options.status?.code;
    this.reason = options.status?.reason;
    this.status = options.status;
  }
}

export class NotFoundError extends KubeError {
  override readonly name = "NotFoundError";
  readonly kind = "NotFound";
}

export class ConflictError extends KubeError {
  override readonly name = "ConflictError";
  readonly kind = "Conflict";
  /** True when a create found the name taken (409 AlreadyExists) rather than a stale resourceVersion. */
  get alreadyExists(): boolean {
    return this.reason === "AlreadyExists";
  }
}

export class InvalidError extends KubeError {
  override readonly name = "InvalidError";
  readonly kind = "Invalid";
  /** The fields the API server rejected, each with its message. */
  get causes(): readonly StatusCause[] {
    return this.status?.details?.causes ?? [];
  }
}

export class ForbiddenError extends KubeError {
  override readonly name = "ForbiddenError";
  readonly kind = "Forbidden";
}

export class GoneError extends KubeError {
  override readonly name = "GoneError";
  readonly kind = "Gone";
}

export interface TransientErrorOptions extends KubeErrorOptions {
  /** How long the server asked us to wait (429 Retry-After, Status.details.retryAfterSeconds). */
  readonly retryAfterMs?: number;
}

export class TransientError extends KubeError {
  override readonly name = "TransientError";
  readonly kind = "Transient";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: TransientErrorOptions = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

export class TerminalError extends KubeError {
  override readonly name = "TerminalError";
  readonly kind = "Terminal";
}

export class AbortedError extends KubeError {
  override readonly name = "AbortedError";
  readonly kind = "Aborted";
}

/** Node and undici error codes that mean "the connection failed; the same request may work later". */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ESOCKETTIMEDOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
]);

/**
 * Maps anything a client-node 2.x call (or this package's transport) can throw to a KubeError:
 * ApiException (code + body, the body a Status as JSON text or object), errors carrying
 * `statusCode` (client-node's Watch), fetch failures (`TypeError: fetch failed` with a `cause`),
 * Node socket errors (ECONNRESET, ...), timeouts and aborts. Already classified errors are returned
 * as they are. An error it does not recognise becomes a TransientError: retrying with backoff is the
 * safe default for an unknown failure of a remote call.
 */
export function classifyApiError(err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  if (!isObject(err)) return new TransientError(`API call failed: ${String(err)}`, { cause: err });

  const name = typeof err["name"] === "string" ? err["name"] : "";
  const message = typeof err["message"] === "string" ? err["message"] : Object.prototype.toString.call(err);
  if (name === "AbortError") return new AbortedError(`request aborted: ${message}`, { cause: err });
  if (name === "TimeoutError") return new TransientError(`request timed out: ${message}`, { cause: err });

  // client-node's ApiException (code, body, headers) and Watch errors (statusCode), recognised by
  // shape: importing client-node's classes here would load its whole generated API.
  const statusCode = err["statusCode"] ?? err["code"];
  if (typeof statusCode === "number" && statusCode >= 400) {
    const headers = err["headers"];
    return errorFromResponse(
      statusCode,
      err["body"],
      isObject(headers) ? (headers as Record<string, string>) : undefined,
      err,
    );
  }
  const code = typeof err["code"] === "string" ? err["code"] : undefined;
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return new TransientError(`connection to the API server failed (${code}): ${message}`, { cause: err });
  }
  // fetch wraps socket errors: TypeError("fetch failed", { cause: Error{code: "ECONNREFUSED"} }).
  const cause = err["cause"];
  if (cause !== undefined && cause !== err && isObject(cause)) {
    const inner = classifyApiError(cause);
    if (inner instanceof TransientError || inner instanceof AbortedError) {
      return inner instanceof TransientError
        ? new TransientError(`${message}: ${inner.message}`, { cause: err })
        : new AbortedError(inner.message, { cause: err });
    }
  }
  return new TransientError(`API call failed: ${message}`, { cause: err });
}

/**
 * The error for an HTTP answer outside 2xx. `body` is what the API server sent (a Status as parsed
 * JSON, as JSON text or as bytes, or anything else); `headers` may carry Retry-After.
 */
export function errorFromResponse(
  code: number,
  body: unknown,
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
  cause?: unknown,
): KubeError {
  const status = parseStatus(body);
  const serverMessage = status?.message ?? (typeof body === "string" && body !== "" ? body : undefined);
  const message = `${String(code)} ${status?.reason ?? "Error"}${serverMessage === undefined ? "" : `: ${serverMessage}`}`;
  const options: KubeErrorOptions = {
    code,
    ...(status === undefined ? {} : { status }),
    ...(cause === undefined ? {} : { cause }),
  };
  switch (code) {
    case 400:
    case 422:
      return new InvalidError(message, options);
    case 401:
    case 403:
      return new ForbiddenError(message, options);
    case 404:
      return new NotFoundError(message, options);
    case 409:
      return new ConflictError(message, options);
    case 410:
      return new GoneError(message, options);
    case 408:
    case 429:
      return transient(message, options, status, headers);
    default:
      return code >= 500 ? transient(message, options, status, headers) : new TerminalError(message, options);
  }
}

/** The error a watch stream's ERROR event stands for (its object is a Status). */
export function errorFromStatus(status: unknown): KubeError {
  const parsed = parseStatus(status);
  const code = parsed?.code ?? 500;
  return errorFromResponse(code, parsed ?? status, undefined);
}

function transient(
  message: string,
  options: KubeErrorOptions,
  status: ApiStatus | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
): TransientError {
  const retryAfterSeconds = retryAfterFromHeaders(headers) ?? status?.details?.retryAfterSeconds;
  return new TransientError(
    message,
    retryAfterSeconds === undefined ? options : { ...options, retryAfterMs: retryAfterSeconds * 1000 },
  );
}

function retryAfterFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
): number | undefined {
  if (headers === undefined) return undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === "retry-after");
  const raw = entry?.[1];
  const value = Array.isArray(raw) ? raw[0] : raw;
  // Retry-After is delta-seconds (or an HTTP date, which the API server does not send).
  return value !== undefined && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

/** A Status from whatever form the body came in, or undefined when it is not one. */
export function parseStatus(body: unknown): ApiStatus | undefined {
  let value: unknown = body;
  if (value instanceof Uint8Array) value = Buffer.from(value).toString("utf8");
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined; // not JSON: the caller keeps the text as the message
    }
  }
  return isStatus(value) ? value : undefined;
}

function isStatus(value: unknown): value is ApiStatus {
  return (
    isObject(value) &&
    (value["kind"] === "Status" || typeof value["reason"] === "string" || typeof value["code"] === "number")
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Resolves to undefined instead of rejecting when the object does not exist (get, delete). */
export async function ignoreNotFound<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (err) {
    const error = classifyApiError(err);
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
