/**
 * The local half of `powerconsul service`: read the local services' states, run their start and
 * stop steps through the service manager. Every line printed is
 * also logged.
 */
import type { Ctx } from "../context.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Executor } from "../plan/apply.ts";
import type { Step } from "../plan/step.ts";
import { actionArgv, type Manager, probeService } from "../probes/service.ts";
import { describeRun, type RunResult } from "../sys/runner.ts";
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

/** A planned start/stop of one local service (its step, and what it is for the lines). */
export interface ServiceStep {
  step: Step;
  service: string;
  op: "start" | "stop" | "skip";
}

/**
 * The steps to bring the local services to `want` (pure): a run step per service to act on, a
 * message for one already there. States that could not be read are acted on (start and stop
 * are idempotent for LSB scripts and systemd).
 */
export function convergeSteps(
  want: "start" | "stop",
  states: LocalState[],
  manager: Manager,
  timeoutMs: number,
): ServiceStep[] {
  return planSteps(want, states).map((p): ServiceStep =>
    p.op === "skip"
      ? { step: { kind: "message", text: p.line }, service: p.service, op: "skip" }
      : {
        step: {
          kind: "run",
          argv: actionArgv(manager, p.service, p.op),
          timeoutMs,
          label: `${p.op} ${p.service}`,
        },
        service: p.service,
        op: p.op,
      }
  );
}

/**
 * Apply converge steps: starts stop at the first failure (later services usually need earlier
 * ones), stops go on after one (to stop as much as possible). Returns whether every step
 * succeeded. A dry run prints the plan through the executor.
 */
export async function converge(ex: Executor, steps: ServiceStep[], say: Say): Promise<boolean> {
  let ok = true;
  for (const s of steps) {
    if (!ok && s.op === "start") {
      say(`${s.service}: not started (an earlier service failed)`, "warn");
      continue;
    }
    const o = await ex.apply(s.step);
    if (s.op === "skip" || ex.dryRun) continue;
    say(
      stepLine(s.service, s.op, o.ok, o.ok ? undefined : o.run ? failure(o.run) : o.detail),
      o.ok ? "info" : "error",
    );
    if (!o.ok) ok = false;
  }
  return ok;
}
