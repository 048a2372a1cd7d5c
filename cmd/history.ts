/**
 * `powerconsul history [-S <consulService>] [--json] [--limit N]`: the recorded role changes
 * (flip, start-primary, abort, forced failover, lock cleared, fence, pause, resume), newest
 * first, from KV: every node sees the same list.
 */
import { bool, type GlobalFlags, type Parsed, str } from "../lib/args.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { segment } from "../lib/names.ts";
import { mergeNewest, readHistory, renderHistory } from "../lib/history/show.ts";
import { HISTORY_LIMIT } from "../lib/history/entry.ts";
import { servicesWithDocs } from "../lib/history/services.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul history [-S <consulService>] [--json] [--limit N]

Shows the role changes recorded in Consul KV (<servicePrefix>/<service>/history, the last
${HISTORY_LIMIT} per service), newest first: when, which node, the action (flip,
start-primary, abort, forced-failover, lock-cleared, fence, pause, resume), the actives
before and after, and the decision's reason. Each entry was written in the same transaction
as the change it records. Without -S: every service with a cluster document.

Options:
  -S, --consulservice NAME  one service only
      --limit N             at most N entries (default 20; 1-${HISTORY_LIMIT * 10})
      --json                JSON (same as --output json): {"entries": [...], "errors": [...]}

Exit: 0 shown, 2 bad command line, 3 Consul unreachable or unreadable.
Example: powerconsul history -S web --limit 5
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  limit: { type: "string" },
  json: { type: "boolean" },
} as const;

export function parseLimit(v: string | undefined): number {
  if (v === undefined) return 20;
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > HISTORY_LIMIT * 10) {
    throw new UsageError(`--limit must be a whole number from 1 to ${HISTORY_LIMIT * 10}`);
  }
  return Number(v);
}

export const command: Command = {
  name: "history",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const S = str(p, "consulservice");
    if (S !== undefined) segment("-S/--consulservice", S);
    const limit = parseLimit(str(p, "limit"));
    const ctx = await makeContext(io, g);
    const services = S !== undefined ? [S] : await servicesWithDocs(ctx.consul, ctx.config);
    const reads = await Promise.all(services.map((s) => readHistory(ctx.consul, ctx.config, s)));
    const entries = mergeNewest(reads, limit);
    const errors = reads.filter((r) => r.error).map((r) => `${r.key}: ${r.error}`);
    if (bool(p, "json") || g.output === "json") {
      io.out(JSON.stringify({ entries, errors }) + "\n");
    } else {
      io.out(renderHistory(entries, errors));
    }
    return Exit.OK;
  },
};
