import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CheckSample,
  mergeMetrics,
  metricsPath,
  observedRunning,
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
  assert.equal(s3.filter((s) => s.labels.service === "web").length, 10, "no duplicates");
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
  const { triggers: _, ...s } = base;
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
