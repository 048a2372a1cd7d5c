import assert from "node:assert/strict";
import { Deadline } from "../../lib/deadline.ts";
import { boundedRunner } from "../../lib/context.ts";
import { FakeClock, RecordingRunner } from "../_support/fakes.ts";

Deno.test("Deadline: each step takes the remainder, never more than its own timeout", () => {
  const clock = new FakeClock(0);
  const d = new Deadline(5000, clock.now);
  assert.equal(d.cap(2000), 2000);
  clock.advance(4000);
  assert.equal(d.cap(2000), 1000);
  clock.advance(2000);
  assert.equal(d.remainingMs(), 0);
  assert.equal(d.expired(), true);
});

Deno.test("boundedRunner(): runs get the rest of the deadline; past it nothing starts", async () => {
  const clock = new FakeClock(0);
  const d = new Deadline(3000, clock.now);
  const inner = new RecordingRunner();
  const r = boundedRunner(inner, d);
  await r.run(["a"], { timeoutMs: 10_000 });
  clock.advance(2500);
  await r.run(["b"], { timeoutMs: 10_000 });
  clock.advance(1000);
  const late = await r.run(["c"], { timeoutMs: 10_000 });
  assert.deepEqual(inner.calls.map((c) => [c.argv[0], c.opts.timeoutMs]), [["a", 3000], [
    "b",
    500,
  ]]);
  assert.equal(late.timedOut, true);
  assert.match(late.stderr, /deadline/);
});
