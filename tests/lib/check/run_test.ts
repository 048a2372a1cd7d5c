// The check's runner against a fake Consul client and runner: every branch that acts, in
// milliseconds. The same paths against real agents are in tests/e2e/check_test.ts.
import assert from "node:assert/strict";
import { ROOT_ONLY } from "../../_support/root.ts";
import type { CheckArgs } from "../../../lib/check/args.ts";
import { runCheck, unknownResult } from "../../../lib/check/run.ts";
import type { ConsulClient } from "../../../lib/consul/client.ts";
import { ConsulError } from "../../../lib/consul/client.ts";
import { config, kvEntry } from "../../_support/cluster.ts";
import { FakeClock, RecordingRunner } from "../../_support/fakes.ts";
import { FakeConsul, healthEntry } from "../../_support/fake_consul.ts";
import { MemoryTakeoverStore } from "../../../lib/cluster/takeover_store.ts";

const entry = (node: string, status: string) => healthEntry(node, status, "web-ttl");

const args: CheckArgs = {
  kind: "process",
  consulService: "web",
  services: [],
  nagiosArgs: "-c 0:",
  updateKv: true,
};

async function setup(over: {
  doc?: Record<string, unknown>;
  active?: "passing" | "critical";
  tags?: string[];
  dryRun?: boolean;
  probe?: number;
} = {}) {
  const logDir = await Deno.makeTempDir();
  const consul = new FakeConsul({ serf: "critical" });
  const doc = over.doc ?? { active_nodes: ["a1"], standby_nodes: ["s1"] };
  consul.kv.set("cluster/web", kvEntry("cluster/web", doc, 21));
  consul.health = [entry("a1", over.active ?? "critical"), entry("s1", "passing")];
  consul.local = [{
    id: "web",
    service: { ID: "web", Service: "web", Tags: over.tags ?? ["nodns"] },
    node: "s1",
    aggregated: "passing",
  }];
  const runner = new RecordingRunner(() => ({ code: over.probe ?? 0, stdout: "PROCS OK" }));
  const ctx = {
    consul: consul as unknown as ConsulClient,
    runner,
    config: config({ clusterKey: "cluster", logDir }),
    flags: { dryRun: over.dryRun ?? false, help: false },
  };
  const logged: string[] = [];
  const log = {
    info: (m: string) => void logged.push(`INFO ${m}`),
    warn: (m: string) => void logged.push(`WARN ${m}`),
  };
  const printed: string[] = [];
  let dropped = 0;
  const result = unknownResult(args);
  const clock = new FakeClock();
  const store = new MemoryTakeoverStore(clock.now);
  const go = (a: CheckArgs = args) =>
    runCheck(ctx, a, result, log, (l) => printed.push(l), { dropRun: () => dropped++, store });
  /** One run that only observes (the first look never flips), then time passes the damping. */
  const firstLook = async () => {
    const dry = ctx.flags.dryRun;
    ctx.flags.dryRun = false;
    await go();
    ctx.flags.dryRun = dry;
    clock.advance(2500);
  };
  return {
    consul,
    clock,
    store,
    firstLook,
    result,
    logged,
    printed,
    go,
    dropped: () => dropped,
    [Symbol.asyncDispose]: () => Deno.remove(logDir, { recursive: true }),
  };
}

const REC = (action: string) => `, recorded as ${action} in service/web/history (one transaction)`;
const FLIPPED = JSON.stringify({ active_nodes: ["s1"], standby_nodes: ["a1"], lock: true });

Deno.test("runCheck -U: flips on the index read, re-reads, answers as the new active, fixes the tags", async () => {
  await using s = await setup();
  await s.firstLook();
  assert.deepEqual(s.consul.calls, [], "the first look at a failed active flips nothing");
  assert.equal(
    s.result.message,
    "PROCS OK; should be stopped: node s1 is listed standby; active a1 failed " +
      "(web-ttl=critical) for 0s: taking over after 2s",
  );
  await s.go();
  assert.deepEqual(s.consul.calls, [
    "txn cas cluster/web cas=21",
    "txn cas service/web/history cas=0",
    "tags web=[]",
  ]);
  const recorded = JSON.parse(s.consul.kv.get("service/web/history")!.value!);
  assert.equal(recorded.length, 1, "one history entry, written with the flip");
  assert.equal(recorded[0].action, "flip");
  assert.equal(recorded[0].node, "s1");
  assert.deepEqual(recorded[0].after, JSON.parse(FLIPPED));
  assert.equal(s.consul.kv.get("cluster/web")!.value, FLIPPED);
  assert.equal(s.result.role, "primary");
  assert.equal(s.result.state, "passing");
  assert.equal(
    s.result.message,
    "PROCS OK; should be running: node s1 is listed active; flipped cluster/web: this node " +
      "is now active (locked until the new actives pass)",
  );
  assert.deepEqual(s.logged, [
    `INFO write cluster/web = ${FLIPPED} (cas 21) to make this node active (-U)${REC("flip")}: ok`,
    "WARN -U flip of cluster/web: wrote cluster/web (cas 21)",
    "INFO lease not renewed: this node's serfHealth is not passing (or it is in maintenance) " +
    "in the catalog",
    "INFO set the tags of web to []: ok",
  ]);
  assert.equal(s.dropped(), 0);
});

