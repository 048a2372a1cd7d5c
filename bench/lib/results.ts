/**
 * The shape of bench/results.json and the one table both the terminal and the README use.
 *
 * @module
 */
import { type Stat, stat } from "./measure.ts";

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  deno: string;
  consul: string;
  date: string;
}

export interface CheckRow {
  scenario: string;
  /** What the check answered (state/role), to show the scenario was what it claims. */
  answer: string;
  wallMs: Stat;
  cpuMs: Stat;
  rssMiB: Stat;
  requests: Stat;
  /** Spawn (exec of the launcher) to the first byte of the first Consul request. */
  toFirstRequestMs: Stat;
  /**
   * The honest floor: Deno + one fetch + the probe's spawn while the request is in flight, same
   * flags, same run (bench/floor_probe.ts).
   */
  floor: { wallMs: Stat; cpuMs: Stat; rssMiB: Stat; toFirstRequestMs: Stat };
  /** The bare floor: Deno + one fetch, no probe (bench/floor.ts). */
  bareFloor?: { wallMs: Stat; cpuMs: Stat; rssMiB: Stat };
  /** median(check wall) / median(floor wall) */
  ratio: number;
  /** ratio: wall vs the honest floor; cpuRatio: CPU vs its CPU; rssMiB: peak RSS ceiling. */
  targets: { ratio: number; requests: number; cpuRatio?: number; rssMiB?: number };
}

/** Whether a failover row carries the issue's 1 s / 2 s target (event path, 5 s and 10 s). */
export function failoverTarget(fo: FailoverRow): boolean {
  return fo.event === true && fo.fault !== "node" && fo.intervalS >= 5;
}

export interface BreakdownRow {
  what: string;
  wallMs: Stat;
  cpuMs: Stat;
  rssMiB: Stat;
  note: string;
}

export interface WatchRow {
  entries: number;
  local: number;
  bytes: number;
  fired: number;
  wallMs: Stat | null;
  rssMiB: Stat | null;
  requests: Stat | null;
  /** exec → first Consul request: reading, parsing and selecting the payload happen before. */
  toFirstRequestMs?: Stat;
  /** Set when the row could not be measured. */
  unavailable?: string;
  targetMs?: number;
}

export interface FailoverRow {
  intervalS: number;
  /** With the event-driven path (`watch service`) in the agents' watches. */
  event?: boolean;
  /** service: the active's service failed (node healthy); node: the active's agent killed. */
  fault?: "service" | "node";
  runs: number;
  /**
   * The active's check critical on its agent → the standby's service runs (service faults).
   * For node faults toRunningMs counts from the kill.
   */
  critToRunningMs?: Stat | null;
  /** Stop of the active's service → the standby's service runs (pid file + /proc). */
  toRunningMs: Stat | null;
  /** … → the standby's check passing on its agent. */
  toPassingMs: Stat | null;
  /** … → the old active's check critical on its agent. */
  toActiveCriticalMs: Stat | null;
  /** … → the cluster document flipped (-U). */
  toFlipMs: Stat | null;
  unavailable?: string;
  failures: string[];
  /** Every successful run, ms after the stop. */
  detail: {
    toActiveCriticalMs: number;
    toFlipMs: number;
    toRunningMs: number;
    toPassingMs: number;
  }[];
}

export interface StartPrimaryRow {
  runs: number;
  /** `service <wrapper> start-primary` wall time. */
  durationMs: Stat | null;
  /** start → the new active's service runs. */
  toRunningMs: Stat | null;
  unavailable?: string;
  failures: string[];
}

export interface Results {
  machine: Machine;
  runs: number;
  checks: CheckRow[];
  breakdown: BreakdownRow[];
  /** Milestones inside one check process (primary scenario), ms after exec. */
  timeline: { phase: string; ms: Stat }[];
  watch: WatchRow[];
  failover: FailoverRow[];
  startPrimary: StartPrimaryRow | null;
  totalSeconds: number;
  notes: string[];
  /** Each section's own notes, so a run of some sections can keep the others' (bench/run.ts). */
  sectionNotes?: Record<string, string[]>;
}

// ---------------------------------------------------------------------------------------------
// rendering

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : "–");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");

function mmm(s: Stat | null, f: (x: number) => string): [string, string, string] {
  if (!s || s.n === 0) return ["n/a", "", ""];
  return [f(s.median), f(s.min), f(s.max)];
}

export interface Table {
  head: string[];
  rows: (string[] | { section: string })[];
}

const yes = (ok: boolean) => (ok ? "met" : "MISSED");

