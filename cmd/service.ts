/**
 * `powerconsul service <name> start|stop|restart|status|start-primary|promote|demote
 *   -S <consulService> [-s a,b] [-F <lockfile>]`
 *
 * The cluster-aware service wrapper an init script execs: start and stop act only
 * where the node's role allows them, start-primary moves the active role to this standby
 * through the promote/demote flags, and promote/demote are the key-watch handlers of the flags.
 */
import { bool, globalFlags, parseArgv, str } from "../lib/args.ts";
import { IdentityCache, resolveCluster } from "../lib/cluster/resolve.ts";
import { type Ctx, dropRunPermission, type Io, makeContext } from "../lib/context.ts";
import { describeError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import type { Logger } from "../lib/log.ts";
import { converge, lockRecord, readStates, type Say, sayer } from "../lib/service/actions.ts";
import { createLockFile, readLockRecord, removeLockFile, selfHolder } from "../lib/sys/lockfile.ts";
import { gate, parseServiceArgs, type ServiceArgs } from "../lib/service/plan.ts";
import { gatherStatus, paintFor, renderTable } from "../lib/service/status.ts";
import { handleFlag, startPrimary } from "../lib/service/switch.ts";
import type { Command } from "./mod.ts";

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
  const p = parseArgv(argv, OPTIONS);
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
  summary: "cluster-aware start/stop/restart/status/start-primary for init scripts",
  help,
  async run(argv: string[], io: Io): Promise<number> {
    const g = globalFlags(parseArgv(argv, OPTIONS));
    if (g.help) {
      io.out(help);
      return Exit.OK;
    }
    const { args: a, json } = parseServiceArgv(argv);
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
        case "start-primary":
          return await startPrimary(ctx, a, say, log, dropRunPermission);
        case "promote":
        case "demote":
          return await handleFlag(ctx, a, a.action, say, dropRunPermission);
      }
    } catch (e) {
      const msg = describeError(e);
      log.error(`${a.action}: ${msg}`);
      throw e;
    }
  },
};

async function startStop(
  ctx: Ctx,
  a: ServiceArgs,
  action: "start" | "stop" | "restart",
  say: Say,
  log: Logger,
): Promise<number> {
  // The role first: unknown cluster state refuses before anything is touched.
  let view;
  try {
    view = await resolveCluster(
      ctx.consul,
      ctx.config,
      a.consulService,
      new IdentityCache(ctx.consul, ctx.config),
    );
  } catch (e) {
    const line = `${action} ${a.name}: refused: cluster state unknown (${
      describeError(e)
    }); nothing changed`;
    ctx.io.err(line + "\n");
    log.error(line);
    return Exit.UNKNOWN;
  }
  const gt = gate(action, a.name, view.decision);
  if (!gt.allowed) {
    ctx.io.err(`${action} ${a.name}: ${gt.reason}\n`);
    log.warn(`${action}: ${gt.reason}`);
    return Exit.FAILED;
  }
  log.info(`${action} allowed: ${gt.reason}`);
  const states = await readStates(ctx, a.services);
  if (ctx.flags.dryRun) {
    dropRunPermission();
    say(`${action} ${a.name}: allowed (${gt.reason})`);
    if (action === "restart") {
      say(`would create lock file ${a.lockFile} and wait 2s for running checks`);
      await converge(ctx, "stop", a.services, say, { dryRun: true, states });
      await converge(ctx, "start", a.services, say, {
        dryRun: true,
        states: states.map((s) => ({ ...s, running: false })),
      });
      say(`would remove lock file ${a.lockFile}`);
    } else {
      await converge(ctx, action, a.services, say, { dryRun: true, states });
    }
    return Exit.OK;
  }
  if (action !== "restart") {
    return (await converge(ctx, action, a.services, say, { states })) ? Exit.OK : Exit.FAILED;
  }
  const made = await createLockFile(
    a.lockFile,
    lockRecord("restart", a.name, a.consulService, await selfHolder()),
  );
  if (!made.created) {
    const why = made.existing.record
      ? `${made.existing.note}`
      : `${made.existing.note || "exists"}, not written by powerconsul`;
    say(`lock file ${a.lockFile}: FAILED (${why}); nothing changed`, "error");
    return Exit.FAILED;
  }
  let ok = false;
  try {
    if (made.tookOver) say(`lock file ${a.lockFile}: taken over (${made.tookOver.note})`);
    say(`lock file ${a.lockFile}: created ok`);
    // Checks that started before the lock file existed may still be probing; let them finish
    // so none of them sees the service down without the lock file (Consul's default interval
    // is far longer, but a check run itself is short).
    await new Promise((r) => setTimeout(r, 2000));
    say("waited 2s for running checks: ok");
    const stopped = await converge(ctx, "stop", a.services, say, { states });
    const started = await converge(ctx, "start", a.services, say);
    ok = stopped && started;
  } finally {
    try {
      await removeLockFile(a.lockFile);
      say(`lock file ${a.lockFile} removed: ok`);
    } catch (e) {
      say(`lock file ${a.lockFile} removed: FAILED (${describeError(e)})`, "error");
      ok = false;
    }
  }
  return ok ? Exit.OK : Exit.FAILED;
}

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
