/**
 * Execute a planned trigger action through the Runner (the one place that starts programs),
 * with the trigger timeout. A command is an argv; a script is written to a private directory
 * under the log root — `<logDir>/trigger/.run/`, mode 0700, one file per run, mode 0700,
 * removed afterwards — and run by the interpreter its `#!` line names. Never /tmp, /var/tmp or
 * /dev/shm: those are shared, and the old tool leaked scripts there world-readable.
 */
import { join } from "../paths.ts";
import { Exit } from "../exit_codes.ts";
import type { Runner, RunResult } from "../sys/runner.ts";
import type { Action } from "./plan.ts";

export const SCRIPT_DIR = join("trigger", ".run");

export interface ExecOptions {
  runner: Runner;
  logDir: string;
  timeoutMs: number;
  /** Added to the inherited environment (POWERCONSUL_SERVICE …). */
  env: Record<string, string>;
  /** Names the script file (service and state), for an operator looking at a hung run. */
  label: string;
}

/** The private script directory: created 0700, refused if it is a symlink or not a directory. */
export async function privateScriptDir(logDir: string): Promise<string> {
  const dir = join(logDir, SCRIPT_DIR);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await Deno.lstat(dir);
  if (st.isSymlink || !st.isDirectory) {
    throw new Error(`${dir} is not a plain directory; refusing to write a script there`);
  }
  if (st.mode !== null && (st.mode & 0o077) !== 0) await Deno.chmod(dir, 0o700);
  return dir;
}

/** Run the action; a script file is removed whatever happens. */
export async function executeAction(action: Action, o: ExecOptions): Promise<RunResult> {
  const runOpts = { timeoutMs: o.timeoutMs, env: o.env };
  if (action.kind === "command") return await o.runner.run(action.argv, runOpts);
  let file: string | undefined;
  try {
    const dir = await privateScriptDir(o.logDir);
    const safe = o.label.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);
    file = join(dir, `${safe}.${crypto.randomUUID()}`);
    await Deno.writeTextFile(file, action.text, { createNew: true, mode: 0o700 });
    await Deno.chmod(file, 0o700);
  } catch (e) {
    if (file) await Deno.remove(file).catch(() => {});
    const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    return {
      argv: [...action.interpreter, file ?? "<script>"],
      code: null,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      spawnError: `cannot write the script file: ${msg}`,
      ms: 0,
    };
  }
  try {
    return await o.runner.run([...action.interpreter, file], runOpts);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * The trigger's exit code for a finished run: the action's own code; 3 when it was killed
 * (past the trigger timeout, or by a signal); 1 when it could not be started.
 */
export function actionExitCode(r: RunResult): number {
  if (r.spawnError) return Exit.FAILED;
  if (r.timedOut || r.code === null) return Exit.UNKNOWN;
  return r.code;
}
