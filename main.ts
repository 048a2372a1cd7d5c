/**
 * powerconsul entry point: argv in, exit code out. The only place that exits the process.
 */
import { run } from "./cmd/mod.ts";
import { processEnv } from "./lib/env.ts";
import type { Io } from "./lib/context.ts";

const encoder = new TextEncoder();

function writeAll(fd: typeof Deno.stdout | typeof Deno.stderr, text: string) {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += fd.writeSync(bytes.subarray(off));
}

const io: Io = {
  out: (t) => writeAll(Deno.stdout, t),
  err: (t) => writeAll(Deno.stderr, t),
  env: processEnv,
  async readStdin() {
    if (Deno.stdin.isTerminal()) return null;
    return await new Response(Deno.stdin.readable).text();
  },
  stdoutIsTty: Deno.stdout.isTerminal(),
};

const code = await run(Deno.args, io);
Deno.exit(code);
