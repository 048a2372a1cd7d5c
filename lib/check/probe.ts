/**
 * Looking at the local resource: the probe for each kind, and the two overrides that pass
 * without probing (a noop file, a task in progress).
 */
import type { Config } from "../config.ts";
import { describeError } from "../errors.ts";
import { fromFileUrl } from "../paths.ts";
import { probeCrontab } from "../probes/crontab.ts";
import { findTask, probeProcs, readProcessTable } from "../probes/procs.ts";
import { probeService } from "../probes/service.ts";
import { inspectNoopFile } from "../sys/lockfile.ts";
import type { Runner } from "../sys/runner.ts";
import type { CheckArgs } from "./args.ts";
import type { Probed } from "./plan.ts";

/**
 * Look at the resource. Started before the cluster state is known (it does not depend on it),
 * so the probe's process runs while the Consul requests are in flight; `expects` is applied
 * afterwards by the returned function.
 */
export async function startProbe(
  runner: Runner,
  config: Config,
  a: CheckArgs,
): Promise<(expects: boolean) => Probed> {
  const timeoutMs = config.probeTimeout * 1000;
  switch (a.kind) {
    case "service":
    case "servicegroup": {
      const states = await Promise.all(
        a.services.map((s) => probeService(runner, config.serviceManager, s, timeoutMs)),
      );
      const up = states.filter((s) => s.running).map((s) => s.name);
      const down = states.filter((s) => !s.running).map((s) => s.name);
      const say = (names: string[], what: string) =>
        names.length ? `${names.join(",")} ${what}` : "";
      const detail = [say(up, "running"), say(down, "stopped")].filter((x) => x).join("; ");
      // expects running: all must run; expects stopped: none may run
      return (expects) => ({ running: expects ? down.length === 0 : up.length > 0, detail });
    }
    case "crontab": {
      const v = await probeCrontab(config.crontabDir, a.user!, a.pattern);
      return () => ({ running: v.installed, detail: v.detail });
    }
    case "process": {
      const v = await probeProcs(runner, config.checkProcs, a.nagiosArgs!, timeoutMs);
      const running = v.state === "ok" ? true : v.state === "warning" ? "warning" : false;
      return () => ({ running, detail: v.detail });
    }
  }
}

/** What -F's noop file says: the passing message when it holds, a note when it is ignored. */
export interface NoopVerdict {
  /** The check's message when the file holds the check at passing; null otherwise. */
  holds: string | null;
  /** Why a file that is there does not count (foreign owner, symlink, stale holder); else null. */
  note: string | null;
}

/**
 * -F: whether the noop file holds the check at passing (maintenance under way). Only a file
 * lib/sys/lockfile.ts honours counts; a foreign or stale one is ignored and the check probes as
 * usual, with the note in its message. Runs `ps` (a holder's start time), so it is called
 * before a dry run gives up the run permission.
 */
export async function noopFileHolds(path: string): Promise<NoopVerdict> {
  let seen;
  try {
    seen = await inspectNoopFile(path);
  } catch (e) {
    throw new Error(`cannot check noop file ${path}: ${describeError(e)}`);
  }
  switch (seen.state) {
    case "absent":
      return { holds: null, note: null };
    case "honoured":
      return { holds: `${seen.note}: passing without probing`, note: null };
    case "foreign":
    case "stale":
      return { holds: null, note: seen.note };
  }
}

/** -P/-R: a process line that holds the check at passing (a task in progress); the message. */
export async function taskHolds(
  runner: Runner,
  config: Config,
  a: CheckArgs,
): Promise<string | null> {
  if (a.procStr === undefined && !a.procRe) return null;
  const table = await readProcessTable(runner, config.probeTimeout * 1000);
  const match: { substring?: string; regex?: RegExp } = {};
  if (a.procStr !== undefined) match.substring = a.procStr;
  if (a.procRe) match.regex = a.procRe;
  const task = findTask(table, match, Deno.pid, fromFileUrl(Deno.mainModule));
  if (!task) return null;
  return `task in progress (pid ${task.pid}: ${
    task.argv.join(" ").slice(0, 120)
  }): passing without probing`;
}
