/**
 * The only place that starts programs (Deno.Command). Every run has a deadline. Each child
 * starts in a process group of its own (a new session), so a timeout ends the whole group —
 * the child and whatever it started: SIGTERM first, SIGKILL to the group after a short grace.
 * Output is captured with a cap, and a daemon that inherits the child's stdout (an init script
 * starting a server) cannot make us wait for an EOF that never comes: once the child has
 * exited we read for at most a moment. No timer holds the process after a run (lib/timer.ts).
 */
import { timer } from "../timer.ts";

export interface RunOptions {
  timeoutMs: number;
  stdin?: string;
  env?: Record<string, string>;
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
/** SIGTERM → SIGKILL grace for a process group past its deadline. */
export const KILL_GRACE_MS = 2000;

/** The ACL token variables: a child sees them empty unless the operator opts in. */
export const TOKEN_ENV = ["CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE"] as const;

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
  return new TextDecoder().decode(all.length > max ? all.slice(all.length - max) : all);
}

/** Signal a whole process group; a group already gone is not an error. */
function killGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch { /* the group is gone */ }
}

/** Whether any process of the group is still alive (signal 0 probes without killing). */
function groupAlive(pgid: number): boolean {
  try {
    Deno.kill(-pgid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

export interface RunnerOptions {
  /** Pass the ACL token variables on to children (off: they see them empty). */
  passToken?: boolean;
}

/** A runner over Deno.Command. */
export function makeDenoRunner(ro: RunnerOptions = {}): Runner {
  return { run: (argv, opts) => runOnce(argv, opts, ro) };
}

async function runOnce(argv: string[], opts: RunOptions, ro: RunnerOptions): Promise<RunResult> {
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
    const env: Record<string, string> = {};
    if (!ro.passToken) { for (const name of TOKEN_ENV) env[name] = ""; }
    Object.assign(env, opts.env ?? {});
    const cmdOpts: Deno.CommandOptions = {
      args: argv.slice(1),
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env,
      // A new session: the child leads its own process group, which a timeout ends as a whole.
      detached: true,
    };
    // Children start in / unless told otherwise: the caller's directory (the agent's, an
    // operator's shell) may be gone or hidden, and a program must not depend on it.
    cmdOpts.cwd = opts.cwd ?? "/";
    child = new Deno.Command(argv[0]!, cmdOpts).spawn();
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    return { ...base, spawnError: msg, ms: performance.now() - started };
  }
  const pgid = child.pid;
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    w.write(new TextEncoder().encode(opts.stdin)).then(() => w.close()).catch(() => {});
  }
  let timedOut = false;
  const deadline = timer(Math.max(0, opts.timeoutMs));
  const exited = child.status.then((s) => ({ exited: true as const, s }));
  const first = await Promise.race([
    exited,
    deadline.done.then(() => ({ exited: false as const })),
  ]);
  deadline.cancel();
  let status: Deno.CommandStatus;
  if (first.exited) {
    status = first.s;
  } else {
    timedOut = true;
    killGroup(pgid, "SIGTERM");
    const grace = timer(KILL_GRACE_MS);
    const r = await Promise.race([exited, grace.done.then(() => null)]);
    grace.cancel();
    killGroup(pgid, "SIGKILL");
    status = r ? r.s : await child.status;
  }
  // The child is gone; what it started in its group goes too (a timed-out run leaves nothing).
  if (timedOut && groupAlive(pgid)) killGroup(pgid, "SIGKILL");
  const drain = timer(DRAIN_MS);
  const outP = collect(child.stdout, max, drain.done);
  const errP = collect(child.stderr, max, drain.done);
  const [stdout, stderr] = await Promise.all([outP, errP]);
  drain.cancel();
  return {
    argv,
    code: status.signal ? null : status.code,
    signal: status.signal ?? null,
    stdout,
    stderr,
    timedOut,
    ms: performance.now() - started,
  };
}

/** The runner with the token variables stripped from children. */
export const denoRunner: Runner = makeDenoRunner();

/** A readable description of how a run ended. */
export function describeRun(r: RunResult): string {
  if (r.spawnError) return `could not start ${r.argv[0]}: ${r.spawnError}`;
  if (r.timedOut) return `killed after timeout`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}
