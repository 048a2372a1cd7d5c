/**
 * The event-driven takeover: what `powerconsul watch service -S <svc>` does when the agent runs
 * it as the handler of a Consul `service` (or `checks`) watch on the cluster's service. The
 * event is only a wake-up: the handler reads the state itself, with the check's own code (the
 * cluster view with the same takeover memory, saved as the check saves it, then the check's flip
 * step, lib/check/flip.ts). When this node won the flip, it fires the trigger its check's
 * critical watch would fire a moment later (primary, critical: the role is now primary and the
 * service is stopped), through the one trigger path (storm protection, noopTriggers, pause).
 *
 * Repeats are harmless: the agent runs the handler on creation and on every reload with the
 * whole current state; with nothing due it writes nothing and fires nothing. A failover still
 * inside its damping is waited for, briefly (at most failoverDamping + 1 s, polling, within the
 * command's deadline), then decided again. Unknown state (a read fails) is never acted on.
 */
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import type { TakeoverStore } from "../cluster/takeover_store.ts";
import { verdicts } from "../cluster/takeover.ts";
import { type ClusterView, readClusterView, timingOf } from "../cluster/view.ts";
import type { Config } from "../config.ts";
import type { ConsulClient } from "../consul/client.ts";
import { describeError } from "../errors.ts";
import { flipIfDue, type FlipOutcome, remember } from "../check/flip.ts";
import { startProbe } from "../check/probe.ts";
import type { Logger } from "../log.ts";
import { pauseSentence, readPause } from "../ops/pause.ts";
import { type Effects, Executor } from "../plan/apply.ts";
import type { Runner } from "../sys/runner.ts";
import type { FireResult } from "../triggers/fire.ts";
import type { HealthCheck } from "../triggers/plan.ts";

export interface WatchServiceArgs {
  consulService: string;
  /** Local services to look at before firing (empty: fire without looking). */
  services: string[];
}

export interface WatchDeps {
  consul: ConsulClient;
  runner: Runner;
  config: Config;
  effects: Effects;
  store: TakeoverStore;
  dryRun: boolean;
  /** Milliseconds left of the command's deadline. */
  remainingMs(): number;
  /** The trigger path (lib/triggers/fire.ts with the command's dependencies). */
  fire(check: HealthCheck): Promise<FireResult>;
  log: Pick<Logger, "info" | "warn">;
  /** Dry-run lines. */
  print(line: string): void;
  sleep?: (ms: number) => Promise<void>;
  /** Unit tests observe the dry-run sandbox instead of entering it. */
  dropRun?: () => void;
}

export type WatchAction = "flipped" | "lost" | "nothing" | "paused" | "planned";

export interface WatchOutcome {
  action: WatchAction;
  /** One line for the watch log and stdout. */
  message: string;
  fired?: FireResult;
}

/** Polling step while a failover is inside its damping. */
const POLL_MS = 250;
/** What is left for the flip and the trigger after a wait. */
const MARGIN_MS = 1000;

/**
 * Milliseconds until a failed active's damping has passed, or null when nothing is waiting on
 * it (an active passes, no active failed, or it is already due) (pure).
 */
export function dampingLeftMs(view: ClusterView, now: number, config: Config): number | null {
  if (!view.takeover || view.decision.flipDue || view.placement.kind !== "standby") return null;
  const v = verdicts(view.takeover, now, timingOf(config));
  if (v.some((x) => x.class === "passing")) return null;
  const left = v.filter((x) => x.class === "failed" && !x.due).map((x) => x.delayMs - x.forMs);
  return left.length === 0 ? null : Math.max(0, ...left);
}

/** The health check the trigger is fired for: this node's check of the service, as critical. */
export async function localCheck(
  consul: Pick<ConsulClient, "agentChecks">,
  service: string,
  node: string,
  output: string,
): Promise<HealthCheck> {
  const all = Object.values(await consul.agentChecks());
  const mine = all.find((c) => c.ServiceName === service);
  return {
    Node: node,
    ServiceName: service,
    CheckID: mine?.CheckID ?? "",
    Status: "critical",
    Output: output,
    ServiceID: (mine as { ServiceID?: string } | undefined)?.ServiceID ?? service,
    Name: (mine as { Name?: string } | undefined)?.Name ?? "",
  };
}

/** Run the handler once. Throws on unknown state (nothing acted on). */
export async function watchService(d: WatchDeps, a: WatchServiceArgs): Promise<WatchOutcome> {
  const svc = a.consulService;
  const pause = await readPause(d.consul, d.config, svc);
  if (pause.paused) return { action: "paused", message: `${pauseSentence(pause)}: nothing done` };
  const exOpts: ConstructorParameters<typeof Executor>[1] = {
    dryRun: d.dryRun,
    print: d.print,
    record: (l) => d.log.info(l),
  };
  if (d.dropRun) exOpts.dropRun = d.dropRun;
  const ex = new Executor(d.effects, exOpts);
  const facts = new LiveFacts(d.consul, new IdentityCache(d.consul, d.config), d.store);
  const sleep = d.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const budgetMs = (d.config.failoverDamping + 1) * 1000;
  let waited = 0;
  let out: FlipOutcome;
  for (;;) {
    const view = await readClusterView(facts, d.config, svc);
    await remember(d.store, svc, view, d.dryRun, d.log);
    out = await flipIfDue(
      { ex, facts, store: d.store, config: d.config, log: d.log },
      svc,
      view,
      true,
      false,
    );
    if (out.flip || d.dryRun) break;
    const left = dampingLeftMs(view, d.store.now(), d.config);
    if (left === null) break;
    const step = Math.min(Math.max(left, 1) + 50, POLL_MS);
    if (waited + step > budgetMs || d.remainingMs() - step < MARGIN_MS) break;
    await sleep(step);
    waited += step;
  }
  const view = out.view;
  if (!out.flip) {
    ex.seal(); // a dry run with nothing to print enters the sandbox here
    const message = `nothing due: ${view.decision.reason}` +
      (waited ? ` (waited ${Math.round(waited)} ms for the damping)` : "");
    return { action: "nothing", message };
  }
  if (out.won === false) return { action: "lost", message: out.notes.join("; ") };
  const note = d.dryRun ? `would flip ${out.flip.key}` : out.notes.join("; ");
  if (!d.dryRun && !(view.decision.role === "primary" && view.decision.expects)) {
    return { action: "flipped", message: `${note}; not active after the flip: nothing fired` };
  }
  if (!d.dryRun && a.services.length > 0) {
    let running: boolean | "warning";
    try {
      const look = await startProbe(d.runner, d.config, {
        kind: a.services.length > 1 ? "servicegroup" : "service",
        consulService: svc,
        services: a.services,
        updateKv: true,
      });
      running = look(true).running;
    } catch (e) {
      return {
        action: "flipped",
        message: `${note}; the service's state is unknown (${
          describeError(e)
        }): nothing fired, the check decides`,
      };
    }
    if (running === true) {
      return { action: "flipped", message: `${note}; ${a.services.join(",")} already running` };
    }
  }
  const node = view.node;
  const check = await localCheck(
    d.consul,
    svc,
    node,
    `powerconsul watch: ${node} took over ${svc}; its service is not running yet`,
  );
  const fired = await d.fire(check);
  return {
    action: d.dryRun ? "planned" : "flipped",
    message: `${note}; trigger: ${fired.outcome}, exit ${fired.code}: ${fired.message}`,
    fired,
  };
}
