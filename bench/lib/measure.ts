/**
 * Run one process and measure it: wall time of the command itself (bash's EPOCHREALTIME around
 * it, so the wrapper's own start is not counted), CPU time of the command and every process it
 * waited for (bash `times`, millisecond resolution), and peak RSS (GNU time %M: the largest
 * resident set of any process in the tree, in KiB).
 *
 * @module
 */
import { join } from "node:path";

export interface Sample {
  /** Epoch ms just before the command was exec'd (bash EPOCHREALTIME). */
  startEpochMs: number;
  wallMs: number;
  cpuMs: number;
  userMs: number;
  sysMs: number;
  rssKb: number;
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunSpec {
  argv: string[];
  env?: Record<string, string>;
  stdin?: Uint8Array;
  /** Hard deadline for the whole run (ms). */
  timeoutMs?: number;
}

/** `/usr/bin/time` (GNU time); scripts/setup.sh installs it. */
export const GNU_TIME = "/usr/bin/time";

// $1 = result file; the rest is the command. Builtins only after the command: no fork, so
// `times` reports the command's own children.
const WRAP = 'f=$1; shift; s=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME; ' +
  '{ echo "$s $e"; times; } >"$f"; exit $rc';

let seq = 0;

function ms(t: string): number {
  // bash `times`: 0m0.012s
  const m = /^(\d+)m([\d.]+)s$/.exec(t.trim());
  if (!m) throw new Error(`unexpected times field ${JSON.stringify(t)}`);
  return (Number(m[1]) * 60 + Number(m[2])) * 1000;
}

export async function measure(spec: RunSpec, tmpDir: string): Promise<Sample> {
  const id = `${Deno.pid}-${seq++}`;
  const timesFile = join(tmpDir, `times-${id}`);
  const rssFile = join(tmpDir, `rss-${id}`);
  const child = new Deno.Command(GNU_TIME, {
    args: ["-f", "%M", "-o", rssFile, "bash", "-c", WRAP, "wrap", timesFile, ...spec.argv],
    env: { LC_ALL: "C", ...spec.env },
    stdin: spec.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, spec.timeoutMs ?? 60_000);
  try {
    if (spec.stdin) {
      const w = child.stdin.getWriter();
      await w.write(spec.stdin).catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await child.output();
    const dec = new TextDecoder();
    const lines = (await Deno.readTextFile(timesFile)).trim().split("\n");
    const [s, e] = lines[0]!.split(" ").map(Number) as [number, number];
    const [user, sys] = lines[2]!.trim().split(/\s+/).map(ms) as [number, number];
    const rss = Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop());
    return {
      startEpochMs: s * 1000,
      wallMs: (e - s) * 1000,
      cpuMs: user + sys,
      userMs: user,
      sysMs: sys,
      rssKb: rss,
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    await Deno.remove(timesFile).catch(() => {});
    await Deno.remove(rssFile).catch(() => {});
  }
}

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stat(xs: number[]): Stat {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/**
 * Offset turning performance.now() into epoch ms (the clock of bash's EPOCHREALTIME), taken at
 * the moment Date.now() ticks, so it is exact to a few µs and immune to the drift between the
 * monotonic clock and the wall clock over a long run. Busy-waits at most 1 ms.
 */
export function epochOffset(): number {
  const first = Date.now();
  let now = Date.now();
  for (let i = 0; i < 10_000_000 && now === first; i++) now = Date.now();
  return now - performance.now();
}
