/**
 * One check run: overrides, then probe + local registration + cluster view at once, then the
 * planned steps through the executor (which prints them instead under --dry-run).
 */
import {
  clusterKeyFor,
  FirstReads,
  heartbeatPrefix,
  IdentityCache,
  LiveFacts,
} from "../cluster/facts.ts";
import { FileTakeoverStore, type TakeoverStore } from "../cluster/takeover_store.ts";
import { readClusterView } from "../cluster/view.ts";
import type { Ctx } from "../context.ts";
import type { Logger } from "../log.ts";
import { Executor } from "../plan/apply.ts";
import { liveEffects } from "../plan/live.ts";
import { triggerLimitReached } from "../triggers/limit.ts";
import { pauseSentence, readPause } from "../ops/pause.ts";
import { noticeRole } from "../hooks.ts";
import { failsafeInCheck, fenceNote, renewInCheck, renewWhileHeld } from "../ha/check_lease.ts";
import { bootNow } from "../ha/lease.ts";
import { type CheckArgs, resourceOf } from "./args.ts";
import type { CheckResult } from "./line.ts";
import { planCheck } from "./plan.ts";
import { copyToOtherDcs, flipIfDue, LOST, remember } from "./flip.ts";
import { noopFileHolds, startProbe, taskHolds } from "./probe.ts";
import { mark } from "../trace.ts";

/** The answer before anything is known. */
export function unknownResult(a: CheckArgs): CheckResult {
  return {
    type: a.kind,
    resource: resourceOf(a),
    consulService: a.consulService,
    expects: null,
    clustered: false,
    role: null,
    state: "unknown",
    message: "",
  };
}

/**
 * Run the check. `print` receives the dry-run lines. Throws on unknown state (the caller
 * answers unknown); the result is filled in as far as it got.
 */
