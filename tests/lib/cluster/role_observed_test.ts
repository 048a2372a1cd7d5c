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
