/** Text the plugin prints (pure): kubectl-style tables of endpoints, models and revisions. */
import type { EndpointView, ModelView } from "../edits/endpoint.ts";

/** Columns separated by three spaces, padded to the widest cell, as kubectl prints them. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], indent = ""): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** States listed by default; BEING_DEPLOYED, FAILED and PENDING need --all-deployment-states. */
const SERVED_STATES = new Set(["DEPLOYED", "REPLACED"]);

function condition(view: EndpointView, type: string): string {
  const c = view.conditions.find((x) => x.type === type);
  return c === undefined ? `${type}=Unknown` : `${type}=${c.status} (${c.reason})`;
}

/** `get`: per endpoint, a summary line, its models, and a note of the models left out. */
export function renderGet(
  views: readonly EndpointView[],
  options: { readonly allDeploymentStates: boolean; readonly wide: boolean; readonly showNamespace: boolean },
): string {
  if (views.length === 0) return "No ModelEndpoints found.\n";
  const blocks: string[] = [];
  for (const view of views) {
    const parts: string[] = [];
    const name = options.showNamespace ? `${view.namespace}/${view.name}` : view.name;
    const stale =
      view.observedGeneration === view.generation
        ? ""
        : `  (status is of generation ${view.observedGeneration ?? "none"}, spec is ${view.generation})`;
    parts.push(
      `${name}: ${condition(view, "Ready")}, ${condition(view, "Progressing")}, ${condition(view, "Degraded")}; traffic ${view.traffic}${stale}\n`,
    );
    const shown = view.models.filter((m) => options.allDeploymentStates || SERVED_STATES.has(m.state));
    const header = ["ID", "REVISION", "MODEL", "STATE", "READY", "AVAILABLE", "TRAFFIC", "SPEC", "IMAGE"];
    if (options.wide) header.push("PREVIOUS", "MESSAGE");
    const rows = shown.map((m) => {
      const row = [
        m.id,
        m.revision === undefined ? "-" : String(m.revision),
        m.model,
        m.state,
        `${m.ready}/${m.replicas}`,
        String(m.available),
        `${m.traffic}%`,
        `${m.specTraffic}%`,
        m.image,
      ];
      if (options.wide) row.push(m.previous ?? "-", m.message ?? "");
      return row;
    });
    if (rows.length > 0) parts.push(table(header, rows, "  "));
    const hidden = view.models.filter((m) => !shown.includes(m));
    if (hidden.length > 0) {
      parts.push(
        `  (${hidden.map((m) => `${m.id} ${m.state}`).join(", ")} not shown: --all-deployment-states lists ${hidden.length === 1 ? "it" : "them"})\n`,
      );
    }
    if (view.models.length === 0) parts.push("  (no deployed models)\n");
    blocks.push(parts.join(""));
  }
  return blocks.join("\n");
}

/** `rollout history`: every revision of every chain, chains in spec order, oldest revision first. */
export function renderHistory(view: EndpointView, options: { readonly wide: boolean }): string {
  const chains = [...new Set(view.models.map((m) => m.chain))];
  const byChain = (m: ModelView): number => chains.indexOf(m.chain);
  const rows = [...view.models]
    .sort((a, b) => byChain(a) - byChain(b) || (a.revision ?? Infinity) - (b.revision ?? Infinity))
    .map((m) => {
      const row = [
        m.chain,
        m.revision === undefined ? "-" : String(m.revision),
        m.id,
        m.previous ?? "-",
        m.model,
        m.image,
        m.state + (m.intended ? " *" : ""),
        m.createTime ?? "-",
        m.lastUpdateTime ?? "-",
        m.reason ?? "",
      ];
      if (options.wide) row.push(m.message ?? "");
      return row;
    });
  const header = [
    "CHAIN",
    "REVISION",
    "ID",
    "PREVIOUS",
    "MODEL",
    "IMAGE",
    "STATE",
    "CREATED",
    "UPDATED",
    "REASON",
  ];
  if (options.wide) header.push("MESSAGE");
  if (rows.length === 0) return `${view.name} has no deployed models.\n`;
  return table(header, rows) + "(* the revision each chain converges on)\n";
}
