/**
 * Sections 1, 2 and 5 of the bench: one `check service` process per run in four scenarios
 * (`deno run` of main.ts under the shipped flags: what the compiled binary runs, without the dev
 * launcher's bash), each interleaved with its honest floor (one fetch and the probe's spawn under
 * the same flags, bench/floor_probe.ts) and the bare floor (the fetch alone), with requests
 * counted and the first request timestamped; and, in the primary scenario, the pieces a check is
 * made of and the check's own per-phase timestamps (POWERCONSUL_TRACE=1, lib/trace.ts).
 *
 * @module
 */
import { join } from "node:path";
import { kvPut, register, ttl } from "../tests/_agent.ts";
import { installInitScript, uniqueName, writeConfig } from "../tests/harness/system.ts";
import { waitFor } from "../tests/harness/consul.ts";
import { type Sample, type Stat, stat } from "./lib/measure.ts";
import { observe, type Observed } from "./lib/observe.ts";
import type { BreakdownRow, CheckRow } from "./lib/results.ts";
import { LAUNCHER, type Node, REPO, type World } from "./lib/env.ts";

const DENO_RUN = ["run", "-q", "--no-prompt", "--cached-only"];

const mib = (kb: number) => kb / 1024;

interface Scenario {
  name: string;
  node: Node;
  args: string[];
  expectState: string;
  expectRole: string;
  targetRequests: number;
  prepare?: () => Promise<void>;
}

export interface CheckSectionResult {
  checks: CheckRow[];
  breakdown: BreakdownRow[];
  timeline: { phase: string; ms: Stat }[];
  notes: string[];
}

/**
 * The check's trace line (lib/trace.ts) as [phase, ms after exec] pairs; each mark is ms after
 * the runtime's time origin, which is `origin` in epoch ms.
 */
function traceOf(s: Observed): [string, number][] | null {
  return traceFields(s)?.map(([k, v]) => [k, v]) ?? null;
}

/** [phase, ms after exec, RSS MiB at that point] from the trace line. */
function traceFields(s: Observed): [string, number, number][] | null {
  const line = s.stderr.split("\n").find((l) => l.startsWith("powerconsul trace: "));
  if (!line) return null;
  const fields = line.slice("powerconsul trace: ".length).trim().split(" ").map((f) => {
    const [k, v] = f.split("=");
    const [ms, rss] = v!.split("/");
    return [k!, Number(ms), Number(rss)] as [string, number, number];
  });
  const origin = fields.shift()![1] - s.startEpochMs;
  return fields.map(([k, v, rss]) => [k, origin + v, rss]);
}

function answerOf(s: Sample): { state: string; role: string } {
  try {
    const j = JSON.parse(s.stdout.trim().split("\n")[0] ?? "");
    return { state: String(j.state), role: String(j.role) };
  } catch {
    return { state: `exit ${s.code}`, role: s.stderr.trim().slice(0, 200) };
  }
}

