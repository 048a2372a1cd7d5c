/**
 * What a standby remembers between its runs about the actives it watches, and how long each of
 * them has to stay down before it takes over. Pure: observe() is the one transition, verdicts()
 * the one reading; lib/cluster/takeover_store.ts keeps the state in a file.
 *
 * Every time is the standby's own clock (milliseconds on the host's boot clock); nothing here
 * compares two hosts' clocks. A missing or unreadable state is fresh(): every timer starts
 * again, which can only delay a takeover, never hasten one.
 *
 * Classes of an active, per observation:
 *   passing     every check passing, and its heartbeat (when it has one) still moving
 *   failed      its node is healthy and it reports its own failure (a service check critical or
 *               warning): the fast path, after `failoverDamping`
 *   unreachable its node is down or in maintenance, it answered "unknown", it left or vanished
 *               from the catalog after having been seen there, its heartbeat stopped moving, or
 *               it stayed "pending" past the bound: the slow path, after `takeoverDelay`, since
 *               it may still run on a lease it renewed before it went quiet
 *   pending     critical with empty output (just registered, or its output not synced yet):
 *               waits, but at most `takeoverDelay` from the first such observation
 *   absent      never seen registered and not known to have left: unknown, never acted on
 *
 * Heal marks: an active's trigger writes `<servicePrefix>/<svc>/<node>/healing` before and after
 * the action it runs for its own failure (lib/triggers/heal_mark.ts). For a `failed` active, a
 * mark of this failure episode (its ModifyIndex above the active's check index at this standby's
 * first failed observation, or first seen during the episode) replaces the damping: "failed" →
 * due at once (the active said it cannot heal); "healing" → wait up to the trigger timeout from
 * when this standby first saw the mark, never beyond takeoverDelay; "healed" → wait two check
 * intervals from then for its check to pass. No mark of this episode: `failoverDamping`. Marks
 * are ordered against the failure by raft indexes only, never by either host's clock.
 */

export type ActiveClass = "passing" | "failed" | "unreachable" | "pending" | "absent";

/** Seconds, from the configuration. */
export interface Timing {
  failoverDamping: number;
  takeoverDelay: number;
  lockTimeout: number;
  /**
   * Two observations further apart than this are not continuous (an active could have renewed
   * a whole lease in between unseen): the not-passing timers start again.
   */
  leaseSeconds: number;
  /** Bound of a "healing" mark (the trigger's own timeout); absent: takeoverDelay. */
  triggerTimeout?: number;
  /** Check interval, for the wait after a "healed" mark; absent: 1 s. */
  checkInterval?: number;
}

export type HealState = "healing" | "healed" | "failed";

const HEAL_STATES: ReadonlySet<unknown> = new Set<HealState>(["healing", "healed", "failed"]);

/** A heal mark's value as written (lib/triggers/heal_mark.ts); anything else is no mark. */
export function isHealState(v: unknown): v is HealState {
  return HEAL_STATES.has(v);
}

/** An active's heal mark as read: its value and ModifyIndex. */
export interface HealMark {
  index: number;
  state: HealState;
}

/** What one run saw of one active. */
export interface ActiveObservation {
  node: string;
  /** Its instance in the catalog answer; null when the answer does not list it. */
  instance: null | {
    passing: boolean;
    /** Its node's own checks (serfHealth, node maintenance) pass. */
    nodeHealthy: boolean;
    /** Not passing only because checks show critical with no output. */
    pending: boolean;
    /** A powerconsul check on it answered "unknown": no report of its own failure. */
    unknown: boolean;
    /** The checks that are not passing ("web=critical"). */
    failing: string[];
    /** Highest ModifyIndex of its checks (0 or absent: unknown). */
    checksIndex?: number;
  };
  /** Its status in the local agent's members list; null when not listed (or not read). */
  member: "alive" | "leaving" | "left" | "failed" | null;
  /** ModifyIndex of its heartbeat key; null: no such key; undefined: not read this run. */
  heartbeat?: number | null | undefined;
  /** Its heal mark; null: no such key; undefined: not read this run. */
  mark?: HealMark | null | undefined;
}

export interface Observation {
  actives: ActiveObservation[];
  /** The cluster document's ModifyIndex when it is locked; null when it is not. */
  lockedIndex: number | null;
}

