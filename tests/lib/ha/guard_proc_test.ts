// The guard process's pure parts: how it runs itself, and its pid file's record.
import assert from "node:assert/strict";
import { parsePid, selfArgv } from "../../../lib/ha/guard_proc.ts";

Deno.test("selfArgv: the compiled binary runs itself; under deno, the dev launcher", () => {
  assert.deepEqual(selfArgv("/usr/local/bin/powerconsul", "file:///tmp/x/main.ts"), [
    "/usr/local/bin/powerconsul",
  ]);
  assert.deepEqual(selfArgv("/opt/.tools/deno", "file:///work/repo/main.ts"), [
    "/work/repo/scripts/powerconsul",
  ]);
});

Deno.test("parsePid: pid and start time required; anything else is no guard", () => {
  assert.deepEqual(
    parsePid('{"pid":12,"start":"Tue Dec 1 22:00:00 2026","consulService":"web","node":"n1"}'),
    {
      pid: 12,
      start: "Tue Dec 1 22:00:00 2026",
      consulService: "web",
      node: "n1",
      services: [],
    },
  );
  for (const bad of [null, "", "{", '{"pid":"12","start":"x"}', '{"pid":12}']) {
    assert.equal(parsePid(bad), null, String(bad));
  }
});
