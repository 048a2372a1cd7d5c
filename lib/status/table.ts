/** The status report as a table for a terminal (colour only there), one line per group. */
import type { InstanceRow, StatusReport } from "./view.ts";

export interface Paint {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const plain: Paint = { ok: (s) => s, bad: (s) => s, warn: (s) => s, dim: (s) => s, bold: (s) => s };
const ansi = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const coloured: Paint = {
  ok: ansi(32),
  bad: ansi(31),
  warn: ansi(33),
  dim: ansi(2),
  bold: ansi(1),
};

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function paintFor(isTty: boolean, noColor: string | undefined): Paint {
  return isTty && (noColor === undefined || noColor === "") ? coloured : plain;
}

function instanceText(i: InstanceRow, p: Paint): { text: string; width: number } {
  const state = !i.registered
    ? "not registered"
    : i.passing
    ? "passing"
    : i.pending
    ? "checks not run yet"
    : i.failing.join(",") || "failing";
  const raw = `${i.node}(${state})`;
  const paint = !i.registered ? p.dim : i.passing ? p.ok : i.pending ? p.warn : p.bad;
  return { text: `${i.node}(${paint(state)})`, width: raw.length };
}

/** A table, one line per document group. Widths ignore colour codes. */
export function renderTable(r: StatusReport, p: Paint): string {
  const header = ["SERVICE", "MODE", "LOCK", "ACTIVE", "STANDBY", "FLAGS", "THIS NODE"];
  const rows: { text: string; width: number }[][] = [];
  const cell = (s: string, paint: (x: string) => string = (x) => x) => ({
    text: paint(s),
    width: s.length,
  });
  const join = (cells: { text: string; width: number }[]) => ({
    text: cells.map((c) => c.text).join(" ") || "-",
    width: cells.length ? cells.reduce((n, c) => n + c.width, 0) + cells.length - 1 : 1,
  });
  for (const s of r.services) {
    const flags = s.pendingFlags.map((f) =>
      [
        f.promote !== "NULL" ? `${f.node}:promote=${f.promote}` : "",
        f.demote !== "NULL" ? `${f.node}:demote=${f.demote}` : "",
      ].filter((x) => x).join(" ")
    ).join(" ");
    const flagCell = cell(
      [s.paused ? "PAUSED" : "", s.switching ? "switch-running" : "", flags].filter((x) => x)
        .join(" ") || "-",
      flags || s.switching || s.paused ? p.warn : (x) => x,
    );
    const me = s.thisNode.state ?? (s.thisNode.reason ? `? ${s.thisNode.reason}` : "-");
    const meCell = cell(me, s.thisNode.state ? p.bold : p.bad);
    if (s.error !== null) {
      // The message spans the remaining columns and does not widen them.
      rows.push([cell(s.service), cell("error", p.bad), { text: p.bad(s.error), width: 0 }]);
      continue;
    }
    if (s.groups.length === 0) {
      rows.push([cell(s.service), cell(s.mode), cell("-"), cell("-"), cell("-"), flagCell, meCell]);
      continue;
    }
    for (const g of s.groups) {
      const name = g.pattern === null ? s.service : `${s.service} [${g.pattern}]`;
      const mode = g.mode === "datacenters"
        ? `dc ${g.activeDatacenter}/${g.standbyDatacenter}`
        : s.mode === "filter"
        ? `filter:${g.mode}`
        : g.mode;
      rows.push([
        cell(name),
        cell(mode),
        cell(g.lock ? "locked" : "-", g.lock ? p.warn : (x) => x),
        join(g.active.map((i) => instanceText(i, p))),
        join(g.standby.map((i) => instanceText(i, p))),
        flagCell,
        meCell,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.width ?? 0)));
  const line = (cells: { text: string; width: number }[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c.text : c.text + " ".repeat(widths[i]! - c.width))
      .join("  ").trimEnd();
  const out = [
    `node ${r.node} (datacenter ${r.datacenter})` +
    (r.clusterKey === null ? "; no clusterKey configured: every service is standalone" : ""),
    line(header.map((h) => cell(h, p.bold))),
    ...rows.map(line),
  ];
  for (const s of r.services) {
    if (s.triggerLimit) out.push(p.bad(`${s.service}: ${s.triggerLimit}`));
    if (s.lease?.state === "valid") {
      out.push(`${s.service}: lease valid until ${s.lease.expires} (renewed by ${s.lease.source})`);
    } else if (s.lease) out.push(p.warn(`${s.service}: lease not valid: ${s.lease.why}`));
    if (s.fenced) out.push(p.bad(`${s.service}: ${s.fenced}`));
  }
  if (r.services.length === 0 && r.clusterKey !== null) {
    out.push(p.dim(`(no cluster documents under ${r.clusterKey}/)`));
  }
  return out.join("\n") + "\n";
}
