/** Fixtures for the standby's takeover memory: observations and a run-by-run driver. */
import { decide, type Decision, place } from "../../lib/cluster/role.ts";
import {
  type ActiveObservation,
  fresh,
  observe,
  type TakeoverState,
  type Timing,
} from "../../lib/cluster/takeover.ts";
import type { ClusterDoc } from "../../lib/cluster/doc.ts";
import type { HistoryAction } from "../../lib/history/entry.ts";
import { FakeClock } from "./fakes.ts";
import { FileTakeoverStore } from "../../lib/cluster/takeover_store.ts";

/** The defaults' timings. */
export const TIMING: Timing = {
  failoverDamping: 2,
  takeoverDelay: 20,
  lockTimeout: 30,
  leaseSeconds: 10,
};

type Inst = NonNullable<ActiveObservation["instance"]>;

/** An active seen in the catalog; `over` changes its instance. */
export const seen = (
  node: string,
  over: Partial<Inst> = {},
  more: Partial<ActiveObservation> = {},
) => ({
  node,
  instance: {
    passing: true,
    nodeHealthy: true,
    pending: false,
    unknown: false,
    failing: [],
    ...over,
  },
  member: null,
  ...more,
} as ActiveObservation);

export const passing = (node: string, more: Partial<ActiveObservation> = {}) =>
  seen(node, {}, more);
/** Its node healthy, its service check critical: it reports its own failure. */
export const failed = (node: string, check = "web=critical") =>
  seen(node, { passing: false, failing: [check] });
/** Its node's serfHealth critical. */
export const cutOff = (node: string) =>
  seen(node, { passing: false, nodeHealthy: false, failing: ["serfHealth=critical"] });
/** Critical with empty output (just registered). */
export const pendingObs = (node: string) =>
  seen(node, { passing: false, pending: true, failing: ["web=critical(not run yet)"] });
/** Not in the catalog answer. */
export const missing = (
  node: string,
  member: ActiveObservation["member"] = null,
) => ({ node, instance: null, member } as ActiveObservation);

/** A standby that observes and decides run by run on a fake clock, as the check would. */
export class Standby {
  state: TakeoverState = fresh();
  readonly clock = new FakeClock(5_000_000);
  self: { healthy: boolean; detail: string } | null = { healthy: true, detail: "" };
  /** Per active node, whether its health reflects the current document (view.ts); unset: unknown. */
  settled: Record<string, boolean> = {};
  /** Who locked the document (the history's newest document change, view.ts). */
  lockedBy: HistoryAction | null = null;
  constructor(
    readonly doc: ClusterDoc,
    readonly node = "s1",
    readonly timing: Timing = TIMING,
  ) {}
  /** One run at the current time; `lockedIndex` when the document is locked. */
  run(actives: ActiveObservation[], lockedIndex: number | null = null): Decision {
    const now = this.clock.now();
    this.state = observe(this.state, now, { actives, lockedIndex }, this.timing);
    const p = place({ doc: this.doc, node: this.node, datacenter: "dc1", datacenters: ["dc1"] });
    const seenNow = actives.flatMap((o) =>
      o.instance
        ? [{
          node: o.node,
          datacenter: "dc1",
          passing: o.instance.passing,
          failing: o.instance.failing,
          ...(o.node in this.settled ? { settled: this.settled[o.node] } : {}),
        }]
        : []
    );
    return decide(p, seenNow, {
      state: this.state,
      now,
      timing: this.timing,
      self: this.self,
      lockedBy: this.lockedBy,
    });
  }
  /**
   * Runs once a second (as a check at a 1 s interval) for `s` seconds; the last decision. Runs
   * further apart than leaseSeconds would not be continuous observations.
   */
  over(s: number, actives: ActiveObservation[], lockedIndex: number | null = null): Decision {
    let d: Decision | undefined;
    for (let left = s; left > 0; left -= 1) {
      this.clock.advance(Math.min(1, left) * 1000);
      d = this.run(actives, lockedIndex);
    }
    return d ?? this.run(actives, lockedIndex);
  }
  /** Seconds pass. */
  wait(s: number): this {
    this.clock.advance(s * 1000);
    return this;
  }
}

/**
 * For tests of what reads the memory (triggers, status) on a node that runs no check: write
 * the state a standby's checks would have left after watching `active` fail for 3 s.
 */
export async function rememberFailed(service: string, node: string, active: string) {
  const now = Date.now();
  const state: TakeoverState = {
    at: now - 1000,
    nodes: {
      [active]: {
        seen: true,
        class: "failed",
        detail: "web-ttl=critical",
        since: now - 3000,
        pendingSince: null,
        heartbeat: null,
      },
    },
    lock: null,
  };
  await new FileTakeoverStore().save(service, node, state);
}
