import assert from "node:assert/strict";
import { command as pause } from "../../cmd/pause.ts";
import { command as resume } from "../../cmd/resume.ts";
import { UsageError } from "../../lib/errors.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("pause/resume --help: usage, exit codes, an example", async () => {
  for (const c of [pause, resume]) {
    const o = io();
    assert.equal(await c.run(["--help"], o), 0);
    assert.match(o.text.join(""), /^Usage: powerconsul /);
    assert.match(o.text.join(""), /Exit: 0/);
    assert.match(o.text.join(""), /Example: /);
  }
});

Deno.test("pause/resume: -S or --all (not both, not neither); --reason is one line", async () => {
  await assert.rejects(pause.run([], io()), /name one service with -S, or give --all/);
  await assert.rejects(pause.run(["-S", "web", "--all"], io()), /name one service/);
  await assert.rejects(pause.run(["-S", "web", "--reason", "a\nb"], io()), /one line/);
  await assert.rejects(pause.run(["-S", "web", "--reason", " "], io()), /one line/);
  await assert.rejects(resume.run(["-S", "web", "--reason", "x"], io()), /belongs to pause/);
  await assert.rejects(resume.run(["-S", ".."], io()), UsageError);
});
