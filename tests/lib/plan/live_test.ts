// The live effects: each step kind reaches the client, the runner or the file system.
import assert from "node:assert/strict";
import { ROOT_ONLY } from "../../_support/root.ts";
import { join } from "node:path";
import type { ConsulClient } from "../../../lib/consul/client.ts";
import { liveEffects } from "../../../lib/plan/live.ts";
import { parseLockRecord } from "../../../lib/sys/lockfile.ts";
import { RecordingRunner } from "../../_support/fakes.ts";

Deno.test("liveEffects(): KV and tag writes go to the client, runs to the runner", async () => {
  const calls: unknown[] = [];
  const consul = {
    kvPut: (key: string, value: string, opts: unknown) => {
      calls.push(["kvPut", key, value, opts]);
      return Promise.resolve(true);
    },
    setServiceTags: (reg: unknown, tags: string[]) => {
      calls.push(["setServiceTags", reg, tags]);
      return Promise.resolve();
    },
  } as unknown as ConsulClient;
  const runner = new RecordingRunner();
  const fx = liveEffects(consul, runner);
  assert.equal(await fx.kvPut("k", "v", { cas: 3 }), true);
  const reg = { ID: "web1", Service: "web", Tags: [] };
  await fx.setTags({ serviceId: "web1", tags: ["x"], registration: reg });
  await fx.run({ kind: "run", argv: ["/bin/true"], timeoutMs: 5, label: "t", stdin: "in" });
  assert.deepEqual(calls, [["kvPut", "k", "v", { cas: 3 }], ["setServiceTags", reg, ["x"]]]);
  assert.deepEqual(runner.calls, [{ argv: ["/bin/true"], opts: { timeoutMs: 5, stdin: "in" } }]);
});

Deno.test(
  "liveEffects(): a lock file is created exclusively with its owner, and removed",
  ROOT_ONLY,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.chmod(dir, 0o700);
      const path = join(dir, "web.lock");
      const fx = liveEffects({} as ConsulClient, new RecordingRunner());
      const owner = {
        action: "restart",
        name: "web",
        consulService: "websvc",
        holder: "none",
      } as const;
      assert.equal(await fx.lockFile("create", path, owner), undefined);
      const record = parseLockRecord(await Deno.readTextFile(path));
      assert.equal(record?.action, "restart");
      assert.equal(record?.consulService, "websvc");
      await assert.rejects(fx.lockFile("create", path, owner), /exists/);
      await fx.lockFile("remove", path);
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
