import assert from "node:assert/strict";
import { planPause, planResume } from "../../../lib/ops/pause_plan.ts";
import { describeStep } from "../../../lib/plan/step.ts";

const cfg = { servicePrefix: "service" };
const flag = { by: "n2", at: "2026-01-01T00:00:00.000Z", reason: "kernel upgrade" };
const at = () => new Date("2026-02-03T04:05:06.000Z");

Deno.test("planPause(): a create-only flag with its history entry; twice is refused", () => {
  const p = planPause(
    cfg,
    [
      { service: "web", state: { paused: false } },
      { service: "db", state: { paused: true, flag, index: 4 } },
    ],
    { node: "n1", reason: "maint" },
    at,
  );
  assert.equal(p.steps.length, 1);
  const s = p.steps[0]!;
  assert.equal(
    describeStep(s),
    `write service/web/pause = {"by":"n1","at":"2026-02-03T04:05:06.000Z","reason":"maint"} ` +
      "(create only) to pause web, recorded as pause in service/web/history (one transaction)",
  );
  assert.deepEqual(p.refusals, [
    "db is already paused: kernel upgrade (by n2 at 2026-01-01T00:00:00.000Z)",
  ]);
  assert.equal(p.malformed, false);
  const m = planPause(
    cfg,
    [{ service: "web", state: { paused: true, malformed: "x", index: 1 } }],
    {
      node: "n1",
      reason: "r",
    },
  );
  assert.equal(m.malformed, true);
  assert.equal(m.steps.length, 0);
});

Deno.test("planResume(): a checked delete on the flag's index; not paused is refused", () => {
  const p = planResume(
    cfg,
    [
      { service: "web", state: { paused: true, flag, index: 12 } },
      { service: "db", state: { paused: false } },
      { service: "mq", state: { paused: true, malformed: "the pause flag is not JSON", index: 3 } },
    ],
    { node: "n1" },
    at,
  );
  assert.deepEqual(p.steps.map(describeStep), [
    "delete service/web/pause (cas 12) to resume web, recorded as resume in service/web/history " +
    "(one transaction)",
    "delete service/mq/pause (cas 3) to resume mq, recorded as resume in service/mq/history " +
    "(one transaction)",
  ]);
  assert.deepEqual(p.refusals, ["db is not paused"]);
});
