/**
 * The cluster-document writes: -U flip and lock clear, each a check-and-set on the index the
 * decision was made on, then copied to every other datacenter whose copy still matches what the
 * decision read. Planned as steps (for the executor); casClusterDoc writes directly.
 */
import type { ConsulClient, KvEntry } from "../consul/client.ts";
import { ClusterError, describeError } from "../errors.ts";
import type { KvWriteStep } from "../plan/step.ts";
import { type HistoryAction, makeEntry } from "../history/entry.ts";
import { writeRecorded } from "../history/txn.ts";
import { docText, flippedDoc, sameDoc, unlockedDoc } from "./doc.ts";
import type { IdentityCache } from "./facts.ts";
import type { ClusterView } from "./view.ts";

export interface WriteOutcome {
  /** The local datacenter's write succeeded. */
  won: boolean;
  /** One line per datacenter written or skipped. */
  notes: string[];
}

/**
 * The local check-and-set write of `next` in place of the document the view was read from.
 * When the view names its service's history key, the step carries the history entry, and the
 * executor writes both in one transaction. `action` defaults to what the change looks like: a
 * lock removed and nothing else is "lock-cleared", anything else "flip".
 */
export function docWrite(
  view: ClusterView,
  next: Record<string, unknown>,
  why: string,
  action?: HistoryAction,
  now?: () => Date,
): KvWriteStep {
  if (!view.key || !view.entry || !view.doc) throw new ClusterError("no cluster document to write");
  const step: KvWriteStep = {
    kind: "kv-write",
    key: view.key,
    value: docText(next),
    cas: view.entry.modifyIndex,
    why,
  };
  if (view.history) {
    step.record = {
      key: view.history.key,
      entry: makeEntry({
        node: view.node,
        service: view.history.service,
        action: action ?? changeAction(view.doc.raw, next),
        before: view.doc.raw,
        after: next,
        reason: view.decision.reason,
      }, now),
    };
  }
  return step;
}

/** "lock-cleared" when the only difference is a removed lock, else "flip" (pure). */
export function changeAction(before: unknown, after: unknown): HistoryAction {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).filter(([k]) => k !== "lock").map((
          [k, x],
        ) => [k, strip(x)]),
      );
    }
    return v;
  };
  return sameDoc(strip(before), strip(after)) ? "lock-cleared" : "flip";
}

/** Another datacenter's copy of the document, as read after the local write won. */
export type Copy = { dc: string; entry: KvEntry | null } | { dc: string; error: string };

/**
 * Which other datacenters get the new document (pure): only a copy that still says what this
 * decision was based on is overwritten (check-and-set); anything else is left alone with a note.
 */
export function planDocCopies(
  view: ClusterView,
  next: Record<string, unknown>,
  copies: Copy[],
  why: string,
): { steps: KvWriteStep[]; notes: string[] } {
  const steps: KvWriteStep[] = [];
  const notes: string[] = [];
  for (const c of copies) {
    if ("error" in c) {
      notes.push(`${c.dc}: not updated (${c.error})`);
      continue;
    }
    if (c.entry === null) {
      notes.push(`${c.dc}: no copy of ${view.key}, left alone`);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(c.entry.value ?? "");
    } catch {
      notes.push(`${c.dc}: copy is not valid JSON, left alone`);
      continue;
    }
    if (sameDoc(parsed, next)) {
      notes.push(`${c.dc}: already up to date`);
    } else if (sameDoc(parsed, view.doc?.raw)) {
      steps.push({
        kind: "kv-write",
        key: view.key!,
        value: docText(next),
        cas: c.entry.modifyIndex,
        dc: c.dc,
        why,
      });
    } else {
      notes.push(`${c.dc}: copy differs from what this decision was based on, left alone`);
    }
  }
  return { steps, notes };
}

/** Read every other datacenter's copy of the view's document (never throws). */
export async function readCopies(
  read: { kvGet(key: string, dc: string): Promise<KvEntry | null> },
  key: string,
  dcs: string[],
): Promise<Copy[]> {
  return await Promise.all(dcs.map(async (dc): Promise<Copy> => {
    try {
      return { dc, entry: await read.kvGet(key, dc) };
    } catch (e) {
      return { dc, error: describeError(e) };
    }
  }));
}

/** Directly written (no executor) form of the flip/lock writes, for the switch code. */
export async function casClusterDoc(
  consul: ConsulClient,
  view: ClusterView,
  next: Record<string, unknown>,
  id: IdentityCache,
  action: HistoryAction = "start-primary",
): Promise<WriteOutcome> {
  const local = docWrite(view, next, "update the cluster document", action);
  if (local.record && action === "start-primary") {
    local.record.entry.reason = `start-primary run on ${view.node} (${view.decision.reason})`;
  }
  const notes: string[] = [];
  const won = local.record
    ? (await writeRecorded(consul, {
      kind: "put",
      key: local.key,
      value: local.value,
      cas: local.cas!,
    }, local.record)).won
    : await consul.kvPut(local.key, local.value, { cas: local.cas! });
  if (!won) {
    notes.push(`lost the race: ${local.key} changed since index ${local.cas}; not retried`);
    return { won, notes };
  }
  notes.push(`wrote ${local.key} (cas ${local.cas})`);
  let dcs: string[] = [];
  let here = "";
  try {
    [here, dcs] = await Promise.all([id.datacenter(), consul.datacenters()]);
  } catch (e) {
    notes.push(`other datacenters not updated: ${(e as Error).message}`);
    return { won, notes };
  }
  const copies = await readCopies(
    { kvGet: (k, dc) => consul.kvGet(k, { dc }) },
    local.key,
    dcs.filter((d) => d !== here),
  );
  const plan = planDocCopies(view, next, copies, local.why);
  notes.push(...plan.notes);
  for (const s of plan.steps) {
    try {
      const ok = await consul.kvPut(s.key, s.value, { dc: s.dc!, cas: s.cas! });
      notes.push(ok ? `${s.dc}: written (cas ${s.cas})` : `${s.dc}: lost the race, left alone`);
    } catch (e) {
      notes.push(`${s.dc}: not updated (${(e as Error).message})`);
    }
  }
  return { won, notes };
}

export function flipFor(view: ClusterView): Record<string, unknown> {
  if (!view.doc) throw new ClusterError("no cluster document to flip");
  // a node-level flip makes this standby the winner; a datacenter-level one swaps the two
  const p = view.placement;
  const winner = p.kind === "standby" && p.mode === "nodes" ? view.node : undefined;
  return flippedDoc(view.doc, p.kind === "standby" ? p.pattern : undefined, winner);
}

export function unlockFor(view: ClusterView): Record<string, unknown> {
  if (!view.doc) throw new ClusterError("no cluster document to unlock");
  const pattern = view.placement.kind === "standby" || view.placement.kind === "active"
    ? view.placement.pattern
    : undefined;
  return unlockedDoc(view.doc, pattern);
}
