// The standby's takeover rules, run by run on a fake clock: what waits how long, and the exact
// sentences the check prints while it waits and when it takes over.
import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import {
  type ActiveObservation,
  fresh,
  observe,
  seconds,
  verdicts,
} from "../../../lib/cluster/takeover.ts";
import { nodesDoc } from "../../_support/cluster.ts";
import {
  cutOff,
  failed,
  missing,
  passing,
  pendingObs,
  seen,
  Standby,
  TIMING,
} from "../../_support/takeover.ts";

const one = () => parseClusterDoc(JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] }));
const S = "node s1 is listed standby; ";

Deno.test("failed (node healthy, check critical): the first look never flips; takes over after failoverDamping", () => {
  const s = new Standby(one());
  let d = s.run([failed("a1")]);
  assert.equal(d.flipDue, false);
  assert.equal(d.actingPrimary, false);
  assert.equal(d.waiting, true);
  assert.equal(d.expects, false);
  assert.equal(d.reason, S + "active a1 failed (web=critical) for 0s: taking over after 2s");
  assert.equal(d.why, S + "no active instance passing: waiting before taking over");
  d = s.over(1.5, [failed("a1")]);
  assert.equal(d.reason, S + "active a1 failed (web=critical) for 1.5s: taking over after 2s");
  assert.equal(d.flipDue, false);
  d = s.over(0.5, [failed("a1")]);
  assert.equal(d.flipDue, true);
  assert.equal(d.actingPrimary, true);
  assert.equal(d.actsAs, "primary");
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 failed (web=critical) for 2s): acting as primary",
  );
  assert.equal(d.why, S + "no active instance passing: acting as primary");
});

Deno.test("failoverDamping 0 still needs two observations", () => {
  const s = new Standby(one(), "s1", { ...TIMING, failoverDamping: 0 });
  assert.equal(s.run([failed("a1")]).flipDue, false);
  assert.equal(s.over(1, [failed("a1")]).flipDue, true);
});

Deno.test("a blip shorter than the damping flips nothing; a passing look restarts the timer", () => {
  const s = new Standby(one());
  s.run([failed("a1")]);
  let d = s.over(1, [passing("a1")]);
  assert.equal(d.reason, S + "an active instance is passing (a1:passing)");
  assert.equal(s.state.nodes.a1!.since, null);
  d = s.over(1, [failed("a1")]);
  assert.equal(d.flipDue, false, "1 s failed, 1 s passing, failed again: the timer started over");
  assert.equal(s.over(1, [failed("a1")]).flipDue, false);
  assert.equal(s.over(1, [failed("a1")]).flipDue, true);
});

Deno.test("unreachable (serfHealth critical): waits out takeoverDelay", () => {
  const s = new Standby(one());
  s.run([cutOff("a1")]);
  let d = s.over(4, [cutOff("a1")]);
  assert.equal(
    d.reason,
    S + "active a1 unreachable (serfHealth=critical) for 4s: taking over after 20s",
  );
  d = s.over(15.9, [cutOff("a1")]);
  assert.equal(d.flipDue, false);
  d = s.over(0.1, [cutOff("a1")]);
  assert.equal(d.flipDue, true);
  assert.equal(
    d.reason,
    S +
      "no active instance passing (a1 unreachable (serfHealth=critical) for 20s): acting as primary",
  );
});

Deno.test("failed after unreachable counts from the first not-passing look", () => {
  const s = new Standby(one());
  s.run([cutOff("a1")]);
  s.over(5, [cutOff("a1")]);
  assert.equal(s.over(1, [failed("a1")]).flipDue, true, "6 s down, now failed: over 2 s");
});

Deno.test("an active answering unknown is no report of its own failure: the slow path", () => {
  const s = new Standby(one());
  const unknown = seen("a1", { passing: false, unknown: true, failing: ["web=critical"] });
  s.run([unknown]);
  const d = s.over(5, [unknown]);
  assert.equal(
    d.reason,
    S + "active a1 unreachable (web=critical, answering unknown) for 5s: taking over after 20s",
  );
  assert.equal(s.over(15, [unknown]).flipDue, true);
});

