// The flip step the check and the event-driven watch share: nothing when not due, paused or
// not asked for; a due flip is one checked write, then the view is read again and remembered.
import assert from "node:assert/strict";
import { flipIfDue, remember } from "../../../lib/check/flip.ts";
import { MemoryTakeoverStore } from "../../../lib/cluster/takeover_store.ts";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { type Effects, Executor } from "../../../lib/plan/apply.ts";
import { config, instance, kvEntry, MemoryFacts } from "../../_support/cluster.ts";
import { FakeClock, RecordingEffects, RecordingRunner } from "../../_support/fakes.ts";

function setup(active: boolean, casWins = true, dryRun = false) {
  const clock = new FakeClock();
  const store = new MemoryTakeoverStore(clock.now);
  const facts = new MemoryFacts({
    node: "s1",
    datacenter: "dc1",
    kv: {
      "cluster/web": kvEntry("cluster/web", { active_nodes: ["a1"], standby_nodes: ["s1"] }, 21),
    },
    health: {
      dc1: [instance("a1", active, "dc1", active ? [] : ["web=critical"]), instance("s1", true)],
    },
  }, store);
  const effects = new RecordingEffects(new RecordingRunner(), clock);
  effects.casWins = casWins;
  // the flip is written with its history record in one transaction
  (effects as Effects).recorded = (change) => {
    const c = change as { key: string; value: string; cas: number };
    effects.calls.push(`recorded ${c.key}=${c.value} cas=${c.cas}`);
    return Promise.resolve({ won: casWins, note: casWins ? "" : "lost the race" });
  };
  const printed: string[] = [];
  const ex = new Executor(effects, { dryRun, print: (l) => printed.push(l), dropRun: () => {} });
  const logged: string[] = [];
  const log = {
    info: (m: string) => void logged.push(m),
    warn: (m: string) => void logged.push(m),
  };
  const cfg = config({ clusterKey: "cluster" });
  const d = { ex, facts, store, config: cfg, log };
  /** The first look only observes; then the damping passes. */
  const look = async () => {
    const v = await readClusterView(facts, cfg, "web");
    await remember(store, "web", v, false, log);
    clock.advance(2500);
    return await readClusterView(facts, cfg, "web");
  };
  return { d, facts, effects, printed, logged, look };
}

Deno.test("flipIfDue(): a due flip is one checked write on the decided index, then a fresh view", async () => {
  const s = setup(false);
  const view = await s.look();
  assert.equal(view.decision.flipDue, true, view.decision.reason);
  const reads = s.facts.calls.length;
  const o = await flipIfDue(s.d, "web", view, true, false);
  assert.equal(o.won, true);
  assert.equal(o.flip?.cas, 21);
  assert.equal(s.effects.calls.length, 1);
  assert.match(s.effects.calls[0]!, /^recorded cluster\/web=.*"lock":true.* cas=21/);
  assert.ok(s.facts.calls.length > reads, "the view was read again");
  assert.match(o.notes[0]!, /flipped cluster\/web: this node is now active/);
});

Deno.test("flipIfDue(): not due, paused or without -U → nothing", async () => {
  const passing = setup(true);
  const v1 = await passing.look();
  assert.equal((await flipIfDue(passing.d, "web", v1, true, false)).flip, null);
  const s = setup(false);
  const v2 = await s.look();
  assert.equal((await flipIfDue(s.d, "web", v2, true, true)).flip, null, "paused");
  assert.equal((await flipIfDue(s.d, "web", v2, false, false)).flip, null, "no -U");
  assert.deepEqual([passing.effects.calls, s.effects.calls], [[], []]);
});

Deno.test("flipIfDue(): a lost race says so and is not retried; a dry run only prints", async () => {
  const lost = setup(false, false);
  const o = await flipIfDue(lost.d, "web", await lost.look(), true, false);
  assert.equal(o.won, false);
  assert.match(o.notes[0]!, /lost the flip race/);
  assert.equal(lost.effects.calls.length, 1);
  const dry = setup(false, true, true);
  const d = await flipIfDue(dry.d, "web", await dry.look(), true, false);
  assert.equal(d.won, null);
  assert.deepEqual(dry.effects.calls, []);
  assert.equal(dry.printed.length, 1);
  assert.match(dry.printed[0]!, /^would write cluster\/web/);
});
