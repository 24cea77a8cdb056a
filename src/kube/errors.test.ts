import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";

import {
  AbortedError,
  classifyApiError,
  ConflictError,
  errorFromStatus,
  ForbiddenError,
  GoneError,
  InvalidError,
  NotFoundError,
  TerminalError,
  TransientError,
  type KubeError,
} from "./errors.ts";

function status(code: number, reason: string, message = "m", details?: object): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
    details,
  });
}

type ErrorClass = abstract new (...args: never[]) => KubeError;

describe("classifyApiError: ApiException from client-node 2.x", () => {
  const cases: [string, number, string, ErrorClass][] = [
    ["404 NotFound", 404, "NotFound", NotFoundError],
    ["409 Conflict (stale resourceVersion)", 409, "Conflict", ConflictError],
    ["409 AlreadyExists", 409, "AlreadyExists", ConflictError],
    ["422 Invalid", 422, "Invalid", InvalidError],
    ["400 BadRequest", 400, "BadRequest", InvalidError],
    ["401 Unauthorized", 401, "Unauthorized", ForbiddenError],
    ["403 Forbidden", 403, "Forbidden", ForbiddenError],
    ["410 Expired", 410, "Expired", GoneError],
    ["429 TooManyRequests", 429, "TooManyRequests", TransientError],
    ["500 InternalError", 500, "InternalError", TransientError],
    ["503 ServiceUnavailable", 503, "ServiceUnavailable", TransientError],
    ["504 Timeout", 504, "Timeout", TransientError],
    ["405 MethodNotAllowed", 405, "MethodNotAllowed", TerminalError],
    ["415 UnsupportedMediaType", 415, "UnsupportedMediaType", TerminalError],
  ];
  it.each(cases)("%s", (_name, code, reason, expected) => {
    const raw = new ApiException(code, "Unknown API Status Code!", status(code, reason, "why"), {});
    const err = classifyApiError(raw);
    expect(err).toBeInstanceOf(expected);
    expect(err.code).toBe(code);
    expect(err.reason).toBe(reason);
    expect(err.cause).toBe(raw);
    expect(err.message).toContain("why");
  });

  it("tells AlreadyExists from a stale resourceVersion", () => {
    const exists = classifyApiError(new ApiException(409, "", status(409, "AlreadyExists"), {}));
    const stale = classifyApiError(new ApiException(409, "", status(409, "Conflict"), {}));
    expect(exists).toBeInstanceOf(ConflictError);
    expect((exists as ConflictError).alreadyExists).toBe(true);
    expect((stale as ConflictError).alreadyExists).toBe(false);
  });

  it("keeps the API server's causes on Invalid", () => {
    const body = status(422, "Invalid", 'ReplicaSet.apps "x" is invalid', {
      causes: [{ reason: "FieldValueInvalid", message: "must be >= 0", field: "spec.replicas" }],
    });
    const err = classifyApiError(new ApiException(422, "", body, {}));
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).causes).toEqual([
      { reason: "FieldValueInvalid", message: "must be >= 0", field: "spec.replicas" },
    ]);
    expect(err.message).toContain('ReplicaSet.apps "x" is invalid');
  });

  it("reads Retry-After from the headers of a 429, or from the Status details", () => {
    const fromHeader = classifyApiError(
      new ApiException(429, "", status(429, "TooManyRequests"), { "retry-after": "3" }),
    );
    expect((fromHeader as TransientError).retryAfterMs).toBe(3000);
    const fromDetails = classifyApiError(
      new ApiException(500, "", status(500, "InternalError", "m", { retryAfterSeconds: 2 }), {}),
    );
    expect((fromDetails as TransientError).retryAfterMs).toBe(2000);
    const garbage = classifyApiError(new ApiException(429, "", "", { "Retry-After": "soon" }));
    expect((garbage as TransientError).retryAfterMs).toBeUndefined();
  });

  it("keeps a body that is not a Status as the message", () => {
    const err = classifyApiError(new ApiException(502, "", "upstream connect error", {}));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toContain("upstream connect error");
    expect(err.status).toBeUndefined();
  });

  it("takes a Status body given as an object or as bytes", () => {
    const asObject = classifyApiError(
      new ApiException(404, "", JSON.parse(status(404, "NotFound")) as object, {}),
    );
    expect(asObject).toBeInstanceOf(NotFoundError);
    const asBytes = classifyApiError(new ApiException(410, "", Buffer.from(status(410, "Expired")), {}));
    expect(asBytes).toBeInstanceOf(GoneError);
  });
});

describe("classifyApiError: network, timeouts, aborts", () => {
  function systemError(code: string): Error {
    return Object.assign(new Error(`connect ${code} 127.0.0.1:6443`), { code });
  }
  it.each(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "UND_ERR_SOCKET"])(
    "%s is transient",
    (code) => {
      const raw = systemError(code);
      const err = classifyApiError(raw);
      expect(err).toBeInstanceOf(TransientError);
      expect(err.cause).toBe(raw);
      expect(err.code).toBeUndefined();
    },
  );

  it("looks inside fetch's TypeError for the socket error", () => {
    const raw = new TypeError("fetch failed", { cause: systemError("ECONNREFUSED") });
    const err = classifyApiError(raw);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toContain("ECONNREFUSED");
    expect(err.cause).toBe(raw);
  });

  it("a timeout is transient, an abort by the caller is Aborted", () => {
    expect(classifyApiError(new DOMException("timed out", "TimeoutError"))).toBeInstanceOf(TransientError);
    expect(classifyApiError(new DOMException("aborted", "AbortError"))).toBeInstanceOf(AbortedError);
  });

  it("reads statusCode from client-node's Watch errors", () => {
    const raw = Object.assign(new Error("Gone"), { statusCode: 410 });
    expect(classifyApiError(raw)).toBeInstanceOf(GoneError);
  });

  it("an unknown failure is transient and keeps its cause", () => {
    const raw = new Error("something odd");
    const err = classifyApiError(raw);
    expect(err).toBeInstanceOf(TransientError);
    expect(err.cause).toBe(raw);
    expect(classifyApiError("a string")).toBeInstanceOf(TransientError);
  });

  it("returns an already classified error as it is", () => {
    const err = new ConflictError("x");
    expect(classifyApiError(err)).toBe(err);
  });
});

describe("errorFromStatus (a watch ERROR event)", () => {
  it("maps a 410 Status to Gone", () => {
    const err = errorFromStatus({
      kind: "Status",
      code: 410,
      reason: "Expired",
      message: "too old resource version",
    });
    expect(err).toBeInstanceOf(GoneError);
    expect(err.message).toContain("too old resource version");
  });
  it("maps a Status without a code to a transient error", () => {
    expect(errorFromStatus({ kind: "Status", message: "?" })).toBeInstanceOf(TransientError);
  });
});
