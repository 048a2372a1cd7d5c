/**
 * One trigger, in process: used by `powerconsul trigger` and, once per local entry, by
 * `powerconsul watch`. Order: the check must be this node's → the local agent must agree it is
 * in the state → role (a secondary whose actives are down acts as primary unless the document
 * is locked) → KV action → restart-storm verdict → steps (lib/triggers/steps.ts) applied by the
 * executor, which prints them instead under --dry-run → log.
 *
 * An active healing itself marks it in KV around the action (lib/triggers/heal_mark.ts).
 * A deferred run (cooldown) waits, then re-reads the check and re-resolves the plan before it
 * runs: the situation may have moved on while it waited. Over 350 lines: one ordered sequence.
 */
import { join } from "../paths.ts";
import type { Config } from "../config.ts";
import { describeError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { segment } from "../names.ts";
import { type Effects, Executor } from "../plan/apply.ts";
import { describeRun } from "../sys/runner.ts";
import { buildPlan, describeAction, type HealthCheck, InputError, triggerKey } from "./plan.ts";
import type { TriggerPlan, TriggerState } from "./plan.ts";
import { keyName, type LimitKey, STATE_FILE, type TriggerLimiter } from "./limit.ts";
import { actionExitCode } from "./run.ts";
import { afterAction, writeHealMark } from "./heal_mark.ts";
import { pausedValue, pauseKeyFor, pauseSentence } from "../ops/pause.ts";
import type { TriggerSource } from "./source.ts";
import {
  actionSteps,
  cooldownWait,
  describePlan,
  planJson,
  runStep,
  type StepSettings,
  stormSentence,
} from "./steps.ts";

/** The logging surface fire() needs (Logger fits; dry-run passes one that writes nothing). */
export interface Log {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}

export const nullLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export type Outcome =
  | "ran"
  | "paused"
  | "no-action"
  | "noop"
  | "limited"
  | "coalesced"
  | "dropped"
  | "planned";

export interface FireResult {
  outcome: Outcome;
  /** The trigger's exit code (the action's own code when it ran). */
  code: number;
  /** One line for stdout / the watch log. */
  message: string;
  plan?: TriggerPlan;
  stdout?: string;
  stderr?: string;
}

export interface FireDeps {
  config: Config;
  source: TriggerSource;
  /** Runs the steps (liveEffects for real; a recording fake in unit tests). */
  effects: Effects;
  limiter: TriggerLimiter;
  dryRun: boolean;
  /** The trigger log (`trigger/<service>.<state>.log`). */
  log(service: string, state: TriggerState): Log;
  /** Dry-run plan output (text lines or one JSON line each). */
  out(line: string): void;
  /** Warnings for the operator (stderr), live and in a dry run. */
  warn?: (message: string) => void;
  format: "text" | "json";
  now?: () => number;
  /**
   * Asked after a deferred run's wait: false when whoever asked for the run is gone (the
   * watch's agent was killed), and the run is dropped.
   */
  stillWanted?: () => boolean;
  /** Gives up the run permission (the executor's default; injected by unit tests). */
  dropRun?: () => void;
  /**
   * The caller established the state first-hand a moment ago (the event-driven takeover has
   * just made this node active while its service is stopped): the local agent's check has not
   * run since, so its older word is not asked for before the first run.
   */
  stateKnown?: boolean;
}

/**
 * `trigger/<service>.<state>.log`. The service name comes from the check JSON, so anything that
 * could leave the directory (a slash, a leading dot) is replaced.
 */
export function triggerLogFile(service: string, state: TriggerState): string {
  return join("trigger", `${safeFileName(service)}.${state}.log`);
}

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9@._:+-]/g, "_").replace(/^\./, "_") || "_";
}

async function resolve(
  check: HealthCheck,
  state: TriggerState,
  node: string,
  deps: FireDeps,
  log: Log,
): Promise<TriggerPlan> {
  const service = check.ServiceName;
  const { source, config } = deps;
  const facts = await source.role(service);
  const dc = await source.datacenter();
  const key = triggerKey(config.triggerPrefix, service, facts.role, state);
  const value = await source.kv(key);
  log.info(
    `role ${facts.role}: ${facts.detail}; key ${key} ${value === null ? "missing" : "found"}`,
  );
  return buildPlan({
    ctx: { service, node, role: facts.role, state, check: check.CheckID, dc },
    why: facts.why,
    key,
    value,
    subVars: config.subVars,
  });
}

