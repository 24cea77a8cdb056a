import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The engine is pure (docs/architecture.md): no I/O, no clock, no randomness, no logger. This test reads every
 * non-test file under src/rollout (the simulator and the fake cluster included) and fails when one
 * imports anything outside src/rollout (a `node:` module, a package; type-only imports of packages
 * are allowed) or reaches for the outside world: Date.now, new Date() without an argument,
 * performance, Math.random, process, console, timers, fetch, globalThis.
 */

const here = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

const FORBIDDEN_GLOBALS = new Set([
  "process",
  "console",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "queueMicrotask",
  "performance",
  "fetch",
  "globalThis",
  "require",
]);

/** What in one file breaks purity, as "file:line: why". */
function impurities(path: string): string[] {
  const text = readFileSync(path, "utf8");
  return impuritiesIn(ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS), path);
}

/** {@link impurities} over a code string, as if it were a file in src/rollout/testing. */
function impuritiesOf(code: string): string[] {
  const path = join(here, "testing", "sample.ts");
  return impuritiesIn(ts.createSourceFile(path, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS), path);
}

function impuritiesIn(file: ts.SourceFile, path: string): string[] {
  const found: string[] = [];
  const at = (node: ts.Node, why: string): void => {
    found.push(
      `${relative(here, path)}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${why}`,
    );
  };
  const checkSpecifier = (node: ts.Node, specifier: string, typeOnly: boolean): void => {
    if (specifier.startsWith(".")) {
      const target = resolve(dirname(path), specifier);
      if (!target.startsWith(here)) at(node, `imports ${specifier}, outside src/rollout`);
    } else if (!typeOnly) {
      at(node, `imports ${specifier}`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.phaseModifier === ts.SyntaxKind.TypeKeyword ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      checkSpecifier(node, node.moduleSpecifier.text, typeOnly);
    }
    if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      checkSpecifier(node, node.moduleSpecifier.text, node.isTypeOnly);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      at(node, "dynamic import");
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        ts.isPropertySignature(parent) ||
        ts.isMethodDeclaration(parent);
      if (!isPropertyName) at(node, `uses ${node.text}`);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (name === "Date.now" || name === "Math.random") at(node, `uses ${name}`);
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date") {
      if (node.arguments === undefined || node.arguments.length === 0)
        at(node, "reads the clock: new Date()");
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("purity of src/rollout", () => {
  const files = sources(here);

  it("has sources to check", () => {
    expect(files.map((f) => relative(here, f))).toEqual(
      expect.arrayContaining(["plan.ts", "types.ts", "testing/sim.ts", "testing/cluster.ts"]),
    );
  });

  it.each(files.map((f) => [relative(here, f), f]))(
    "%s imports nothing outside src/rollout and reads no clock",
    (_name, path) => {
      expect(impurities(path)).toEqual([]);
    },
  );

  it("the check itself catches what it should", () => {
    const check = impuritiesOf;
    expect(check(`import { readFileSync } from "node:fs";`)).toHaveLength(1);
    expect(check(`import { z } from "zod";`)).toHaveLength(1);
    expect(check(`import type { Z } from "zod";`)).toHaveLength(0);
    expect(check(`import { type Z } from "zod";`)).toHaveLength(0);
    expect(check(`import { plan } from "../../controller/x.ts";`)).toHaveLength(1);
    expect(check(`export const t = Date.now();`)).toHaveLength(1);
    expect(check(`export const t = new Date();`)).toHaveLength(1);
    expect(check(`export const t = new Date(0);`)).toHaveLength(0);
    expect(check(`console.log(1);`)).toHaveLength(1);
    expect(check(`export const e = process.env;`)).toHaveLength(1);
    expect(check(`setTimeout(() => 0, 1);`)).toHaveLength(1);
    expect(check(`export const r = Math.random();`)).toHaveLength(1);
    expect(check(`export const o = { console: 1 }; o.console;`)).toHaveLength(0);
  });
});
