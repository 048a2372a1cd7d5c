/**
 * `powerconsul check service|servicegroup|crontab|process -S <consulService> …`
 *
 * Decide whether the local resource is in the state its cluster role wants; answer with one
 * JSON line and exit 0 passing, 1 warning, 2 critical, 3 unknown (SPEC §6).
 */
import { bool, globalFlags, parseArgv, type Parsed, required, str } from "../lib/args.ts";
import { type Ctx, dropRunPermission, type Io, makeContext } from "../lib/context.ts";
import { describeError, UsageError } from "../lib/errors.ts";
import { type CheckState, Exit } from "../lib/exit_codes.ts";
import { checkCode, type CheckResult, renderCheck } from "../lib/output.ts";
import {
  casClusterDoc,
  flipFor,
  IdentityCache,
  resolveCluster,
  unlockFor,
} from "../lib/cluster/resolve.ts";
import { probeService } from "../lib/probes/service.ts";
import { probeCrontab } from "../lib/probes/crontab.ts";
import { findTask, probeProcs, readProcessTable } from "../lib/probes/procs.ts";
import type { LocalService } from "../lib/consul/client.ts";
import type { Logger } from "../lib/log.ts";
import { fromFileUrl } from "../lib/paths.ts";
import { triggerLimitReached } from "../lib/triggers/limit.ts";
import type { Command } from "./mod.ts";

const KINDS = ["service", "servicegroup", "crontab", "process"] as const;
type Kind = typeof KINDS[number];

const help =
  `Usage: powerconsul check <service|servicegroup|crontab|process> -S <consulService> [options]

Kinds:
  service       -s <linuxService>          the service manager says it runs
  servicegroup  -s <a,b,c>                 all run (expected running) / none runs (expected stopped)
  crontab       -u <user> [-p <pattern>]   <crontabDir>/<user> installed (owner, group, entries)
  process       -n '<check_procs args>'    Nagios check_procs exit 0

Options:
  -S, --consulservice NAME  Consul service this check belongs to (required)
  -s, --service NAMES       local service(s) (service, servicegroup)
  -u, --user USER           crontab owner (crontab)
  -p, --pattern TEXT        text the crontab must contain (crontab)
  -n, --nagiosargs ARGS     check_procs arguments, split like a shell would (process)
  -P, --procstr TEXT        pass while a process line contains TEXT (a task is in progress)
  -R, --procre REGEX        pass while a process line matches REGEX
  -F, --noopfile PATH       pass while PATH exists (deploys, restarts, switches)
  -U, --updatekv            on a standby that finds no active passing, flip the cluster
                            document (check-and-set, locked) so this node becomes active

Exit: 0 passing, 1 warning, 2 critical, 3 unknown (Consul shows 3 as critical).
Example: powerconsul check service -s apache2 -S web -U -F /var/lock/web.lock
`;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  service: { type: "string", short: "s" },
  user: { type: "string", short: "u" },
  pattern: { type: "string", short: "p" },
  nagiosargs: { type: "string", short: "n" },
  procstr: { type: "string", short: "P" },
  procre: { type: "string", short: "R" },
  noopfile: { type: "string", short: "F" },
  updatekv: { type: "boolean", short: "U" },
} as const;

export interface CheckArgs {
  kind: Kind;
  consulService: string;
  services: string[];
  user?: string;
  pattern?: string;
  nagiosArgs?: string;
  procStr?: string;
  procRe?: RegExp;
  noopFile?: string;
  updateKv: boolean;
}

