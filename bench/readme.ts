/**
 * Print the README's "Performance" section (markdown) from bench/results.json (or the file
 * given as the first argument): the machine, what was measured, the table, and the targets.
 *
 * Usage: deno run --allow-read bench/readme.ts [results.json] > fragment.md
 *
 * @module
 */
import { join } from "node:path";
import { failoverTarget, renderMarkdown, type Results, table } from "./lib/results.ts";
import { type HaResults, haTable } from "./lib/ha_table.ts";

const path = Deno.args[0] ?? join(import.meta.dirname!, "results.json");
let r: Results;
try {
  r = JSON.parse(await Deno.readTextFile(path));
} catch (e) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `readme: cannot read ${path} (${(e as Error).message}); run 'deno task bench' first\n`,
    ),
  );
  Deno.exit(1);
}

const m = r.machine;
const ms = (x: number) => `${Math.round(x)} ms`;
const s2 = (x: number) => `${(x / 1000).toFixed(2)} s`;
const out: string[] = [];
out.push("## Performance", "");
out.push(
  `Measured with \`deno task bench\` on ${m.cpu} (${m.cores} cores), ${m.kernel}, Deno ${m.deno}, ` +
    `Consul ${m.consul}, on ${m.date.slice(0, 10)}; the whole bench took ${r.totalSeconds} s. ` +
    `Figures are median, min and max over ${r.runs} runs per check variant (fewer for the ` +
    `50,000-entry watch and for failover, as labelled). Everything runs on throwaway Consul ` +
    `agents on loopback; the results file is \`bench/results.json\`.`,
  "",
);
out.push(
  "- **Per check**: one `powerconsul check service` process per run: main.ts bundled into one " +
    "module (what `deno task compile` compiles) run by `deno run` under the shipped permission " +
    "flags, against a real init script; the source run module by module and the dev launcher " +
    "are in the breakdown. The **floor** (the honest one) is a Deno process under the same flags " +
    "that makes one `fetch` to the same agent and, while it is in flight, spawns the probe " +
    "(`service <name> status`), then exits: the least a check that really looks can cost. It is " +
    "measured in the same run, interleaved with the checks; ratios are check ÷ floor. The bare " +
    "floor (the fetch alone) is shown too. CPU is user + system time of the process and " +
    "everything it waited for; RSS is the peak of the largest process. Requests are counted by " +
    "a loopback proxy in front of the agent; *exec → first request* is when the first request " +
    "byte reached that proxy. The *trace* rows are the check's own timestamps " +
    "(`POWERCONSUL_TRACE=1`, lib/trace.ts): each phase's end in ms after exec and its length.",
  "- **Watch**: `powerconsul watch critical` fed a checks-watch payload on stdin; three entries " +
    "(one in the 1-entry payload) belong to the local node and their triggers have no action in " +
    "KV, so the figure is reading, validating, selecting and resolving roles.",
  "- **Failover**: two client agents each run the `-U` script check, a `checks` watch calling " +
    "`watch critical`, and the promote/demote key watches; the KV trigger " +
    "`triggers/<service>/primary/critical` starts the init-script service. A run stops the " +
    "active's service (made unable to restart, as on a broken host) at a random phase of the " +
    "check schedule and times the standby's service running (pid file) and its check passing. " +
    "Each interval runs with the check's `-U` alone and with the event-driven takeover watch " +
    "(`watch service`) added; the headline figure counts from the old active's check turning " +
    "critical on its agent. Node death kills the active's agent instead (event path on) and " +
    "counts from the kill. Re-run this part alone with " +
    "`BENCH_SECTIONS=failover deno task bench` (BENCH_FAILOVER_RUNS, BENCH_FAILOVER_INTERVALS).",
  "",
);
out.push(renderMarkdown(table(r)));

