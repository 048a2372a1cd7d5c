import assert from "node:assert/strict";
import { interpretStatus } from "../../../lib/probes/service.ts";
import type { RunResult } from "../../../lib/sys/runner.ts";

const run = (code: number | null, stdout = "", extra: Partial<RunResult> = {}): RunResult => ({
  argv: ["x"],
  code,
  signal: null,
  stdout,
  stderr: "",
  timedOut: false,
  ms: 1,
  ...extra,
});

Deno.test("interpretStatus() judges by exit code, never by text", async (t) => {
  await t.step(
    "0 running even if text says stopped",
    () => assert.equal(interpretStatus("service", "a", run(0, "is not running")).running, true),
  );
  await t.step(
    "3 stopped even if text says running",
    () => assert.equal(interpretStatus("service", "a", run(3, "active (running)")).running, false),
  );
  await t.step(
    "1 (dead, pid file) stopped",
    () => assert.equal(interpretStatus("service", "a", run(1)).running, false),
  );
  await t.step("4 unknown", () => assert.throws(() => interpretStatus("service", "a", run(4))));
  await t.step(
    "unrecognized service",
    () =>
      assert.throws(
        () => interpretStatus("service", "a", run(1, "a: unrecognized service")),
        /not known/,
      ),
  );
  await t.step(
    "timeout",
    () => assert.throws(() => interpretStatus("service", "a", run(null, "", { timedOut: true }))),
  );
  await t.step(
    "systemctl 3 inactive",
    () => assert.equal(interpretStatus("systemctl", "a", run(3, "inactive")).running, false),
  );
});
