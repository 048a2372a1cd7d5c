/**
 * The local half of `powerconsul service`: read the local services' states, run their start and
 * stop steps through the service manager. Every line printed is
 * also logged.
 */
import type { Ctx } from "../context.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { actionArgv, probeService } from "../probes/service.ts";
import { describeRun, type RunResult } from "../sys/runner.ts";
import type { Holder, LockRecord } from "../sys/lockfile.ts";
import { type LocalState, planSteps, stepLine } from "./plan.ts";

/** Prints one line to stdout and logs it. */
export type Say = (line: string, level?: "info" | "warn" | "error") => void;

export function sayer(ctx: Ctx, log: Logger): Say {
  return (line, level = "info") => {
    ctx.io.out(line + "\n");
    log[level](line);
  };
}

/** Each local service's state by its manager's exit code (an unreadable state is null). */
export async function readStates(ctx: Ctx, services: string[]): Promise<LocalState[]> {
  const timeoutMs = ctx.config.probeTimeout * 1000;
  return await Promise.all(services.map(async (name): Promise<LocalState> => {
    try {
      const s = await probeService(ctx.runner, ctx.config.serviceManager, name, timeoutMs);
      return { name, running: s.running, detail: s.detail };
    } catch (e) {
      return { name, running: null, detail: describeError(e) };
    }
  }));
}

function failure(r: RunResult): string {
  const text = (r.stdout + "\n" + r.stderr).trim().split("\n").filter((l) => l.trim() !== "");
  const brief = text.slice(-2).join(" | ").slice(0, 200);
  return `${describeRun(r)}${brief ? `: ${brief}` : ""}`;
}

/**
 * Bring the local services to `want`: start in order (stopping at the first failure, since
 * later services usually need earlier ones), stop in reverse order (going on after a failure,
 * to stop as much as possible). Returns whether every step succeeded.
 */
export async function converge(
  ctx: Ctx,
  want: "start" | "stop",
  services: string[],
  say: Say,
  opts: { dryRun?: boolean; states?: LocalState[] } = {},
): Promise<boolean> {
  const states = opts.states ?? await readStates(ctx, services);
  const steps = planSteps(want, states);
  // One action may take a while (a database); it is bounded like a trigger action.
  const timeoutMs = ctx.config.triggerTimeout * 1000;
  let ok = true;
  for (const step of steps) {
    if (step.op === "skip") {
      say(step.line);
      continue;
    }
    if (!ok && want === "start") {
      say(`${step.service}: not started (an earlier service failed)`, "warn");
      continue;
    }
    const argv = actionArgv(ctx.config.serviceManager, step.service, step.op);
    if (opts.dryRun) {
      say(`${step.service}: would run ${argv.join(" ")}`);
      continue;
    }
    const r = await ctx.runner.run(argv, { timeoutMs });
    const good = r.code === 0 && !r.timedOut;
    say(
      stepLine(step.service, step.op, good, good ? undefined : failure(r)),
      good ? "info" : "error",
    );
    if (!good) ok = false;
  }
  return ok;
}

/** The lock record a service action writes (restart holds it for its lifetime: `holder`). */
export function lockRecord(
  action: string,
  name: string,
  consulService: string,
  holder: Holder | null,
): LockRecord {
  return { by: "powerconsul", action, name, consulService, holder, at: new Date().toISOString() };
}
