import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CheckSample,
  lastRoleChange,
  mergeMetrics,
  metricsPath,
  observedRunning,
  roleChangeFor,
  triggerCounters,
  writeCheckMetrics,
} from "../../lib/metrics.ts";
import { DEFAULTS } from "../../lib/config.ts";
import { parseProm, promValue } from "../_support/prom.ts";

const base: CheckSample = {
  service: "web",
  role: "primary",
  expects: true,
  state: "passing",
  code: 0,
  durationMs: 250,
  paused: false,
  triggers: { runs: 0, deferred: 0, limited: false },
  at: 1_700_000_000,
  documentIndex: 42,
  roleChangeAt: 1_699_999_000,
};

Deno.test("mergeMetrics(): valid exposition; one service's lines replaced, others kept", () => {
  const one = mergeMetrics("", base);
  const s1 = parseProm(one);
  assert.equal(promValue(s1, "powerconsul_role", "web"), 1);
  assert.equal(promValue(s1, "powerconsul_check_duration_seconds", "web"), 0.25);
  assert.equal(promValue(s1, "powerconsul_observed_running", "web"), 1);
  const two = mergeMetrics(one, { ...base, service: 'db"x', role: "secondary", expects: false });
  const three = mergeMetrics(two, { ...base, state: "critical", code: 2, paused: true });
  const s3 = parseProm(three);
  assert.equal(promValue(s3, "powerconsul_role", 'db"x'), 2, "the other service kept");
  assert.equal(promValue(s3, "powerconsul_check_result", "web"), 2, "this one replaced");
  assert.equal(promValue(s3, "powerconsul_observed_running", "web"), 0);
  assert.equal(promValue(s3, "powerconsul_paused", "web"), 1);
  assert.equal(s3.filter((s) => s.labels.service === "web").length, 12, "no duplicates");
  assert.equal(
    promValue(s1, "powerconsul_last_role_change_timestamp_seconds", "web"),
    1_699_999_000,
  );
  assert.equal(promValue(s1, "powerconsul_document_index", "web"), 42);
  const unknown = parseProm(
    mergeMetrics(one, { ...base, roleChangeAt: null, documentIndex: null }),
  );
  assert.equal(unknown.filter((s) => s.labels.service === "web").length, 10, "unknown: left out");
  assert.equal(promValue(unknown, "powerconsul_document_index", "web"), undefined);
  assert.equal(mergeMetrics("garbage line\n# x\n", base), one, "unrecognised lines dropped");
});

Deno.test("observedRunning(): from the expectation and the state; unknown is -1", () => {
  assert.equal(observedRunning({ expects: false, state: "passing" }), 0);
  assert.equal(observedRunning({ expects: false, state: "critical" }), 1);
  assert.equal(observedRunning({ expects: null, state: "unknown" }), -1);
  assert.equal(observedRunning({ expects: true, state: "warning" }), -1);
});

Deno.test("triggerCounters(): runs in the window, pending deferrals, the burst limit", () => {
  const now = 10_000_000;
  const state = JSON.stringify({
    version: 1,
    entries: [
      { service: "web", role: "primary", state: "critical", runs: [now - 1000, now - 2000, 5] },
      {
        service: "web",
        role: "primary",
        state: "warning",
        runs: [now - 10],
        pending: { until: now + 5000, pid: 1 },
      },
      { service: "db", role: "primary", state: "critical", runs: [now] },
    ],
  });
  const cfg = { triggerWindow: 3600, triggerBurst: 2 };
  assert.deepEqual(triggerCounters(state, "web", cfg, now), {
    runs: 3,
    deferred: 1,
    limited: true,
  });
  assert.deepEqual(triggerCounters(state, "db", { ...cfg, triggerBurst: 5 }, now), {
    runs: 1,
    deferred: 0,
    limited: false,
  });
  assert.deepEqual(triggerCounters("{bad", "web", cfg, now), {
    runs: 0,
    deferred: 0,
    limited: false,
  });
  assert.deepEqual(triggerCounters(null, "web", cfg, now).runs, 0);
});

Deno.test("writeCheckMetrics(): written by rename under logDir/metrics; off when metrics is false", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pc-metrics-" });
  const cfg = { ...DEFAULTS, logDir: dir };
  const { triggers: _, roleChangeAt: _r, ...s } = base;
  const path = await writeCheckMetrics(cfg, s);
  assert.equal(path, join(dir, "metrics", "powerconsul.prom"));
  assert.equal(metricsPath(cfg), path);
  assert.equal(promValue(parseProm(await Deno.readTextFile(path!)), "powerconsul_role", "web"), 1);
  assert.deepEqual([...Deno.readDirSync(join(dir, "metrics"))].map((e) => e.name), [
    "powerconsul.prom",
  ]);
  assert.equal(await writeCheckMetrics({ ...cfg, metrics: false }, s), null);
  const custom = join(dir, "x", "m.prom");
  assert.equal(await writeCheckMetrics({ ...cfg, metricsFile: custom }, s), custom);
  await Deno.remove(dir, { recursive: true });
});

const entry = (action: string, time: string) => ({
  time,
  node: "n1",
  service: "web",
  action,
  before: null,
  after: null,
  reason: "r",
});

Deno.test("lastRoleChange(): the newest flip, start-primary, forced failover or fence; 0 when none", () => {
  const h = JSON.stringify([
    entry("flip", "2026-01-01T00:00:00.000Z"),
    entry("start-primary", "2026-01-02T00:00:00.000Z"),
    entry("pause", "2026-01-03T00:00:00.000Z"),
    entry("lock-cleared", "2026-01-03T00:00:01.000Z"),
  ]);
  assert.equal(lastRoleChange(h), Date.parse("2026-01-02T00:00:00.000Z") / 1000);
  assert.equal(lastRoleChange(null), 0);
  assert.equal(lastRoleChange(JSON.stringify([entry("resume", "2026-01-03T00:00:00Z")])), 0);
  assert.throws(() => lastRoleChange("{"));
});

Deno.test("roleChangeFor(): the file's value while the document index holds; the history read when it moved", async () => {
  const file = mergeMetrics("", base); // index 42, change at 1_699_999_000
  let reads = 0;
  const history = (t: string) => () => {
    reads++;
    return Promise.resolve(JSON.stringify([entry("flip", t)]));
  };
  const t = "2026-02-01T00:00:00.000Z";
  assert.equal(
    await roleChangeFor(file, { service: "web", documentIndex: 42 }, history(t)),
    1_699_999_000,
  );
  assert.equal(reads, 0, "same index: no read");
  assert.equal(
    await roleChangeFor(file, { service: "web", documentIndex: 43 }, history(t)),
    Date.parse(t) / 1000,
  );
  assert.equal(reads, 1, "moved: read once");
  assert.equal(
    await roleChangeFor(file, { service: "db", documentIndex: 42 }, history(t)),
    Date.parse(t) / 1000,
  );
  assert.equal(
    await roleChangeFor(file, { service: "web", documentIndex: null }, history(t)),
    null,
  );
  const broken = () => Promise.reject(new Error("timeout"));
  assert.equal(await roleChangeFor("", { service: "web", documentIndex: 1 }, broken), null);
  assert.equal(await roleChangeFor("", { service: "web", documentIndex: 1 }), null);
});
