/**
 * How a planned trigger action becomes a program run (pure). A command is its argv. A script
 * is never written to a file: it goes down a pipe to its interpreter, which reads it from
 * `/dev/fd/3` like a script file, so a full or read-only log root (or any unwritable disk)
 * cannot stop it, and no copy of it is left anywhere. The script's own stdin stays empty.
 */
import { Exit } from "../exit_codes.ts";
import type { RunResult } from "../sys/runner.ts";
import type { TriggerAction } from "./plan.ts";

/** Moves the pipe (stdin) to fd 3, gives the script an empty stdin, then runs "$@" /dev/fd/3. */
const FEED = 'exec 3<&0 0</dev/null; exec "$@" /dev/fd/3';

/** The argv and stdin of an action. */
export function actionRun(action: TriggerAction): { argv: string[]; stdin?: string } {
  if (action.kind === "command") return { argv: action.argv };
  return {
    argv: ["/bin/sh", "-c", FEED, "powerconsul-script", ...action.interpreter],
    stdin: action.text,
  };
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
