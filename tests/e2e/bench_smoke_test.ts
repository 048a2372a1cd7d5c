// The benchmark's own pieces, cheaply: measurement, statistics, the watch payload
// (still valid input for `watch`), and the table/README rendering. No agents.
import assert from "node:assert/strict";
import { join } from "node:path";
import { measure, stat } from "../../bench/lib/measure.ts";
import { payload } from "../../bench/lib/payload.ts";
import { renderMarkdown, renderText, type Results, table } from "../../bench/lib/results.ts";
import { parseWatchInput, selectLocal } from "../../lib/triggers/watch_input.ts";

Deno.test("bench measure: wall, CPU, peak RSS and exit code of a real process", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const s = await measure({ argv: ["bash", "-c", "echo hi; exit 3"] }, tmp);
    assert.equal(s.code, 3);
    assert.equal(s.stdout, "hi\n");
    assert.ok(Number.isFinite(s.wallMs) && s.wallMs > 0, `wall ${s.wallMs}`);
    assert.ok(s.cpuMs >= 0 && Number.isFinite(s.cpuMs), `cpu ${s.cpuMs}`);
    assert.ok(s.rssKb > 0, `rss ${s.rssKb}`);
    const fed = await measure({ argv: ["wc", "-c"], stdin: new Uint8Array(100_000) }, tmp);
    assert.equal(fed.stdout.trim(), "100000");
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "result files removed");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bench stat: median, min, max", () => {
  assert.deepEqual(stat([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(stat([4, 1, 2, 3]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.equal(stat([]).n, 0);
});

Deno.test("bench watch payload: valid watch input with 3 local checks (1 when 1 entry)", () => {
  for (const [n, local] of [[1, 1], [100, 3], [10_000, 3]] as const) {
    const p = payload(n, "me");
    const checks = parseWatchInput(new TextDecoder().decode(p.bytes));
    assert.equal(checks.length, n);
    assert.equal(p.local, local);
    assert.equal(selectLocal(checks, "me", "critical").fire.length, local);
  }
});

Deno.test("bench table: text and markdown with targets, missed and unavailable rows", () => {
  const s = (x: number) => stat([x]);
  const r: Results = {
    machine: { cpu: "cpu", cores: 2, kernel: "linux", deno: "2", consul: "1.8", date: "" },
    runs: 1,
    checks: [{
      scenario: "primary",
      answer: "passing, primary",
      wallMs: s(40),
      cpuMs: s(40),
      rssMiB: s(47),
      requests: s(2),
      toFirstRequestMs: s(30),
      floor: { wallMs: s(20), cpuMs: s(20), rssMiB: s(33), toFirstRequestMs: s(15) },
      ratio: 2,
      targets: { ratio: 1.3, requests: 2 },
    }],
    breakdown: [],
    timeline: [],
    watch: [{
      entries: 10_000,
      local: 3,
      bytes: 1,
      fired: 0,
      wallMs: null,
      rssMiB: null,
      requests: null,
      unavailable: "not implemented",
    }],
    failover: [],
    startPrimary: null,
    totalSeconds: 1,
    notes: [],
  };
  const text = renderText(table(r));
  assert.match(
    text,
    /primary \(passing, primary\): wall ms +40 +40 +40 +20 +2\.00 +≤ 1\.3× floor +MISSED/,
  );
  assert.match(text, /Consul requests +2 +2 +2 +1 +≤ 2 +met/);
  assert.match(text, /10,000 entries .*not available/);
  assert.doesNotMatch(text, /Failover/, "sections without rows are left out");
  const md = renderMarkdown(table(r));
  assert.match(md, /^\| measure \| median \|/);
  assert.match(md, /\| &emsp;Consul requests \| 2 \|/);
});

Deno.test("bench readme: prints the Performance section from a results file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "results.json");
    const r = {
      machine: {
        cpu: "X",
        cores: 2,
        kernel: "linux 6",
        deno: "2.9.6",
        consul: "v1.8.7",
        date: "2026-01-01T00:00:00Z",
      },
      runs: 3,
      checks: [],
      breakdown: [],
      timeline: [],
      watch: [],
      failover: [],
      startPrimary: null,
      totalSeconds: 9,
      notes: [],
    };
    await Deno.writeTextFile(file, JSON.stringify(r));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        join(import.meta.dirname!, "..", "..", "bench", "readme.ts"),
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const md = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(md, /^## Performance\n/);
    assert.match(md, /X \(2 cores\), linux 6, Deno 2\.9\.6, Consul v1\.8\.7/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