Deno.test("pending (critical, no output) waits at most takeoverDelay, then takes over", () => {
  const s = new Standby(one());
  let d = s.run([pendingObs("a1")]);
  assert.equal(
    d.reason,
    S + "active a1 pending (web=critical(not run yet)) for 0s: waiting for it to report, " +
      "taking over after 20s",
  );
  d = s.over(19, [pendingObs("a1")]);
  assert.equal(d.flipDue, false);
  d = s.over(1, [pendingObs("a1")]);
  assert.equal(d.flipDue, true);
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 unreachable (web=critical(not run yet), no output for " +
      "20s) for 20s): acting as primary",
  );
});

Deno.test("gone from the catalog after being seen, or left per the members list: slow path", async (t) => {
  await t.step("vanished after being seen", () => {
    const s = new Standby(one());
    s.run([passing("a1")]);
    let d = s.over(1, [missing("a1")]);
    assert.equal(
      d.reason,
      S + "active a1 unreachable (gone from the catalog) for 0s: taking over after 20s",
    );
    d = s.over(20, [missing("a1")]);
    assert.equal(d.flipDue, true);
  });
  await t.step("never seen, members say left", () => {
    const s = new Standby(one());
    s.run([missing("a1", "left")]);
    const d = s.over(20, [missing("a1", "left")]);
    assert.equal(d.flipDue, true);
    assert.match(d.reason, /a1 unreachable \(members: left\) for 20s/);
  });
  await t.step("never seen, nothing known: waits on the absence", () => {
    const s = new Standby(one());
    s.run([missing("a1")]);
    const d = s.over(100, [missing("a1", "alive")]);
    assert.equal(d.flipDue, false);
    assert.equal(
      d.reason,
      S + "no active instance is registered in the catalog: not taking over on an absence " +
        "(register the service on the actives, or run start-primary)",
    );
  });
});

Deno.test("a heartbeat that stops moving makes a passing active unreachable after takeoverDelay", () => {
  const s = new Standby(one());
  const beat = (i: number) => passing("a1", { heartbeat: i });
  s.run([beat(10)]);
  assert.equal(s.wait(1).run([beat(11)]).flipDue, false, "it moved");
  let d = s.over(20, [beat(11)]);
  assert.equal(d.flipDue, false, "unchanged for exactly takeoverDelay: not longer");
  assert.equal(d.reason, S + "an active instance is passing (a1:passing)");
  d = s.wait(0.5).run([beat(11)]);
  assert.equal(d.flipDue, true);
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 unreachable (heartbeat unchanged for 20.5s) for " +
      "20.5s): acting as primary",
  );
  // no heartbeat key at all: the catalog alone decides
  const t = new Standby(one());
  t.run([passing("a1", { heartbeat: null })]);
  assert.equal(t.over(60, [passing("a1", { heartbeat: null })]).flipDue, false);
});

Deno.test("observations further apart than leaseSeconds are not continuous: timers restart", () => {
  const s = new Standby(one());
  s.run([cutOff("a1")]);
  s.wait(11).run([cutOff("a1")]);
  assert.equal(s.state.nodes.a1!.since, s.clock.now(), "restarted at this look");
  assert.equal(s.over(19, [cutOff("a1")]).flipDue, false);
  assert.equal(s.over(1, [cutOff("a1")]).flipDue, true, "20 s after the restart");
});

Deno.test("a memo from another clock (ahead of now) is forgotten, never hastening", () => {
  const s = new Standby(one());
  s.run([cutOff("a1")]);
  s.clock.advance(-60_000);
  const d = s.run([cutOff("a1")]);
  assert.equal(d.flipDue, false);
  assert.equal(s.state.nodes.a1!.since, s.clock.now());
});