export async function runCheck(
  ctx: Pick<Ctx, "consul" | "runner" | "config" | "flags">,
  a: CheckArgs,
  result: CheckResult,
  log: Pick<Logger, "info" | "warn">,
  print: (line: string) => void,
  /**
   * Unit tests observe the dry-run sandbox instead of entering it, keep the takeover memory in
   * memory, and put the hooks' files elsewhere.
   */
  opts: { dropRun?: () => void; hooks?: { dir?: string }; store?: TakeoverStore } = {},
): Promise<void> {
  const exOpts: ConstructorParameters<typeof Executor>[1] = {
    dryRun: ctx.flags.dryRun,
    print,
    record: (line) => log.info(line),
  };
  if (opts.dropRun) exOpts.dropRun = opts.dropRun;
  const ex = new Executor(liveEffects(ctx.consul, ctx.runner), exOpts);
  // The lease counts from the START of the run: a slow run never stretches it.
  const startP = bootNow().catch(() => null);
  // Overrides first: they need no Consul and must work while the agent is busy or restarting.
  const notes: string[] = [];
  const noop = a.noopFile ? await noopFileHolds(a.noopFile) : { holds: null, note: null };
  if (noop.note) notes.push(noop.note);
  const held = noop.holds ?? await taskHolds(ctx.runner, ctx.config, a);
  if (held) {
    result.state = "passing";
    result.message = held;
    // A restart, a switch or maintenance holds the check: the lease is still renewed while the
    // servers confirm the role (the hold stands in for the probe). Never changes the answer.
    await renewWhileHeld(ctx, ex, a.consulService, held, await startP, log);
    return;
  }

  // The probe, the local registration and the cluster document are independent: all at once.
  mark("overrides");
  const probed = startProbe(ctx.runner, ctx.config, a);
  mark("probe-spawned");
  probed.catch(() => {}); // awaited below; this only keeps an early failure elsewhere quiet
  const localP = ctx.consul.localService(a.consulService);
  // The hint may never be awaited (the document read can fail first): a failed registration
  // read must then be a quiet null, not an unhandled rejection that kills the process.
  const hint = localP.then((l) => l[0]?.node ?? null, () => null);
  const id = new IdentityCache(ctx.consul, ctx.config, hint);
  const store = opts.store ?? new FileTakeoverStore();
  const docKey = clusterKeyFor(ctx.config, a.consulService);
  const first = docKey === null ? undefined : new FirstReads(
    ctx.consul,
    docKey,
    heartbeatPrefix(ctx.config.servicePrefix, a.consulService),
    a.consulService,
  );
  const facts = new LiveFacts(ctx.consul, id, store, first);
  // What this run reads after it may have written (a flip's re-read, the copies) is read anew.
  const fresh = first ? new LiveFacts(ctx.consul, id, store) : facts;
  const [localR, viewR, pauseR] = await Promise.allSettled([
    localP,
    readClusterView(facts, ctx.config, a.consulService),
    // Pause (maintenance mode): still probe and report, but no flip and no lock clear.
    readPause(ctx.consul, ctx.config, a.consulService),
  ]);
  mark("reads");
  if (localR.status === "rejected") throw localR.reason;
  const local = localR.value;
  if (local.length === 0) {
    throw new Error(`service ${a.consulService} is not registered with the local Consul agent`);
  }
  if (viewR.status === "rejected") {
    const node = ctx.config.nodeName ?? local[0]?.node ?? null;
    await failsafeInCheck(
      ctx.consul,
      ctx.config,
      ex,
      a.consulService,
      node,
      viewR.reason,
      await startP,
      log,
    );
    throw viewR.reason;
  }
  if (pauseR.status === "rejected") throw pauseR.reason;
  const paused = pauseR.value.paused ? pauseSentence(pauseR.value) : null;
  let view = viewR.value;
  mark("view");
  await remember(store, a.consulService, view, ex.dryRun, log);
  mark("remember");
  // The local resource's state is known before anything is written: a probe that fails (hung
  // and killed at probeTimeout, plugin error) makes the check unknown, and unknown state is
  // never acted on — no -U flip, no lock clear.
  const look = await probed;
  mark("probe");

  const flipped = await flipIfDue(
    { ex, facts: fresh, store, config: ctx.config, log },
    a.consulService,
    view,
    a.updateKv,
    paused !== null,
  );
  mark("flip");
  view = flipped.view;
  notes.push(...flipped.notes);
  const flip = flipped.flip;

  // The run that wrote the flip leaves the lock to the next run: its probe looked before it.
  const plan = planCheck(view, look(view.decision.expects), local, notes, flip !== null);
  result.role = plan.role;
  if (view.entry) result.documentIndex = view.entry.modifyIndex;
  result.clustered = plan.clustered;
  result.expects = plan.expects;
  result.state = plan.state;
  result.message = (paused ? `${paused}; ${plan.message}` : plan.message) +
    await fenceNote(a.consulService, view.node || null);
  if (paused) {
    plan.unlock = null;
    result.paused = true;
  }
  // The lease: a separate step after the view (renewed only on this run's server-backed read).
  mark("plan");
  const nodeHealth = (node: string) => facts.nodeChecks(node);
  await renewInCheck(
    { nodeHealth },
    ctx.config,
    ex,
    a.consulService,
    view,
    look,
    await startP,
    log,
  );
  mark("lease");
  if (!plan.unlock && plan.tags.length === 0) ex.seal();

  if (plan.unlock) {
    const o = await ex.apply(plan.unlock);
    if (!ex.dryRun) {
      if (o.ok) {
        const copied = await copyToOtherDcs({ ex, facts: fresh }, view, plan.unlock);
        log.info(`lock clear on ${plan.unlock.key}: ${copied.join("; ")}`);
        result.message += "; cleared the switch lock";
      } else if (o.detail === LOST) {
        result.message += "; lock already changed by another node";
      } else {
        log.warn(`could not clear the lock on ${plan.unlock.key}: ${o.detail}`);
      }
    }
  }

  // Role-change hook (config roleHook): runs here, after the change, when this node's role moved.
  await noticeRole({
    config: ctx.config,
    runner: ctx.runner,
    log,
    dryRun: ex.dryRun,
    ...opts.hooks,
  }, {
    service: a.consulService,
    node: view.node,
    role: view.doc ? plan.role : null,
    reason: view.decision.reason,
  });

  mark("hook");
  const limit = await triggerLimitReached(ctx.config, a.consulService);
  if (limit) result.message += `; ${limit.message}`;
  // Tag writes: a failure is logged (by the executor's record) and never changes the result.
  mark("limit");
  await ex.applyAll(plan.tags);
  mark("tags");
}
