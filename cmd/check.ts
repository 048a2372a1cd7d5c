/**
 * `powerconsul check service|servicegroup|crontab|process -S <consulService> …`: help, options
 * and wiring. The check itself is lib/check/ (run.ts, plan.ts, probe.ts); its answer is one JSON
 * line and exit 0 passing, 1 warning, 2 critical, 3 unknown (lib/check/line.ts).
 */
import { bool, type GlobalFlags, type Parsed, required, str } from "../lib/args.ts";
import { type CheckArgs, type Kind, KINDS } from "../lib/check/args.ts";
import { checkCode, type CheckResult, renderCheck } from "../lib/check/line.ts";
import { writeCheckMetrics } from "../lib/metrics.ts";
import { historyKeyFor } from "../lib/history/entry.ts";
import { runCheck, unknownResult } from "../lib/check/run.ts";
import type { Command } from "../lib/command.ts";
import { type Ctx, type Io, makeContext } from "../lib/context.ts";
import { describeError, UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { segment } from "../lib/names.ts";
import { compilePattern } from "../lib/pattern.ts";
import { mark } from "../lib/trace.ts";

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
    consulService: segment("-S/--consulservice", required(p, "consulservice", "S")),
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
      a.procRe = compilePattern(pr);
    } catch (e) {
      throw new UsageError(`-R/--procre: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  const nf = str(p, "noopfile");
  if (nf !== undefined && nf !== "") a.noopFile = nf;
  return a;
}

/** The node_exporter textfile (lib/metrics.ts); a failure is logged, the answer stands. */
async function checkMetrics(
  ctx: Ctx,
  r: CheckResult,
  started: number,
  log: { warn(m: string): void },
): Promise<void> {
  try {
    await writeCheckMetrics(
      ctx.config,
      {
        service: r.consulService,
        role: r.role,
        expects: r.expects,
        state: r.state,
        code: checkCode(r),
        durationMs: performance.now() - started,
        paused: r.paused === true,
        at: Date.now() / 1000,
        documentIndex: r.documentIndex ?? null,
      },
      Date.now(),
      async () => {
        const e = await ctx.consul.kvGet(historyKeyFor(ctx.config, r.consulService));
        return e?.value ?? null;
      },
    );
  } catch (e) {
    log.warn(`metrics file not written: ${describeError(e)}`);
  }
}

export const command: Command = {
  name: "check",
  help,
  options: OPTIONS,
  errorCode: Exit.UNKNOWN,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    const a = parseCheckArgs(p);
    const result = unknownResult(a);
    const started = performance.now();
    const emit = (plan: string[] = []) => {
      result.durationMs = performance.now() - started;
      io.out(renderCheck(result, g.output ?? "json") + "\n");
      for (const line of plan) io.out(`dry-run: ${line}\n`);
      return checkCode(result);
    };
    let ctx: Ctx;
    try {
      ctx = await makeContext(io, g, { deadline: "check" });
      mark("context");
    } catch (e) {
      result.message = describeError(e);
      return emit();
    }
    const log = ctx.logger(`check/${a.kind}.${a.consulService}.log`, "check", a.consulService);
    try {
      const plan: string[] = [];
      await runCheck(ctx, a, result, log, (line) => plan.push(line));
      mark("check");
      log[result.state === "passing" ? "info" : "warn"](
        `${result.state} role=${result.role} expects=${result.expects} ${result.message}`,
      );
      mark("log");
      if (!g.dryRun) await checkMetrics(ctx, result, started, log);
      mark("metrics");
      return emit(plan);
    } catch (e) {
      result.state = "unknown";
      result.message = describeError(e);
      log.error(`unknown: ${result.message}`);
      if (!g.dryRun) await checkMetrics(ctx, result, started, log);
      return emit();
    }
  },
};
