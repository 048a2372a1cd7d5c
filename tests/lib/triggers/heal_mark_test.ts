// heal_mark.ts: which trigger runs mark their healing, the key and value, and the best-effort
// write (a recording executor, no agent).
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../lib/config.ts";
import { afterAction, healMarkStep, writeHealMark } from "../../../lib/triggers/heal_mark.ts";
import type { TriggerPlan } from "../../../lib/triggers/plan.ts";

const plan = (role: string, state: string) =>
  ({ ctx: { service: "web", node: "n1", role, state, check: "c", dc: "dc1" } }) as TriggerPlan;

Deno.test("healMarkStep(): a primary's critical or warning run only", () => {
  assert.deepEqual(healMarkStep(DEFAULTS, plan("primary", "critical"), "healing"), {
    kind: "kv-write",
    key: "service/web/n1/healing",
    value: "healing",
    why: "heal mark: healing (a standby times its takeover by it)",
  });
  assert.equal(healMarkStep(DEFAULTS, plan("primary", "warning"), "failed")?.value, "failed");
  assert.equal(healMarkStep(DEFAULTS, plan("secondary", "critical"), "healing"), null);
  assert.equal(healMarkStep(DEFAULTS, plan("standalone", "critical"), "healing"), null);
  assert.equal(healMarkStep(DEFAULTS, plan("primary", "passing"), "healing"), null);
});

Deno.test("afterAction(): exit 0 healed, anything else failed", () => {
  assert.equal(afterAction(0), "healed");
  assert.equal(afterAction(1), "failed");
  assert.equal(afterAction(124), "failed");
});

Deno.test("writeHealMark(): a lost or failed write is one warning, never thrown", async () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const applied: string[] = [];
  await writeHealMark(
    {
      apply: (s) => {
        applied.push((s as { value: string }).value);
        return Promise.resolve({ step: s, ok: false, detail: "lost the race", dryRun: false });
      },
    },
    DEFAULTS,
    plan("primary", "critical"),
    "healing",
    warn,
  );
  await writeHealMark(
    { apply: () => Promise.reject(new Error("timed out")) },
    DEFAULTS,
    plan("primary", "critical"),
    "failed",
    warn,
  );
  await writeHealMark(
    { apply: () => Promise.reject(new Error("never asked")) },
    DEFAULTS,
    plan("secondary", "critical"),
    "failed",
    warn,
  );
  assert.deepEqual(applied, ["healing"]);
  assert.deepEqual(warnings, [
    "heal mark healing not written: lost the race",
    "heal mark failed not written: timed out",
  ]);
});