/** Validate the command line completely before anything talks to Consul (pure). */
export function parseCheckArgs(p: Parsed): CheckArgs {
  const kind = p.positionals[0];
  if (!kind) throw new UsageError(`missing check kind: one of ${KINDS.join(", ")}`);
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown check kind "${kind}": one of ${KINDS.join(", ")}`);
  }
  if (p.positionals.length > 1) throw new UsageError(`unexpected argument "${p.positionals[1]}"`);
  const a: CheckArgs = {
    kind: kind as Kind,
    consulService: required(p, "consulservice", "S"),
    services: [],
    updateKv: bool(p, "updatekv"),
  };
  if (kind === "service" || kind === "servicegroup") {
    a.services = required(p, "service", "s").split(",").map((s) => s.trim()).filter((s) => s);
    if (a.services.length === 0) throw new UsageError("-s/--service names no service");
    if (kind === "service" && a.services.length > 1) {
      throw new UsageError("check service takes one service; use check servicegroup for a list");
    }
    for (const s of a.services) {
      if (!/^[A-Za-z0-9@._:+-]+$/.test(s)) throw new UsageError(`invalid service name "${s}"`);
    }
  }
  if (kind === "crontab") {
    a.user = required(p, "user", "u");
    if (!/^[A-Za-z0-9._-]+$/.test(a.user)) throw new UsageError(`invalid user name "${a.user}"`);
    const pat = str(p, "pattern");
    if (pat !== undefined) a.pattern = pat;
  }
  if (kind === "process") a.nagiosArgs = required(p, "nagiosargs", "n");
  const ps = str(p, "procstr");
  if (ps !== undefined && ps !== "") a.procStr = ps;
  const pr = str(p, "procre");
  if (pr !== undefined && pr !== "") {
    try {
      a.procRe = new RegExp(pr);
    } catch {
      throw new UsageError(`-R/--procre is not a valid regular expression: ${pr}`);
    }
  }
  const nf = str(p, "noopfile");
  if (nf !== undefined && nf !== "") a.noopFile = nf;
  return a;
}

function resourceOf(a: CheckArgs): string {
  if (a.kind === "crontab") return a.user!;
  if (a.kind === "process") return a.nagiosArgs!;
  return a.services.join(",");
}

/** Probe outcome: running, stopped, or check_procs' warning band. */
interface Probed {
  running: boolean | "warning";
  detail: string;
}

/**
 * Look at the resource. Started before the cluster state is known (it does not depend on it),
 * so the probe's process runs while the Consul requests are in flight; `expects` is applied
 * afterwards by the returned function.
 */
async function probe(ctx: Ctx, a: CheckArgs): Promise<(expects: boolean) => Probed> {
  const timeoutMs = ctx.config.probeTimeout * 1000;
  switch (a.kind) {
    case "service":
    case "servicegroup": {
      const states = await Promise.all(
        a.services.map((s) => probeService(ctx.runner, ctx.config.serviceManager, s, timeoutMs)),
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
      const v = await probeCrontab(ctx.config.crontabDir, a.user!, a.pattern);
      return () => ({ running: v.installed, detail: v.detail });
    }
    case "process": {
      const v = await probeProcs(ctx.runner, ctx.config.checkProcs, a.nagiosArgs!, timeoutMs);
      const running = v.state === "ok" ? true : v.state === "warning" ? "warning" : false;
      return () => ({ running, detail: v.detail });
    }
  }
}

function judge(expects: boolean, p: Probed): CheckState {
  if (p.running === "warning") return "warning";
  return p.running === expects ? "passing" : "critical";
}

/** The tags a passing check wants: `nodns` when stopped as expected, none when running. */
export function wantedTags(current: string[], expects: boolean): string[] | null {
  const has = current.includes("nodns");
  if (!expects && !has) return [...current, "nodns"];
  if (expects && has) return current.filter((t) => t !== "nodns");
  return null;
}

export const command: Command = {
  name: "check",
  summary: "decide whether a local resource is in the state its cluster role wants (script check)",
  help,
  errorCode: Exit.UNKNOWN,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parseArgv(argv, OPTIONS);
    const g = globalFlags(p);
    if (g.help) {
      io.out(help);
      return Exit.OK;
    }
    const a = parseCheckArgs(p);
    const result: CheckResult = {
      type: a.kind,
      resource: resourceOf(a),
      consulService: a.consulService,
      expects: null,
      clustered: false,
      role: null,
      state: "unknown",
      message: "",
    };
    const emit = (plan: string[] = []) => {
      io.out(renderCheck(result, g.output ?? "json") + "\n");
      for (const line of plan) io.out(`dry-run: ${line}\n`);
      return checkCode(result);
    };
    let ctx: Ctx;
    try {
      ctx = await makeContext(io, g);
    } catch (e) {
      result.message = describeError(e);
      return emit();
    }
    const log = ctx.logger(`check/${a.kind}.${a.consulService}.log`, "check", a.consulService);
    try {
      const plan: string[] = [];
      await runCheck(ctx, a, result, log, plan);
      log[result.state === "passing" ? "info" : "warn"](
        `${result.state} role=${result.role} expects=${result.expects} ${result.message}`,
      );
      return emit(plan);
    } catch (e) {
      result.state = "unknown";
      result.message = describeError(e);
      log.error(`unknown: ${result.message}`);
      return emit();
    }
  },
};

async function runCheck(
  ctx: Ctx,
  a: CheckArgs,
  result: CheckResult,
  log: Logger,
  plan: string[],
): Promise<void> {
  const dry = ctx.flags.dryRun;
  // Overrides first: they need no Consul and must work while the agent is busy or restarting.
  if (a.noopFile) {
    let exists = false;
    try {
      await Deno.stat(a.noopFile);
      exists = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new Error(`cannot check noop file ${a.noopFile}: ${describeError(e)}`);
      }
    }
    if (exists) {
      result.state = "passing";
      result.message =
        `noop file ${a.noopFile} exists (maintenance under way): passing without probing`;
      return;
    }
  }
  if (a.procStr !== undefined || a.procRe) {
    const table = await readProcessTable(ctx.runner, ctx.config.probeTimeout * 1000);
    const match: { substring?: string; regex?: RegExp } = {};
    if (a.procStr !== undefined) match.substring = a.procStr;
    if (a.procRe) match.regex = a.procRe;
    const task = findTask(table, match, Deno.pid, mainModulePath());
    if (task) {
      result.state = "passing";
      result.message = `task in progress (pid ${task.pid}: ${
        task.argv.join(" ").slice(0, 120)
      }): passing without probing`;
      return;
    }
  }

  // The probe, the local registration and the cluster document are independent: all at once.
  const probed = probe(ctx, a);
  probed.catch(() => {}); // awaited below; this only keeps an early failure elsewhere quiet
  const localP = ctx.consul.localService(a.consulService);
  // The hint may never be awaited (the document read can fail first): a failed registration
  // read must then be a quiet null, not an unhandled rejection that kills the process.
  const hint = localP.then((l) => l[0]?.node ?? null, () => null);
  const id = new IdentityCache(ctx.consul, ctx.config, hint);
  const [localR, viewR] = await Promise.allSettled([
    localP,
    resolveCluster(ctx.consul, ctx.config, a.consulService, id),
  ]);
  if (localR.status === "rejected") throw localR.reason;
  const local = localR.value;
  if (local.length === 0) {
    throw new Error(`service ${a.consulService} is not registered with the local Consul agent`);
  }
  if (viewR.status === "rejected") throw viewR.reason;
  let view = viewR.value;
  const notes: string[] = [];
  // The local resource's state is known before anything is written: a probe that fails (hung
  // and killed at probeTimeout, plugin error) makes the check unknown, and unknown state is
  // never acted on (SPEC §10.1) — no -U flip, no lock clear.
  const look = await probed;

  // -U: a standby with no active passing flips the document (CAS on the index it decided on).
  if (view.decision.flipDue && a.updateKv) {
    const next = flipFor(view);
    if (dry) {
      plan.push(
        `would write ${view.key} = ${JSON.stringify(next)} (cas ${view.entry!.modifyIndex})`,
      );
    } else {
      const out = await casClusterDoc(ctx.consul, view, next, id);
      log.warn(`-U flip of ${view.key}: ${out.notes.join("; ")}`);
      if (out.won) {
        notes.push(
          `flipped ${view.key}: this node is now active (locked until the new actives pass)`,
        );
      } else {
        notes.push(`lost the flip race (${out.notes[0]}); re-read the document`);
      }
      view = await resolveCluster(ctx.consul, ctx.config, a.consulService, id);
    }
  }

  const d = view.decision;
  result.role = d.role;
  result.clustered = d.clustered;
  result.expects = d.expects;

  const seen = look(d.expects);
  if (dry) dropRunPermission();
  result.state = judge(d.expects, seen);
  const want = d.expects ? "running" : "stopped";
  result.message = `${seen.detail}; should be ${want}: ${d.reason}` +
    (notes.length ? `; ${notes.join("; ")}` : "");

  // The first standby check that sees the new actives passing clears the switch lock.
  if (d.unlockDue) {
    const next = unlockFor(view);
    if (dry) {
      plan.push(
        `would write ${view.key} = ${JSON.stringify(next)} (cas ${view.entry!.modifyIndex})`,
      );
    } else {
      try {
        const out = await casClusterDoc(ctx.consul, view, next, id);
        log.info(`lock clear on ${view.key}: ${out.notes.join("; ")}`);
        result.message += out.won
          ? "; cleared the switch lock"
          : "; lock already changed by another node";
      } catch (e) {
        log.warn(`could not clear the lock on ${view.key}: ${describeError(e)}`);
      }
    }
  }

  const limit = await triggerLimitReached(ctx.config, a.consulService);
  if (limit) result.message += `; ${limit.message}`;
  if (result.state === "passing") await updateTags(ctx, local, d.expects, log, plan, dry);
}

/** Tag writes: only when the tags change; a failure is logged and never changes the result. */
async function updateTags(
  ctx: Ctx,
  local: LocalService[],
  expects: boolean,
  log: Logger,
  plan: string[],
  dry: boolean,
) {
  const writes = local.flatMap((svc) => {
    const next = wantedTags(svc.service.Tags ?? [], expects);
    return next ? [{ svc, next }] : [];
  });
  for (const w of writes) {
    if (dry) plan.push(`would set tags of ${w.svc.id} to ${JSON.stringify(w.next)}`);
  }
  if (dry) return;
  await Promise.all(writes.map(async (w) => {
    try {
      await ctx.consul.setServiceTags(w.svc.service, w.next);
      log.info(`tags of ${w.svc.id} set to ${JSON.stringify(w.next)}`);
    } catch (e) {
      log.warn(`tag update of ${w.svc.id} failed (result unchanged): ${describeError(e)}`);
    }
  }));
}

function mainModulePath(): string {
  return fromFileUrl(Deno.mainModule);
}
