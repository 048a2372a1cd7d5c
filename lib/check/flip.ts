/**
 * The takeover step both the check and the event-driven watch take: keep the standby's
 * observation, and when the decision says a flip is due, write it (check-and-set on the index
 * the decision was made on, locked, with its history record) through the executor, copy it to
 * the other datacenters, and read the view again. One code path: the watch decides nothing of
 * its own.
 */
import type { ClusterFacts } from "../cluster/facts.ts";
import type { TakeoverStore } from "../cluster/takeover_store.ts";
import { type ClusterView, readClusterView } from "../cluster/view.ts";
import { planDocCopies, readCopies } from "../cluster/write.ts";
import type { Config } from "../config.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Executor } from "../plan/apply.ts";
import type { KvWriteStep } from "../plan/step.ts";
import { planFlip } from "./plan.ts";

/** The executor's answer for a checked write that lost (see lib/plan/apply.ts). */
export const LOST = "lost the race";

export interface FlipDeps {
  ex: Executor;
  facts: ClusterFacts;
  store: TakeoverStore;
  config: Config;
  log: Pick<Logger, "info" | "warn">;
}

/** What the flip step did. */
export interface FlipOutcome {
  /** The view to go on with (read again after a written flip). */
  view: ClusterView;
  /** The planned flip; null when none was due (or paused, or not asked for). */
  flip: KvWriteStep | null;
  /** true: written; false: lost the race; null: no flip, or a dry run. */
  won: boolean | null;
  /** Sentences for the check's message. */
  notes: string[];
}

/**
 * Keep a standby's observation for its next run. A dry run keeps nothing; a state that cannot
 * be written is logged, and the next run starts its timers again (a later takeover, not an
 * earlier one).
 */
export async function remember(
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

/**
 * The flip, when due and wanted (`updateKv`, not paused). Throws when the write failed for
 * another reason than a lost race (unknown: the caller answers so). The caller has already
 * remembered `view`; a written flip's new view is remembered here.
 */
export async function flipIfDue(
  d: FlipDeps,
  service: string,
  view: ClusterView,
  updateKv: boolean,
  paused: boolean,
): Promise<FlipOutcome> {
  const flip = paused ? null : planFlip(view, updateKv);
  if (!flip) return { view, flip: null, won: null, notes: [] };
  const o = await d.ex.apply(flip);
  if (!o.ok && o.detail !== LOST) throw new Error(o.detail);
  if (d.ex.dryRun) return { view, flip, won: null, notes: [] };
  const notes: string[] = [];
  if (o.ok) {
    d.log.warn(`-U flip of ${flip.key}: ${(await copyToOtherDcs(d, view, flip)).join("; ")}`);
    notes.push(`flipped ${flip.key}: this node is now active (locked until the new actives pass)`);
  } else {
    const why = `lost the race: ${flip.key} changed since index ${flip.cas}; not retried`;
    d.log.warn(`-U flip of ${flip.key}: ${why}`);
    notes.push(`lost the flip race (${why}); re-read the document`);
  }
  const again = await readClusterView(d.facts, d.config, service);
  await remember(d.store, service, again, false, d.log);
  return { view: again, flip, won: o.ok, notes };
}

/** After the local write won: the same document to every other datacenter still on the old one. */
export async function copyToOtherDcs(
  d: Pick<FlipDeps, "ex" | "facts">,
  view: Parameters<typeof planDocCopies>[0],
  local: KvWriteStep,
): Promise<string[]> {
  const notes = [`wrote ${local.key} (cas ${local.cas})`];
  let others: string[];
  try {
    const [here, dcs] = await Promise.all([d.facts.datacenter(), d.facts.datacenters()]);
    others = dcs.filter((x) => x !== here);
  } catch (e) {
    return [...notes, `other datacenters not updated: ${describeError(e)}`];
  }
  const copies = await readCopies(d.facts, local.key, others);
  const next = JSON.parse(local.value) as Record<string, unknown>;
  const plan = planDocCopies(view, next, copies, local.why);
  notes.push(...plan.notes);
  for (const s of plan.steps) {
    const o = await d.ex.apply(s);
    notes.push(o.ok ? `${s.dc}: written (cas ${s.cas})` : `${s.dc}: ${o.detail}, left alone`);
  }
  return notes;
}
