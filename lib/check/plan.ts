/**
 * The check's decisions, pure: from the cluster view and what the probe saw to the result and
 * the steps (the -U flip, the lock clear, the tag writes). lib/check/run.ts does the I/O.
 */
import type { ClusterView } from "../cluster/view.ts";
import { docWrite, flipFor, unlockFor } from "../cluster/write.ts";
import type { LocalService } from "../consul/client.ts";
import type { CheckState } from "../exit_codes.ts";
import type { KvWriteStep, TagsStep } from "../plan/step.ts";

/** Probe outcome: running, stopped, or check_procs' warning band. */
export interface Probed {
  running: boolean | "warning";
  detail: string;
}

export const FLIP_WHY = "make this node active (-U)";
export const UNLOCK_WHY = "clear the switch lock";

/** -U: a standby with no active passing flips the document (CAS on the index it decided on). */
export function planFlip(view: ClusterView, updateKv: boolean): KvWriteStep | null {
  if (!view.decision.flipDue || !updateKv) return null;
  return docWrite(view, flipFor(view), FLIP_WHY);
}

/**
 * The switch lock goes on first-hand evidence that the switch happened: the new active's own
 * check passing (its resource runs), or a standby seeing a settled active pass.
 */
export function planUnlock(view: ClusterView, state?: CheckState): KvWriteStep | null {
  const own = view.decision.unlockOnPass && state === "passing";
  if (!view.decision.unlockDue && !own) return null;
  return docWrite(view, unlockFor(view), UNLOCK_WHY);
}

export function stateFor(expects: boolean, p: Probed): CheckState {
  if (p.running === "warning") return "warning";
  return p.running === expects ? "passing" : "critical";
}

/** The tags a passing check wants: `nodns` when stopped as expected, none when running. */
export function wantedTags(current: string[], expects: boolean): string[] | null {
  const has = current.includes("nodns");
  if (!expects && !has) return [...current, "nodns"];
  if (expects && has) return current.filter((t) => t !== "nodns");
  return null;
}

/** Tag writes for the local registrations: only those whose tags change. */
export function planTags(local: LocalService[], expects: boolean): TagsStep[] {
  return local.flatMap((svc) => {
    const next = wantedTags(svc.service.Tags ?? [], expects);
    return next
      ? [{ kind: "tags" as const, serviceId: svc.id, tags: next, registration: svc.service }]
      : [];
  });
}

/** The role fields, the state and the message of the check's answer. */
export function verdict(
  view: ClusterView,
  seen: Probed,
  notes: string[],
): {
  role: string;
  clustered: boolean;
  expects: boolean;
  state: CheckState;
  message: string;
} {
  const d = view.decision;
  const want = d.expects ? "running" : "stopped";
  return {
    role: d.role,
    clustered: d.clustered,
    expects: d.expects,
    state: stateFor(d.expects, seen),
    message: `${seen.detail}; should be ${want}: ${d.reason}` +
      (notes.length ? `; ${notes.join("; ")}` : ""),
  };
}

/** Everything after the probe (and any flip): the answer, the lock clear, the tag writes. */
export function planCheck(
  view: ClusterView,
  seen: Probed,
  local: LocalService[],
  notes: string[],
  /** This run flipped the document: the lock is left to a run whose probe came after. */
  flipped = false,
): ReturnType<typeof verdict> & { unlock: KvWriteStep | null; tags: TagsStep[] } {
  const v = verdict(view, seen, notes);
  return {
    ...v,
    unlock: flipped ? null : planUnlock(view, v.state),
    tags: v.state === "passing" ? planTags(local, v.expects) : [],
  };
}
