/**
 * The node_exporter textfile: each check run rewrites `<logDir>/metrics/powerconsul.prom` (or
 * config `metricsFile`) with its service's samples, keeping the other services' samples already
 * in the file, written to a temporary file and renamed over (a reader never sees half a file).
 * One small read and one small write per run. Two checks of different services finishing at
 * the same instant can drop one's update until its next run (the file is a cache, not a log).
 *
 * Not here: the time of the last role change (it would cost a read of the history key on every
 * run); `powerconsul history` has it.
 */
import { roleCode } from "./check/line.ts";
import type { Config } from "./config.ts";
import { dirname, join } from "./paths.ts";
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
}

/** The role as a number, the same as the check's perfdata. */
export const roleNumber = roleCode;

/** Whether the resource was seen running (1), stopped (0), or not known (-1). */
export function observedRunning(s: Pick<CheckSample, "expects" | "state">): number {
  if (s.expects === null || s.state === "unknown" || s.state === "warning") return -1;
  const running = s.state === "passing" ? s.expects : !s.expects;
  return running ? 1 : 0;
}

const FAMILIES: [name: string, help: string, value: (s: CheckSample) => number][] = [
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
];

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The sample lines of one service (pure), keyed by family. */
export function sampleLines(s: CheckSample): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, , value] of FAMILIES) {
    const v = value(s);
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
    const lines = [...byFamily.get(name)!, fresh.get(name)!].sort();
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

/** Write the check's samples. Throws on I/O failure (the caller logs it; the check stands). */
export async function writeCheckMetrics(
  config: Pick<Config, "metricsFile" | "logDir" | "triggerWindow" | "triggerBurst" | "metrics">,
  s: Omit<CheckSample, "triggers">,
  now: number = Date.now(),
): Promise<string | null> {
  if (!config.metrics) return null;
  const path = metricsPath(config);
  const read = (p: string) => Deno.readTextFile(p).catch(() => null);
  const [existing, state] = await Promise.all([read(path), read(join(config.logDir, STATE_FILE))]);
  const sample = { ...s, triggers: triggerCounters(state, s.service, config, now) };
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, mergeMetrics(existing ?? "", sample), { mode: 0o644 });
  await Deno.rename(tmp, path);
  return path;
}
