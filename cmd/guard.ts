/**
 * `powerconsul guard -S <consulService> -s a,b --node <node>`: the lease guard (lib/ha/guard.ts).
 * Started detached by the service wrapper's start and promote on an active node (or by a
 * systemd unit); it never talks to Consul.
 */
import { type GlobalFlags, type Parsed, str } from "../lib/args.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { runGuard } from "../lib/ha/guard.ts";
import { noticeFence } from "../lib/hooks.ts";
import { claimPidFile, ownsPidFile } from "../lib/ha/guard_proc.ts";
import {
  bootNow,
  fencePath,
  guardPidPath,
  leaseId,
  leasePath,
  readSmall,
  removeFile,
  writeAtomic,
} from "../lib/ha/lease.ts";
import { actionArgv } from "../lib/probes/service.ts";
import { processStart } from "../lib/sys/lockfile.ts";
import { describeRun, makeDenoRunner } from "../lib/sys/runner.ts";
import { segment } from "../lib/names.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul guard -S <consulService> -s a,b --node <node>

Guards an active node's services with its lease: every guardPoll seconds it reads
/run/powerconsul/lease/<consulService>@<node>; when the lease has run out (or was removed
without a stop) it stops the local services through the service manager, writes
/run/powerconsul/fenced/<consulService>@<node> and one line to <logDir>/guard/, and keeps
guarding (a fresh lease clears the marker); with a roleHook configured it then runs the
hook (primary -> fenced, with the reason). It reads only local files and never talks to
Consul. It exits when its pid file (/run/powerconsul/guard/<consulService>@<node>.pid) is
removed or names another process, or on SIGTERM. 'service <name> start' and 'promote' start
it; 'stop' and 'demote' stop it.

Options:
  -S, --consulservice NAME  Consul service (required)
  -s, --service NAMES       local services, in start order (required)
      --node NAME           this node's Consul name (required unless nodeName is configured)

Exit: 0 stopped, 1 another guard already runs, 2 bad command line.
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  service: { type: "string", short: "s" },
} as const;

export const command: Command = {
  name: "guard",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const svc = str(p, "consulservice");
    if (!svc) throw new UsageError("missing required option -S/--consulservice");
    const services = (str(p, "service") ?? "").split(",").map((s) => s.trim()).filter((s) => s);
    if (services.length === 0) throw new UsageError("missing required option -s/--service");
    for (const s of services) segment("-s/--service", s);
    const ctx = await makeContext(io, g, { configRequired: false });
    const node = g.node ?? ctx.config.nodeName;
    if (!node) throw new UsageError("missing --node (the guard never asks Consul for it)");
    const id = leaseId(svc, node);
    const log = ctx.logger(`guard/${id}.log`, "guard", svc);
    const start = await processStart(Deno.pid);
    if (typeof start !== "string") {
      io.err("guard: cannot read this process's start time (ps)\n");
      return Exit.FAILED;
    }
    const me = { pid: Deno.pid, start };
    const refused = await claimPidFile(id, { ...me, consulService: svc, node, services });
    if (refused) {
      io.err(`guard: ${refused}\n`);
      return Exit.FAILED;
    }
    let stopping = false;
    const wake: (() => void)[] = [];
    const onTerm = () => {
      stopping = true;
      for (const w of wake.splice(0)) w();
    };
    Deno.addSignalListener("SIGTERM", onTerm);
    Deno.addSignalListener("SIGINT", onTerm);
    // The guard outlives any command deadline: its runner is its own, each stop bounded.
    const runner = makeDenoRunner({ passToken: ctx.config.passToken });
    const timeoutMs = ctx.config.triggerTimeout * 1000;
    log.info(`guarding ${services.join(", ")} on lease ${leasePath(id)} (pid ${Deno.pid})`);
    try {
      await runGuard({
        now: bootNow,
        readLease: () => readSmall(leasePath(id)),
        ownsPidFile: () => ownsPidFile(id, me),
        async stopService(name) {
          const r = await runner.run(actionArgv(ctx.config.serviceManager, name, "stop"), {
            timeoutMs,
          });
          const ok = !r.spawnError && !r.timedOut && r.code === 0;
          return { ok, detail: describeRun(r) };
        },
        writeMarker: (m) => writeAtomic(fencePath(id), JSON.stringify(m) + "\n"),
        clearMarker: () => removeFile(fencePath(id)),
        log: (level, line) => log[level](line),
        sleep: (ms) =>
          new Promise<void>((r) => {
            const t = setTimeout(r, ms);
            wake.push(() => {
              clearTimeout(t);
              r();
            });
          }),
        stopping: () => stopping,
        async fenced(m) {
          await noticeFence({ config: ctx.config, runner, log }, {
            service: svc,
            node,
            reason: m.reason,
          });
        },
      }, { services, pollMs: ctx.config.guardPoll * 1000 });
    } finally {
      Deno.removeSignalListener("SIGTERM", onTerm);
      Deno.removeSignalListener("SIGINT", onTerm);
      if (await ownsPidFile(id, me).catch(() => false)) {
        await removeFile(guardPidPath(id)).catch(() => {});
      }
    }
    return Exit.OK;
  },
};