export async function checkSection(
  w: World,
  runs: number,
  say: (s: string) => void,
): Promise<CheckSectionResult> {
  const { n2, n3, cluster } = w;
  const s2 = await installInitScript(uniqueName("pcb2"));
  w.defer(() => s2.remove());
  const s3 = await installInitScript(uniqueName("pcb3"));
  w.defer(() => s3.remove());
  await s2.start();
  const base = { logDir: w.dirs.logDir };
  const standalone = await writeConfig(join(w.dirs.configDir), base);
  const clusteredDir = join(w.dirs.configDir, "clustered");
  await Deno.mkdir(clusteredDir, { recursive: true });
  const clustered = await writeConfig(clusteredDir, { ...base, clusterKey: "cluster" });
  await kvPut(
    cluster.server,
    "cluster/web",
    JSON.stringify({ active_nodes: [n2.agent.name], standby_nodes: [n3.agent.name] }),
  );
  for (const n of [n2, n3]) {
    await register(n.agent, {
      ID: "web",
      Name: "web",
      Tags: ["prod"],
      Check: { CheckID: "web-ttl", TTL: "1h" },
    });
    await ttl(n.agent, "web-ttl", "pass");
  }
  // the standby must see the active's instance passing in the catalog before we start
  await waitFor("the active's instance passing in the catalog", async () => {
    const r = await cluster.server.api("/v1/health/service/web?passing");
    const list = await r.json() as { Node: { Node: string } }[];
    return list.some((e) => e.Node.Node === n2.agent.name);
  }, { timeoutMs: 20_000 });

  const checkArgs = (node: Node, svc: string, config: string) => [
    "check",
    "service",
    "-s",
    svc,
    "-S",
    "web",
    "--http-addr",
    node.addr,
    "--config",
    config,
  ];
  const scenarios: Scenario[] = [
    {
      name: "standalone",
      node: n2,
      args: checkArgs(n2, s2.name, standalone),
      expectState: "passing",
      expectRole: "standalone",
      targetRequests: 2,
    },
    {
      name: "primary",
      node: n2,
      args: checkArgs(n2, s2.name, clustered),
      expectState: "passing",
      expectRole: "primary",
      targetRequests: 2,
    },
    {
      name: "standby, actives passing",
      node: n3,
      args: checkArgs(n3, s3.name, clustered),
      expectState: "passing",
      expectRole: "secondary",
      targetRequests: 4,
    },
    {
      name: "standby, actives failing (no -U)",
      node: n3,
      args: checkArgs(n3, s3.name, clustered),
      expectState: "critical",
      expectRole: "secondary",
      targetRequests: 4,
      prepare: async () => {
        await ttl(n2.agent, "web-ttl", "fail");
        await waitFor("the active's instance critical in the catalog", async () => {
          const r = await cluster.server.api("/v1/health/service/web?passing");
          const list = await r.json() as { Node: { Node: string } }[];
          return !list.some((e) => e.Node.Node === n2.agent.name);
        }, { timeoutMs: 20_000 });
      },
    },
  ];

  const compiled = await compileBinary(w, n2, say);
  const bundle = await bundleMain(w, say);
  const checks: CheckRow[] = [];
  const breakdown: BreakdownRow[] = [];
  const timeline: { phase: string; ms: Stat }[] = [];
  const notes: string[] = [];
  for (const sc of scenarios) {
    await sc.prepare?.();
    const launcher = [LAUNCHER, ...sc.args];
    const source = [w.deno, ...DENO_RUN, ...sc.node.flags, join(REPO, "main.ts"), ...sc.args];
    // the shipped code form: main.ts bundled into one minified module (scripts/compile.sh compiles it)
    const direct = [w.deno, ...DENO_RUN, ...sc.node.flags, bundle, ...sc.args];
    const floor = [
      w.deno,
      ...DENO_RUN,
      ...sc.node.flags,
      join(REPO, "bench", "floor_probe.ts"),
      sc.node.addr,
      "web",
      sc.node === n2 ? s2.name : s3.name,
    ];
    const bare = [
      w.deno,
      ...DENO_RUN,
      ...sc.node.flags,
      join(REPO, "bench", "floor.ts"),
      sc.node.addr,
      "web",
    ];
    const variants: Record<string, string[]> = { check: direct, floor, bare };
    const isPrimary = sc.name === "primary";
    if (isPrimary) {
      variants.launcher = launcher;
      variants.source = source;
      variants.traced = ["env", "POWERCONSUL_TRACE=1", ...direct];
      variants.empty = [w.deno, ...DENO_RUN, ...sc.node.flags, join(REPO, "bench", "empty.ts")];
      variants.nodePath = [
        w.deno,
        ...DENO_RUN,
        ...sc.node.flags,
        join(REPO, "bench", "node_path.ts"),
      ];
      if (compiled) variants.compiled = [compiled, ...sc.args];
      variants.imports = [
        w.deno,
        ...DENO_RUN,
        ...sc.node.flags,
        join(REPO, "bench", "import_only.ts"),
      ];
      variants.probe = ["service", s2.name, "status"];
      variants.launcherOnly = [LAUNCHER, "--version"];
    }
    // warm-up: module caches, the agent's first answers, tag writes of a first passing run
    for (let i = 0; i < 2; i++) {
      for (const argv of Object.values(variants)) await observe(w, sc.node, argv);
    }
    const got: Record<string, Observed[]> = {};
    for (let i = 0; i < runs; i++) {
      // alternate the order so slow drift of the machine's load hits all variants alike
      const names = Object.keys(variants);
      if (i % 2) names.reverse();
      for (const name of names) (got[name] ??= []).push(await observe(w, sc.node, variants[name]!));
    }
    const c = got.check!;
    const fl = got.floor!;
    const bf = got.bare!;
    const a = answerOf(c[c.length - 1]!);
    if (a.state !== sc.expectState || a.role !== sc.expectRole) {
      notes.push(
        `${sc.name}: expected ${sc.expectState}/${sc.expectRole}, got ${a.state}/${a.role}`,
      );
    }
    const row: CheckRow = {
      scenario: sc.name,
      answer: `${a.state}, ${a.role}`,
      wallMs: stat(c.map((x) => x.wallMs)),
      cpuMs: stat(c.map((x) => x.cpuMs)),
      rssMiB: stat(c.map((x) => mib(x.rssKb))),
      requests: stat(c.map((x) => x.requests)),
      toFirstRequestMs: stat(c.map((x) => x.toFirstMs)),
      floor: {
        wallMs: stat(fl.map((x) => x.wallMs)),
        cpuMs: stat(fl.map((x) => x.cpuMs)),
        rssMiB: stat(fl.map((x) => mib(x.rssKb))),
        toFirstRequestMs: stat(fl.map((x) => x.toFirstMs)),
      },
      bareFloor: {
        wallMs: stat(bf.map((x) => x.wallMs)),
        cpuMs: stat(bf.map((x) => x.cpuMs)),
        rssMiB: stat(bf.map((x) => mib(x.rssKb))),
      },
      ratio: NaN,
      targets: { ratio: 1.15, requests: sc.targetRequests, cpuRatio: 1.2, rssMiB: 40 },
    };
    row.ratio = row.wallMs.median / row.floor.wallMs.median;
    checks.push(row);
    say(
      `  ${sc.name}: ${a.state}/${a.role}, wall ${row.wallMs.median.toFixed(0)} ms ` +
        `(floor ${row.floor.wallMs.median.toFixed(0)} ms, ×${row.ratio.toFixed(2)}), ` +
        `${row.requests.median} requests`,
    );
    if (isPrimary) {
      const b = (what: string, xs: Observed[], note: string): BreakdownRow => ({
        what,
        wallMs: stat(xs.map((x) => x.wallMs)),
        cpuMs: stat(xs.map((x) => x.cpuMs)),
        rssMiB: stat(xs.map((x) => mib(x.rssKb))),
        note,
      });
      breakdown.push(
        b("deno, empty module", got.empty!, "runtime start under the flags"),
        b("deno, import check's graph", got.imports!, "+ module loading"),
        b("deno, import node:path only", got.nodePath!, "Node compat layer"),
        b("bare floor: deno + one fetch", got.bare!, "+ one request"),
        b("honest floor: + probe spawn", got.floor!, "+ `service X status` in flight"),
        b("check, bundled (the per-check rows)", got.check!, "one module, as compiled"),
        b("check via deno run of main.ts", got.source!, "module by module"),
        b("check via the launcher", got.launcher!, "what the agent runs in dev/tests"),
        b("launcher, powerconsul --version", got.launcherOnly!, "bash + _deno.sh + deno"),
        b("probe: service <name> status", got.probe!, "runs during the requests"),
      );
      if (got.compiled) {
        breakdown.push(b("check, deno compile'd binary", got.compiled, "the shipped form"));
      } else {
        notes.push(
          "compiled binary not measured: set DENORT_BIN to a denort " +
            `${Deno.version.deno} binary to include it`,
        );
      }
      const ph = (phase: string, xs: number[]) => timeline.push({ phase, ms: stat(xs) });
      const d = c;
      ph("check (deno run): exec → first request", d.map((x) => x.toFirstMs));
      ph("check (deno run): first request → last answer", d.map((x) => x.toLastMs - x.toFirstMs));
      ph("check (deno run): last answer → exit", d.map((x) => x.wallMs - x.toLastMs));
      ph("floor: exec → first request", fl.map((x) => x.toFirstMs));
      ph("floor: first request → last answer", fl.map((x) => x.toLastMs - x.toFirstMs));
      ph("floor: last answer → exit", fl.map((x) => x.wallMs - x.toLastMs));
      // the check's own marks (lib/trace.ts), ms after exec, and each phase's own length
      const traces = got.traced!.map(traceOf).filter((t) => t !== null);
      const phases = traces[0]?.map(([p]) => p) ?? [];
      for (const [i, p] of phases.entries()) {
        const len = traces.map((t) => (t[i]?.[1] ?? NaN) - (i ? t[i - 1]![1] : 0))
          .filter(Number.isFinite);
        ph(`trace ${p}: phase length`, len);
      }
      // RSS as the run goes: which phases grow the process (runtime pages touched, heap)
      const rssTraces = got.traced!.map(traceFields).filter((t) => t !== null);
      for (const p of ["main", "context", "probe-spawned", "reads", "log", "done"]) {
        const xs = rssTraces.map((t) => t.find(([k]) => k === p)?.[2] ?? NaN)
          .filter(Number.isFinite);
        if (xs.length) ph(`trace RSS MiB after ${p}`, xs);
      }
      if (traces.length === 0) {
        notes.push(`no trace line from the check: ${got.traced![0]?.stderr.slice(0, 200)}`);
      } else {
        const exits = got.traced!.map((s) => {
          const t = traceOf(s);
          return t ? s.wallMs - t[t.length - 1]![1] : NaN;
        }).filter(Number.isFinite);
        ph("trace done → process exit", exits);
      }
    }
  }
  // leave the web registrations out of the later sections' way
  for (const n of [n2, n3]) {
    await (await n.agent.api("/v1/agent/service/deregister/web", { method: "PUT" })).body?.cancel();
  }
  return { checks, breakdown, timeline, notes };
}

