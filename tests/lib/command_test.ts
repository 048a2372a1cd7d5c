// The work every command shares: parse, global flags, --help from the command's own text.
import assert from "node:assert/strict";
import type { GlobalFlags, Parsed } from "../../lib/args.ts";
import { type Command, runCommand } from "../../lib/command.ts";
import type { Io } from "../../lib/context.ts";
import { UsageError } from "../../lib/errors.ts";

const io = (): Io & { out_: string[] } => {
  const out_: string[] = [];
  return {
    out_,
    out: (t) => void out_.push(t),
    err: (t) => void out_.push(t),
    env: () => undefined,
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
};

const recording = () => {
  const seen: { p: Parsed; g: GlobalFlags }[] = [];
  const c: Command = {
    name: "demo",
    help: "Usage: powerconsul demo [-x N]\n",
    options: { x: { type: "string", short: "x" } },
    run(p, g) {
      seen.push({ p, g });
      return Promise.resolve(7);
    },
  };
  return { c, seen };
};

Deno.test("runCommand(): --help prints the command's own help and does not run it", async () => {
  for (const flag of ["--help", "-h"]) {
    const { c, seen } = recording();
    const o = io();
    assert.equal(await runCommand(c, ["-x", "1", flag], o), 0);
    assert.deepEqual(o.out_, [c.help]);
    assert.equal(seen.length, 0);
  }
});

Deno.test("runCommand(): own options and global flags parsed once, anywhere in argv", async () => {
  const { c, seen } = recording();
  assert.equal(await runCommand(c, ["word", "--dry-run", "-x", "3", "--node", "n1"], io()), 7);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.p.positionals, ["word"]);
  assert.equal(seen[0]!.p.values.x, "3");
  assert.equal(seen[0]!.g.dryRun, true);
  assert.equal(seen[0]!.g.node, "n1");
});

Deno.test("runCommand(): an unknown option is a UsageError before the command runs", async () => {
  const { c, seen } = recording();
  await assert.rejects(runCommand(c, ["--nope"], io()), UsageError);
  assert.equal(seen.length, 0);
});