const missed: string[] = [];
for (const c of r.checks) {
  if (c.ratio > c.targets.ratio) {
    missed.push(
      `${c.scenario}: ${ms(c.wallMs.median)} is ${c.ratio.toFixed(2)}× the floor ` +
        `(${ms(c.floor.wallMs.median)}; target ${c.targets.ratio}×)`,
    );
  }
  const cpu = c.cpuMs.median / c.floor.cpuMs.median;
  if (c.targets.cpuRatio && cpu > c.targets.cpuRatio) {
    missed.push(
      `${c.scenario}: CPU ${ms(c.cpuMs.median)} is ${cpu.toFixed(2)}× the floor's ` +
        `(${ms(c.floor.cpuMs.median)}; target ${c.targets.cpuRatio}×)`,
    );
  }
  if (c.targets.rssMiB && c.rssMiB.max > c.targets.rssMiB) {
    missed.push(
      `${c.scenario}: peak RSS ${c.rssMiB.max.toFixed(1)} MiB (target ≤ ${c.targets.rssMiB} MiB)`,
    );
  }
  if (c.requests.max > c.targets.requests) {
    missed.push(
      `${c.scenario}: ${c.requests.max} requests (target ≤ ${c.targets.requests})`,
    );
  }
}
for (const w of r.watch) {
  if (w.targetMs && w.wallMs && w.wallMs.median > w.targetMs) {
    missed.push(`watch, ${w.entries} entries: ${ms(w.wallMs.median)} (target ≤ ${w.targetMs} ms)`);
  }
}
for (const f of r.failover) {
  const ctr = f.critToRunningMs;
  if (failoverTarget(f) && ctr && (ctr.median > 1000 || ctr.max > 2000)) {
    missed.push(
      `failover at ${f.intervalS} s with watch service, active critical → standby running: ` +
        `median ${s2(ctr.median)}, max ${s2(ctr.max)} (target ≤ 1.00 s / ≤ 2.00 s)`,
    );
  }
  const run = f.toRunningMs;
  if (!run || f.fault === "node") continue;
  const i = f.intervalS * 1000;
  if (run.median > i + 1000 || run.max > 2 * i + 1000) {
    missed.push(
      `failover at ${f.intervalS} s: median ${s2(run.median)}, max ${s2(run.max)} ` +
        `(target ≤ ${s2(i + 1000)} / ≤ ${s2(2 * i + 1000)})`,
    );
  }
}
out.push("");
if (missed.length) {
  out.push("Targets missed:", "", ...missed.map((x) => `- ${x}`), "");
} else {
  out.push("Every target was met in this run.", "");
}
const b = Object.fromEntries(r.breakdown.map((x) => [x.what, x.wallMs.median]));
const get = (k: string) => b[k] ?? NaN;
if (r.breakdown.length) {
  const empty = get("deno, empty module");
  const bare = get("bare floor: deno + one fetch");
  const floor = get("honest floor: + probe spawn");
  const bundled = get("check, bundled (the per-check rows)");
  const source = get("check via deno run of main.ts");
  const launcher = get("check via the launcher");
  const probe = get("probe: service <name> status");
  const phases = r.timeline.filter((t) => t.phase.endsWith(": phase length"))
    .map((t) =>
      `${t.phase.replace(/^trace /, "").replace(/: phase length$/, "")} ${ms(t.ms.median)}`
    );
  const exit = r.timeline.find((t) => t.phase === "trace done → process exit");
  out.push(
    "Where a check's time goes (primary scenario, medians): starting Deno under the flags " +
      `${ms(empty)}; the bare floor's one request ${ms(bare - empty)} more; the probe's spawn ` +
      `and run ${ms(floor - bare)} more (the probe alone takes ${ms(probe)}); the check ` +
      `${ms(bundled)} bundled, ${ms(source)} module by module, ${ms(launcher)} through the dev ` +
      "launcher. The check's own phases, from its trace (each phase's length, ms): " +
      `${phases.join(", ")}${exit ? `; done → process exit ${ms(exit.ms.median)}` : ""}.`,
    "",
  );
}
// The clustering bench (bench/ha.ts) writes its own file; its table follows when it exists.
try {
  const ha = JSON.parse(
    await Deno.readTextFile(join(import.meta.dirname!, "ha-results.json")),
  ) as HaResults;
  out.push(
    "### Clustering: split brain and takeover",
    "",
    `Measured with \`deno run -A bench/ha.ts\` on ${ha.date.slice(0, 10)} ` +
      `(${ha.runsPerScenario} runs per scenario, ${ha.totalSeconds} s in all): each run is a ` +
      "fresh deployment of 1 server + 3 clients on loopback with init-script services, " +
      "agent-config checks at 1 s and watches, and the HA timings of the tests (lease 10 s, " +
      "takeover delay 18 s, damping 2 s). Takeover is the time from the fault to another " +
      "node's service running; overlap is the longest time two services ran at once, sampled " +
      "every 50 ms (it must be 0); outage is the longest time none ran.",
    "",
    haTable(ha),
    "",
  );
} catch {
  // no HA bench run yet
}
Deno.stdout.writeSync(new TextEncoder().encode(out.join("\n")));
