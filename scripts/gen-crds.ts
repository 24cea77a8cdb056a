/**
 * Writes crds/ from the zod schemas in src/api (`make crds`): one file per CRD (ModelEndpoint,
 * Model). With --check it verifies that every committed file equals what the schemas generate
 * (`make crds-check`, part of `make test`).
 *
 * Usage: node scripts/gen-crds.ts [--check] [--dir <folder>]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { CRDS, crdFile, renderCrdYaml, type CrdSource } from "../src/api/crd.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The first lines where two texts differ, as a short unified-style excerpt. */
function firstDifference(expected: string, actual: string): string {
  const want = expected.split("\n");
  const have = actual.split("\n");
  let i = 0;
  while (i < want.length && i < have.length && want[i] === have[i]) i++;
  const context = 3;
  const from = Math.max(0, i - context);
  const lines = [`first difference at line ${i + 1}:`];
  for (let j = from; j < i; j++) lines.push(`   ${want[j] ?? ""}`);
  for (let j = i; j < Math.min(want.length, i + context); j++) lines.push(` + ${want[j] ?? ""}`);
  for (let j = i; j < Math.min(have.length, i + context); j++) lines.push(` - ${have[j] ?? ""}`);
  lines.push("(+ generated from src/api, - committed)");
  return lines.join("\n");
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
    throw error;
  }
}

/** Checks one CRD's committed file; true when it matches. */
function check(file: string, shown: string, generated: string): boolean {
  const committed = readOrUndefined(file);
  if (committed === generated) {
    console.log(`crds-check: ${shown} matches the schemas in src/api`);
    return true;
  }
  console.error(
    committed === undefined
      ? `crds-check: ${shown} is missing.`
      : `crds-check: ${shown} differs from the schemas in src/api.\n${firstDifference(generated, committed)}`,
  );
  return false;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      check: { type: "boolean", default: false },
      dir: { type: "string", default: join(root, "crds") },
    },
  });
  const files = CRDS.map((source: CrdSource) => {
    const file = join(values.dir, crdFile(source));
    return { file, shown: relative(process.cwd(), file) || file, generated: renderCrdYaml(source) };
  });
  if (values.check) {
    // Every file is checked, so one run names every file that differs.
    const failed = files.filter(({ file, shown, generated }) => !check(file, shown, generated));
    if (failed.length === 0) return 0;
    console.error("Run `make crds` and commit the result.");
    return 1;
  }
  mkdirSync(values.dir, { recursive: true });
  for (const { file, shown, generated } of files) {
    writeFileSync(file, generated);
    console.log(`wrote ${shown}`);
  }
  return 0;
}

process.exit(main());