export interface NodeMemo {
  /** Seen registered in the catalog at some observation. */
  seen: boolean;
  class: ActiveClass;
  /** Why, for the reason sentence ("serfHealth=critical", "members: left"). */
  detail: string;
  /** First of the continuous not-passing observations; null while passing. */
  since: number | null;
  /** First of the continuous pending observations. */
  pendingSince: number | null;
  /** The heartbeat's index and when this standby first saw that index. */
  heartbeat: { index: number; changedAt: number } | null;
  /** The active's check index at the first failed observation of this episode. */
  episode?: number | null;
  /** Its heal mark and when this standby first saw that index. */
  mark?: (HealMark & { seenAt: number }) | null;
}

export interface TakeoverState {
  /** Time of the last observation; null when fresh. */
  at: number | null;
  nodes: Record<string, NodeMemo>;
  /** The locked document's index and when this standby first saw it. */
  lock: { index: number; since: number } | null;
}

export function fresh(): TakeoverState {
  return { at: null, nodes: {}, lock: null };
}

const ms = (s: number) => s * 1000;

/** Class and detail of one observation, given what was remembered (pure). */
function classify(
  o: ActiveObservation,
  m: NodeMemo | undefined,
  now: number,
  pendingSince: number | null,
  hb: NodeMemo["heartbeat"],
  t: Timing,
): Classified {
  const i = o.instance;
  if (i === null) {
    if (o.member === "left" || o.member === "leaving") return down("members: left");
    if (o.member === "failed") return down("members: failed");
    if (m?.seen) return down("gone from the catalog");
    return { class: "absent", detail: "not registered" };
  }
  const failing = i.failing.join("+") || "not passing";
  if (!i.nodeHealthy) return down(failing);
  if (i.passing) {
    if (hb && now - hb.changedAt > ms(t.takeoverDelay)) {
      // a stopped heartbeat counts from when this standby last saw it move
      return {
        ...down(`heartbeat unchanged for ${seconds(now - hb.changedAt)}`),
        from: hb.changedAt,
      };
    }
    return { class: "passing", detail: "passing" };
  }
  if (i.pending) {
    if (pendingSince !== null && now - pendingSince >= ms(t.takeoverDelay)) {
      return down(`${failing}, no output for ${seconds(now - pendingSince)}`);
    }
    return { class: "pending", detail: failing };
  }
  if (i.unknown) return down(`${failing}, answering unknown`);
  return { class: "failed", detail: failing };
}

interface Classified {
  class: ActiveClass;
  detail: string;
  /** When the not-passing time started, if earlier than this observation. */
  from?: number;
}

function down(detail: string): Classified {
  return { class: "unreachable", detail };
}

/**
 * The state after one observation at `now` (pure). Only the observed actives are kept: an
 * active the document no longer names is forgotten. A memo timed after `now` (another boot's
 * clock) or an observation too long after the previous one restarts the timers.
 */
export function observe(
  state: TakeoverState,
  now: number,
  obs: Observation,
  t: Timing,
): TakeoverState {
  const continuous = state.at !== null && state.at <= now && now - state.at <= ms(t.leaseSeconds);
  const nodes: Record<string, NodeMemo> = {};
  for (const o of obs.actives) {
    const old = state.nodes[o.node];
    const m = old && !inFuture(old, now) ? old : undefined;
    let hb: NodeMemo["heartbeat"] = m?.heartbeat ?? null;
    if (o.heartbeat === null) hb = null;
    else if (typeof o.heartbeat === "number" && hb?.index !== o.heartbeat) {
      hb = { index: o.heartbeat, changedAt: now };
    }
    const wasPending = continuous && m?.pendingSince != null ? m.pendingSince : null;
    const pendingSince = o.instance?.pending && !o.instance.passing ? wasPending ?? now : null;
    const c = classify(o, m, now, pendingSince, hb, t);
    const wasDown = continuous && m?.since != null ? m.since : null;
    let since: number | null = null;
    if (c.class !== "passing" && c.class !== "absent") {
      since = Math.min(wasDown ?? now, c.from ?? now);
    }
    let mark: NodeMemo["mark"] = m?.mark ?? null;
    if (o.mark === null) mark = null;
    else if (o.mark && (mark?.index !== o.mark.index || mark.state !== o.mark.state)) {
      mark = { ...o.mark, seenAt: now };
    }
    let episode: number | null = null;
    if (c.class === "failed") {
      const kept = wasDown !== null && m?.class === "failed" ? m.episode ?? null : null;
      episode = kept ?? (o.instance?.checksIndex || null);
    }
    nodes[o.node] = {
      seen: (m?.seen ?? false) || o.instance !== null,
      class: c.class,
      detail: c.detail,
      since,
      pendingSince,
      heartbeat: hb,
      episode,
      mark,
    };
  }
  let lock: TakeoverState["lock"] = null;
  if (obs.lockedIndex !== null) {
    const old = state.lock;
    lock = old && old.index === obs.lockedIndex && old.since <= now
      ? old
      : { index: obs.lockedIndex, since: now };
  }
  return { at: now, nodes, lock };
}

