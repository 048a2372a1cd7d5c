/**
 * Nagios check_procs (for `check process`) and the process table (for -P/-R).
 */
import { basename } from "node:path";
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

/** The process table from /proc (no child process needed). */
export async function readProcessTable(): Promise<ProcEntry[]> {
  const out: ProcEntry[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const raw = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (raw === "") continue;
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      out.push({ pid: Number(e.name), ppid, argv: raw.replace(/\0$/, "").split("\0") });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
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
  return p.argv.slice(0, 3).some((a) => basename(a).startsWith("powerconsul") || a === mainPath);
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
