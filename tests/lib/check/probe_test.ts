import assert from "node:assert/strict";
import { ROOT_ONLY } from "../../_support/root.ts";
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

Deno.test(
  "noopFileHolds(): a root-owned file holds; a foreign one or a symlink is ignored with a note",
  ROOT_ONLY,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/web.lock`;
      assert.deepEqual(await noopFileHolds(path), { holds: null, note: null });
      await Deno.writeTextFile(path, "");
      assert.deepEqual(await noopFileHolds(path), {
        holds: `noop file ${path} exists (maintenance under way): passing without probing`,
        note: null,
      });
      await Deno.chown(path, 65534, 65534);
      assert.deepEqual(await noopFileHolds(path), {
        holds: null,
        note: `noop file ${path} ignored: it is owned by uid 65534, not root`,
      });
      const link = `${dir}/link.lock`;
      await Deno.symlink(path, link);
      assert.deepEqual(await noopFileHolds(link), {
        holds: null,
        note: `noop file ${link} ignored: it is a symlink`,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

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
