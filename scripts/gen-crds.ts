/**
 * Writes crds/ from the zod schemas in src/api (`make crds`), or with --check verifies that the
 * committed files equal what the schemas generate (`make crds-check`, part of `make test`).
 *
 * Usage: node scripts/gen-crds.ts [--check] [--dir <folder>]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { CRD_FILE, renderCrdYaml } from "../src/api/crd.ts";

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

function main(): number {
  const { values } = parseArgs({
    options: {
      check: { type: "boolean", default: false },
      dir: { type: "string", default: join(root, "crds") },
    },
  });
  const file = join(values.dir, CRD_FILE);
  const shown = relative(process.cwd(), file) || file;
  const generated = renderCrdYaml();
  if (values.check) {
    const committed = readOrUndefined(file);
    if (committed === generated) {
      console.log(`crds-check: ${shown} matches the schemas in src/api`);
      return 0;
    }
    console.error(
      committed === undefined
        ? `crds-check: ${shown} is missing.`
        : `crds-check: ${shown} differs from the schemas in src/api.\n${firstDifference(generated, committed)}`,
    );
    console.error("Run `make crds` and commit the result.");
    return 1;
  }
  mkdirSync(values.dir, { recursive: true });
  writeFileSync(file, generated);
  console.log(`wrote ${shown}`);
  return 0;
}

process.exit(main());
