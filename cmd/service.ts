/**
 * `powerconsul service <name> start|stop|restart|status|start-primary|promote|demote
 *   -S <consulService> [-s a,b] [-F <lockfile>]`
 *
 * The cluster-aware service wrapper an init script execs: start and stop act only
 * where the node's role allows them, start-primary moves the active role to this standby
 * through the promote/demote flags, and promote/demote are the key-watch handlers of the flags.
 */
import { bool, type GlobalFlags, parseArgv, type Parsed, str } from "../lib/args.ts";
import { IdentityCache } from "../lib/cluster/facts.ts";
import { type Ctx, type Io, makeContext } from "../lib/context.ts";
import { describeError } from "../lib/errors.ts";
import { readStates, sayer } from "../lib/service/actions.ts";
import { handlerPorts, initiator, serviceExecutor } from "../lib/service/live.ts";
import { parseServiceArgs, type ServiceArgs } from "../lib/service/plan.ts";
import { startStop } from "../lib/service/start_stop.ts";
import { readLockRecord } from "../lib/sys/lockfile.ts";
import { gatherStatus } from "../lib/status/view.ts";
import { paintFor, renderTable } from "../lib/status/table.ts";
import { startPrimary, startPrimaryAbort } from "../lib/service/switch.ts";
import { handleSwitchKey } from "../lib/service/handler.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul service <name> <action> -S <consulService> [-s a,b] [-F <lockfile>]

For init scripts: /etc/init.d/<name> execs this, so 'service <name> start' acts on the cluster.

Actions:
  start          start the local services in order (only where this node should run them:
                 standalone, active, or a standby acting as primary); a standby refuses
  stop           stop the local services in reverse order (standby or standalone only);
                 an active node refuses
  restart        active only: create the lock file, wait 2 s for running checks, stop, start,
                 remove the lock file (also when a step fails)
  status         the cluster view of <consulService> and each local service's state
                 (exit 0 all running, 3 not all running, 4 unknown: LSB status codes)
  start-primary  run on a standby: switch roles through the promote/demote flags — node
                 documents swap the lists of this node's group (its standbys become active),
                 datacenter documents swap the datacenters; waits up to switchTimeout for
                 every node's answer; --abort returns every flag to NULL (document unchanged)
  promote        key-watch handler of <servicePrefix>/<consulService>/<node>/promote
  demote         key-watch handler of <servicePrefix>/<consulService>/<node>/demote

Options:
  -S, --consulservice NAME  Consul service the wrapper belongs to (required)
  -s, --service NAMES       local services, in start order (default: <name>)
  -F, --noopfile PATH       lock file, the same path the checks get with -F
                            (default: /run/powerconsul/<name>.lock)
      --abort               with start-primary: set every promote/demote flag back to NULL
      --json                with status: JSON instead of a table

Exit: 0 done, 1 refused or failed, 2 bad command line, 3 cluster state unknown (nothing done).
Example: /etc/init.d/web: exec powerconsul service web "$@" -S web -s nginx,php-fpm -F /run/powerconsul/web.lock --config /etc/powerconsul/config.json
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  service: { type: "string", short: "s" },
  noopfile: { type: "string", short: "F" },
  abort: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** Parse argv into ServiceArgs (pure; exported for tests). */
export function parseServiceArgv(argv: string[]): { args: ServiceArgs; json: boolean } {
  return serviceArgs(parseArgv(argv, OPTIONS));
}

function serviceArgs(p: Parsed): { args: ServiceArgs; json: boolean } {
  const opts: Parameters<typeof parseServiceArgs>[1] = { abort: bool(p, "abort") };
  const S = str(p, "consulservice");
  if (S !== undefined) opts.consulService = S;
  const s = str(p, "service");
  if (s !== undefined) opts.services = s;
  const F = str(p, "noopfile");
  if (F !== undefined) opts.lockFile = F;
  return { args: parseServiceArgs(p.positionals, opts), json: bool(p, "json") };
}

