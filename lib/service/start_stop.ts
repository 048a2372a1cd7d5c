/**
 * `service <name> start|stop|restart`: the role gate first (unknown cluster state refuses
 * before anything is touched), then the planned steps through the executor, which performs them
 * or, for --dry-run, prints them.
 */
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import { readClusterView } from "../cluster/view.ts";
import type { Ctx } from "../context.ts";
import { describeError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import type { Logger } from "../log.ts";
import type { Step } from "../plan/step.ts";
import { converge, convergeSteps, readStates, type Say } from "./actions.ts";
import { serviceExecutor } from "./live.ts";
import { gate, type LocalState, type ServiceArgs } from "./plan.ts";
import { bootNow } from "../ha/lease.ts";
import { guardDownSteps, guardUpSteps, wantsGuard } from "./guarding.ts";

/** How long a restart waits after taking its lock file, so running checks finish first. */
export const RESTART_GRACE_MS = 2000;

/** The restart's steps around the stop and start (pure). */
export function restartSteps(a: ServiceArgs): { take: Step; grace: Step; drop: Step } {
  return {
    take: {
      kind: "lock-file",
      op: "create",
      path: a.lockFile,
      owner: { action: "restart", name: a.name, consulService: a.consulService, holder: "self" },
    },
    grace: { kind: "wait", ms: RESTART_GRACE_MS, why: "for running checks" },
    drop: { kind: "lock-file", op: "remove", path: a.lockFile },
  };
}

export async function startStop(
  ctx: Ctx,
  a: ServiceArgs,
  action: "start" | "stop" | "restart",
  say: Say,
  log: Logger,
): Promise<number> {
  let view;
  // The lease a start writes counts from before the role was read.
  const startP = bootNow().catch(() => null);
  try {
    const facts = new LiveFacts(ctx.consul, new IdentityCache(ctx.consul, ctx.config));
    view = await readClusterView(facts, ctx.config, a.consulService);
  } catch (e) {
    const line = `${action} ${a.name}: refused: cluster state unknown (${
      describeError(e)
    }); nothing changed`;
    ctx.io.err(line + "\n");
    log.error(line);
    return Exit.UNKNOWN;
  }
  const gt = gate(action, a.name, view.decision);
  if (!gt.allowed) {
    ctx.io.err(`${action} ${a.name}: ${gt.reason}\n`);
    log.warn(`${action}: ${gt.reason}`);
    return Exit.FAILED;
  }
  log.info(`${action} allowed: ${gt.reason}`);
  const states = await readStates(ctx, a.services);
  const ex = serviceExecutor(ctx, say, log);
  const mgr = ctx.config.serviceManager;
  // One action may take a while (a database); it is bounded like a trigger action.
  const timeoutMs = ctx.config.triggerTimeout * 1000;
  if (ex.dryRun) {
    await ex.apply({ kind: "message", text: `${action} ${a.name}: allowed (${gt.reason})` });
  }
  // The lease guard: up before the services start, down before they stop.
  const start = await startP;
  if (start === null && action === "start" && wantsGuard(view)) {
    say(`${action} ${a.name}: refused: the boot clock (/proc/uptime) cannot be read for the lease`);
    return Exit.FAILED;
  }
  // (a restart keeps the guard that start started: its lock file holds the checks meanwhile)
  const guard = action === "stop"
    ? guardDownSteps(a.consulService, view.node)
    : start === null || action === "restart"
    ? []
    : guardUpSteps(
      view,
      {
        consulService: a.consulService,
        services: a.services,
        leaseSeconds: ctx.config.leaseSeconds,
        configPath: ctx.loaded.path,
      },
      start,
      `service ${action}`,
    );
  for (const o of await ex.applyAll(guard, true)) {
    if (o.ok || ex.dryRun) continue;
    say(`lease guard: FAILED (${o.detail})`, "error");
    if (action !== "stop") {
      say(`${action} ${a.name}: refused: the services would run without a guard; nothing started`);
      return Exit.FAILED;
    }
  }
  if (action !== "restart") {
    const ok = await converge(ex, convergeSteps(action, states, mgr, timeoutMs), say);
    return ok ? Exit.OK : Exit.FAILED;
  }
  const { take, grace, drop } = restartSteps(a);
  const taken = await ex.apply(take);
  if (!taken.ok) {
    say(`lock file ${a.lockFile}: FAILED (${taken.detail}); nothing changed`, "error");
    return Exit.FAILED;
  }
  let ok = false;
  try {
    if (!ex.dryRun) {
      const over = /^ok \(taken over: (.*)\)$/.exec(taken.detail);
      if (over) say(`lock file ${a.lockFile}: taken over (${over[1]})`);
      say(`lock file ${a.lockFile}: created ok`);
    }
    await ex.apply(grace);
    if (!ex.dryRun) say(`waited ${RESTART_GRACE_MS / 1000}s for running checks: ok`);
    const stopped: LocalState[] = states.map((s) => ({ ...s, running: false }));
    const okStop = await converge(ex, convergeSteps("stop", states, mgr, timeoutMs), say);
    const okStart = await converge(ex, convergeSteps("start", stopped, mgr, timeoutMs), say);
    ok = okStop && okStart;
  } finally {
    const dropped = await ex.apply(drop);
    if (!ex.dryRun) {
      say(
        `lock file ${a.lockFile} removed: ${dropped.ok ? "ok" : `FAILED (${dropped.detail})`}`,
        dropped.ok ? "info" : "error",
      );
    }
    if (!dropped.ok) ok = false;
  }
  return ok ? Exit.OK : Exit.FAILED;
}
