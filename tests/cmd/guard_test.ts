import assert from "node:assert/strict";
import { command as guard } from "../../cmd/guard.ts";
import { runCommand } from "../../lib/command.ts";
import { UsageError } from "../../lib/errors.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("guard --help: usage and exit codes", async () => {
  const o = io();
  assert.equal(await runCommand(guard, ["--help"], o), 0);
  assert.match(o.text.join(""), /^Usage: powerconsul guard /);
  assert.match(o.text.join(""), /Exit: 0 stopped/);
});

Deno.test("guard: bad command lines are refused before anything is read or started", async () => {
  await assert.rejects(runCommand(guard, ["-s", "web"], io()), /missing required option -S/);
  await assert.rejects(runCommand(guard, ["-S", "web"], io()), /missing required option -s/);
  await assert.rejects(runCommand(guard, ["-S", "web", "-s", "a,../b"], io()), UsageError);
  await assert.rejects(
    runCommand(guard, ["-S", "web", "-s", "a", "extra"], io()),
    /unexpected argument/,
  );
});