export const command: Command = {
  name: "service",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    const { args: a, json } = serviceArgs(p);
    const ctx = await makeContext(io, g);
    const log = ctx.logger(`service/${a.name}.log`, "service", a.consulService);
    const say = sayer(ctx, log);
    log.info(
      `${a.action}${a.abort ? " --abort" : ""}${g.dryRun ? " (dry run)" : ""} services=${
        a.services.join(",")
      }`,
    );
    try {
      switch (a.action) {
        case "start":
        case "stop":
        case "restart":
          return await startStop(ctx, a, a.action, say, log);
        case "status":
          return await serviceStatus(ctx, a, json || g.output === "json");
        case "start-primary": {
          const { ports, ex } = await initiator(ctx, a, say, log);
          const set = {
            servicePrefix: ctx.config.servicePrefix,
            switchTimeout: ctx.config.switchTimeout,
          };
          return a.abort
            ? await startPrimaryAbort(ports, ex, set, a, say)
            : await startPrimary(ports, ex, set, a, say);
        }
        case "promote":
        case "demote":
          return await handleSwitchKey(
            handlerPorts(ctx, a, new IdentityCache(ctx.consul, ctx.config)),
            serviceExecutor(ctx, say, log),
            {
              servicePrefix: ctx.config.servicePrefix,
              manager: ctx.config.serviceManager,
              actionTimeoutMs: ctx.config.triggerTimeout * 1000,
              guard: {
                consulService: a.consulService,
                services: a.services,
                leaseSeconds: ctx.config.leaseSeconds,
                configPath: ctx.loaded.path,
              },
            },
            a,
            a.action,
            say,
          );
      }
    } catch (e) {
      const msg = describeError(e);
      log.error(`${a.action}: ${msg}`);
      throw e;
    }
  },
};

/** LSB status exit codes: 0 running, 3 not running, 4 unknown. */
const LSB = { running: 0, stopped: 3, unknown: 4 } as const;

async function serviceStatus(ctx: Ctx, a: ServiceArgs, json: boolean): Promise<number> {
  const states = await readStates(ctx, a.services);
  let cluster: Awaited<ReturnType<typeof gatherStatus>> | null = null;
  let clusterError: string | null = null;
  try {
    cluster = await gatherStatus(ctx.consul, ctx.config, {
      consulService: a.consulService,
      id: new IdentityCache(ctx.consul, ctx.config),
    });
  } catch (e) {
    clusterError = describeError(e);
  }
  const code = states.some((s) => s.running === null)
    ? LSB.unknown
    : states.every((s) => s.running)
    ? LSB.running
    : LSB.stopped;
  if (json) {
    ctx.io.out(
      JSON.stringify({
        name: a.name,
        consulService: a.consulService,
        lockFile: {
          path: a.lockFile,
          exists: (await readLockRecord(a.lockFile)).inspection.state !== "absent",
        },
        local: states.map((s) => ({
          service: s.name,
          state: s.running === null ? "unknown" : s.running ? "running" : "stopped",
          output: s.detail,
        })),
        cluster,
        clusterError,
      }) + "\n",
    );
    return code;
  }
  const p = paintFor(ctx.io.stdoutIsTty, ctx.io.env("NO_COLOR"));
  if (cluster) ctx.io.out(renderTable(cluster, p));
  else ctx.io.out(`cluster: ${p.bad("unknown")} (${clusterError})\n`);
  const lock = (await readLockRecord(a.lockFile)).inspection;
  if (lock.state === "honoured") {
    ctx.io.out(
      `lock file ${a.lockFile}: ${
        p.warn(lock.record ? `${lock.record.action} since ${lock.record.at}` : "present")
      } (checks pass while it exists)\n`,
    );
  } else if (lock.state !== "absent") {
    ctx.io.out(`${p.warn(lock.note)}\n`);
  }
  for (const s of states) {
    const state = s.running === null
      ? p.bad("unknown")
      : s.running
      ? p.ok("running")
      : p.dim("stopped");
    ctx.io.out(`${s.name}: ${state}${s.detail ? ` — ${s.detail}` : ""}\n`);
  }
  return code;
}
