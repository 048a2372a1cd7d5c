import assert from "node:assert/strict";
import { noopFileHolds, startProbe, taskHolds } from "../../../lib/check/probe.ts";
import type { CheckArgs } from "../../../lib/check/args.ts";
import { config } from "../../_support/cluster.ts";
import { RecordingRunner } from "../../_support/fakes.ts";

const args = (over: Partial<CheckArgs>): CheckArgs => ({
  kind: "service",
  consulService: "web",
  services: ["a"],
  updateKv: false,
  ...over,
});

Deno.test("noopFileHolds(): passing while the file exists, nothing when it does not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/web.lock`;
    assert.equal(await noopFileHolds(path), null);
    await Deno.writeTextFile(path, "");
    assert.equal(
      await noopFileHolds(path),
      `noop file ${path} exists (maintenance under way): passing without probing`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("taskHolds(): reads the process table only when -P/-R is given", async () => {
  const none = new RecordingRunner();
  assert.equal(await taskHolds(none, config(), args({})), null);
  assert.equal(none.calls.length, 0);
  const ps = new RecordingRunner(() => ({
    stdout: "  PID  PPID COMMAND\n 4242 1 apt-get install x\n",
  }));
  const held = await taskHolds(ps, config(), args({ procStr: "apt-get" }));
  assert.equal(ps.calls.length, 1);
  assert.equal(held, "task in progress (pid 4242: apt-get install x): passing without probing");
});

Deno.test("startProbe(): a servicegroup runs when all run, is stopped when none runs", async () => {
  const runner = new RecordingRunner((argv) => ({ code: argv.includes("b") ? 3 : 0 }));
  const look = await startProbe(
    runner,
    config({ serviceManager: "service" }),
    args({
      kind: "servicegroup",
      services: ["a", "b"],
    }),
  );
  assert.deepEqual(look(true), { running: false, detail: "a running; b stopped" });
  assert.deepEqual(look(false), { running: true, detail: "a running; b stopped" });
});
