import assert from "node:assert/strict";
import { runCommand } from "../../lib/command.ts";
import { command as pause } from "../../cmd/pause.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("pause --help: usage, exit codes, an example", async () => {
  for (const c of [pause]) {
    const o = io();
    assert.equal(await runCommand(c, ["--help"], o), 0);
    assert.match(o.text.join(""), /^Usage: powerconsul /);
    assert.match(o.text.join(""), /Exit: 0/);
    assert.match(o.text.join(""), /Example: /);
  }
});

Deno.test("pause: -S or --all (not both, not neither); --reason is one line", async () => {
  await assert.rejects(runCommand(pause, [], io()), /name one service with -S, or give --all/);
  await assert.rejects(runCommand(pause, ["-S", "web", "--all"], io()), /name one service/);
  await assert.rejects(runCommand(pause, ["-S", "web", "--reason", "a\nb"], io()), /one line/);
  await assert.rejects(runCommand(pause, ["-S", "web", "--reason", " "], io()), /one line/);
});
