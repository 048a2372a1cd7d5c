/**
 * One check run: overrides, then probe + local registration + cluster view at once, then the
 * planned steps through the executor (which prints them instead under --dry-run).
 */
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import { FileTakeoverStore, type TakeoverStore } from "../cluster/takeover_store.ts";
import { planDocCopies, readCopies } from "../cluster/write.ts";
import { type ClusterView, readClusterView } from "../cluster/view.ts";
import type { Ctx } from "../context.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Executor } from "../plan/apply.ts";
import { liveEffects } from "../plan/live.ts";
import type { KvWriteStep } from "../plan/step.ts";
import { triggerLimitReached } from "../triggers/limit.ts";
import { pauseSentence, readPause } from "../ops/pause.ts";
import { noticeRole } from "../hooks.ts";
import { failsafeInCheck, fenceNote, renewInCheck, renewWhileHeld } from "../ha/check_lease.ts";
import { bootNow } from "../ha/lease.ts";
import { type CheckArgs, resourceOf } from "./args.ts";
import type { CheckResult } from "./line.ts";
import { planCheck, planFlip } from "./plan.ts";
import { noopFileHolds, startProbe, taskHolds } from "./probe.ts";

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

/** The executor's answer for a checked write that lost (see lib/plan/apply.ts). */
const LOST = "lost the race";

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
  const probed = startProbe(ctx.runner, ctx.config, a);
  probed.catch(() => {}); // awaited below; this only keeps an early failure elsewhere quiet
  const localP = ctx.consul.localService(a.consulService);
  // The hint may never be awaited (the document read can fail first): a failed registration
  // read must then be a quiet null, not an unhandled rejection that kills the process.
  const hint = localP.then((l) => l[0]?.node ?? null, () => null);
  const id = new IdentityCache(ctx.consul, ctx.config, hint);
  const store = opts.store ?? new FileTakeoverStore();
  const facts = new LiveFacts(ctx.consul, id, store);
  const [localR, viewR, pauseR] = await Promise.allSettled([
    localP,
    readClusterView(facts, ctx.config, a.consulService),
    // Pause (maintenance mode): still probe and report, but no flip and no lock clear.
    readPause(ctx.consul, ctx.config, a.consulService),
  ]);
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
  await remember(store, a.consulService, view, ex.dryRun, log);
  // The local resource's state is known before anything is written: a probe that fails (hung
  // and killed at probeTimeout, plugin error) makes the check unknown, and unknown state is
  // never acted on — no -U flip, no lock clear.
  const look = await probed;

  const flip = paused ? null : planFlip(view, a.updateKv);
  if (flip) {
    const o = await ex.apply(flip);
    if (!o.ok && o.detail !== LOST) throw new Error(o.detail);
    if (!ex.dryRun) {
      if (o.ok) {
        log.warn(
          `-U flip of ${flip.key}: ${(await copyToOtherDcs(ex, facts, view, flip)).join("; ")}`,
        );
        notes.push(
          `flipped ${flip.key}: this node is now active (locked until the new actives pass)`,
        );
      } else {
        const why = `lost the race: ${flip.key} changed since index ${flip.cas}; not retried`;
        log.warn(`-U flip of ${flip.key}: ${why}`);
        notes.push(`lost the flip race (${why}); re-read the document`);
      }
      view = await readClusterView(facts, ctx.config, a.consulService);
      await remember(store, a.consulService, view, ex.dryRun, log);
    }
  }

  // The run that wrote the flip leaves the lock to the next run: its probe looked before it.
  const plan = planCheck(view, look(view.decision.expects), local, notes, flip !== null);
  result.role = plan.role;
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
  await renewInCheck(ctx.consul, ctx.config, ex, a.consulService, view, look, await startP, log);
  if (!plan.unlock && plan.tags.length === 0) ex.seal();

  if (plan.unlock) {
    const o = await ex.apply(plan.unlock);
    if (!ex.dryRun) {
      if (o.ok) {
        const copied = await copyToOtherDcs(ex, facts, view, plan.unlock);
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

  const limit = await triggerLimitReached(ctx.config, a.consulService);
  if (limit) result.message += `; ${limit.message}`;
  // Tag writes: a failure is logged (by the executor's record) and never changes the result.
  await ex.applyAll(plan.tags);
}

/**
 * Keep a standby's observation for its next run. A dry run keeps nothing; a state that cannot
 * be written is logged, and the next run starts its timers again (a later takeover, not an
 * earlier one).
 */
async function remember(
  store: TakeoverStore,
  service: string,
  view: Pick<ClusterView, "takeover" | "node">,
  dryRun: boolean,
  log: Pick<Logger, "warn">,
): Promise<void> {
  if (dryRun || !view.takeover) return;
  try {
    await store.save(service, view.node, view.takeover);
  } catch (e) {
    log.warn(describeError(e));
  }
}

/** After the local write won: the same document to every other datacenter still on the old one. */
async function copyToOtherDcs(
  ex: Executor,
  facts: LiveFacts,
  view: Parameters<typeof planDocCopies>[0],
  local: KvWriteStep,
): Promise<string[]> {
  const notes = [`wrote ${local.key} (cas ${local.cas})`];
  let others: string[];
  try {
    const [here, dcs] = await Promise.all([facts.datacenter(), facts.datacenters()]);
    others = dcs.filter((d) => d !== here);
  } catch (e) {
    return [...notes, `other datacenters not updated: ${describeError(e)}`];
  }
  const copies = await readCopies(facts, local.key, others);
  const next = JSON.parse(local.value) as Record<string, unknown>;
  const plan = planDocCopies(view, next, copies, local.why);
  notes.push(...plan.notes);
  for (const s of plan.steps) {
    const o = await ex.apply(s);
    notes.push(o.ok ? `${s.dc}: written (cas ${s.cas})` : `${s.dc}: ${o.detail}, left alone`);
  }
  return notes;
}
