/**
 * `powerconsul status [-S <consulService>] [--json]`: every cluster document under clusterKey
 * (or one): mode, actives and standbys with their health, lock, pending promote/demote flags,
 * a running switch, and this node's role. A table (colour only on a terminal) or JSON.
 */
import { bool, type GlobalFlags, type Parsed, str } from "../lib/args.ts";
import { IdentityCache } from "../lib/cluster/facts.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { segment } from "../lib/names.ts";
import { gatherStatus } from "../lib/status/view.ts";
import { paintFor, renderTable } from "../lib/status/table.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul status [-S <consulService>] [--json]

Shows every cluster document under clusterKey (or the one of -S): its mode (nodes,
datacenters, filter, all-active), the active and standby instances with their health
(every check on the instance, serfHealth included), the switch lock, promote/demote flags
that are not NULL, a start-primary in progress, and this node's role. A document that cannot
be parsed is shown as an error row.

Options:
  -S, --consulservice NAME  one service only
      --json                JSON (same as --output json); default: a table

Exit: 0 shown (error rows included), 3 Consul unreachable or unreadable.
Example: powerconsul status -S web --json
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  json: { type: "boolean" },
} as const;

export const command: Command = {
  name: "status",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const S = str(p, "consulservice");
    if (S !== undefined && !/^[A-Za-z0-9@._:+-]+$/.test(S)) {
      throw new UsageError(`invalid Consul service name "${S}"`);
    }
    if (S !== undefined) segment("-S/--consulservice", S);
    const ctx = await makeContext(io, g);
    const opts: Parameters<typeof gatherStatus>[2] = {
      id: new IdentityCache(ctx.consul, ctx.config),
    };
    if (S) opts.consulService = S;
    const report = await gatherStatus(ctx.consul, ctx.config, opts);
    if (bool(p, "json") || g.output === "json") {
      io.out(JSON.stringify(report) + "\n");
    } else {
      io.out(renderTable(report, paintFor(io.stdoutIsTty, io.env("NO_COLOR"))));
    }
    return Exit.OK;
  },
};
