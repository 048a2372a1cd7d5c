import assert from "node:assert/strict";
import { runCommand } from "../../lib/command.ts";
import { command as resume } from "../../cmd/resume.ts";
import { UsageError } from "../../lib/errors.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("resume --help: usage, exit codes, an example", async () => {
  const o = io();
  assert.equal(await runCommand(resume, ["--help"], o), 0);
  assert.match(o.text.join(""), /^Usage: powerconsul resume /);
  assert.match(o.text.join(""), /Exit: 0/);
  assert.match(o.text.join(""), /Example: /);
});

Deno.test("resume: -S or --all; --reason belongs to pause; names are validated", async () => {
  await assert.rejects(runCommand(resume, [], io()), /name one service with -S, or give --all/);
  await assert.rejects(runCommand(resume, ["-S", "web", "--all"], io()), /name one service/);
  await assert.rejects(
    runCommand(resume, ["-S", "web", "--reason", "x"], io()),
    /belongs to pause/,
  );
  await assert.rejects(runCommand(resume, ["-S", ".."], io()), UsageError);
});
