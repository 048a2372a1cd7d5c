/**
 * `deno task reliability`: the README's "Reliability" table, from the last test run.
 *
 * Sources (both written by `deno task test`):
 * - `test-results/reliability/*.json` — one file per test file of tests/faults/ (fault matrix,
 *   races, fuzz, security), each case recorded as {category, tried, held};
 * - `test-results/junit.xml` — for tests that live elsewhere but belong to a row: the
 *   restart-storm protection tests and the --dry-run tests (leaf test cases, by file and name).
 *
 * Usage: deno task reliability [--details] [--check] [--readme README.md]
 *   --details  also list every recorded case and the first failures
 *   --check    exit 1 when a row is missing or a case did not hold
 *   --readme   replace the table between <!-- reliability:begin --> and <!-- reliability:end -->
 */
import { join } from "node:path";

const ROOT = join(import.meta.dirname!, "..");
const RESULTS = join(ROOT, "test-results", "reliability");
const JUNIT = join(ROOT, "test-results", "junit.xml");

/** Table rows, in order (tests/faults/_results.ts names them the same). */
const ROWS = [
  "Fault matrix (real agents)",
  "Races (real agents)",
  "Fuzz: cluster documents",
  "Fuzz: trigger values",
  "Fuzz: watch payloads",
  "Fuzz: command lines",
  "Restart-storm protection",
  "Security",
  "Hardening",
] as const;

/** Tests outside tests/faults that count in a row: file, and top-level names starting with. */
const FROM_JUNIT: { row: string; file: string; prefixes: string[] }[] = [
  {
    row: "Restart-storm protection",
    file: "tests/e2e/trigger_test.ts",
    prefixes: ["trigger storm protection"],
  },
  {
    row: "Restart-storm protection",
    file: "tests/lib/triggers/storm_test.ts",
    prefixes: ["stormVerdict()", "record()", "parseState()"],
  },
  { row: "Security", file: "tests/e2e/trigger_test.ts", prefixes: ["trigger --dry-run"] },
  { row: "Security", file: "tests/e2e/watch_test.ts", prefixes: ["watch --dry-run"] },
  // Regression tests for defects found by trying the CLI as an attacker and a careless operator.
  { row: "Hardening", file: "tests/lib/sys/runner_test.ts", prefixes: ["runner:"] },
  { row: "Hardening", file: "tests/lib/consul/client_test.ts", prefixes: ["ConsulClient:"] },
  {
    row: "Hardening",
    file: "tests/lib/consul/address_test.ts",
    prefixes: ["resolveConnection() refuses"],
  },
  {
    row: "Hardening",
    file: "tests/lib/config_test.ts",
    prefixes: ["validateConfig() refuses", "validateConfig(): only own keys", "loadConfig():"],
  },
  {
    row: "Hardening",
    file: "tests/lib/pattern_test.ts",
    prefixes: ["unsafePattern()", "a cluster document's filter"],
  },
  { row: "Hardening", file: "tests/cmd/config_test.ts", prefixes: ["config show:"] },
  {
    row: "Hardening",
    file: "tests/e2e/platform_test.ts",
    prefixes: [
      "config show into a reader",
      "a named config outside",
      "config check fails on a logDir",
      "an agent address with a path",
      "behind a slow agent",
      "a malformed /v1/agent/checks answer",
      "a trigger's action does not see the ACL token",
    ],
  },
  { row: "Hardening", file: "tests/e2e/trigger_hardening_test.ts", prefixes: ["hardening:"] },
  { row: "Hardening", file: "tests/e2e/service_test.ts", prefixes: ["service hardening:"] },
  {
    row: "Hardening",
    file: "tests/e2e/consul_client_test.ts",
    prefixes: ["ConsulClient: the nodns tag write"],
  },
];

interface Case {
  row: string;
  name: string;
  source: string;
  tried: number;
  held: number;
  failures?: string[];
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
    if (e in named) return named[e]!;
    return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

/**
 * Leaf test cases of a JUnit report (steps are "parent > child"; a parent is not a case). A
 * case's file is its test suite's name. Deno files an agent test that has no steps under the
 * place Deno.test was called — the shared helper tests/_support/agent.ts — so a rule also takes
 * cases from that suite, by their (specific) name prefixes.
 */
const AGENT_HELPER = "tests/_support/agent.ts";
function junitCases(xml: string): Case[] {
  const all: { file: string; name: string; ok: boolean; skipped: boolean }[] = [];
  const suites = /<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g;
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const suite of xml.matchAll(suites)) {
    const file = unescapeXml(/\bname="([^"]*)"/.exec(suite[1]!)?.[1] ?? "").replace(/^\.\//, "");
    for (const m of suite[2]!.matchAll(re)) {
      const attrs = m[1]!;
      const body = m[3] ?? "";
      const name = unescapeXml(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? "");
      all.push({
        file,
        name,
        ok: !/<(failure|error)\b/.test(body),
        skipped: /<skipped\b/.test(body),
      });
    }
  }
  const parents = new Set<string>();
  for (const c of all) {
    const parts = c.name.split(" > ");
    for (let i = 1; i < parts.length; i++) {
      parents.add(`${c.file}\0${parts.slice(0, i).join(" > ")}`);
    }
  }
  const out: Case[] = [];
  for (const c of all) {
    if (c.skipped || parents.has(`${c.file}\0${c.name}`)) continue;
    const top = c.name.split(" > ")[0]!;
    const rule = FROM_JUNIT.find((r) =>
      (r.file === c.file || c.file === AGENT_HELPER) && r.prefixes.some((p) => top.startsWith(p))
    );
    if (!rule) continue;
    out.push({ row: rule.row, name: c.name, source: c.file, tried: 1, held: c.ok ? 1 : 0 });
  }
  return out;
}

