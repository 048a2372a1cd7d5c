/**
 * The shape of bench/ha-results.json (written by bench/ha.ts) and its markdown table.
 *
 * @module
 */
import type { Stat } from "./measure.ts";

/** One scenario's figures over its runs (seconds). */
export interface HaRow {
  scenario: string;
  title: string;
  runs: number;
  /** Runs that passed every check. */
  held: number;
  takeoverS: Stat | null;
  maxOverlapS: number;
  /** The overlap poller's longest gap between two samples over the runs (its real resolution). */
  maxPollerGapMs: number;
  maxOutageS: Stat | null;
  extra: Record<string, Stat>;
  failures: string[];
}

export interface HaResults {
  date: string;
  runsPerScenario: number;
  totalSeconds: number;
  rows: HaRow[];
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const mmm = (
  s: Stat | null,
) => (s && s.n > 0 ? `${f1(s.median)} (${f1(s.min)}–${f1(s.max)})` : "–");

/** The table (markdown) of a results file: one row per scenario. */
export function haTable(r: HaResults): string {
  const lines = [
    "| scenario | runs held | takeover s, median (min–max) | max overlap s (poller gap ms) | longest outage s, median (min–max) | other |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const row of r.rows) {
    const other = Object.entries(row.extra).map(([k, v]) => `${k} ${mmm(v)}`).join("; ");
    lines.push(
      `| ${row.title} | ${row.held}/${row.runs} | ${mmm(row.takeoverS)} | ${f1(row.maxOverlapS)} (${
        row.maxPollerGapMs ?? "–"
      }) | ${mmm(row.maxOutageS)} | ${other || "–"} |`,
    );
  }
  return lines.join("\n");
}
