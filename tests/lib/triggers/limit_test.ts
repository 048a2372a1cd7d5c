// The restart-storm state file: verdicts recorded under its mutex, and what happens when the
// log root cannot hold it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { TriggerLimiter } from "../../../lib/triggers/limit.ts";
import { FakeClock } from "../../_support/fakes.ts";

const S = { cooldownMs: 10_000, burst: 3, windowMs: 3_600_000 };
const key = { service: "web", role: "primary", state: "critical" } as const;

Deno.test("TriggerLimiter: run, then defer inside the cooldown; reset clears it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pc-limit-" });
  const clock = new FakeClock();
  const l = new TriggerLimiter(dir, S, { now: clock.now });
  assert.deepEqual(await l.attempt(key), { kind: "run" });
  clock.advance(1_000);
  assert.equal((await l.attempt(key)).kind, "defer");
  assert.deepEqual(await l.reset("web"), ["web/primary/critical"]);
  assert.deepEqual(await l.attempt(key), { kind: "run" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("TriggerLimiter: an unwritable log root lets the run go, says why, and warns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pc-limit-" });
  const notADir = join(dir, "file");
  await Deno.writeTextFile(notADir, "x");
  const warnings: string[] = [];
  const l = new TriggerLimiter(notADir, S, { warn: (m) => warnings.push(m) });
  const v = await l.attempt(key);
  assert.equal(v.kind, "run");
  assert.match(
    v.kind === "run" ? v.unguarded ?? "" : "",
    /^restart-storm protection unavailable for web\/primary\/critical \(.+\): running without it$/,
  );
  assert.deepEqual(warnings, [v.kind === "run" ? v.unguarded : ""]);
  await Deno.remove(dir, { recursive: true });
});
