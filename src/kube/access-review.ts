/**
 * SelfSubjectAccessReview: may the identity `transport` sends do this? Every authenticated
 * identity may ask it of itself (system:basic-user).
 */
import type { Transport } from "./transport.ts";

export interface ResourceAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string | undefined;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

export interface Review {
  readonly allowed: boolean;
  readonly reason?: string | undefined;
}

/** The API server's answer; throws a KubeError when it cannot be asked. */
export async function reviewSelf(
  transport: Transport,
  attributes: ResourceAttributes,
  signal?: AbortSignal,
): Promise<Review> {
  const resourceAttributes = Object.fromEntries(
    Object.entries(attributes).filter(([, value]) => value !== undefined && value !== ""),
  );
  const answer = (await transport.request({
    method: "POST",
    path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes },
    },
    ...(signal === undefined ? {} : { signal }),
  })) as { status?: { allowed?: boolean; reason?: string } } | undefined;
  return { allowed: answer?.status?.allowed === true, reason: answer?.status?.reason };
}
