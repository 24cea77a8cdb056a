/**
 * A small SVG line chart for BENCHMARKS.md: how a figure grows with the fleet's size, one line per
 * system. Both axes are logarithmic (fleet sizes span 100 to 5000, and linear growth is then a line
 * of slope 1). Hand-written rather than a charting library: the chart is a few dozen elements, and
 * the libraries that draw SVG without a browser (vega, d3 with jsdom) would bring tens of megabytes
 * into the bench for it.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y] points; points that are not finite and positive are left out. */
  readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
}

const WIDTH = 320;
const HEIGHT = 240;
const MARGIN = { left: 56, right: 12, top: 28, bottom: 40 };

const escape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const usable = (p: readonly [number, number]): boolean =>
  Number.isFinite(p[0]) && Number.isFinite(p[1]) && p[0] > 0 && p[1] > 0;

/** The powers of ten and their 2x and 5x between lo and hi (inclusive), for a log axis's ticks. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

/** A tick's label: 100, 2k, 5k, 0.5. */
export function tickLabel(v: number): string {
  if (v >= 1000) return `${String(v / 1000)}k`;
  return String(Number(v.toPrecision(2)));
}

/** One panel as an SVG group, its origin at (dx, 0). */
function panelSvg(panel: Panel, dx: number): string {
  const points = panel.series.flatMap((s) => s.points.filter(usable));
  if (points.length === 0) return "";
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  // The y range opens to whole powers of ten around the data, so that ticks exist.
  const y0 = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const y1 = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const lx = (x: number): number =>
    MARGIN.left +
    (x1 === x0 ? plotW / 2 : ((Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0))) * plotW);
  const ly = (y: number): number =>
    MARGIN.top + plotH - ((Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0))) * plotH;
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [`<g transform="translate(${String(dx)},0)">`];
  out.push(
    `<text x="${f(MARGIN.left + plotW / 2)}" y="16" text-anchor="middle" font-weight="bold">${escape(panel.title)}</text>`,
    `<rect x="${f(MARGIN.left)}" y="${f(MARGIN.top)}" width="${f(plotW)}" height="${f(plotH)}" fill="none" stroke="#999"/>`,
  );
  for (const x of [...new Set([...logTicks(x0, x1), ...xs])].sort((a, b) => a - b)) {
    out.push(
      `<line x1="${f(lx(x))}" x2="${f(lx(x))}" y1="${f(MARGIN.top + plotH)}" y2="${f(MARGIN.top + plotH + 4)}" stroke="#999"/>`,
      `<text x="${f(lx(x))}" y="${f(MARGIN.top + plotH + 16)}" text-anchor="middle">${tickLabel(x)}</text>`,
    );
  }
  for (const y of logTicks(y0, y1)) {
    out.push(
      `<line x1="${f(MARGIN.left)}" x2="${f(MARGIN.left + plotW)}" y1="${f(ly(y))}" y2="${f(ly(y))}" stroke="#eee"/>`,
      `<text x="${f(MARGIN.left - 4)}" y="${f(ly(y) + 4)}" text-anchor="end">${tickLabel(y)}</text>`,
    );
  }
  out.push(
    `<text x="${f(MARGIN.left + plotW / 2)}" y="${f(HEIGHT - 6)}" text-anchor="middle">objects in the fleet</text>`,
    `<text transform="translate(12,${f(MARGIN.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escape(panel.yLabel)}</text>`,
  );
  for (const s of panel.series) {
    const pts = s.points.filter(usable);
    if (pts.length === 0) continue;
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${f(lx(p[0]))},${f(ly(p[1]))}`).join(" ")}"/>`,
      ...pts.map((p) => `<circle cx="${f(lx(p[0]))}" cy="${f(ly(p[1]))}" r="3" fill="${s.color}"/>`),
    );
  }
  out.push("</g>");
  return out.join("\n");
}

/** Panels side by side with one legend under them; an SVG document. */
export function chartSvg(panels: readonly Panel[], caption: string): string {
  const names = [...new Map(panels.flatMap((p) => p.series).map((s) => [s.name, s.color]))];
  const width = WIDTH * panels.length;
  const height = HEIGHT + 40;
  const legend = names.map(
    ([name, color], i) =>
      `<rect x="${String(MARGIN.left + i * 160)}" y="${String(HEIGHT + 6)}" width="12" height="12" fill="${color}"/>` +
      `<text x="${String(MARGIN.left + i * 160 + 16)}" y="${String(HEIGHT + 16)}">${escape(name)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panelSvg(p, i * WIDTH)),
    ...legend,
    `<text x="${String(MARGIN.left)}" y="${String(height - 6)}" fill="#555">${escape(caption)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
