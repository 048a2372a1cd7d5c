/**
 * The dependencies of fire() for a command's context, shared by `trigger` and `watch`, and the
 * one deadline for reading a watch payload from stdin.
 */
import type { Config } from "../config.ts";
import type { Ctx } from "../context.ts";
import { liveEffects } from "../plan/live.ts";
import type { FireDeps } from "./fire.ts";
import { triggerLogFile } from "./fire.ts";
import { limitSettings, TriggerLimiter } from "./limit.ts";
import type { TriggerSource } from "./source.ts";

export function triggerDeps(
  ctx: Ctx,
  source: TriggerSource,
  out: (line: string) => void,
): FireDeps {
  const warnings = ctx.logger("trigger/state.log", "trigger", "-");
  const warn = (m: string) => ctx.io.err(`powerconsul: warning: ${m}\n`);
  return {
    config: ctx.config,
    source,
    effects: liveEffects(ctx.consul, ctx.runner),
    limiter: new TriggerLimiter(ctx.config.logDir, limitSettings(ctx.config), {
      warn: (m) => {
        warn(m);
        if (!ctx.flags.dryRun) warnings.warn(m);
      },
    }),
    dryRun: ctx.flags.dryRun,
    log: (service, state) => ctx.logger(triggerLogFile(service, state), "trigger", service),
    out,
    warn,
    format: ctx.flags.output ?? "text",
  };
}

/**
 * How long the watch waits for its payload on stdin. Consul writes the payload at once and
 * closes the pipe; a handler that never gets EOF must not hang for good. One place, so an
 * overall per-command deadline can take over here.
 */
export function stdinDeadlineMs(config: Config): number {
  return Math.max(1, config.httpTimeout) * 2 * 1000;
}
