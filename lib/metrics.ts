/**
 * The node_exporter textfile: each check run rewrites `<logDir>/metrics/powerconsul.prom` (or
 * config `metricsFile`) with its service's samples, keeping the other services' samples already
 * in the file, written to a temporary file and renamed over (a reader never sees half a file).
 * One small read and one small write per run. Two checks of different services finishing at
 * the same instant can drop one's update until its next run (the file is a cache, not a log).
 *
 * The time of the last role change comes from the newest role-changing entry of the service's
 * history (lib/history). Every such entry is written in one transaction with the cluster
 * document, so the document's ModifyIndex (which the check reads anyway, and which the file
 * keeps as powerconsul_document_index) moves with it: the history is read only on a run whose
 * document index differs from the one in the file.
 */
import { roleCode } from "./check/line.ts";
import type { Config } from "./config.ts";
import { dirname, join } from "./paths.ts";
import { parseHistory, ROLE_CHANGES } from "./history/entry.ts";
import { parseState, recentRuns, STATE_FILE } from "./triggers/storm.ts";

export interface CheckSample {
  service: string;
  role: string | null;
  expects: boolean | null;
  state: "passing" | "warning" | "critical" | "unknown";
  code: number;
  durationMs: number;
  paused: boolean;
  /** Trigger runs inside the window, pending deferred runs, whether the burst limit is hit. */
  triggers: { runs: number; deferred: number; limited: boolean };
  /** Seconds since the epoch. */
  at: number;
  /** ModifyIndex of the cluster document the run read; null without one. */
  documentIndex: number | null;
  /**
   * Seconds since the epoch of the newest role change in the history; 0 when none is recorded;
   * null when not known (no document, or the history could not be read): the line is left out.
   */
  roleChangeAt: number | null;
}

/** The newest role change in a stored history (pure): seconds, 0 when none; throws on bad text. */
export function lastRoleChange(historyText: string | null): number {
  const times = parseHistory(historyText)
    .filter((e) => ROLE_CHANGES.includes(e.action))
    .map((e) => Date.parse(e.time) / 1000)
    .filter((t) => Number.isFinite(t));
  return times.length ? Math.max(...times) : 0;
}

/** One service's value of one family in an existing file (pure); undefined when absent. */
export function previousValue(
  existing: string,
  family: string,
  service: string,
): number | undefined {
  const head = `${family}{service="${label(service)}"} `;
  const line = existing.split("\n").find((l) => l.startsWith(head));
  if (line === undefined) return undefined;
  const v = Number(line.slice(head.length));
  return Number.isFinite(v) ? v : undefined;
}

/** The role as a number, the same as the check's perfdata. */
export const roleNumber = roleCode;

/** Whether the resource was seen running (1), stopped (0), or not known (-1). */
export function observedRunning(s: Pick<CheckSample, "expects" | "state">): number {
  if (s.expects === null || s.state === "unknown" || s.state === "warning") return -1;
  const running = s.state === "passing" ? s.expects : !s.expects;
  return running ? 1 : 0;
}

/** A family's value; null leaves the service's line out. */
const FAMILIES: [name: string, help: string, value: (s: CheckSample) => number | null][] = [
  [
    "powerconsul_role",
    "Role: 0 standalone, 1 primary, 2 secondary, -1 unknown.",
    (s) => roleNumber(s.role),
  ],
  [
    "powerconsul_expected_running",
    "1 when the role wants the resource running, 0 stopped, -1 unknown.",
    (
      s,
    ) => s.expects === null ? -1 : s.expects ? 1 : 0,
  ],
  [
    "powerconsul_observed_running",
    "1 when the resource was seen running, 0 stopped, -1 unknown.",
    observedRunning,
  ],
  [
    "powerconsul_check_result",
    "The check's exit code: 0 passing, 1 warning, 2 critical, 3 unknown.",
    (s) => s.code,
  ],
  [
    "powerconsul_check_duration_seconds",
    "How long the check run took.",
    (s) => s.durationMs / 1000,
  ],
  ["powerconsul_check_timestamp_seconds", "When the check ran.", (s) => s.at],
  [
    "powerconsul_trigger_runs",
    "Trigger runs inside the trigger window on this node.",
    (s) => s.triggers.runs,
  ],
  [
    "powerconsul_trigger_deferred",
    "Deferred trigger runs pending on this node.",
    (s) => s.triggers.deferred,
  ],
  [
    "powerconsul_trigger_limit_reached",
    "1 when the trigger burst limit stopped triggers.",
    (s) => s.triggers.limited ? 1 : 0,
  ],
  ["powerconsul_paused", "1 while the service is paused cluster-wide.", (s) => s.paused ? 1 : 0],
  [
    "powerconsul_last_role_change_timestamp_seconds",
    "When the roles last changed (the newest flip, start-primary, forced failover or fence in " +
    "the history); 0 when none is recorded.",
    (s) => s.roleChangeAt,
  ],
  [
    "powerconsul_document_index",
    "ModifyIndex of the cluster document the check read.",
    (s) => s.documentIndex,
  ],
];

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The sample lines of one service (pure), keyed by family. */
export function sampleLines(s: CheckSample): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, , value] of FAMILIES) {
    const v = value(s);
    if (v === null) continue;
    out.set(name, `${name}{service="${label(s.service)}"} ${Number.isFinite(v) ? v : "NaN"}`);
  }
  return out;
}

