// A command's context: the deadline it gets, and the runner bounded by it.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { GlobalFlags } from "../../lib/args.ts";
import { boundedRunner, type Io, makeContext } from "../../lib/context.ts";
import { Deadline } from "../../lib/deadline.ts";
import { envFrom } from "../../lib/env.ts";
import { RecordingRunner } from "../_support/fakes.ts";

const flags = (over: Partial<GlobalFlags> = {}): GlobalFlags => ({
  dryRun: false,
  help: false,
  ...over,
});

const io = (env: Record<string, string> = {}): Io & { errs: string[] } => {
  const errs: string[] = [];
  return {
    errs,
    out: () => {},
    err: (t) => void errs.push(t),
    env: envFrom(env),
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
};

Deno.test("boundedRunner(): each run gets at most what is left; past the deadline nothing starts", async () => {
  let now = 0;
  const deadline = new Deadline(10_000, () => now);
  const inner = new RecordingRunner();
  const runner = boundedRunner(inner, deadline);
  await runner.run(["a"], { timeoutMs: 60_000 });
  await runner.run(["b"], { timeoutMs: 3_000 });
  now = 9_000;
  await runner.run(["c"], { timeoutMs: 3_000 });
  assert.deepEqual(inner.calls.map((c) => [c.argv[0], c.opts.timeoutMs]), [
    ["a", 10_000],
    ["b", 3_000],
    ["c", 1_000],
  ]);
  now = 10_000;
  const late = await runner.run(["d"], { timeoutMs: 3_000 });
  assert.equal(inner.calls.length, 3, "not started");
  assert.equal(late.timedOut, true);
  assert.match(late.stderr, /not started: the command's deadline \(10s\) has passed/);
});

Deno.test("makeContext(): a check gets checkDeadline, every other command commandDeadline", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify({ logDir: dir, checkDeadline: 7, commandDeadline: 600 }),
    );
    const now = () => 0;
    const check = await makeContext(io(), flags({ config: path }), { deadline: "check", now });
    assert.equal(check.deadline.totalMs, 7_000);
    const other = await makeContext(io(), flags({ config: path }), { now });
    assert.equal(other.deadline.totalMs, 600_000);
    assert.equal(other.config.logDir, dir);
    assert.equal(other.loaded.path, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("makeContext(): config warnings go to stderr, once each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.json");
    await Deno.writeTextFile(path, JSON.stringify({ logDir: dir, bogus: 1 }));
    const o = io();
    await makeContext(o, flags({ config: path }));
    assert.deepEqual(o.errs, [`powerconsul: warning: ${path}: unknown key "bogus" ignored\n`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
