import assert from "node:assert/strict";
import { Executor } from "../../../lib/plan/apply.ts";
import { converge, convergeSteps } from "../../../lib/service/actions.ts";
import { RecordingEffects, RecordingRunner } from "../../_support/fakes.ts";

const states = (running: boolean | null) =>
  ["db", "web"].map((name) => ({ name, running, detail: "" }));

Deno.test("convergeSteps(): run steps where needed, a message where the service is already there", () => {
  assert.deepEqual(convergeSteps("start", states(true), "service", 5), [
    { step: { kind: "message", text: "db: already running" }, service: "db", op: "skip" },
    { step: { kind: "message", text: "web: already running" }, service: "web", op: "skip" },
  ]);
  assert.deepEqual(
    convergeSteps("stop", states(null), "systemctl", 5).map((s) => s.step),
    [
      { kind: "run", argv: ["systemctl", "stop", "web"], timeoutMs: 5, label: "stop web" },
      { kind: "run", argv: ["systemctl", "stop", "db"], timeoutMs: 5, label: "stop db" },
    ],
  );
});

Deno.test("converge(): a start stops at the first failure, a stop goes on", async () => {
  const fail = (argv: string[]) => argv[1] === "db" ? { code: 1, stderr: "boom" } : {};
  const lines: string[] = [];
  const fx = new RecordingEffects(new RecordingRunner(fail));
  const ex = new Executor(fx, { dryRun: false, print: (l) => lines.push(l) });
  assert.equal(
    await converge(ex, convergeSteps("start", states(false), "service", 5), (l) => lines.push(l)),
    false,
  );
  assert.deepEqual(fx.calls, ["run service db start"]);
  assert.match(lines[0]!, /^db: starting… FAILED \(exit 1: boom\)$/);
  assert.equal(lines[1], "web: not started (an earlier service failed)");

  fx.calls.length = 0;
  lines.length = 0;
  assert.equal(
    await converge(ex, convergeSteps("stop", states(true), "service", 5), (l) => lines.push(l)),
    false,
  );
  assert.deepEqual(fx.calls, ["run service web stop", "run service db stop"]);
  assert.equal(lines[0], "web: stopping… ok");
});