/** main.ts bundled into one minified module (as scripts/compile.sh does before compiling). */
async function bundleMain(w: World, say: (s: string) => void): Promise<string> {
  const out = join(w.tmp, "powerconsul.bundle.js");
  const r = await new Deno.Command(w.deno, {
    args: ["bundle", "-q", "--minify", "-o", out, join(REPO, "main.ts")],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  if (!r.success) {
    say(`  bundle failed: ${new TextDecoder().decode(r.stderr)}`);
    throw new Error("deno bundle failed");
  }
  return out;
}

/**
 * The shipped form: `deno compile` under the same flags (net: the proxy address), only when
 * DENORT_BIN points at a runtime stub (no download from the bench). Null when not possible.
 */
async function compileBinary(
  w: World,
  node: Node,
  say: (s: string) => void,
): Promise<string | null> {
  const denort = Deno.env.get("DENORT_BIN");
  if (!denort) return null;
  const out = join(w.tmp, "powerconsul-bench");
  const r = await new Deno.Command(w.deno, {
    args: ["compile", "-q", ...node.flags, "--output", out, join(REPO, "main.ts")],
    env: { DENORT_BIN: denort },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  if (!r.success) {
    say(`  compile failed, compiled binary not measured: ${new TextDecoder().decode(r.stderr)}`);
    return null;
  }
  return out;
}