/**
 * The file with `s`'s lines in place of that service's old ones (pure). Lines of other
 * services are kept; comments are rebuilt; anything unrecognised is dropped.
 */
export function mergeMetrics(existing: string, s: CheckSample): string {
  const mine = `service="${label(s.service)}"`;
  const byFamily = new Map<string, string[]>(FAMILIES.map(([n]) => [n, []]));
  for (const line of existing.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/.exec(line)?.[1];
    if (!name || !byFamily.has(name) || line.includes(`{${mine}}`)) continue;
    byFamily.get(name)!.push(line);
  }
  const fresh = sampleLines(s);
  const text: string[] = [];
  for (const [name, help] of FAMILIES) {
    const mine = fresh.get(name);
    const lines = [...byFamily.get(name)!, ...(mine === undefined ? [] : [mine])].sort();
    text.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...lines);
  }
  return text.join("\n") + "\n";
}

/** The trigger counters of a service from the storm state text (pure; bad text: zeros). */
export function triggerCounters(
  stateText: string | null,
  service: string,
  config: Pick<Config, "triggerWindow" | "triggerBurst">,
  now: number,
): CheckSample["triggers"] {
  const zero = { runs: 0, deferred: 0, limited: false };
  if (!stateText) return zero;
  try {
    const entries = parseState(stateText).entries.filter((e) => e.service === service);
    const windowMs = config.triggerWindow * 1000;
    const recent = entries.map((e) => recentRuns(e.runs, now, windowMs).length);
    return {
      runs: recent.reduce((a, b) => a + b, 0),
      deferred: entries.filter((e) => e.pending && e.pending.until >= now).length,
      limited: config.triggerBurst > 0 && recent.some((n) => n >= config.triggerBurst),
    };
  } catch {
    return zero;
  }
}

export function metricsPath(config: Pick<Config, "metricsFile" | "logDir">): string {
  return config.metricsFile ?? join(config.logDir, "metrics", "powerconsul.prom");
}

/**
 * The last role change for a sample (see the header): the file's value while the document index
 * is the one the file holds, else read from the history. Null when unknown.
 */
export async function roleChangeFor(
  existing: string,
  s: Pick<CheckSample, "service" | "documentIndex">,
  readHistory?: () => Promise<string | null>,
): Promise<number | null> {
  if (s.documentIndex === null) return null;
  const kept = previousValue(existing, "powerconsul_last_role_change_timestamp_seconds", s.service);
  const index = previousValue(existing, "powerconsul_document_index", s.service);
  if (kept !== undefined && index === s.documentIndex) return kept;
  if (!readHistory) return null;
  try {
    return lastRoleChange(await readHistory());
  } catch {
    return null;
  }
}

/** Write the check's samples. Throws on I/O failure (the caller logs it; the check stands). */
export async function writeCheckMetrics(
  config: Pick<Config, "metricsFile" | "logDir" | "triggerWindow" | "triggerBurst" | "metrics">,
  s: Omit<CheckSample, "triggers" | "roleChangeAt">,
  now: number = Date.now(),
  readHistory?: () => Promise<string | null>,
): Promise<string | null> {
  if (!config.metrics) return null;
  const path = metricsPath(config);
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return null;
    }
  };
  const existing = read(path);
  const state = read(join(config.logDir, STATE_FILE));
  const sample = {
    ...s,
    triggers: triggerCounters(state, s.service, config, now),
    roleChangeAt: await roleChangeFor(existing ?? "", s, readHistory),
  };
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, mergeMetrics(existing ?? "", sample), { mode: 0o644 });
  Deno.renameSync(tmp, path);
  return path;
}
