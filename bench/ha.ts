/**
 * The clustering bench: every acceptance scenario of tests/e2e/ha/_scenarios.ts, several runs
 * each, each on a fresh operator-style deployment (1 server + 3 clients on loopback, init-script
 * services, agent-config checks at 1 s and watches). Prints per scenario the takeover time
 * (fault → another node's service running; min/median/max), the longest overlap of two running
 * services (the split-brain figure: 0 is the only good answer), the longest outage, and the runs
 * that failed a check; writes bench/ha-results.json (bench/readme.ts adds it to the README's
 * Performance section).
 *
 * Usage: deno run -A bench/ha.ts [scenario-id…]   (env BENCH_HA_RUNS, default 5; BENCH_HA_OUT,
 * another results path)
 * A benchmark, not a test: a failed run is counted and reported, and the bench goes on.
 *
 * @module
 */
import { join } from "node:path";
import { type Outcome, runScenario, SCENARIOS } from "../tests/e2e/ha/_scenarios.ts";
import { stat } from "./lib/measure.ts";
import { type HaResults, type HaRow, haTable } from "./lib/ha_table.ts";
import type { Stat } from "./lib/measure.ts";

const enc = new TextEncoder();
const say = (s: string) => void Deno.stderr.writeSync(enc.encode(s + "\n"));

async function main(): Promise<number> {
  const t0 = performance.now();
  const runsEnv = Number(Deno.env.get("BENCH_HA_RUNS"));
  const runs = Number.isInteger(runsEnv) && runsEnv > 0 ? runsEnv : 5;
  const wanted = Deno.args.length > 0 ? new Set(Deno.args) : undefined;
  const chosen = SCENARIOS.filter((s) => !wanted || wanted.has(s.id));
  if (wanted && chosen.length !== wanted.size) {
    say(`ha bench: unknown scenario; known: ${SCENARIOS.map((s) => s.id).join(", ")}`);
    return 2;
  }
  const rows: HaRow[] = [];
  for (const s of chosen) {
    const ok: Outcome[] = [];
    const failures: string[] = [];
    let maxOverlap = 0;
    for (let i = 0; i < runs; i++) {
      try {
        const o = await runScenario(s);
        ok.push(o);
        say(
          `ha bench: ${s.id} run ${i + 1}: takeover ${o.takeoverSeconds ?? "–"} s, overlap ` +
            `${o.maxOverlapSeconds} s, outage ${o.maxOutageSeconds} s ${JSON.stringify(o.extra)}`,
        );
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const overlap = /two services ran at once for up to ([\d.]+) s/.exec(msg)?.[1];
        if (overlap) maxOverlap = Math.max(maxOverlap, Number(overlap));
        failures.push(`run ${i + 1}: ${msg.split("\n")[0]}`);
        say(`ha bench: ${s.id} run ${i + 1} FAILED: ${msg.split("\n").slice(0, 3).join(" | ")}`);
      }
    }
    for (const o of ok) maxOverlap = Math.max(maxOverlap, o.maxOverlapSeconds);
    const takeovers = ok.map((o) => o.takeoverSeconds).filter((x): x is number => x !== null);
    const extraKeys = [...new Set(ok.flatMap((o) => Object.keys(o.extra)))];
    const extra: Record<string, Stat> = {};
    for (const k of extraKeys) {
      extra[k] = stat(ok.map((o) => o.extra[k]).filter((x): x is number => typeof x === "number"));
    }
    rows.push({
      scenario: s.id,
      title: s.title,
      runs,
      held: ok.length,
      takeoverS: takeovers.length ? stat(takeovers) : null,
      maxOverlapS: maxOverlap,
      maxPollerGapMs: Math.max(0, ...ok.map((o) => o.maxGapMs)),
      maxOutageS: ok.length ? stat(ok.map((o) => o.maxOutageSeconds)) : null,
      extra,
      failures,
    });
  }
  const results: HaResults = {
    date: new Date().toISOString(),
    runsPerScenario: runs,
    totalSeconds: Math.round((performance.now() - t0) / 100) / 10,
    rows,
  };
  const out = Deno.env.get("BENCH_HA_OUT") ?? join(import.meta.dirname!, "ha-results.json");
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
  const notes = rows.flatMap((r) => r.failures.map((f) => `- ${r.scenario} ${f}`));
  Deno.stdout.writeSync(enc.encode(
    `\npowerconsul HA bench — ${runs} runs per scenario, ${results.totalSeconds} s in all\n\n` +
      haTable(results) + "\n" + (notes.length ? `\nfailed runs:\n${notes.join("\n")}\n` : "") +
      `\nwritten: ${out}\n`,
  ));
  return 0;
}

if (import.meta.main) Deno.exit(await main());
