/**
 * `powerconsul failover -S <consulService> [--json]`: forced failover onto this node when the
 * actives are dead (lib/ops/failover.ts decides; the executor writes, or prints in a dry run).
 */
import { bool, type GlobalFlags, type Parsed, required } from "../lib/args.ts";
import { IdentityCache, LiveFacts } from "../lib/cluster/facts.ts";
import { readClusterView } from "../lib/cluster/view.ts";
import type { Command } from "../lib/command.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { segment } from "../lib/names.ts";
import { planForcedFailover, serfOf, type SerfState } from "../lib/ops/failover.ts";
import { Executor } from "../lib/plan/apply.ts";
import { liveEffects } from "../lib/plan/live.ts";
import { roleKeyPrefix } from "../lib/service/role_keys.ts";

const help = `Usage: powerconsul failover -S <consulService> [--json]

Forced failover, for when the active nodes are dead and cannot take part in a start-primary:
makes THIS node (a standby in the cluster document) the active. It goes ahead only when Consul
confirms every active node down — the node's serfHealth check critical in the catalog — and
refuses otherwise with the reason (an active whose agent answers: use start-primary). It writes
the cluster document (this node active, the others standby, no lock) with a check-and-set and
its history entry in one transaction, and resets every promote/demote flag of the service to
NULL. A dead node that comes back reads itself as a standby and stays stopped. This node's
check then wants its service running (its trigger, or 'powerconsul service … start', starts it).

Options:
  -S, --consulservice NAME  the service to fail over
      --json                a JSON summary
      --dry-run             print the writes, change nothing

Exit: 0 done, 1 refused (an active is alive or not in the catalog, this node is no standby,
or the document changed meanwhile), 2 bad command line, 3 Consul unreachable or the
document invalid.
Example: powerconsul failover -S web
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  json: { type: "boolean" },
} as const;

export const command: Command = {
  name: "failover",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const service = segment("-S/--consulservice", required(p, "consulservice", "S"));
    const ctx = await makeContext(io, g);
    const id = new IdentityCache(ctx.consul, ctx.config);
    const view = await readClusterView(new LiveFacts(ctx.consul, id), ctx.config, service);
    const actives = view.placement.kind === "standby" && "nodes" in view.placement.actives
      ? view.placement.actives.nodes
      : [];
    const serf: Record<string, SerfState> = {};
    await Promise.all(actives.map(async (n) => {
      serf[n] = serfOf(await ctx.consul.nodeHealth(n));
    }));
    const { entries } = await ctx.consul.kvList(
      roleKeyPrefix(ctx.config.servicePrefix, service),
    );
    const plan = planForcedFailover(ctx.config, view, serf, entries, service);
    const json = bool(p, "json") || g.output === "json";
    const ex = new Executor(liveEffects(ctx.consul, ctx.runner), {
      dryRun: g.dryRun,
      print: (l) => io.out(`dry-run: ${l}\n`),
      record: (l) => ctx.logger("failover.log", "failover", service).info(l),
    });
    if (!plan.ok) {
      ex.seal();
      if (json) io.out(JSON.stringify({ service, done: false, refused: plan.refusal }) + "\n");
      io.err(`powerconsul failover: ${plan.refusal}\n`);
      return Exit.FAILED;
    }
    const [write, ...flags] = plan.steps;
    const o = await ex.apply(write!);
    if (!o.ok) {
      const why = o.detail === "lost the race"
        ? "the cluster document changed since it was read; nothing written (run it again)"
        : o.detail;
      if (json) io.out(JSON.stringify({ service, done: false, refused: why }) + "\n");
      io.err(`powerconsul failover: ${why}\n`);
      return o.detail === "lost the race" ? Exit.FAILED : Exit.UNKNOWN;
    }
    const flagOutcomes = await ex.applyAll(flags);
    const failedFlags = flagOutcomes.filter((f) => !f.ok).map((f) => f.detail);
    if (json) {
      io.out(
        JSON.stringify({
          service,
          done: true,
          dryRun: g.dryRun,
          actives: plan.actives,
          standbys: plan.standbys,
          flagsReset: flags.length,
          flagErrors: failedFlags,
        }) + "\n",
      );
    } else if (!g.dryRun) {
      io.out(`${service}: ${plan.actives.join(",")} is now active (forced failover)\n`);
    }
    for (const f of failedFlags) io.err(`powerconsul failover: warning: flag not reset: ${f}\n`);
    return Exit.OK;
  },
};
