/**
 * powerconsul entry point: argv in, exit code out. The process ends when its work is done (no
 * timer or child outlives a command), with the command's code. One exception: a read of stdin
 * that a command gave up on (its deadline passed while the writer kept the pipe open) cannot be
 * cancelled and would keep the process alive, so then the process exits explicitly.
 */
import { run } from "./cmd/mod.ts";
import { processEnv } from "./lib/env.ts";
import type { Io } from "./lib/context.ts";
import { readAllText } from "./lib/stdin.ts";
import { enableTrace, mark, traceLine } from "./lib/trace.ts";

if (processEnv("POWERCONSUL_TRACE") === "1") enableTrace();
mark("main");

const encoder = new TextEncoder();

/** A stdin read is in flight (started and neither finished nor failed). */
let stdinPending = false;

/** A reader that went away (`config show | head`) ends the output quietly, not with an error. */
let stdoutClosed = false;

function writeAll(fd: typeof Deno.stdout | typeof Deno.stderr, text: string) {
  if (fd === Deno.stdout && stdoutClosed) return;
  const bytes = encoder.encode(text);
  let off = 0;
  try {
    while (off < bytes.length) off += fd.writeSync(bytes.subarray(off));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) {
      if (fd === Deno.stdout) stdoutClosed = true;
      return;
    }
    throw e;
  }
}

const io: Io = {
  out: (t) => writeAll(Deno.stdout, t),
  err: (t) => writeAll(Deno.stderr, t),
  env: processEnv,
  async readStdin(opts = {}) {
    if (Deno.stdin.isTerminal()) return null;
    stdinPending = true;
    const text = await readAllText(Deno.stdin.readable, opts.signal);
    stdinPending = false;
    return text;
  },
  stdoutIsTty: Deno.stdout.isTerminal(),
};

const code = await run(Deno.args, io);
mark("done");
const trace = traceLine();
if (trace) io.err(trace);
if (stdinPending) Deno.exit(code);
Deno.exitCode = code;
