/**
 * The heal mark: what an active's trigger tells the standbys about its own healing (pure). When
 * a primary runs the action for its own critical or warning check, it writes
 * `<servicePrefix>/<svc>/<node>/healing` = "healing" before the action and "healed" (exit 0) or
 * "failed" (any other exit, a timeout, a spawn error) after it. A standby reads the marks with
 * the heartbeats (lib/cluster/facts.ts) and lib/cluster/takeover.ts times a failed active by
 * them. The write is best effort: a mark that did not land leaves the standby on the damping.
 */
import type { Config } from "../config.ts";
import { healKey } from "../cluster/facts.ts";
import type { HealState } from "../cluster/takeover.ts";
import { describeError } from "../errors.ts";
import type { Executor } from "../plan/apply.ts";
import type { KvWriteStep } from "../plan/step.ts";
import type { TriggerPlan } from "./plan.ts";

/** The mark step for a plan, or null when the run is not an active healing itself. */
export function healMarkStep(
  config: Pick<Config, "servicePrefix">,
  plan: TriggerPlan,
  state: HealState,
): KvWriteStep | null {
  const c = plan.ctx;
  if (c.role !== "primary" || (c.state !== "critical" && c.state !== "warning")) return null;
  return {
    kind: "kv-write",
    key: healKey(config.servicePrefix, c.service, c.node),
    value: state,
    why: `heal mark: ${state} (a standby times its takeover by it)`,
  };
}

/** The mark after the action: "healed" when it exited 0, else "failed". */
export function afterAction(code: number): HealState {
  return code === 0 ? "healed" : "failed";
}

/** Write the mark through the executor, best effort: a failure is one warning, never thrown. */
export async function writeHealMark(
  ex: Pick<Executor, "apply">,
  config: Pick<Config, "servicePrefix">,
  plan: TriggerPlan,
  state: HealState,
  warn: (message: string) => void,
): Promise<void> {
  const step = healMarkStep(config, plan, state);
  if (step === null) return;
  try {
    const o = await ex.apply(step);
    if (!o.ok) warn(`heal mark ${state} not written: ${o.detail}`);
  } catch (e) {
    warn(`heal mark ${state} not written: ${describeError(e)}`);
  }
}