/** The one table: measure, median, min, max, floor, ratio, target, verdict. */
export function table(r: Results): Table {
  const head = ["measure", "median", "min", "max", "floor", "ratio", "target", ""];
  const rows: Table["rows"] = [];
  rows.push({ section: `Per check (deno run of main.ts under the shipped flags), ${r.runs} runs` });
  for (const c of r.checks) {
    const ratioOk = c.ratio <= c.targets.ratio;
    rows.push([
      `${c.scenario} (${c.answer}): wall ms`,
      ...mmm(c.wallMs, f0),
      f0(c.floor.wallMs.median),
      f2(c.ratio),
      `≤ ${c.targets.ratio}× floor`,
      yes(ratioOk),
    ]);
    rows.push([
      `  CPU ms (user+sys)`,
      ...mmm(c.cpuMs, f0),
      f0(c.floor.cpuMs.median),
      f2(c.cpuMs.median / c.floor.cpuMs.median),
      c.targets.cpuRatio ? `≤ ${c.targets.cpuRatio}× floor` : "",
      c.targets.cpuRatio ? yes(c.cpuMs.median / c.floor.cpuMs.median <= c.targets.cpuRatio) : "",
    ]);
    rows.push([
      `  peak RSS MiB`,
      ...mmm(c.rssMiB, f1),
      f1(c.floor.rssMiB.median),
      f2(c.rssMiB.median / c.floor.rssMiB.median),
      c.targets.rssMiB ? `≤ ${c.targets.rssMiB} MiB` : "",
      c.targets.rssMiB ? yes(c.rssMiB.max <= c.targets.rssMiB) : "",
    ]);
    if (c.bareFloor) {
      rows.push([
        `  bare floor (no probe): wall / CPU ms, RSS MiB`,
        f0(c.bareFloor.wallMs.median),
        f0(c.bareFloor.cpuMs.median),
        f1(c.bareFloor.rssMiB.median),
        "",
        f2(c.wallMs.median / c.bareFloor.wallMs.median),
        "check ÷ bare floor (wall)",
        "",
      ]);
    }
    rows.push([
      `  Consul requests`,
      ...mmm(c.requests, f0),
      "1",
      "",
      `≤ ${c.targets.requests}`,
      yes(c.requests.max <= c.targets.requests),
    ]);
    rows.push([
      `  exec → first request ms`,
      ...mmm(c.toFirstRequestMs, f0),
      f0(c.floor.toFirstRequestMs.median),
      f2(c.toFirstRequestMs.median / c.floor.toFirstRequestMs.median),
      "",
      "",
    ]);
  }
  rows.push({ section: "Where a check's time goes (primary scenario; wall / CPU ms, RSS MiB)" });
  for (const b of r.breakdown) {
    rows.push([
      `${b.what}: wall`,
      ...mmm(b.wallMs, f0),
      `cpu ${f0(b.cpuMs.median)}`,
      `rss ${f1(b.rssMiB.median)}`,
      b.note,
      "",
    ]);
  }
  for (const t of r.timeline) {
    rows.push([`  ${t.phase}`, ...mmm(t.ms, t.phase.includes("RSS") ? f1 : f0), "", "", "", ""]);
  }
  rows.push({ section: "Watch critical (3 local entries, triggers without actions)" });
  for (const w of r.watch) {
    const label = `${w.entries.toLocaleString("en-US")} entries (${
      (w.bytes / 1048576).toFixed(1)
    } MiB)`;
    if (w.unavailable) {
      rows.push([`${label}: wall ms`, "not available", "", "", "", "", w.unavailable, ""]);
      continue;
    }
    const target = w.targetMs;
    rows.push([
      `${label}: wall ms`,
      ...mmm(w.wallMs, f0),
      "",
      "",
      target ? `≤ ${target} ms` : "",
      target && w.wallMs ? yes(w.wallMs.median <= target) : "",
    ]);
    rows.push([`  peak RSS MiB`, ...mmm(w.rssMiB, f1), "", "", "", ""]);
    rows.push([`  Consul requests (${w.fired} fired)`, ...mmm(w.requests, f0), "", "", "", ""]);
    if (w.toFirstRequestMs) {
      rows.push([`  exec → first request ms`, ...mmm(w.toFirstRequestMs, f0), "", "", "", ""]);
    }
  }
  rows.push({
    section:
      "Failover (active's service stopped and unable to restart; -U checks, watches, triggers)",
  });
  for (const fo of r.failover) {
    const i = fo.intervalS;
    const how = fo.event === undefined ? "" : fo.event ? ", + watch service" : ", -U only";
    if (fo.fault === "node") {
      const t = fo.toRunningMs;
      const sec = (x: Stat | null) =>
        x
          ? mmm({ ...x, median: x.median / 1000, min: x.min / 1000, max: x.max / 1000 }, f2)
          : mmm(null, f2);
      rows.push([
        `node death (agent killed), interval ${i} s${how}, ${fo.runs} runs: kill → standby running, s`,
        ...sec(t),
        "",
        "",
        "",
        "",
      ]);
      if (fo.failures.length) {
        rows.push([`  failed runs: ${fo.failures.length}`, "", "", "", "", "", "", ""]);
      }
      continue;
    }
    if (fo.unavailable) {
      rows.push([`interval ${i} s`, "not available", "", "", "", "", fo.unavailable, ""]);
      continue;
    }
    const run = fo.toRunningMs;
    const s = (
      x: Stat | null,
    ) => (x
      ? mmm({ ...x, median: x.median / 1000, min: x.min / 1000, max: x.max / 1000 }, f2)
      : mmm(null, f2));
    const ctr = fo.critToRunningMs ?? null;
    if (fo.event !== undefined) {
      // the issue's target: critical in Consul → standby running, at 5 s and 10 s intervals
      const t = failoverTarget(fo);
      rows.push([
        `interval ${i} s${how}, ${fo.runs} runs: active critical → standby running, s`,
        ...s(ctr),
        "",
        "",
        t ? "median ≤ 1.0, max ≤ 2.0" : "",
        t && ctr ? yes(ctr.median <= 1000 && ctr.max <= 2000) : "",
      ]);
    }
    rows.push([
      `${fo.event === undefined ? `interval ${i} s, ${fo.runs} runs: ` : "  "}` +
      `service stop → standby service running, s`,
      ...s(run),
      "",
      "",
      `median ≤ ${i + 1}, max ≤ ${2 * i + 1}`,
      run ? yes(run.median <= (i + 1) * 1000 && run.max <= (2 * i + 1) * 1000) : "",
    ]);
    rows.push([`  standby check passing, s`, ...s(fo.toPassingMs), "", "", "", ""]);
    rows.push([`  old active's check critical, s`, ...s(fo.toActiveCriticalMs), "", "", "", ""]);
    rows.push([`  cluster document flipped, s`, ...s(fo.toFlipMs), "", "", "", ""]);
    const gap = fo.detail.map((d) => d.toRunningMs - d.toFlipMs).filter((x) => Number.isFinite(x));
    if (gap.length) {
      rows.push([`  flip → service running (watch + trigger), s`, ...s(stat(gap)), "", "", "", ""]);
    }
    if (fo.failures.length) {
      rows.push([`  failed runs: ${fo.failures.length}`, "", "", "", "", "", "", ""]);
    }
  }
  const sp = r.startPrimary;
  if (sp) {
    if (sp.unavailable) {
      rows.push(["start-primary", "not available", "", "", "", "", sp.unavailable, ""]);
    } else {
      const s = (
        x: Stat | null,
      ) => (x
        ? mmm({ ...x, median: x.median / 1000, min: x.min / 1000, max: x.max / 1000 }, f2)
        : mmm(null, f2));
      rows.push([
        `start-primary (${sp.runs} runs): command, s`,
        ...s(sp.durationMs),
        "",
        "",
        "",
        "",
      ]);
      rows.push([`  new active's service running, s`, ...s(sp.toRunningMs), "", "", "", ""]);
    }
  }
  // drop the headings of sections that were not run
  const kept = rows.filter((r, i) =>
    Array.isArray(r) || (i + 1 < rows.length && Array.isArray(rows[i + 1]))
  );
  return { head, rows: kept };
}

