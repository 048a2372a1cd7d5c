/**
 * A trigger's plan as executor steps (pure): what the plan says (message steps, for a dry run),
 * the cooldown wait of a deferred run, and the run of the action itself. A dry run prints these
 * steps; a real run applies the wait and run steps, and its log records them in the same words.
 */
import type { MessageStep, RunStep, Step, WaitStep } from "../plan/step.ts";
import type { TriggerPlan } from "./plan.ts";
import type { Verdict } from "./limit.ts";
import { actionRun } from "./run.ts";

export interface StepSettings {
  cooldownS: number;
  timeoutS: number;
  /** The restart-storm state file and the trigger log (named in the run step's label). */
  stateFile: string;
  logFile: string;
}

/** The storm-protection verdict as one sentence. */
export function stormSentence(v: Verdict, now: number, cooldownS: number): string {
  switch (v.kind) {
    case "run":
      return v.unguarded
        ? `off: ${v.unguarded}`
        : `runs now (cooldown ${cooldownS}s not active, under the burst limit)`;
    case "defer":
      return `waits ${Math.ceil((v.until - now) / 1000)}s (last run ${
        Math.floor((now - v.lastRun) / 1000)
      }s ago, cooldown ${cooldownS}s), then runs if the check is still in this state`;
    case "coalesced":
      return `a deferred run by pid ${v.pid} is already pending: left to that run`;
    case "limited":
      return `trigger limit reached (${v.runs} runs in the window): not acting until ${
        new Date(v.clearsAt).toISOString()
      } or 'powerconsul trigger reset'`;
  }
}

const msg = (text: string): MessageStep => ({ kind: "message", text });

/** What the plan says, as message lines (the dry run's description). */
export function describePlan(p: TriggerPlan, storm: string): MessageStep[] {
  const c = p.ctx;
  const lines = [
    `trigger ${c.state} for service ${c.service}, check ${c.check || "-"}, on node ${c.node} ` +
    `(datacenter ${c.dc || "-"})`,
    `role: ${c.role} — ${p.why}`,
    `key: ${p.key} — ${p.value === null ? "missing or empty: nothing to run" : "found"}`,
  ];
  if (p.action?.kind === "command") {
    lines.push(`action: command, run as argv (no shell): ${JSON.stringify(p.action.argv)}`);
  } else if (p.action?.kind === "script") {
    lines.push(
      `action: script, fed to ${JSON.stringify(p.action.interpreter)} on a pipe (no file ` +
        `written):`,
    );
    for (const l of p.action.text.replace(/\n$/, "").split("\n")) lines.push(`  | ${l}`);
  }
  for (const w of p.warnings) lines.push(`note: ${w}`);
  if (p.action) {
    lines.push(
      `env: ${Object.entries(p.env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}`,
    );
    lines.push(`storm protection: ${storm}`);
  }
  return lines.map(msg);
}

/** The wait of a deferred run (the verdict must be "defer"). */
export function cooldownWait(v: Verdict & { kind: "defer" }, now: number, state: string): WaitStep {
  return {
    kind: "wait",
    ms: Math.max(0, v.until - now),
    why: `for the cooldown, then re-read the check and run only if it is still ${state}`,
  };
}

/** The run of the plan's action (the plan must have one). */
export function runStep(p: TriggerPlan, s: StepSettings): RunStep {
  const { argv, stdin } = actionRun(p.action!);
  const step: RunStep = {
    kind: "run",
    argv,
    timeoutMs: s.timeoutS * 1000,
    label: `${p.key} (timeout ${s.timeoutS}s; recorded in ${s.stateFile}, exit code and ` +
      `output logged to ${s.logFile})`,
    env: p.env,
  };
  if (stdin !== undefined) step.stdin = stdin;
  return step;
}

/**
 * The steps after the verdict: for "run", the run; for "defer", the wait and then the run (as
 * a dry run shows it; a real run re-reads the check between the two); nothing otherwise.
 */
export function actionSteps(p: TriggerPlan, v: Verdict, now: number, s: StepSettings): Step[] {
  if (p.action === null) return [];
  if (v.kind === "run") return [runStep(p, s)];
  if (v.kind === "defer") return [cooldownWait(v, now, p.ctx.state), runStep(p, s)];
  return [];
}

/** The dry-run plan as one JSON object; `steps` are the executor's lines. */
export function planJson(p: TriggerPlan, storm: string, steps: string[]): Record<string, unknown> {
  return {
    dryRun: true,
    ...p.ctx,
    why: p.why,
    key: p.key,
    found: p.value !== null,
    action: p.action,
    env: p.action ? p.env : undefined,
    shadowed: p.shadowed,
    warnings: p.warnings,
    storm: p.action ? storm : undefined,
    steps,
  };
}
