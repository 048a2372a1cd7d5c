/**
 * `deno task bench`: per-check cost beside its floor, requests per check, startup, watch
 * throughput and failover time, on throwaway agents. Prints one table and writes
 * bench/results.json. Benchmarks, not tests: they report, they never fail on a missed target —
 * but the run itself must complete.
 *
 * Env: BENCH_RUNS (per-check runs, default 25), BENCH_FAILOVER_RUNS (default 5),
 * BENCH_SECTIONS (comma list of checks,watch,failover; default all), BENCH_KEEP_LOGS=1 (copy
 * powerconsul's logs to .tmp/bench-logs-<pid> before cleaning up). A run of some sections keeps
 * the other sections' figures of the existing bench/results.json, so one section is re-run with
 * one command (e.g. `BENCH_SECTIONS=failover deno task bench`) and the README regenerated.
 *
 * @module
 */
import { join } from "node:path";
import { checkSection } from "./checks.ts";
import { watchSection } from "./watch.ts";
import { failoverSection } from "./failover.ts";
import { openWorld, REPO } from "./lib/env.ts";
import { type Machine, renderText, type Results, table } from "./lib/results.ts";

const enc = new TextEncoder();
const say = (s: string) => void Deno.stderr.writeSync(enc.encode(s + "\n"));

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "";
  }
}

async function machine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    consul: (await text("consul", ["version"])).split("\n")[0]?.replace(/^Consul /, "") ?? "",
    date: new Date().toISOString(),
  };
}

const num = (name: string, def: number) => {
  const v = Number(Deno.env.get(name));
  return Number.isInteger(v) && v > 0 ? v : def;
};

const ALL = ["checks", "watch", "failover"] as const;

/** Carry the sections not run now over from the previous results file (when there is one). */
async function keepOthers(path: string, r: Results, ran: Set<string>): Promise<void> {
  let prev: Results;
  try {
    prev = JSON.parse(await Deno.readTextFile(path)) as Results;
  } catch {
    return;
  }
  const kept: string[] = [];
  for (const s of ALL) {
    if (ran.has(s)) continue;
    kept.push(s);
    if (s === "checks") {
      Object.assign(r, { checks: prev.checks, breakdown: prev.breakdown, timeline: prev.timeline });
      r.runs = prev.runs;
    }
    if (s === "watch") r.watch = prev.watch;
    if (s === "failover") {
      Object.assign(r, { failover: prev.failover, startPrimary: prev.startPrimary });
    }
    const notes = prev.sectionNotes?.[s] ?? [];
    r.notes.push(...notes);
    r.sectionNotes![s] = notes;
  }
  if (kept.length) {
    r.notes.push(`${kept.join(", ")}: kept from the previous run (${prev.machine.date})`);
  }
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const runs = num("BENCH_RUNS", 25);
  const foRuns = num("BENCH_FAILOVER_RUNS", 5);
  const sections = new Set(
    (Deno.env.get("BENCH_SECTIONS") ?? "checks,watch,failover").split(",").map((s) => s.trim()),
  );
  const results: Results = {
    machine: await machine(),
    runs,
    checks: [],
    breakdown: [],
    timeline: [],
    watch: [],
    failover: [],
    startPrimary: null,
    totalSeconds: 0,
    notes: [],
    sectionNotes: {},
  };
  say(`bench: starting a throwaway cluster (server + 2 clients) on loopback`);
  const w = await openWorld();
  const stop = () => {
    say("bench: interrupted, cleaning up");
    w.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    if (sections.has("checks")) {
      say(`bench: per-check cost, ${runs} runs per variant`);
      const c = await checkSection(w, runs, say);
      Object.assign(results, { checks: c.checks, breakdown: c.breakdown, timeline: c.timeline });
      results.notes.push(...c.notes);
      results.sectionNotes!.checks = c.notes;
    }
    if (sections.has("watch")) {
      say("bench: watch throughput");
      results.watch = await watchSection(w, runs, say);
      results.sectionNotes!.watch = [];
    }
    if (sections.has("failover")) {
      say(`bench: failover, ${foRuns} runs per interval`);
      const f = await failoverSection(w, foRuns, say);
      results.failover = f.failover;
      results.startPrimary = f.startPrimary;
      results.notes.push(...f.notes);
      results.sectionNotes!.failover = f.notes;
    }
  } finally {
    if (Deno.env.get("BENCH_KEEP_LOGS")) {
      const keep = join(REPO, ".tmp", `bench-logs-${Deno.pid}`);
      await new Deno.Command("cp", { args: ["-r", w.dirs.logDir, keep] }).output();
      say(`bench: logs kept in ${keep}`);
    }
    say("bench: cleaning up");
    await w.close();
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
  results.totalSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const m = results.machine;
  const out = join(REPO, "bench", "results.json");
  if (!ALL.every((s) => sections.has(s))) await keepOthers(out, results, sections);
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
  Deno.stdout.writeSync(enc.encode(
    `\npowerconsul bench — ${m.cpu}, ${m.cores} cores, ${m.kernel}, deno ${m.deno}, ` +
      `consul ${m.consul}; median/min/max; ${results.totalSeconds} s in all\n\n` +
      renderText(table(results)) +
      (results.notes.length ? `\nnotes:\n${results.notes.map((n) => `- ${n}`).join("\n")}\n` : "") +
      `\nwritten: ${out}\n`,
  ));
  return 0;
}

Deno.exit(await main());
