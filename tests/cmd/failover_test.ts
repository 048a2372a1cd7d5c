import assert from "node:assert/strict";
import { runCommand } from "../../lib/command.ts";
import { command } from "../../cmd/failover.ts";
import { UsageError } from "../../lib/errors.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("failover --help: usage, exit codes, an example", async () => {
  const o = io();
  assert.equal(await runCommand(command, ["--help"], o), 0);
  assert.match(o.text.join(""), /^Usage: powerconsul failover -S/);
  assert.match(o.text.join(""), /serfHealth/);
  assert.match(o.text.join(""), /Exit: 0 done, 1 refused/);
  assert.match(o.text.join(""), /Example: /);
});

Deno.test("failover: bad input is a usage error before anything is read", async () => {
  await assert.rejects(
    runCommand(command, [], io()),
    /missing required option -S\/--consulservice/,
  );
  await assert.rejects(runCommand(command, ["-S", "a/b"], io()), UsageError);
  await assert.rejects(
    runCommand(command, ["-S", "web", "extra"], io()),
    /unexpected argument "extra"/,
  );
  await assert.rejects(
    runCommand(command, ["-S", "web", "--force"], io()),
    /unknown option --force/,
  );
});
