/** `powerconsul pause -S <svc> [--reason TEXT]` / `--all`: stop automation cluster-wide. */
import type { Command } from "../lib/command.ts";
import type { Io } from "../lib/context.ts";
import { PAUSE_OPTIONS, pauseOrResume } from "../lib/ops/pause_cmd.ts";
import type { GlobalFlags, Parsed } from "../lib/args.ts";

const help = `Usage: powerconsul pause (-S <consulService> | --all) [--reason TEXT] [--json]

Sets the KV flag <servicePrefix>/<service>/pause, which every node honours: checks still
probe and report (their message starts with "paused: …"), but no -U flip happens and no
switch lock is cleared; triggers are logged and not run. The service wrapper still starts
and stops the local service when asked. The pause is recorded in the history in the same
transaction. --all pauses every service with a cluster document.

Options:
  -S, --consulservice NAME  the service to pause
      --all                 every service with a cluster document
      --reason TEXT         why (shown in checks, status and history)
      --json                a JSON summary
      --dry-run             print the writes, change nothing

Exit: 0 paused, 1 already paused (the line says by whom), 2 bad command line,
3 Consul unreachable, or the existing flag is malformed (resume clears it).
Example: powerconsul pause -S web --reason "kernel upgrade, JIRA-123"
`;

export const command: Command = {
  name: "pause",
  help,
  options: PAUSE_OPTIONS,
  run: (p: Parsed, g: GlobalFlags, io: Io) => pauseOrResume("pause", p, g, io),
};