function inFuture(m: NodeMemo, now: number): boolean {
  return [m.since, m.pendingSince, m.heartbeat?.changedAt, m.mark?.seenAt].some((x) =>
    x != null && x > now
  );
}

/**
 * The heal mark of a failed active's current episode, or null: written after the check index
 * this standby saw when the episode began, or first seen during the episode (pure).
 */
export function episodeMark(m: NodeMemo): NodeMemo["mark"] {
  if (m.class !== "failed" || !m.mark || m.since === null) return null;
  return writtenAfterEpisode(m) || m.mark.seenAt > m.since ? m.mark : null;
}

/** Its mark's ModifyIndex is above the check index this standby saw when the episode began. */
function writtenAfterEpisode(m: NodeMemo): boolean {
  return m.mark != null && m.episode != null && m.mark.index > m.episode;
}

/** Milliseconds a failed active with this episode mark must stay failed (pure). */
function failedDelayMs(m: NodeMemo, mark: NodeMemo["mark"], t: Timing): number {
  const damping = ms(t.failoverDamping);
  if (!mark || m.since === null) return damping;
  const seen = Math.max(0, mark.seenAt - m.since);
  if (mark.state === "failed") return 0;
  const bound = mark.state === "healing"
    ? ms(Math.min(t.triggerTimeout ?? t.takeoverDelay, t.takeoverDelay))
    : ms(2 * (t.checkInterval ?? 1));
  return Math.min(ms(t.takeoverDelay), Math.max(damping, seen + bound));
}

/** How one active stands for a takeover. */
export interface Verdict {
  node: string;
  class: ActiveClass;
  detail: string;
  /** Milliseconds it has been seen not passing (0 while passing or absent). */
  forMs: number;
  /** Milliseconds its class must last before a takeover (0 while passing or absent). */
  delayMs: number;
  /**
   * It has been down long enough, over at least two observations (one, when its heal mark of
   * this failure says its restart failed).
   */
  due: boolean;
}

/** The actives' verdicts from the state after this run's observation (pure). */
export function verdicts(state: TakeoverState, now: number, t: Timing): Verdict[] {
  return Object.entries(state.nodes).map(([node, m]) => {
    const forMs = m.since === null ? 0 : Math.max(0, now - m.since);
    const mark = episodeMark(m);
    const delayMs = m.class === "failed"
      ? failedDelayMs(m, mark, t)
      : m.class === "passing" || m.class === "absent"
      ? 0
      : ms(t.takeoverDelay);
    // Two looks, except where the active said itself, after this failure began, that its own
    // restart failed: that is not a blip one look could mistake.
    const saidFailed = mark?.state === "failed" && writtenAfterEpisode(m);
    const due = (m.class === "failed" || m.class === "unreachable") &&
      (forMs > 0 || saidFailed) && forMs >= delayMs;
    const detail = mark ? `${m.detail}, heal mark ${mark.state}` : m.detail;
    return { node, class: m.class, detail, forMs, delayMs, due };
  });
}

/** How long the current lock has been seen unchanged, and whether it no longer blocks. */
export function lockAge(
  state: TakeoverState,
  now: number,
  t: Timing,
): { forMs: number; stale: boolean } | null {
  if (state.lock === null) return null;
  const forMs = Math.max(0, now - state.lock.since);
  return { forMs, stale: forMs > ms(t.lockTimeout) };
}

/** "4s", "1.5s", "0s": tenths, floored, for reason sentences. */
export function seconds(msValue: number): string {
  const tenths = Math.floor(Math.max(0, msValue) / 100);
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)}s`;
}
