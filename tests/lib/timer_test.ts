import assert from "node:assert/strict";
import { timer } from "../../lib/timer.ts";

Deno.test("timer: done and the signal come when the time is up", async () => {
  const t = timer(5);
  assert.equal(t.signal.aborted, false);
  await t.done;
  assert.equal(t.signal.aborted, true);
});

Deno.test("timer: cancel settles done at once and never aborts the signal", async () => {
  const t = timer(60_000);
  t.cancel();
  await t.done;
  assert.equal(t.signal.aborted, false);
});

Deno.test("timer: a cancelled timer does not keep a process alive", async () => {
  const code = `import { timer } from ${
    JSON.stringify(new URL("../../lib/timer.ts", import.meta.url).href)
  };
const t = timer(30_000); t.cancel(); await t.done;`;
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(performance.now() - started < 20_000, "the process waited for the timer");
});
