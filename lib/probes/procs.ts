/**
 * Nagios check_procs (for `check process`) and the process table (for -P/-R).
 */
import { basename, normalize } from "../paths.ts";
import { ProbeError } from "../errors.ts";
import { describeRun, type Runner, type RunResult } from "../sys/runner.ts";
import { splitWords, WordsError } from "../words.ts";

export type ProcsVerdict = { state: "ok" | "warning" | "critical"; detail: string };

export function checkProcsArgv(plugin: string, nagiosArgs: string): string[] {
  try {
    return [plugin, ...splitWords(nagiosArgs)];
  } catch (e) {
    if (e instanceof WordsError) throw new ProbeError(`-n: ${e.message}`);
    throw e;
  }
}

/** check_procs exit: 0 ok, 1 warning, 2 critical, 3 (or anything else) plugin error. */
export function interpretProcs(r: RunResult): ProcsVerdict {
  const detail = (r.stdout.trim() || r.stderr.trim()).split("\n")[0]?.slice(0, 300) ?? "";
  if (r.spawnError || r.timedOut || r.code === null) {
    throw new ProbeError(`check_procs: ${describeRun(r)}${detail ? ` (${detail})` : ""}`);
  }
  if (r.code === 0) return { state: "ok", detail };
  if (r.code === 1) return { state: "warning", detail };
  if (r.code === 2) return { state: "critical", detail };
  throw new ProbeError(
    `check_procs failed (exit ${r.code}): ${detail || (r.stderr.trim() || "no output")}`,
  );
}

export async function probeProcs(
  runner: Runner,
  plugin: string,
  nagiosArgs: string,
  timeoutMs: number,
) {
  return interpretProcs(await runner.run(checkProcsArgv(plugin, nagiosArgs), { timeoutMs }));
}

export interface ProcEntry {
  pid: number;
  ppid: number;
  argv: string[];
}

/**
 * Parse `ps -e -o pid=,ppid=,args=` output (pure). Deno refuses reads under /proc without
 * --allow-all (they can reach other processes' memory), so the table comes from ps.
 */
export function parsePs(text: string): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    out.push({ pid: Number(m[1]), ppid: Number(m[2]), argv: m[3]!.split(" ") });
  }
  return out;
}

/** The process table, via ps (with the probe timeout). */
export async function readProcessTable(runner: Runner, timeoutMs: number): Promise<ProcEntry[]> {
  const r = await runner.run(["ps", "-e", "-o", "pid=,ppid=,args="], {
    timeoutMs,
    maxOutput: 4 << 20,
  });
  if (r.code !== 0) throw new ProbeError(`ps: ${describeRun(r)} ${r.stderr.trim()}`.trim());
  return parsePs(r.stdout);
}

/**
 * Processes that are powerconsul itself: this process, its ancestors (the launcher, the
 * agent's shell), and any other powerconsul invocation (a binary named powerconsul*, or a
 * runtime running our main module). Their command lines carry the -P/-R text as an argument.
 */
export function isPowerconsul(
  p: ProcEntry,
  self: number,
  ancestors: Set<number>,
  mainPath: string,
): boolean {
  if (p.pid === self || ancestors.has(p.pid)) return true;
  return p.argv.some((a, i) =>
    (i < 3 && basename(a).startsWith("powerconsul")) ||
    (a.endsWith(".ts") && normalize(a) === mainPath)
  );
}

/** The first process line (not ours) matching a substring or a regex. Pure. */
export function findTask(
  table: ProcEntry[],
  match: { substring?: string; regex?: RegExp },
  self: number,
  mainPath: string,
): ProcEntry | undefined {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const ancestors = new Set<number>();
  let cur = byPid.get(self)?.ppid;
  while (cur && cur > 1 && !ancestors.has(cur)) {
    ancestors.add(cur);
    cur = byPid.get(cur)?.ppid;
  }
  return table.find((p) => {
    if (isPowerconsul(p, self, ancestors, mainPath)) return false;
    const line = p.argv.join(" ");
    if (match.substring !== undefined && line.includes(match.substring)) return true;
    if (match.regex && match.regex.test(line)) return true;
    return false;
  });
}
