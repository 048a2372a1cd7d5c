// A trigger plan as executor steps: the dry run's description, the wait, the run.
import assert from "node:assert/strict";
import { buildPlan, type TriggerContext } from "../../../lib/triggers/plan.ts";
import { actionSteps, describePlan, stormSentence } from "../../../lib/triggers/steps.ts";
import { describeStep } from "../../../lib/plan/step.ts";

const ctx: TriggerContext = {
  service: "web",
  node: "n1",
  role: "primary",
  state: "critical",
  check: "web-check",
  dc: "dc1",
};

const S = { cooldownS: 10, timeoutS: 7, stateFile: "S", logFile: "L" };

Deno.test("describePlan() names the role, why, key, and the exact argv or script", () => {
  const text = (p: ReturnType<typeof buildPlan>, storm = "runs now") =>
    describePlan(p, storm).map((s) => s.text);
  const cmd = text(
    buildPlan({
      ctx,
      why: "because",
      key: "triggers/web/primary/critical",
      value: "/bin/x 'a b' @NOPE",
      subVars: {},
    }),
  );
  assert.deepEqual(cmd, [
    "trigger critical for service web, check web-check, on node n1 (datacenter dc1)",
    "role: primary — because",
    "key: triggers/web/primary/critical — found",
    `action: command, run as argv (no shell): ["/bin/x","a b","@NOPE"]`,
    "note: @NOPE is not a trigger variable: it is passed through literally",
    `env: POWERCONSUL_SERVICE="web" POWERCONSUL_NODE="n1" POWERCONSUL_ROLE="primary" ` +
    `POWERCONSUL_STATE="critical" POWERCONSUL_CHECK="web-check" POWERCONSUL_DC="dc1"`,
    "storm protection: runs now",
  ]);
  const script = text(
    buildPlan({ ctx, why: "w", key: "k", value: "#!/bin/bash\necho @NODE\n", subVars: {} }),
  );
  assert.ok(script.includes("  | echo n1"), script.join("\n"));
  assert.ok(script.includes(`action: script, fed to ["/bin/bash"] on a pipe (no file written):`));
  const none = text(buildPlan({ ctx, why: "w", key: "k", value: null, subVars: {} }));
  assert.equal(none.at(-1), "key: k — missing or empty: nothing to run");
  assert.equal(none.length, 3);
  for (const l of [...cmd, ...script, ...none]) assert.doesNotMatch(l, /\bwould\b/);
});

Deno.test("actionSteps(): run now, wait then run, or nothing; the executor's words", () => {
  const now = 1_000_000;
  const plan = buildPlan({
    ctx,
    why: "w",
    key: "triggers/web/primary/critical",
    value: "/bin/x",
    subVars: {},
  });
  const lines = (v: Parameters<typeof actionSteps>[1]) =>
    actionSteps(plan, v, now, S).map(describeStep);
  const run = "run triggers/web/primary/critical (timeout 7s; recorded in S, exit code and " +
    "output logged to L): /bin/x";
  assert.deepEqual(lines({ kind: "run" }), [run]);
  assert.deepEqual(lines({ kind: "defer", until: now + 4000, lastRun: now - 6000 }), [
    "wait 4s for the cooldown, then re-read the check and run only if it is still critical",
    run,
  ]);
  assert.deepEqual(lines({ kind: "coalesced", until: now, pid: 7 }), []);
  assert.deepEqual(lines({ kind: "limited", runs: 3, clearsAt: now }), []);
  const none = buildPlan({ ctx, why: "w", key: "k", value: null, subVars: {} });
  assert.deepEqual(actionSteps(none, { kind: "run" }, now, S), []);
  const script = buildPlan({ ctx, why: "w", key: "k", value: "#!/bin/sh\necho hi\n", subVars: {} });
  const [step] = actionSteps(script, { kind: "run" }, now, S);
  assert.equal(step?.kind === "run" && step.stdin, "#!/bin/sh\necho hi\n");
  assert.deepEqual(step?.kind === "run" && step.env, plan.env);
});

Deno.test("stormSentence() says each verdict without a 'would'", () => {
  const now = 1_000_000;
  assert.equal(
    stormSentence({ kind: "run" }, now, 10),
    "runs now (cooldown 10s not active, under the burst limit)",
  );
  assert.equal(stormSentence({ kind: "run", unguarded: "no disk" }, now, 10), "off: no disk");
  assert.equal(
    stormSentence({ kind: "defer", until: now + 4000, lastRun: now - 6000 }, now, 10),
    "waits 4s (last run 6s ago, cooldown 10s), then runs if the check is still in this state",
  );
  assert.match(stormSentence({ kind: "coalesced", until: now, pid: 9 }, now, 10), /pid 9/);
  assert.match(stormSentence({ kind: "limited", runs: 3, clearsAt: 0 }, now, 10), /3 runs/);
});
