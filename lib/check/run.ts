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
   * Unit tests observe the dry-run sandbox instead of entering it, and keep the takeover
   * memory in memory.
   */
  opts: { dropRun?: () => void; store?: TakeoverStore } = {},
): Promise<void> {
  const exOpts: ConstructorParameters<typeof Executor>[1] = {
    dryRun: ctx.flags.dryRun,
    print,
    record: (line) => log.info(line),
  };
  if (opts.dropRun) exOpts.dropRun = opts.dropRun;
  const ex = new Executor(liveEffects(ctx.consul, ctx.runner), exOpts);
  // Overrides first: they need no Consul and must work while the agent is busy or restarting.
  const held = (a.noopFile ? await noopFileHolds(a.noopFile) : null) ??
    await taskHolds(ctx.runner, ctx.config, a);
  if (held) {
    result.state = "passing";
    result.message = held;
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
  const [localR, viewR] = await Promise.allSettled([
    localP,
    readClusterView(facts, ctx.config, a.consulService),
  ]);
  if (localR.status === "rejected") throw localR.reason;
  const local = localR.value;
  if (local.length === 0) {
    throw new Error(`service ${a.consulService} is not registered with the local Consul agent`);
  }
  if (viewR.status === "rejected") throw viewR.reason;
  let view = viewR.value;
  const notes: string[] = [];
  await remember(store, a.consulService, view, ex.dryRun, log);
  // The local resource's state is known before anything is written: a probe that fails (hung
  // and killed at probeTimeout, plugin error) makes the check unknown, and unknown state is
  // never acted on — no -U flip, no lock clear.
  const look = await probed;

  const flip = planFlip(view, a.updateKv);
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
  result.message = plan.message;
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
