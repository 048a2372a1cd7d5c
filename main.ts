/**
 * powerconsul entry point: argv in, exit code out. The process ends when its work is done (no
 * timer or child outlives a command), with the command's code.
 */
import { run } from "./cmd/mod.ts";
import { processEnv } from "./lib/env.ts";
import type { Io } from "./lib/context.ts";
import { readAllText } from "./lib/stdin.ts";

const encoder = new TextEncoder();

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
    return await readAllText(Deno.stdin.readable, opts.signal);
  },
  stdoutIsTty: Deno.stdout.isTerminal(),
};

Deno.exitCode = await run(Deno.args, io);
