// The registry: one summary per command, lazy loading, one line and a defined code for errors.
import assert from "node:assert/strict";
import { COMMANDS, run, topHelp, VERSION } from "../../cmd/mod.ts";
import type { Io } from "../../lib/context.ts";

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  const o: Io = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: () => undefined,
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
  return { o, out, err };
};

Deno.test("topHelp() lists every command with its one summary", () => {
  const text = topHelp();
  for (const [name, c] of Object.entries(COMMANDS)) {
    assert.match(text, new RegExp(`^  ${name} +${c.summary.replace(/[()]/g, "\\$&")}$`, "m"));
  }
  assert.match(text, new RegExp(`^powerconsul ${VERSION.replace(/\./g, "\\.")} `));
});

Deno.test("run(): no command, an unknown one, --version and --help", async () => {
  let r = io();
  assert.equal(await run([], r.o), 2);
  assert.equal(r.err.at(-1), "powerconsul: missing command\n");
  r = io();
  assert.equal(await run(["--dry-run"], r.o), 2);
  assert.equal(r.err.at(-1), "powerconsul: missing command\n");
  r = io();
  assert.equal(await run(["bogus"], r.o), 2);
  assert.deepEqual(r.err, [
    `powerconsul: unknown command "bogus"; run 'powerconsul --help' for the list\n`,
  ]);
  r = io();
  assert.equal(await run(["--version"], r.o), 0);
  // GNU style: the version is the last word of the first line; Deno's on the second
  assert.equal(r.out.join(""), `powerconsul ${VERSION}\ndeno ${Deno.version.deno}\n`);
  r = io();
  assert.equal(await run(["--help"], r.o), 0);
  assert.deepEqual(r.out, [topHelp()]);
});

Deno.test("run(): each command's --help is its own help text, global flags before the word", async () => {
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const r = io();
    assert.equal(await run(["--node", "n1", name, "--help"], r.o), 0, name);
    const { command } = await entry.load();
    assert.equal(command.name, name);
    assert.deepEqual(r.out, [command.help], name);
    assert.match(command.help, new RegExp(`^Usage: powerconsul ${name}\\b`), name);
  }
});

Deno.test("run(): a bad option is one line and the command's code (check: unknown, 3)", async () => {
  let r = io();
  assert.equal(await run(["status", "--nope"], r.o), 2);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /^powerconsul status: .*--nope.*\nRun 'powerconsul status --help'/);
  r = io();
  assert.equal(await run(["check", "--nope"], r.o), 3);
  assert.match(r.err.join(""), /^powerconsul check: /);
});
