/**
 * The operator's parser against the admission table (src/testing/admission-cases.ts): every case
 * the API server must refuse, the parser refuses with the same paths and messages; every case it
 * must accept, the parser accepts. The integration suite runs the same table on a real API server.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { describe, expect, it } from "vitest";

import {
  casesMissingFrom,
  compareIssues,
  INVALID_CREATES,
  parserUpdateProblems,
  toJson,
  UPDATES,
  VALID_CREATES,
} from "../testing/admission-cases.ts";
import { validateCreate, validateUpdate, type ParseResult } from "./parse.ts";

function issuesOf(result: ParseResult<unknown>) {
  return result.ok ? [] : result.issues;
}

describe("the parser refuses what admission refuses", () => {
  it.each(INVALID_CREATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const result = validateCreate(toJson(c.object));
    expect(result.ok).toBe(false);
    expect(compareIssues(issuesOf(result), [...c.expect, ...(c.parserAlso ?? [])])).toEqual([]);
  });
});

describe("the parser accepts what admission accepts", () => {
  it.each(VALID_CREATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expect(issuesOf(validateCreate(toJson(c.object)))).toEqual([]);
  });
});

describe("the parser judges updates as admission does", () => {
  it.each(UPDATES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expect(parserUpdateProblems(c, validateUpdate)).toEqual([]);
  });
});

describe("docs/api.md", () => {
  const doc = readFileSync(resolve(import.meta.dirname, "../../docs/api.md"), "utf8");

  it("lists every case of the admission table with its messages", () => {
    expect(casesMissingFrom(doc, [...INVALID_CREATES, ...UPDATES])).toEqual([]);
  });
});
