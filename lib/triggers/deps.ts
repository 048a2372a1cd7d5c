/** The dependencies of fire() for a command's context, shared by `trigger` and `watch`. */
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
