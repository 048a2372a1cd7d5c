// From an action to a program run, and the trigger's exit code.
import assert from "node:assert/strict";
import { actionExitCode, actionRun } from "../../../lib/triggers/run.ts";

Deno.test("actionExitCode() passes the action's code, 3 when killed, 1 when not started", () => {
  const base = { argv: ["x"], signal: null, stdout: "", stderr: "", timedOut: false, ms: 1 };
  assert.equal(actionExitCode({ ...base, code: 0 }), 0);
  assert.equal(actionExitCode({ ...base, code: 7 }), 7);
  assert.equal(actionExitCode({ ...base, code: 0, timedOut: true }), 3);
  assert.equal(actionExitCode({ ...base, code: null, signal: "SIGKILL" }), 3);
  assert.equal(actionExitCode({ ...base, code: null, spawnError: "NotCapable" }), 1);
});

Deno.test("actionRun(): a command is its argv; a script goes down a pipe, no file", () => {
  assert.deepEqual(actionRun({ kind: "command", argv: ["/bin/x", "a b"] }), {
    argv: ["/bin/x", "a b"],
  });
  const r = actionRun({
    kind: "script",
    interpreter: ["/usr/bin/env", "python3"],
    text: "#!x\nprint(1)\n",
  });
  assert.deepEqual(r.argv.slice(0, 2), ["/bin/sh", "-c"]);
  assert.deepEqual(r.argv.slice(3), ["powerconsul-script", "/usr/bin/env", "python3"]);
  assert.equal(r.stdin, "#!x\nprint(1)\n");
});

Deno.test("actionRun(): the script really runs from the pipe with an empty stdin", async () => {
  const r = actionRun({
    kind: "script",
    interpreter: ["/bin/sh"],
    text: '#!/bin/sh\necho "from $0"; cat; echo "args $#"\n',
  });
  const o = await new Deno.Command(r.argv[0]!, {
    args: r.argv.slice(1),
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const w = o.stdin.getWriter();
  await w.write(new TextEncoder().encode(r.stdin));
  await w.close();
  const out = await o.output();
  assert.equal(new TextDecoder().decode(out.stdout), "from /dev/fd/3\nargs 0\n");
});
