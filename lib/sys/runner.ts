/**
 * The only place that starts programs (Deno.Command). Every run has a deadline: past it the
 * child gets SIGTERM, then SIGKILL after a short grace. Output is captured with a cap, and a
 * daemon that inherits the child's stdout (an init script starting a server) cannot make us
 * wait for an EOF that never comes: once the child has exited we read for at most a moment.
 */

export interface RunOptions {
  timeoutMs: number;
  stdin?: string;
  env?: Record<string, string>;
  /** Clear the inherited environment first (then apply env). */
  clearEnv?: boolean;
  cwd?: string;
  /** Bytes of stdout/stderr kept (the tail is kept). */
  maxOutput?: number;
}

export interface RunResult {
  argv: string[];
  /** Exit code; null when killed by a signal or not started. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program could not be started (not found, not permitted). */
  spawnError?: string;
  ms: number;
}

export interface Runner {
  run(argv: string[], opts: RunOptions): Promise<RunResult>;
}

/** After the child exits, how long to keep reading pipes a grandchild may still hold. */
const DRAIN_MS = 300;
/** SIGTERM → SIGKILL grace for a child past its deadline. */
const KILL_GRACE_MS = 2000;

async function collect(stream: ReadableStream<Uint8Array>, max: number, stop: Promise<void>) {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stopped = stop.then(() => "stop" as const);
  try {
    while (true) {
      const r = await Promise.race([reader.read(), stopped]);
      if (r === "stop" || r.done) break;
      chunks.push(r.value);
      total += r.value.length;
      while (total > max && chunks.length > 1) total -= chunks.shift()!.length;
    }
  } catch {
    // a broken pipe ends the capture
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const text = new TextDecoder().decode(all.length > max ? all.slice(all.length - max) : all);
  return text;
}

export const denoRunner: Runner = {
  async run(argv, opts) {
    const started = performance.now();
    const base: RunResult = {
      argv,
      code: null,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      ms: 0,
    };
    if (argv.length === 0) return { ...base, spawnError: "empty command" };
    const max = opts.maxOutput ?? 64 * 1024;
    let child: Deno.ChildProcess;
    try {
      const cmdOpts: Deno.CommandOptions = {
        args: argv.slice(1),
        stdin: opts.stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      };
      if (opts.env) cmdOpts.env = opts.env;
      if (opts.clearEnv) cmdOpts.clearEnv = true;
      // Children start in / unless told otherwise: the caller's directory (the agent's, an
      // operator's shell) may be gone or hidden, and a program must not depend on it.
      cmdOpts.cwd = opts.cwd ?? "/";
      child = new Deno.Command(argv[0]!, cmdOpts).spawn();
    } catch (e) {
      const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
      return { ...base, spawnError: msg, ms: performance.now() - started };
    }
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      w.write(new TextEncoder().encode(opts.stdin)).then(() => w.close()).catch(() => {});
    }
    let timedOut = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      killTimer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, KILL_GRACE_MS);
    }, opts.timeoutMs);
    let exited!: () => void;
    const exitedP = new Promise<void>((r) => (exited = r));
    const drainStop = exitedP.then(() => new Promise<void>((r) => setTimeout(r, DRAIN_MS)));
    const outP = collect(child.stdout, max, drainStop);
    const errP = collect(child.stderr, max, drainStop);
    const status = await child.status;
    clearTimeout(deadline);
    if (killTimer !== undefined) clearTimeout(killTimer);
    exited();
    const [stdout, stderr] = await Promise.all([outP, errP]);
    return {
      argv,
      code: status.signal ? null : status.code,
      signal: status.signal ?? null,
      stdout,
      stderr,
      timedOut,
      ms: performance.now() - started,
    };
  },
};

/** A readable description of how a run ended. */
export function describeRun(r: RunResult): string {
  if (r.spawnError) return `could not start ${r.argv[0]}: ${r.spawnError}`;
  if (r.timedOut) return `killed after timeout`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}