Deno.test("several actives: every one must be due; the flip waits for the last", () => {
  const s = new Standby(nodesDoc());
  s.run([failed("a1"), cutOff("a2")]);
  let d = s.wait(3).run([failed("a1"), cutOff("a2")]);
  assert.equal(d.flipDue, false);
  assert.equal(
    d.reason,
    S + "active a2 unreachable (serfHealth=critical) for 3s: taking over after 20s",
  );
  d = s.over(16, [passing("a1"), cutOff("a2")]);
  assert.equal(d.flipDue, false);
  assert.equal(
    d.reason,
    S + "an active instance is passing (a1:passing, a2:serfHealth=critical)",
  );
  d = s.over(1, [failed("a1"), cutOff("a2")]);
  assert.equal(d.flipDue, false, "a2 is due, a1 has only just failed again");
  assert.equal(d.reason, S + "active a1 failed (web=critical) for 0s: taking over after 2s");
  assert.equal(s.over(2, [failed("a1"), cutOff("a2")]).flipDue, true);
});

Deno.test("a standby whose own node is not healthy never takes over", () => {
  const s = new Standby(one());
  s.self = { healthy: false, detail: "serfHealth=critical" };
  s.run([failed("a1")]);
  const d = s.over(30, [failed("a1")]);
  assert.equal(d.flipDue, false);
  assert.equal(d.waiting, true);
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 failed (web=critical) for 30s) but this node is not " +
      "healthy (serfHealth=critical): not taking over",
  );
  s.self = null;
  assert.match(s.over(1, [failed("a1")]).reason, /its health could not be read/);
  assert.equal(s.run([failed("a1")]).flipDue, false);
});

Deno.test("a lock holds a takeover until it has been seen unchanged for lockTimeout", () => {
  const s = new Standby(parseClusterDoc(JSON.stringify({
    active_nodes: ["a1"],
    standby_nodes: ["s1"],
    lock: true,
  })));
  s.run([failed("a1")], 40);
  let d = s.over(10, [failed("a1")], 40);
  assert.equal(d.flipDue, false);
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 failed (web=critical) for 10s) but the cluster " +
      "document is locked (a switch is under way) for 10s: staying stopped, at most 30s while " +
      "the lock does not change",
  );
  assert.equal(
    d.why,
    S + "no active instance passing but the cluster document is locked (a switch is under " +
      "way): staying stopped",
  );
  d = s.over(1, [failed("a1")], 41);
  assert.equal(d.flipDue, false, "the document changed: the lock's age starts again");
  assert.equal(s.over(30, [failed("a1")], 41).flipDue, false, "30 s: not longer");
  d = s.wait(0.5).run([failed("a1")], 41);
  assert.equal(d.flipDue, true);
  assert.equal(
    d.reason,
    S + "no active instance passing (a1 failed (web=critical) for 41.5s) and the lock has not " +
      "changed for 30.5s (over 30s: the switch died): acting as primary",
  );
});

Deno.test("observe() forgets actives the document no longer names; verdicts() read the state", () => {
  let st = observe(
    fresh(),
    1000,
    { actives: [cutOff("a1"), failed("a2")], lockedIndex: null },
    TIMING,
  );
  st = observe(st, 4000, { actives: [failed("a2")], lockedIndex: null }, TIMING);
  assert.deepEqual(Object.keys(st.nodes), ["a2"]);
  assert.deepEqual(verdicts(st, 4000, TIMING), [{
    node: "a2",
    class: "failed",
    detail: "web=critical",
    forMs: 3000,
    delayMs: 2000,
    due: true,
  }]);
  assert.equal(st.lock, null);
});

Deno.test("seconds() says tenths, floored", () => {
  assert.deepEqual([0, 99, 1000, 1560, 20_000, 61_000].map(seconds), [
    "0s",
    "0s",
    "1s",
    "1.5s",
    "20s",
    "61s",
  ]);
});

const failedAt = (checksIndex: number, mark: ActiveObservation["mark"]) =>
  seen("a1", { passing: false, failing: ["web=critical"], checksIndex }, { mark });

