/** `powerconsul resume -S <svc>` / `--all`: end a pause. */
import type { Command } from "../lib/command.ts";
import type { Io } from "../lib/context.ts";
import { PAUSE_OPTIONS, pauseOrResume } from "../lib/ops/pause_cmd.ts";
import type { GlobalFlags, Parsed } from "../lib/args.ts";

const help = `Usage: powerconsul resume (-S <consulService> | --all) [--json]

Removes the pause flag <servicePrefix>/<service>/pause (checked: a flag changed meanwhile is
left alone) and records the resume in the history, in one transaction. From the next check
on, failover works again. A malformed flag is removed too.

Options:
  -S, --consulservice NAME  the service to resume
      --all                 every service with a cluster document
      --json                a JSON summary
      --dry-run             print the writes, change nothing

Exit: 0 resumed, 1 not paused (or the flag changed meanwhile), 2 bad command line,
3 Consul unreachable.
Example: powerconsul resume -S web
`;

export const command: Command = {
  name: "resume",
  help,
  options: PAUSE_OPTIONS,
  run: (p: Parsed, g: GlobalFlags, io: Io) => pauseOrResume("resume", p, g, io),
};
