import assert from "node:assert/strict";
import { command } from "../../cmd/status.ts";
import { runCommand } from "../../lib/command.ts";
import type { Io } from "../../lib/context.ts";
import { UsageError } from "../../lib/errors.ts";

const io = (): Io & { text: string[] } => {
  const text: string[] = [];
  return {
    text,
    out: (t) => void text.push(t),
    err: (t) => void text.push(t),
    env: () => undefined,
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
};

Deno.test("status: -S is one key segment, refused before any request", async () => {
  for (const bad of ["..", ".", "a/b", "a b"]) {
    await assert.rejects(runCommand(command, ["-S", bad], io()), UsageError, bad);
  }
  await assert.rejects(runCommand(command, ["extra"], io()), /unexpected argument "extra"/);
});

Deno.test("status --help prints the help and nothing else", async () => {
  const o = io();
  assert.equal(await runCommand(command, ["--help"], o), 0);
  assert.deepEqual(o.text, [command.help]);
});
