/**
 * Admission on a real API server, for the API tests (api.test.ts, model-crd.test.ts): the issues
 * the API server reports for creating or replacing a custom object, and the check that the
 * operator's parser reports the same.
 */
import { ApiException, type CustomObjectsApi } from "@kubernetes/client-node";
import { expect } from "vitest";

import type { ParseResult, ValidationIssue } from "../../src/api/index.ts";
import {
  compareIssues,
  toJson,
  type CreateCase,
  type ExpectedIssue,
  type Json,
  type UpdateCase,
} from "../../src/testing/admission-cases.ts";

/** The issues of a 422 Invalid answer (the causes of its Status); anything else is rethrown. */
export function causesOf(error: unknown): ValidationIssue[] {
  if (!(error instanceof ApiException)) throw error;
  const raw: unknown = error.body;
  const body = (typeof raw === "string" ? JSON.parse(raw) : raw) as {
    code?: number;
    message?: string;
    details?: { causes?: { field?: string; message?: string }[] };
  };
  if (error.code !== 422) throw new Error(`expected 422 Invalid, got ${error.code}: ${body.message ?? ""}`);
  return (body.details?.causes ?? []).map((c) => ({
    path: c.field === undefined || c.field === "<nil>" ? "" : c.field,
    message: c.message ?? "",
  }));
}

export function parserIssues(result: ParseResult<unknown>): readonly ValidationIssue[] {
  return result.ok ? [] : result.issues;
}

/**
 * The API server and the parser agree: both report exactly the expected issues, and each rule
 * message of the parser is, word for word, the end of the API server's message at the same path.
 */
export function expectAgreement(
  server: readonly ValidationIssue[],
  parser: readonly ValidationIssue[],
  expected: readonly ExpectedIssue[],
  parserAlso: readonly ExpectedIssue[] = [],
): void {
  expect(compareIssues(server, expected), "API server").toEqual([]);
  expect(compareIssues(parser, [...expected, ...parserAlso]), "parser").toEqual([]);
  for (const issue of parser.filter(
    (i) => i.rule !== undefined && !parserAlso.some((p) => p.path === i.path),
  )) {
    const same = server.some((s) => s.path === issue.path && s.message.endsWith(issue.message));
    expect(same, `API server message for rule ${issue.rule ?? ""} at ${issue.path}`).toBe(true);
  }
}

/** Where the objects live: a resource of the API in one namespace. */
export interface AdmissionTarget {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace: string;
}

/** Creates and replaces objects of one resource, answering with the API server's issues. */
export class Admission {
  readonly #objects: CustomObjectsApi;
  readonly #target: AdmissionTarget;

  constructor(objects: CustomObjectsApi, target: AdmissionTarget) {
    this.#objects = objects;
    this.#target = target;
  }

  /** The issues the API server reports for creating `body` (by default a dry run: nothing is stored). */
  async create(body: Json, dryRun = true): Promise<ValidationIssue[]> {
    try {
      await this.#objects.createNamespacedCustomObject({
        ...this.#target,
        body,
        ...(dryRun ? { dryRun: "All" } : {}),
      });
      return [];
    } catch (error) {
      return causesOf(error);
    }
  }

  /** The issues the API server reports for replacing the stored object `name` with `body`. */
  async update(name: string, body: Json, dryRun: boolean): Promise<ValidationIssue[]> {
    const current = (await this.#objects.getNamespacedCustomObject({ ...this.#target, name })) as {
      metadata: { resourceVersion: string };
    };
    const withVersion = {
      ...body,
      metadata: { ...(body.metadata as Json), name, resourceVersion: current.metadata.resourceVersion },
    };
    try {
      await this.#objects.replaceNamespacedCustomObject({
        ...this.#target,
        name,
        body: withVersion,
        ...(dryRun ? { dryRun: "All" } : {}),
      });
      return [];
    } catch (error) {
      return causesOf(error);
    }
  }
}

/** The operator's parser for a resource: `old` undefined is a create. */
export type Validate = (oldObj: Json | undefined, newObj: Json) => ParseResult<unknown>;

/** A create case, sent to the API server (dry run) and the parser: both give the expected answer. */
export async function expectCreateCase(
  admission: Admission,
  c: CreateCase,
  validate: Validate,
): Promise<void> {
  const body = toJson(c.object);
  expectAgreement(
    await admission.create(body),
    parserIssues(validate(undefined, body)),
    c.expect,
    c.parserAlso,
  );
}

/**
 * An update case on the object `name`: its states before are created and applied for real, then
 * its last state is replaced by `after` in a dry run; the API server and the parser give the
 * expected answer to that replacement.
 */
export async function expectUpdateCase(
  admission: Admission,
  c: UpdateCase,
  name: string,
  validate: Validate,
): Promise<void> {
  const [first, ...rest] = c.before.map((state) => toJson({ ...state, metadata: { name } }));
  if (first === undefined) throw new Error("an update case needs a first state");
  expect(await admission.create(first, false)).toEqual([]);
  let previous = first;
  for (const state of rest) {
    expect(await admission.update(name, state, false)).toEqual([]);
    previous = state;
  }
  const after = toJson({ ...c.after, metadata: { name } });
  expectAgreement(
    await admission.update(name, after, true),
    parserIssues(validate(previous, after)),
    c.expect,
  );
}
