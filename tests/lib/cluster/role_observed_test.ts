// decideObserved(): a live standby's decision from its memory, through decide() (role.ts).
import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import { cutOff, failed, passing, Standby } from "../../_support/takeover.ts";

const doc = parseClusterDoc(JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] }));

Deno.test("decideObserved(): a passing active keeps the standby stopped", () => {
  const d = new Standby(doc).run([passing("a1")]);
  assert.equal(d.expects, false);
  assert.equal(d.reason, "node s1 is listed standby; an active instance is passing (a1:passing)");
});

Deno.test("decideObserved(): a failed active waits out the damping, then the standby acts", () => {
  const s = new Standby(doc);
  const first = s.run([failed("a1")]);
  assert.equal(first.flipDue, false);
  assert.equal(
    first.reason,
    "node s1 is listed standby; active a1 failed (web=critical) for 0s: taking over after 2s",
  );
  const due = s.over(2, [failed("a1")]);
  assert.deepEqual([due.flipDue, due.actsAs, due.expects], [true, "primary", true]);
  assert.equal(
    due.reason,
    "node s1 is listed standby; no active instance passing (a1 failed (web=critical) for 2s): " +
      "acting as primary",
  );
});

Deno.test("decideObserved(): an unhealthy standby never takes over, however long it waits", () => {
  const s = new Standby(doc);
  s.self = { healthy: false, detail: "serfHealth=critical" };
  s.run([cutOff("a1")]);
  const d = s.over(25, [cutOff("a1")]);
  assert.equal(d.flipDue, false);
  assert.equal(
    d.reason,
    "node s1 is listed standby; no active instance passing (a1 unreachable " +
      "(serfHealth=critical) for 25s) but this node is not healthy (serfHealth=critical): " +
      "not taking over",
  );
});

const locked = parseClusterDoc(
  JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"], lock: true }),
);

Deno.test(
  "decideObserved(): locked, the new active failed after the switch (settled): the usual damping, not lockTimeout",
  () => {
    const s = new Standby(locked);
    s.settled = { a1: true };
    s.lockedBy = "start-primary";
    assert.equal(s.run([failed("a1")], 7).flipDue, false, "damping first");
    const due = s.over(2, [failed("a1")], 7);
    assert.deepEqual([due.flipDue, due.actsAs, due.expects], [true, "primary", true]);
    assert.equal(
      due.reason,
      "node s1 is listed standby; no active instance passing (a1 failed (web=critical) for 2s) " +
        "and the document is locked by a start-primary that is over (its new active failed " +
        "after it): acting as primary",
    );
  },
);

Deno.test(
  "decideObserved(): locked, a failure not known to be after the switch, not its own, or after a -U flip (or an unknown locker): the lock holds",
  () => {
    for (
      const [settled, obs, by] of [
        [{ a1: false }, failed("a1"), "start-primary"],
        [{}, failed("a1"), "start-primary"],
        [{ a1: true }, cutOff("a1"), "start-primary"],
        // a flip's new active reports "not running yet" until its trigger starts it
        [{ a1: true }, failed("a1"), "flip"],
        [{ a1: true }, failed("a1"), null],
      ] as const
    ) {
      const s = new Standby(locked);
      s.settled = settled;
      s.lockedBy = by;
      const d = s.over(25, [obs], 7);
      assert.equal(d.flipDue, false, JSON.stringify(settled));
      assert.match(d.reason, /locked \(a switch is under way\) for 24s: staying stopped/);
      const late = s.over(8, [obs], 7);
      assert.equal(late.flipDue, true, "still replaced after lockTimeout");
    }
  },
);

Deno.test("decideObserved(): locked, two actives, one settled failure, one cut off: the lock holds", () => {
  const two = parseClusterDoc(
    JSON.stringify({ active_nodes: ["a1", "a2"], standby_nodes: ["s1"], lock: true }),
  );
  const s = new Standby(two);
  s.settled = { a1: true, a2: true };
  s.lockedBy = "start-primary";
  const d = s.over(5, [failed("a1"), cutOff("a2")], 7);
  assert.equal(d.flipDue, false);
  assert.match(d.reason, /locked \(a switch is under way\)/);
});
