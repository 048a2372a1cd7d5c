import assert from "node:assert/strict";
import { enableTrace, mark, traceLine } from "../../lib/trace.ts";

Deno.test("trace: off records nothing and prints nothing; on prints the phases in order", () => {
  mark("before");
  assert.equal(traceLine(), "");
  enableTrace();
  mark("a");
  mark("b");
  const line = traceLine();
  assert.ok(
    /^powerconsul trace: origin=\d+(\.\d+)? a=\d+\.\d\d\/\d+\.\d b=\d+\.\d\d\/\d+\.\d\n$/.test(
      line,
    ),
    line,
  );
  const [a, b] = [...line.matchAll(/ [ab]=([\d.]+)\//g)].map((m) => Number(m[1]));
  assert.ok(a! <= b!);
});
