/**
 * powerconsul entry point: argv in, exit code out. The process ends when its work is done (no
 * timer or child outlives a command), with the command's code.
 */
import { run } from "./cmd/mod.ts";
import { processEnv } from "./lib/env.ts";
import type { Io } from "./lib/context.ts";

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
    const { signal } = opts;
    if (!signal) return await new Response(Deno.stdin.readable).text();
    const reader = Deno.stdin.readable.getReader();
    const chunks: Uint8Array[] = [];
    let stop = () => {};
    const aborted = new Promise<never>((_, reject) => {
      stop = () => reject(new Error("stdin was not closed before the command's deadline"));
    });
    if (signal.aborted) stop();
    // A listener keeps the signal's timer alive: it is removed as soon as the read ends.
    signal.addEventListener("abort", stop, { once: true });
    try {
      while (true) {
        const r = await Promise.race([reader.read(), aborted]);
        if (r.done) break;
        chunks.push(r.value);
      }
    } finally {
      signal.removeEventListener("abort", stop);
      reader.cancel().catch(() => {});
    }
    return await new Blob(chunks as BlobPart[]).text();
  },
  stdoutIsTty: Deno.stdout.isTerminal(),
};

Deno.exitCode = await run(Deno.args, io);
