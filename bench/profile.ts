/**
 * `node bench/profile.ts <file.cpuprofile> [top]`: where a V8 CPU profile (the operator run with
 * `npm run bench -- --profile`) spent its time: self time by function and by file, so hot spots
 * can be named without a browser.
 */
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const ROOT = resolve(import.meta.dirname, "..");

function where(url: string): string {
  if (url === "") return "(native)";
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0)
    return path
      .slice(nm + "node_modules/".length)
      .split("/")
      .slice(0, 2)
      .join("/");
  return path.startsWith("/") ? relative(ROOT, path) : path;
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: node bench/profile.ts <file.cpuprofile> [top]\n");
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

// Inclusive time: a sample counts for every distinct frame (function+file) on its stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const fnKey = (n: ProfileNode): string =>
  `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}:${String(n.callFrame.lineNumber + 1)}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  self.set(fnKey(node), (self.get(fnKey(node)) ?? 0) + us);
  byFile.set(where(node.callFrame.url), (byFile.get(where(node.callFrame.url)) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at);
    if (n === undefined) break;
    const k = fnKey(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}
const show = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title} (of ${(total / 1e6).toFixed(1)} s sampled)\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(
      `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`,
    );
};
show("self time by file or package", byFile);
show("self time by function", self);
show("inclusive time by function", inclusive);
