/**
 * The restart-storm policy, all pure: the verdict for one attempt (run, defer, coalesced,
 * limited), how a verdict changes the recorded state, and the state file's shape. The file and
 * its mutex are handled in limit.ts.
 */
import { join } from "../paths.ts";
import type { Config } from "../config.ts";
import type { Role } from "../cluster/role.ts";
import type { TriggerState } from "./plan.ts";

export interface LimitSettings {
  cooldownMs: number;
  burst: number;
  windowMs: number;
}

export function limitSettings(config: Config): LimitSettings {
  return {
    cooldownMs: config.triggerCooldown * 1000,
    burst: config.triggerBurst,
    windowMs: config.triggerWindow * 1000,
  };
}

export interface LimitKey {
  service: string;
  role: Role;
  state: TriggerState;
}

export interface KeyState extends LimitKey {
  /** Start times of recent runs (ms since the epoch), oldest first. */
  runs: number[];
  /** A deferred run owned by process `pid`, due at `until`. */
  pending?: { until: number; pid: number };
}

export interface StateFile {
  version: 1;
  entries: KeyState[];
}

export type Verdict =
  /** Go ahead; `unguarded` says why the protection could not be applied (it was off). */
  | { kind: "run"; unguarded?: string }
  /** Too soon after the last run: wait until `until`, then re-check and try again. */
  | { kind: "defer"; until: number; lastRun: number }
  /** Another process already holds the deferred run for this key. */
  | { kind: "coalesced"; until: number; pid: number }
  /** `runs` runs inside the window: not acting until `clearsAt` (or a reset). */
  | { kind: "limited"; runs: number; clearsAt: number };

/** A pending mark outlives its due time by this much before it counts as abandoned. */
export const PENDING_GRACE_MS = 5_000;

export const STATE_FILE = join("trigger", "state.json");

export function sameKey(a: LimitKey, b: LimitKey): boolean {
  return a.service === b.service && a.role === b.role && a.state === b.state;
}

export function keyName(k: LimitKey): string {
  return `${k.service}/${k.role}/${k.state}`;
}

/** Runs still inside the window (a clock that went backwards never blocks longer). */
export function recentRuns(runs: readonly number[], now: number, windowMs: number): number[] {
  return runs.map((t) => Math.min(t, now)).filter((t) => now - t < windowMs).sort((a, b) => a - b);
}

/**
 * The verdict for one attempt (pure). `owner` is true for the process waking up from its own
 * deferral (its pending mark does not coalesce it away).
 */
export function stormVerdict(
  entry: KeyState | undefined,
  now: number,
  s: LimitSettings,
  opts: { owner?: boolean; alive?: (pid: number) => boolean } = {},
): Verdict {
  const runs = recentRuns(entry?.runs ?? [], now, s.windowMs);
  if (runs.length >= s.burst) {
    return {
      kind: "limited",
      runs: runs.length,
      clearsAt: runs[runs.length - s.burst]! + s.windowMs,
    };
  }
  const p = entry?.pending;
  if (
    !opts.owner && p && now < p.until + PENDING_GRACE_MS && (opts.alive ?? (() => true))(p.pid)
  ) {
    return { kind: "coalesced", until: p.until, pid: p.pid };
  }
  const last = runs[runs.length - 1];
  if (last !== undefined && now - last < s.cooldownMs) {
    return { kind: "defer", until: last + s.cooldownMs, lastRun: last };
  }
  return { kind: "run" };
}

/** Apply a verdict to the state (pure: returns a new state). */
export function record(
  state: StateFile,
  key: LimitKey,
  v: Verdict,
  now: number,
  s: LimitSettings,
  pid: number,
  owner: boolean,
): StateFile {
  const entries = state.entries.map((e) => ({ ...e, runs: recentRuns(e.runs, now, s.windowMs) }))
    .filter((e) => e.runs.length > 0 || e.pending);
  let entry = entries.find((e) => sameKey(e, key));
  if (!entry) {
    entry = { service: key.service, role: key.role, state: key.state, runs: [] };
    entries.push(entry);
  }
  if (v.kind === "run") {
    entry.runs = [...entry.runs, now].slice(-Math.max(s.burst, 1));
    if (owner || (entry.pending && entry.pending.pid === pid)) delete entry.pending;
  } else if (v.kind === "defer" && !owner) {
    entry.pending = { until: v.until, pid };
  } else if (owner && entry.pending?.pid === pid) {
    delete entry.pending;
  }
  return { version: 1, entries: entries.filter((e) => e.runs.length > 0 || e.pending) };
}

/** Parse the state file text; throws Error with a reason when it is not a valid state. */
export function parseState(text: string): StateFile {
  const raw: unknown = JSON.parse(text);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error("not a JSON object");
  }
  const o = raw as Record<string, unknown>;
  if (o.version !== 1 || !Array.isArray(o.entries)) throw new Error("no version 1 entries list");
  const entries = o.entries.map((e, i): KeyState => {
    const x = e as Record<string, unknown> | null;
    if (
      !x || typeof x.service !== "string" || typeof x.role !== "string" ||
      typeof x.state !== "string" || !Array.isArray(x.runs) ||
      x.runs.some((t) => typeof t !== "number" || !Number.isFinite(t))
    ) {
      throw new Error(`entry ${i} is malformed`);
    }
    const k: KeyState = {
      service: x.service,
      role: x.role as Role,
      state: x.state as TriggerState,
      runs: x.runs as number[],
    };
    const p = x.pending as Record<string, unknown> | undefined;
    if (p !== undefined) {
      if (!p || typeof p.until !== "number" || typeof p.pid !== "number") {
        throw new Error(`entry ${i} has a malformed pending mark`);
      }
      k.pending = { until: p.until, pid: p.pid };
    }
    return k;
  });
  return { version: 1, entries };
}