/** Fixed-width text. */
export function renderText(t: Table): string {
  const widths = t.head.map((h) => h.length);
  for (const r of t.rows) {
    if (Array.isArray(r)) r.forEach((c, i) => (widths[i] = Math.max(widths[i]!, [...c].length)));
  }
  const pad = (c: string, i: number) =>
    i === 0
      ? c + " ".repeat(widths[i]! - [...c].length)
      : " ".repeat(widths[i]! - [...c].length) + c;
  const line = (cells: string[]) => cells.map(pad).join("  ").trimEnd();
  const out = [line(t.head), "-".repeat(widths.reduce((a, b) => a + b + 2, -2))];
  for (const r of t.rows) out.push(Array.isArray(r) ? line(r) : `\n${r.section}`);
  return out.join("\n") + "\n";
}

/** GitHub markdown. */
export function renderMarkdown(t: Table): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  const out = [
    `| ${t.head.map(esc).join(" | ")} |`,
    `|${t.head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`,
  ];
  for (const r of t.rows) {
    if (Array.isArray(r)) {
      out.push(`| ${r.map((c) => esc(c).replace(/^ {2}/, "&emsp;")).join(" | ")} |`);
    } else out.push(`| **${esc(r.section)}** |${" |".repeat(t.head.length - 1)}`);
  }
  return out.join("\n") + "\n";
}
