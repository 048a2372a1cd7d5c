import assert from "node:assert/strict";
import { pausedState, pausedValue, pauseKeyFor, pauseSentence } from "../../../lib/ops/pause.ts";
import { kvEntry } from "../../_support/cluster.ts";

const cfg = { servicePrefix: "service" };
const flag = { by: "n2", at: "2026-01-01T00:00:00.000Z", reason: "kernel upgrade" };

Deno.test("pausedState(): missing → not paused; a flag → paused with who/why; garbled → paused", () => {
  assert.equal(pauseKeyFor(cfg, "web"), "service/web/pause");
  assert.deepEqual(pausedState(null), { paused: false });
  const s = pausedState(kvEntry("service/web/pause", flag, 9));
  assert.deepEqual(s, { paused: true, flag, index: 9 });
  assert.equal(pauseSentence(s), "paused: kernel upgrade (by n2 at 2026-01-01T00:00:00.000Z)");
  for (const bad of ["", "nope", "[]", JSON.stringify({ by: "x" }), "null"]) {
    const b = pausedState(kvEntry("k", bad, 3));
    assert.equal(b.paused, true, `${JSON.stringify(bad)} counts as paused`);
    assert.ok("malformed" in b);
    assert.match(pauseSentence(b), /^paused: the pause flag .* \(resume clears it\)$/);
  }
  assert.deepEqual(pausedValue(null), { paused: false });
  assert.equal(pausedValue(JSON.stringify(flag)).paused, true);
  assert.equal(pauseSentence({ paused: false }), "");
});
