// The event-driven takeover against a fake Consul client: a flip due → one flip step and one
// trigger; nothing due, a repeat, a pause → nothing. The same against real agents is in
// tests/e2e/watch_service_test.ts.
import assert from "node:assert/strict";
import type { ConsulClient } from "../../../lib/consul/client.ts";
import { MemoryTakeoverStore } from "../../../lib/cluster/takeover_store.ts";
import { liveEffects } from "../../../lib/plan/live.ts";
import { pauseKeyFor } from "../../../lib/ops/pause.ts";
import type { FireResult } from "../../../lib/triggers/fire.ts";
import type { HealthCheck } from "../../../lib/triggers/plan.ts";
import { dampingLeftMs, watchService } from "../../../lib/watch/takeover.ts";
import { config, kvEntry } from "../../_support/cluster.ts";
import { FakeClock, RecordingRunner } from "../../_support/fakes.ts";
import { FakeConsul, healthEntry } from "../../_support/fake_consul.ts";

const entry = (node: string, status: string) => healthEntry(node, status, "service:web");

function setup(over: { active?: string; remainingMs?: number; probe?: number } = {}) {
  const consul = new FakeConsul();
  consul.checks = {
    "service:web": {
      CheckID: "service:web",
      Status: "passing",
      ServiceName: "web",
      Output: "ok",
      Node: "s1",
    },
  };
  consul.kv.set(
    "cluster/web",
    kvEntry("cluster/web", { active_nodes: ["a1"], standby_nodes: ["s1"] }, 21),
  );
  consul.health = [entry("a1", over.active ?? "critical"), entry("s1", "passing")];
  const runner = new RecordingRunner(() => ({ code: over.probe ?? 3 }));
  const clock = new FakeClock();
  const store = new MemoryTakeoverStore(clock.now);
  const fired: HealthCheck[] = [];
  const slept: number[] = [];
  const logged: string[] = [];
  const printed: string[] = [];
  const dropped: number[] = [];
  const deps = {
    consul: consul as unknown as ConsulClient,
    runner,
    config: config({ clusterKey: "cluster" }),
    effects: liveEffects(consul as unknown as ConsulClient, runner),
    store,
    dryRun: false,
    remainingMs: () => over.remainingMs ?? 60_000,
    fire: (c: HealthCheck): Promise<FireResult> => {
      fired.push(c);
      return Promise.resolve({ outcome: "ran", code: 0, message: "started" });
    },
    log: { info: (m: string) => void logged.push(m), warn: (m: string) => void logged.push(m) },
    print: (l: string) => void printed.push(l),
    sleep: (ms: number) => {
      slept.push(ms);
      return clock.sleep(ms);
    },
    dropRun: () => void dropped.push(1),
  };
  return { consul, runner, clock, store, fired, slept, logged, printed, dropped, deps };
}

const ARGS = { consulService: "web", services: [] };
const FLIP = ["txn cas cluster/web cas=21", "txn cas service/web/history cas=0"];

Deno.test("watchService: a failed active → waits out the damping, one flip step, one trigger", async () => {
  const s = setup();
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "flipped", o.message);
  assert.deepEqual(s.consul.calls, FLIP, "one flip (CAS on the decided index) and its record");
  assert.deepEqual(
    JSON.parse(s.consul.kv.get("cluster/web")!.value!),
    { active_nodes: ["s1"], standby_nodes: ["a1"], lock: true },
  );
  assert.equal(s.fired.length, 1);
  assert.deepEqual(
    { node: s.fired[0]!.Node, svc: s.fired[0]!.ServiceName, id: s.fired[0]!.CheckID },
    { node: "s1", svc: "web", id: "service:web" },
  );
  assert.equal(s.fired[0]!.Status, "critical");
  const waited = s.slept.reduce((x, y) => x + y, 0);
  assert.ok(waited >= 2000 && waited <= 3000, `waited ${waited} ms (damping 2 s, bound 3 s)`);
});

Deno.test("watchService: a repeat after the flip does nothing (this node is active now)", async () => {
  const s = setup();
  await watchService(s.deps, ARGS);
  const calls = s.consul.calls.length;
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "nothing", o.message);
  assert.equal(s.consul.calls.length, calls, "no second write");
  assert.equal(s.fired.length, 1, "no second trigger");
});

Deno.test("watchService: an active passing → nothing written, nothing fired, no wait", async () => {
  const s = setup({ active: "passing" });
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "nothing");
  assert.deepEqual([s.consul.calls, s.fired, s.slept], [[], [], []]);
  // the repeat is the same
  assert.equal((await watchService(s.deps, ARGS)).action, "nothing");
  assert.deepEqual([s.consul.calls, s.fired], [[], []]);
});