const limitKeyOf = (p: TriggerPlan): LimitKey => ({
  service: p.ctx.service,
  role: p.ctx.role,
  state: p.ctx.state,
});

/**
 * Fire the trigger for one health check. Throws on unknown state (agent, KV, cluster document)
 * and on invalid input; everything else is an outcome with an exit code.
 */
export async function fire(
  check: HealthCheck,
  state: TriggerState,
  deps: FireDeps,
): Promise<FireResult> {
  const service = check.ServiceName;
  if (service === "") {
    throw new InputError(
      `check ${check.CheckID || "-"} on ${check.Node} is a node check (no ServiceName): ` +
        `triggers belong to services`,
    );
  }
  segment("ServiceName in the check JSON", service);
  const { config, source } = deps;
  const log = deps.dryRun ? nullLog : deps.log(service, state);
  const now = deps.now ?? Date.now;
  const label = `${service}/${check.CheckID || "-"}`;
  const lines: string[] = [];
  const exOpts: ConstructorParameters<typeof Executor>[1] = {
    dryRun: deps.dryRun,
    print: deps.format === "json" ? (l) => lines.push(l) : (l) => deps.out(`dry-run: ${l}`),
    record: (l) => log.info(`${label}: ${l}`),
  };
  if (deps.dropRun) exOpts.dropRun = deps.dropRun;
  const ex = new Executor(deps.effects, exOpts);
  const fail = (what: string) => (e: unknown): never => {
    log.error(`${label}: ${what}: ${describeError(e)}`);
    throw e;
  };

  if (config.noopTriggers.includes(service)) {
    const message = `${service} is listed in noopTriggers: ${state} trigger for ${
      check.CheckID || "-"
    } logged, nothing run`;
    log.info(message);
    if (deps.dryRun) {
      if (deps.format === "json") {
        ex.seal();
        deps.out(
          JSON.stringify({ dryRun: true, service, state, check: check.CheckID, noop: true }),
        );
      } else await ex.apply({ kind: "message", text: message });
    }
    return { outcome: "noop", code: Exit.OK, message };
  }

  // Another node's check is refused before anything about it is read.
  const node = await source.localNode().catch(fail("nothing run"));
  if (check.Node !== node) {
    const e = new InputError(
      `check ${check.CheckID || "-"} belongs to node ${check.Node}, not to this node (${node}): ` +
        `a trigger only acts on its own node's checks`,
    );
    return fail("nothing run")(e);
  }

  // Pause (maintenance mode, a KV flag every node honours): logged, nothing run.
  const pause = pausedValue(
    await source.kv(pauseKeyFor(config, service)).catch(fail("nothing run: pause flag unread")),
  );
  if (pause.paused) {
    const message = `${pauseSentence(pause)}: ${state} trigger for ${
      check.CheckID || "-"
    } logged, nothing run`;
    log.info(`${label}: ${message}`);
    if (deps.dryRun) await ex.apply({ kind: "message", text: message });
    return { outcome: "paused", code: Exit.OK, message };
  }

  // A watch's payload is the catalog's view, which can lag the local agent by a moment (seen
  // under load: a demoted node received its own check as still critical after it had passed).
  // The local agent runs the check, so its word is the freshest: act only if it agrees.
  if (!deps.dryRun && !deps.stateKnown) {
    const current = await source.checkStatus(check).catch(
      fail("nothing run: cannot read the check from the local agent"),
    );
    if (current !== null && current !== state) {
      const message = `nothing run: the local agent reports ${
        check.CheckID || service
      } as ${current} now, not ${state} (the watch's data was older)`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
  }

  let plan = await resolve(check, state, node, deps, log).catch(fail("nothing run"));
  for (const w of plan.warnings) {
    log.warn(`${label}: ${w}`);
    deps.warn?.(`${plan.key}: ${w}`);
  }
  const settings: StepSettings = {
    cooldownS: config.triggerCooldown,
    timeoutS: config.triggerTimeout,
    stateFile: join(config.logDir, STATE_FILE),
    logFile: join(config.logDir, triggerLogFile(service, state)),
  };

  if (deps.dryRun) {
    const verdict = await deps.limiter.peek(limitKeyOf(plan));
    const storm = stormSentence(verdict, now(), config.triggerCooldown);
    const steps = actionSteps(plan, verdict, now(), settings);
    if (deps.format === "json") {
      await ex.applyAll(steps);
      ex.seal();
      deps.out(JSON.stringify(planJson(plan, storm, lines)));
    } else await ex.applyAll([...describePlan(plan, storm), ...steps]);
    return { outcome: "planned", code: Exit.OK, message: `planned ${plan.key}`, plan };
  }

  const noAction = (p: TriggerPlan): FireResult => {
    const message = `no action at ${p.key} (missing or empty): nothing to do`;
    log.info(`${label}: ${message}`);
    return { outcome: "no-action", code: Exit.OK, message, plan: p };
  };
  if (plan.action === null) return noAction(plan);

  let key = limitKeyOf(plan);
  let verdict = await deps.limiter.attempt(key);
  if (verdict.kind === "defer") {
    const release = () => deps.limiter.release(key);
    log.info(
      `${label}: ${keyName(key)} ran ${
        Math.round((now() - verdict.lastRun) / 100) / 10
      }s ago (cooldown ${config.triggerCooldown}s): deferred`,
    );
    await ex.apply(cooldownWait(verdict, now(), state));
    if (deps.stillWanted && !deps.stillWanted()) {
      await release();
      const message = `deferred run dropped: the agent that asked for it is gone`;
      log.warn(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
    const status = await source.checkStatus(check).catch(async (e) => {
      await release();
      return fail(`deferred run dropped: cannot re-read ${check.CheckID || service}`)(e);
    });
    if (status !== state) {
      await release();
      const message = `deferred run not needed: ${check.CheckID || service} is now ${
        status ?? "gone"
      }, no longer ${state}`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
    // The situation may have moved on while waiting: resolve the role and the action again.
    const again = await resolve(check, state, node, deps, log).catch(async (e) => {
      await release();
      return fail("deferred run dropped")(e);
    });
    const newKey = limitKeyOf(again);
    if (keyName(newKey) !== keyName(key)) await release();
    plan = again;
    key = newKey;
    // As the owner of the deferred run: never coalesced, never marks a new pending run.
    verdict = await deps.limiter.attempt(newKey, true);
    if (verdict.kind === "defer" || verdict.kind === "coalesced") {
      const message = `deferred run not needed: ${keyName(newKey)} ran meanwhile`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
    if (plan.action === null) return noAction(plan);
  }
  if (verdict.kind === "coalesced") {
    const message = `a deferred run of ${keyName(key)} is already pending (pid ${verdict.pid}, ` +
      `due ${new Date(verdict.until).toISOString()}): coalesced into it`;
    log.info(`${label}: ${message}`);
    return { outcome: "coalesced", code: Exit.OK, message, plan };
  }
  if (verdict.kind === "limited") {
    const message = `trigger limit reached: ${keyName(key)} ran ${verdict.runs} times in ` +
      `${config.triggerWindow}s; not acting until ${
        new Date(verdict.clearsAt).toISOString()
      } or 'powerconsul trigger reset -S ${service}'`;
    log.warn(`${label}: ${message}`);
    return { outcome: "limited", code: Exit.FAILED, message, plan };
  }

  const action = plan.action!;
  await writeHealMark(ex, config, plan, "healing", (m) => log.warn(`${label}: ${m}`));
  log.info(`${label}: running ${describeAction(action)} as ${plan.ctx.role} (${plan.why})`);
  const done = await ex.apply(runStep(plan, settings));
  const result = done.run ?? {
    argv: runStep(plan, settings).argv,
    code: null,
    signal: null,
    stdout: "",
    stderr: "",
    timedOut: false,
    spawnError: done.detail,
    ms: 0,
  };
  const code = actionExitCode(result);
  await writeHealMark(ex, config, plan, afterAction(code), (m) => log.warn(`${label}: ${m}`));
  const how = result.timedOut
    ? `killed after the ${config.triggerTimeout}s trigger timeout`
    : describeRun(result);
  const off = verdict.kind === "run" && verdict.unguarded ? " (restart-storm protection off)" : "";
  const message = `${plan.key}: ${describeAction(action)} → ${how} in ${
    Math.round(result.ms)
  } ms (trigger exit ${code})${off}`;
  (code === 0 ? log.info : log.warn).call(log, `${label}: ${message}`);
  if (result.stdout !== "") log.info(`${label}: stdout: ${clip(result.stdout)}`);
  if (result.stderr !== "") log.info(`${label}: stderr: ${clip(result.stderr)}`);
  return { outcome: "ran", code, message, plan, stdout: result.stdout, stderr: result.stderr };
}

function clip(s: string): string {
  const t = s.replace(/\n$/, "");
  return t.length > 16_384 ? `…${t.slice(-16_384)}` : t;
}