Deno.test("heal mark failed of this episode: due at the next look, without the damping", () => {
  const s = new Standby(one());
  s.run([passing("a1", { mark: { index: 40, state: "healed" } })]);
  let d = s.wait(0.3).run([failedAt(100, null)]);
  assert.equal(d.flipDue, false);
  // the trigger's restart failed: its mark was written after the check turned critical
  d = s.wait(0.3).run([failedAt(100, { index: 104, state: "failed" })]);
  assert.equal(d.flipDue, true, d.reason);
  assert.match(d.reason, /a1 failed \(web=critical, heal mark failed\)/);
});

Deno.test("heal mark failed written after the failure: due at the first look of it", () => {
  const s = new Standby(one());
  s.run([passing("a1")]);
  const d = s.wait(0.3).run([failedAt(100, { index: 104, state: "failed" })]);
  assert.equal(d.flipDue, true, d.reason);
  // a mark older than the check's change is another failure's: one look is not enough
  const o = new Standby(one());
  o.run([passing("a1")]);
  assert.equal(o.wait(0.3).run([failedAt(100, { index: 96, state: "failed" })]).flipDue, false);
  // healing and healed never shorten the two looks
  const h = new Standby(one());
  h.run([passing("a1")]);
  assert.equal(h.wait(0.3).run([failedAt(100, { index: 104, state: "healed" })]).flipDue, false);
});

Deno.test("heal mark of an earlier episode: the damping as without one", () => {
  const s = new Standby(one());
  const old = { index: 40, state: "failed" } as const;
  s.run([passing("a1", { mark: old })]);
  assert.equal(s.wait(0.3).run([failedAt(100, old)]).flipDue, false);
  assert.equal(s.over(1, [failedAt(100, old)]).flipDue, false);
  assert.equal(s.over(1, [failedAt(100, old)]).flipDue, true);
  // fresh memory: a mark first seen with the failure is not known to belong to it
  const f = new Standby(one());
  f.run([failedAt(100, { index: 90, state: "failed" })]);
  assert.equal(f.wait(0.3).run([failedAt(100, { index: 90, state: "failed" })]).flipDue, false);
});

Deno.test("heal mark healing: waits past the damping, bounded by the trigger timeout", () => {
  const s = new Standby(one(), "s1", { ...TIMING, triggerTimeout: 6 });
  s.run([passing("a1")]);
  const healing = { index: 103, state: "healing" } as const;
  s.wait(0.5).run([failedAt(100, null)]);
  let d = s.over(3, [failedAt(100, healing)]);
  assert.equal(d.flipDue, false, "inside the trigger's run");
  assert.match(d.reason, /taking over after 7s/);
  assert.equal(s.over(3, [failedAt(100, healing)]).flipDue, false);
  d = s.over(1, [failedAt(100, healing)]);
  assert.equal(d.flipDue, true, d.reason);
  // never beyond takeoverDelay
  const t = new Standby(one(), "s1", { ...TIMING, triggerTimeout: 300 });
  t.run([failedAt(100, null)]);
  assert.match(t.over(1, [failedAt(100, healing)]).reason, /taking over after 20s/);
});

Deno.test("heal mark healed: two check intervals for its check to pass, then it keeps its role", () => {
  const s = new Standby(one(), "s1", { ...TIMING, checkInterval: 1 });
  s.run([passing("a1")]);
  s.wait(0.5).run([failedAt(100, { index: 103, state: "healing" })]);
  const healed = { index: 105, state: "healed" } as const;
  let d = s.over(2, [failedAt(100, healed)]);
  assert.equal(d.flipDue, false);
  assert.match(d.reason, /heal mark healed\) for 2s: taking over after 3s/);
  d = s.wait(0.5).run([passing("a1", { mark: healed })]);
  assert.equal(d.flipDue, false);
  assert.equal(s.state.nodes.a1!.since, null);
  // healed but its check never passes: taken over two intervals after the mark
  const u = new Standby(one(), "s1", { ...TIMING, checkInterval: 1 });
  u.run([passing("a1")]);
  u.wait(0.5).run([failedAt(100, null)]);
  u.over(1.5, [failedAt(100, healed)]);
  assert.equal(u.over(1, [failedAt(100, healed)]).flipDue, false);
  assert.equal(u.over(1, [failedAt(100, healed)]).flipDue, true);
});