async function readResults(): Promise<{ cases: Case[]; notes: string[] }> {
  const cases: Case[] = [];
  const notes: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(RESULTS));
  } catch {
    notes.push(`no ${RESULTS} (run 'deno task test' first)`);
  }
  for (
    const e of entries.filter((e) => e.isFile && e.name.endsWith(".json")).sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    const path = join(RESULTS, e.name);
    let data: {
      file?: string;
      updated?: string;
      seed?: number;
      cases?: Case[] & { category?: string }[];
    };
    try {
      data = JSON.parse(await Deno.readTextFile(path));
    } catch (err) {
      notes.push(`${path}: unreadable (${(err as Error).message}); skipped`);
      continue;
    }
    const file = data.file ?? e.name;
    try {
      await Deno.stat(join(ROOT, file));
    } catch {
      notes.push(`${path}: ${file} no longer exists; skipped`);
      continue;
    }
    notes.push(
      `${file}: ${data.cases?.length ?? 0} records, updated ${data.updated ?? "?"}` +
        (data.seed !== undefined ? `, seed ${data.seed}` : ""),
    );
    for (const c of (data.cases ?? []) as unknown as (Case & { category: string })[]) {
      const rec: Case = {
        row: c.category,
        name: c.name,
        source: file,
        tried: c.tried,
        held: c.held,
      };
      if (c.failures) rec.failures = c.failures;
      cases.push(rec);
    }
  }
  try {
    const xml = await Deno.readTextFile(JUNIT);
    const j = junitCases(xml);
    notes.push(`${JUNIT}: ${j.length} test cases counted (storm protection, --dry-run)`);
    for (const rule of FROM_JUNIT) {
      if (
        !j.some((c) =>
          (c.source === rule.file || c.source === AGENT_HELPER) &&
          rule.prefixes.some((p) => c.name.startsWith(p))
        )
      ) {
        notes.push(`${JUNIT}: nothing matched ${rule.file} ${rule.prefixes.join(" / ")}`);
      }
    }
    cases.push(...j);
  } catch {
    notes.push(
      `no ${JUNIT}: storm-protection and --dry-run tests outside tests/faults not counted`,
    );
  }
  return { cases, notes };
}

export function table(cases: Case[]): string {
  const lines = ["| Category | Cases tried | Held |", "| --- | ---: | ---: |"];
  let tried = 0;
  let held = 0;
  const rows = [
    ...ROWS,
    ...new Set(cases.map((c) => c.row).filter((r) => !(ROWS as readonly string[]).includes(r))),
  ];
  for (const row of rows) {
    const mine = cases.filter((c) => c.row === row);
    const t = mine.reduce((n, c) => n + c.tried, 0);
    const h = mine.reduce((n, c) => n + c.held, 0);
    tried += t;
    held += h;
    lines.push(`| ${row} | ${t.toLocaleString("en-US")} | ${h.toLocaleString("en-US")} |`);
  }
  lines.push(
    `| **Total** | **${tried.toLocaleString("en-US")}** | **${held.toLocaleString("en-US")}** |`,
  );
  return lines.join("\n") + "\n";
}

async function main() {
  const args = Deno.args;
  const readme = args.includes("--readme") ? args[args.indexOf("--readme") + 1] : undefined;
  const { cases, notes } = await readResults();
  const md = table(cases);
  for (const n of notes) Deno.stderr.writeSync(new TextEncoder().encode(`reliability: ${n}\n`));
  Deno.stdout.writeSync(new TextEncoder().encode(md));
  if (args.includes("--details")) {
    const out: string[] = [""];
    for (const c of cases) {
      out.push(`- [${c.row}] ${c.source}: ${c.name} — ${c.held}/${c.tried}`);
      for (const f of c.failures ?? []) out.push(`    - ${f}`);
    }
    Deno.stdout.writeSync(new TextEncoder().encode(out.join("\n") + "\n"));
  }
  if (readme) {
    const text = await Deno.readTextFile(readme);
    const re = /(<!-- reliability:begin -->\n)[\s\S]*?(<!-- reliability:end -->)/;
    if (!re.test(text)) {
      throw new Error(
        `${readme} has no <!-- reliability:begin --> … <!-- reliability:end --> block`,
      );
    }
    await Deno.writeTextFile(readme, text.replace(re, `$1${md}$2`));
    Deno.stderr.writeSync(new TextEncoder().encode(`reliability: table written into ${readme}\n`));
  }
  if (args.includes("--check")) {
    const bad: string[] = [];
    for (const row of ROWS) {
      const mine = cases.filter((c) => c.row === row);
      const t = mine.reduce((n, c) => n + c.tried, 0);
      const h = mine.reduce((n, c) => n + c.held, 0);
      if (t === 0) bad.push(`${row}: no cases recorded`);
      else if (h !== t) bad.push(`${row}: ${t - h} of ${t} did not hold`);
    }
    if (bad.length > 0) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(bad.map((b) => `reliability: ${b}\n`).join("")),
      );
      Deno.exit(1);
    }
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    Deno.stderr.writeSync(new TextEncoder().encode(`reliability: ${(e as Error).message}\n`));
    Deno.exit(1);
  }
}
