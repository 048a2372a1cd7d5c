/**
 * Print the README's "Performance" section (markdown) from bench/results.json (or the file
 * given as the first argument): the machine, what was measured, the table, and the targets.
 *
 * Usage: deno run --allow-read bench/readme.ts [results.json] > fragment.md
 *
 * @module
 */
import { join } from "node:path";
import { renderMarkdown, type Results, table } from "./lib/results.ts";
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
  "- **Per check**: one `powerconsul check service` process per run, started the way the agent " +
    "starts it (through the launcher, under the shipped permission flags), against a real init " +
    "script. The **floor** is a Deno process under the same flags that makes one `fetch` to the " +
    "same agent and exits, measured in the same run, interleaved with the checks; the ratio is " +
    "check ÷ floor. CPU is user + system time of the process and everything it waited for; RSS " +
    "is the peak of the largest process. Requests are counted by a loopback proxy in front of " +
    "the agent; *exec → first request* is when the first request byte reached that proxy.",
  "- **Watch**: `powerconsul watch critical` fed a checks-watch payload on stdin; three entries " +
    "(one in the 1-entry payload) belong to the local node and their triggers have no action in " +
    "KV, so the figure is reading, validating, selecting and resolving roles.",
  "- **Failover**: two client agents each run the `-U` script check, a `checks` watch calling " +
    "`watch critical`, and the promote/demote key watches; the KV trigger " +
    "`triggers/<service>/primary/critical` starts the init-script service. A run stops the " +
    "active's service (made unable to restart, as on a broken host) at a random phase of the " +
    "check schedule and times the standby's service running (pid file) and its check passing.",
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
  const run = f.toRunningMs;
  if (!run) continue;
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
  const imports = get("deno, import check's graph");
  const floor = get("floor: deno + one fetch");
  const direct = get("check via deno run (no launcher)");
  const launcher = get("check via the launcher");
  const probe = get("probe: service <name> status");
  const nodePath = get("deno, import node:path only");
  out.push(
    "Where a check's time goes (primary scenario, medians): starting Deno under the flags " +
      `${ms(empty)}; loading the check's modules ${ms(imports - empty)} more (importing ` +
      `\`node:path\` alone, which starts Deno's Node compatibility layer, costs ` +
      `${ms(nodePath - empty)}); the floor's one request ${ms(floor - empty)} on top of the ` +
      `empty start; the check itself, without the dev launcher (\`deno run\` of main.ts under ` +
      `the same flags) ${ms(direct)}, of which the ` +
      `\`service <name> status\` probe alone is ${ms(probe)} (it runs while the requests are in ` +
      `flight); the dev launcher (bash) adds ${ms(launcher - direct)}.`,
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
