/**
 * The guard as a process: its pid file (pid and start time, so a reused pid is never taken for
 * it), starting it detached in a session of its own, and stopping it.
 *
 * The guard writes its own pid file when it starts (refusing when a live guard already holds it)
 * and exits once the file no longer names it; the wrapper waits for the file to name the child
 * it started, and stops a guard by removing the file, then SIGTERM, then SIGKILL past a bound.
 */
import { processStart } from "../sys/lockfile.ts";
import { guardPidPath, readSmall, removeFile, writeAtomic } from "./lease.ts";

export interface PidRecord {
  pid: number;
  start: string;
  consulService: string;
  node: string;
  services: string[];
}

export function parsePid(text: string | null): PidRecord | null {
  if (text === null) return null;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o.pid !== "number" || typeof o.start !== "string") return null;
    return {
      pid: o.pid,
      start: o.start,
      consulService: typeof o.consulService === "string" ? o.consulService : "",
      node: typeof o.node === "string" ? o.node : "",
      services: Array.isArray(o.services) ? o.services.map(String) : [],
    };
  } catch {
    return null;
  }
}

/** The guard named by the pid file, when that process still runs (its start time matches). */
export async function liveGuard(id: string): Promise<PidRecord | null> {
  const rec = parsePid(await readSmall(guardPidPath(id)));
  if (!rec) return null;
  const start = await processStart(rec.pid);
  // undefined: cannot be told; counted as alive (never start a second guard on a guess)
  return start === undefined || start === rec.start ? rec : null;
}

/** In the guard: claim the pid file. A live other guard keeps it (the sentence says who). */
export async function claimPidFile(id: string, rec: PidRecord): Promise<string | null> {
  const other = await liveGuard(id);
  if (other && other.pid !== rec.pid) return `already guarded by pid ${other.pid}`;
  await writeAtomic(guardPidPath(id), JSON.stringify(rec) + "\n");
  return null;
}

/** In the guard: whether the pid file still names this process. */
export async function ownsPidFile(
  id: string,
  me: { pid: number; start: string },
): Promise<boolean> {
  const rec = parsePid(await readSmall(guardPidPath(id)));
  return rec !== null && rec.pid === me.pid && rec.start === me.start;
}

/** argv that runs this same powerconsul (the compiled binary, or the dev launcher). */
export function selfArgv(execPath: string, mainModule: string): string[] {
  const base = execPath.split("/").pop() ?? "";
  if (base === "deno" || base.startsWith("deno.")) {
    const main = new URL(mainModule).pathname;
    return [main.replace(/\/[^/]*$/, "/scripts/powerconsul")];
  }
  return [execPath];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Start `powerconsul guard` detached (a new session: its own process group, no terminal, no
 * pipes back to us) and wait, bounded, until its pid file names it. Returns the pid or a
 * sentence saying why not.
 */
export async function spawnGuard(
  id: string,
  args: string[],
  waitMs = 10_000,
): Promise<{ pid: number } | { error: string }> {
  const running = await liveGuard(id);
  if (running) return { pid: running.pid };
  const argv = [...selfArgv(Deno.execPath(), Deno.mainModule), "guard", ...args];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      cwd: "/",
      detached: true,
    }).spawn();
  } catch (e) {
    return { error: `cannot start the guard: ${e instanceof Error ? e.message : e}` };
  }
  child.unref();
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => exited = s, () => {});
  const until = performance.now() + waitMs;
  while (performance.now() < until) {
    const rec = parsePid(await readSmall(guardPidPath(id)));
    if (rec && rec.pid === child.pid) return { pid: child.pid };
    if (exited !== null) {
      const other = await liveGuard(id);
      if (other) return { pid: other.pid }; // one was already guarding
      return { error: `the guard exited at once (exit ${(exited as Deno.CommandStatus).code})` };
    }
    await sleep(50);
  }
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch { /* gone */ }
  return { error: `the guard did not start within ${waitMs / 1000}s` };
}

/** Stop the guard: remove its pid file, SIGTERM, wait, SIGKILL. Returns what happened. */
export async function stopGuard(id: string, waitMs = 5000): Promise<string> {
  const rec = await liveGuard(id);
  await removeFile(guardPidPath(id));
  if (!rec) return "no guard running";
  const signal = (s: Deno.Signal) => {
    try {
      Deno.kill(rec.pid, s);
    } catch { /* gone */ }
  };
  signal("SIGTERM");
  const until = performance.now() + waitMs;
  while (performance.now() < until) {
    if ((await processStart(rec.pid)) !== rec.start) return `guard pid ${rec.pid} stopped`;
    await sleep(50);
  }
  signal("SIGKILL");
  return `guard pid ${rec.pid} killed (it did not stop within ${waitMs / 1000}s)`;
}
