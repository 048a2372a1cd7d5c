/**
 * A live standby's decision (called by decide() in role.ts, the one place that words a role):
 * the memory of its earlier runs (takeover.ts) says whether the wait for the actives is over.
 */
import type { ActiveInstance, Decision, Placement, TakeoverInput } from "./role.ts";
import { lockAge, seconds, type Verdict, verdicts } from "./takeover.ts";

export type Words = { reason: string; why: string };

export interface StandbyParts {
  standby: Omit<Decision, "expects" | "reason" | "why">;
  wait: (w: Words) => Decision;
  because: (head: string, detail: string | null, tail?: string) => Words;
  seen: string;
}

/** "a1 unreachable (serfHealth=critical) for 4s" */
function sayVerdict(v: Verdict): string {
  return `${v.node} ${v.class} (${v.detail}) for ${seconds(v.forMs)}`;
}

/**
 * A start-primary's locked document: the switch is over (pure) when every active it knows of
 * failed on its own (its node healthy, its check critical) after the document was written
 * (settled).
 */
function switchOver(known: Verdict[], actives: ActiveInstance[]): boolean {
  return known.length > 0 &&
    known.every((v) =>
      v.class === "failed" && actives.some((a) => a.node === v.node && a.settled === true)
    );
}

/** A live standby's decision: the memory of its earlier runs says whether the wait is over. */
export function decideObserved(
  p: Extract<Placement, { kind: "active" | "standby" }>,
  actives: ActiveInstance[],
  t: TakeoverInput,
  { standby, wait, because, seen }: StandbyParts,
): Decision {
  const all = verdicts(t.state, t.now, t.timing);
  const ok = new Set(all.filter((v) => v.class === "passing").map((v) => v.node));
  if (ok.size > 0) {
    return {
      ...standby,
      expects: false,
      // clear a switch lock only on evidence from after the switch
      unlockDue: p.lock && actives.some((a) => ok.has(a.node) && a.settled !== false),
      ...because("an active instance is passing", seen),
    };
  }
  const known = all.filter((v) => v.class !== "absent");
  if (known.length === 0) {
    return wait(because(
      "no active instance is registered in the catalog: not taking over on an absence " +
        "(register the service on the actives, or run start-primary)",
      null,
    ));
  }
  const told = known.map(sayVerdict).join(", ");
  if (!t.self?.healthy) {
    return wait(because(
      "no active instance passing",
      told,
      ` but this node is not healthy (${
        t.self?.detail ?? "its health could not be read"
      }): not taking over`,
    ));
  }
  const lock = p.lock ? lockAge(t.state, t.now, t.timing) : null;
  // During a start-primary switch the promoting node holds its -F lock file, so its check
  // passes; an active that then reports its own failure (node healthy) with checks changed after
  // the document was written has settled: the switch is over and the lock holds no one back.
  // Not after a -U flip: its new active reports "not running yet" until its trigger starts it,
  // which is what that lock waits out.
  const over = p.lock && t.lockedBy === "start-primary" && switchOver(known, actives);
  if (p.lock && !lock?.stale && !over) {
    const age = lock ? ` for ${seconds(lock.forMs)}` : "";
    return wait({
      reason: `${p.reason}; no active instance passing (${told}) but the cluster document is ` +
        `locked (a switch is under way)${age}: staying stopped, at most ` +
        `${t.timing.lockTimeout}s while the lock does not change`,
      why: `${p.reason}; no active instance passing but the cluster document is locked ` +
        "(a switch is under way): staying stopped",
    });
  }
  const waiting = known.filter((v) => !v.due);
  if (waiting.length > 0) {
    return wait({
      reason: `${p.reason}; ` +
        waiting.map((v) =>
          `active ${sayVerdict(v)}: ${
            v.class === "pending" ? "waiting for it to report, " : ""
          }taking over after ${seconds(v.delayMs)}`
        ).join("; "),
      why: `${p.reason}; no active instance passing: waiting before taking over`,
    });
  }
  const stale = over && !lock?.stale
    ? " and the document is locked by a start-primary that is over (its new active failed " +
      "after it)"
    : lock
    ? ` and the lock has not changed for ${seconds(lock.forMs)} (over ` +
      `${t.timing.lockTimeout}s: the switch died)`
    : "";
  return {
    ...standby,
    actsAs: "primary",
    stance: "secondary-acting-primary",
    expects: true,
    actingPrimary: true,
    flipDue: true,
    reason: `${p.reason}; no active instance passing (${told})${stale}: acting as primary`,
    why: `${p.reason}; no active instance passing: acting as primary`,
  };
}