Deno.test("watchService: paused → nothing read of the cluster, nothing written or fired", async () => {
  const s = setup();
  const key = pauseKeyFor(s.deps.config, "web");
  s.consul.kv.set(key, kvEntry(key, { reason: "deploy", by: "ops", at: "now" }));
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "paused", o.message);
  assert.deepEqual([s.consul.calls, s.fired, s.slept], [[], [], []]);
});

Deno.test("watchService: the damping never outlasts the deadline: no wait, nothing done", async () => {
  const s = setup({ remainingMs: 1100 });
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "nothing");
  assert.deepEqual([s.consul.calls, s.fired, s.slept], [[], [], []]);
  // the observation was kept like the check keeps it: a later event after the damping flips
  s.clock.advance(2500);
  assert.equal((await watchService(s.deps, ARGS)).action, "flipped");
  assert.deepEqual(s.consul.calls, FLIP);
});

Deno.test("watchService: a lost race writes nothing more and fires nothing", async () => {
  const s = setup();
  s.consul.put = false;
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "lost", o.message);
  assert.deepEqual(s.fired, []);
});

Deno.test("watchService -s: a service already running after the flip is not triggered", async () => {
  const s = setup({ probe: 0 });
  const o = await watchService(s.deps, { consulService: "web", services: ["apache2"] });
  assert.equal(o.action, "flipped");
  assert.match(o.message, /apache2 already running/);
  assert.deepEqual(s.fired, []);
  const t = setup({ probe: 3 });
  await watchService(t.deps, { consulService: "web", services: ["apache2"] });
  assert.equal(t.fired.length, 1, "stopped: fired");
});

Deno.test("watchService: unknown state (the document unread) → throws, nothing acted on", async () => {
  const s = setup();
  s.consul.fail = new Error("connection refused");
  await assert.rejects(() => watchService(s.deps, ARGS), /connection refused/);
  assert.deepEqual([s.consul.calls, s.fired], [[], []]);
});

Deno.test("dampingLeftMs(): only a failed active inside its damping is waited for", () => {
  const view = (nodes: Record<string, unknown>, flipDue = false) =>
    ({
      placement: { kind: "standby" },
      decision: { flipDue },
      takeover: { at: 0, nodes, lock: null },
    }) as unknown as Parameters<typeof dampingLeftMs>[0];
  const memo = (cls: string, since: number | null) => ({
    seen: true,
    class: cls,
    detail: "",
    since,
    pendingSince: null,
    heartbeat: null,
  });
  const c = config();
  assert.equal(dampingLeftMs(view({ a1: memo("failed", 1000) }), 1500, c), 1500);
  assert.equal(dampingLeftMs(view({ a1: memo("failed", 1000) }), 1000, c), 2000);
  assert.equal(dampingLeftMs(view({ a1: memo("failed", 1000) }, true), 1500, c), null);
  assert.equal(dampingLeftMs(view({ a1: memo("unreachable", 1000) }), 1500, c), null);
  assert.equal(
    dampingLeftMs(view({ a1: memo("failed", 1000), a2: memo("passing", null) }), 1500, c),
    null,
  );
});

Deno.test("watchService --dry-run: prints the flip, plans the trigger, writes and keeps nothing", async () => {
  const s = setup({ remainingMs: 1100 });
  await watchService(s.deps, ARGS); // a real first look keeps the observation
  s.clock.advance(2500);
  const kept = structuredClone(s.store.states);
  s.deps.dryRun = true;
  const o = await watchService(s.deps, ARGS);
  assert.equal(o.action, "planned", o.message);
  assert.deepEqual(s.consul.calls, [], "nothing written");
  assert.equal(s.printed.length, 1);
  assert.match(s.printed[0]!, /^would write cluster\/web = .*"lock":true/);
  assert.equal(s.fired.length, 1, "the trigger path is asked (it plans under --dry-run)");
  assert.equal(s.dropped.length, 1, "the sandbox entered once");
  assert.deepEqual(s.store.states, kept, "no observation kept");
  // nothing due under --dry-run: still enters the sandbox
  const t = setup({ active: "passing" });
  t.deps.dryRun = true;
  assert.equal((await watchService(t.deps, ARGS)).action, "nothing");
  assert.deepEqual([t.printed, t.dropped.length], [[], 1]);
});
