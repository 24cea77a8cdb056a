/** Plain-text tables for the terminal (and, pasted, for BENCHMARKS.md: they are Markdown). */

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** "1234 (1100-1500)": a median with its min and max. */
export function mmm(s: { median: number; min: number; max: number }, digits = 0, unit = ""): string {
  if (!Number.isFinite(s.median)) return "n/a";
  const f = (x: number): string => x.toFixed(digits);
  return s.min === s.max ? `${f(s.median)}${unit}` : `${f(s.median)}${unit} (${f(s.min)}-${f(s.max)})`;
}

export function num(x: number, digits = 0, unit = ""): string {
  return Number.isFinite(x) ? `${x.toFixed(digits)}${unit}` : "n/a";
}