Deno.test("runCheck -U --dry-run: prints the same steps, writes nothing, enters the sandbox once", async () => {
  await using s = await setup({ dryRun: true });
  await s.firstLook();
  await s.go();
  assert.deepEqual(s.consul.calls, []);
  assert.deepEqual(s.printed, [
    `would write cluster/web = ${FLIPPED} (cas 21) to make this node active (-U)${REC("flip")}`,
    "would set the tags of web to []",
  ]);
  assert.equal(s.dropped(), 1);
  assert.equal(s.result.role, "secondary");
  assert.equal(s.result.expects, true);
});

Deno.test("runCheck --dry-run on a healthy active prints the heartbeat and the lease renewal", async () => {
  await using s = await setup({
    dryRun: true,
    doc: { active_nodes: ["s1"], standby_nodes: ["a1"] },
    tags: [],
  });
  s.consul.serf = "passing";
  await s.go();
  assert.deepEqual(s.consul.calls, []);
  assert.equal(s.printed.length, 2, s.printed.join("\n"));
  assert.match(s.printed[0]!, /^would write service\/web\/s1\/heartbeat = \d+ to show a standby/);
  assert.match(
    s.printed[1]!,
    /^would renew the lease \/run\/powerconsul\/lease\/web@s1 until \S+ \(boot clock \d+\.0s, check\)$/,
  );
  assert.equal(s.dropped(), 1);
});

Deno.test(
  "runCheck held by a noop file still renews a healthy active's lease, answer unchanged",
  ROOT_ONLY,
  async () => {
    await using s = await setup({
      dryRun: true,
      doc: { active_nodes: ["s1"], standby_nodes: ["a1"] },
    });
    s.consul.serf = "passing";
    const noop = await Deno.makeTempFile();
    try {
      await s.go({ ...args, noopFile: noop });
    } finally {
      await Deno.remove(noop);
    }
    assert.equal(s.result.state, "passing");
    assert.match(s.result.message, /^noop file .* exists/);
    assert.equal(s.printed.length, 2, s.printed.join("\n"));
    assert.match(s.printed[1]!, /^would renew the lease \/run\/powerconsul\/lease\/web@s1 /);
  },
);

Deno.test("runCheck --dry-run with nothing to do still enters the sandbox", async () => {
  await using s = await setup({ dryRun: true, active: "passing", tags: ["nodns"] });
  await s.go({ ...args, updateKv: false });
  assert.deepEqual(s.printed, []);
  assert.equal(s.dropped(), 1);
});

Deno.test("runCheck -U: a lost race is said and re-read; a refused write is unknown", async () => {
  await using s = await setup();
  s.consul.put = false;
  await s.firstLook();
  await s.go();
  assert.match(
    s.result.message,
    /; lost the flip race \(lost the race: cluster\/web changed since index 21; not retried\); re-read the document$/,
  );
  await using t = await setup();
  await t.firstLook();
  t.consul.put = new ConsulError(
    "permission denied by Consul ACLs on PUT /v1/kv/cluster/web",
    "permission",
    "PUT",
    403,
  );
  await assert.rejects(t.go(), /permission denied by Consul ACLs/);
  assert.deepEqual(t.consul.calls, [
    "txn cas cluster/web cas=21",
    "txn cas service/web/history cas=0",
  ], "no tag write after it");
});

Deno.test("runCheck: a locked standby seeing the active settled clears the lock, once", async (t) => {
  const doc = { active_nodes: ["a1"], standby_nodes: ["s1"], lock: true };
  await t.step("won", async () => {
    await using s = await setup({ doc, active: "passing", tags: ["nodns"], probe: 2 });
    await s.go();
    assert.deepEqual(s.consul.calls, [
      "txn cas cluster/web cas=21",
      "txn cas service/web/history cas=0",
    ]);
    assert.match(s.result.message, /; cleared the switch lock$/);
    const rec = JSON.parse(s.consul.kv.get("service/web/history")!.value!);
    assert.deepEqual(rec.map((e: { action: string }) => e.action), ["lock-cleared"]);
  });
  await t.step("lost", async () => {
    await using s = await setup({ doc, active: "passing", tags: ["nodns"], probe: 2 });
    s.consul.put = false;
    await s.go();
    assert.match(s.result.message, /; lock already changed by another node$/);
  });
  await t.step("failed: logged, the answer unchanged", async () => {
    await using s = await setup({ doc, active: "passing", tags: ["nodns"], probe: 2 });
    s.consul.put = new Error("boom");
    await s.go();
    assert.equal(s.result.state, "passing");
    assert.doesNotMatch(s.result.message, /lock/);
    assert.ok(
      s.logged.includes("WARN could not clear the lock on cluster/web: boom"),
      s.logged.join("\n"),
    );
  });
});

Deno.test("runCheck: unknown state is never acted on", async (t) => {
  await t.step("the probe fails: no flip", async () => {
    await using s = await setup({ probe: 3 });
    await assert.rejects(s.go());
    assert.deepEqual(s.consul.calls, []);
  });
  await t.step("not registered locally", async () => {
    await using s = await setup();
    s.consul.local = [];
    await assert.rejects(s.go(), /service web is not registered with the local Consul agent/);
    assert.deepEqual(s.consul.calls, []);
  });
});
