/**
 * Restart-storm protection for triggers, per (service, role, state) on this node — monit's
 * "N restarts within M cycles", Pacemaker's migration-threshold:
 *
 * - at most one run per `triggerCooldown` seconds; a run that comes too early is **deferred**,
 *   not dropped (Consul fires a checks watch only when the set of checks in a state changes, so
 *   a dropped run could leave a service down for good). One process owns the deferred run (the
 *   `pending` mark); others arriving meanwhile coalesce into it.
 * - at most `triggerBurst` runs per `triggerWindow` seconds; past that the trigger stops acting
 *   ("trigger limit reached") until the window slides past or `powerconsul trigger reset`.
 *
 * State: `<logDir>/trigger/state.json` (inside the sandbox's write paths), replaced atomically
 * (write a sibling, rename) under an flock on `state.lock`. A corrupt file is reset with a
 * warning. Lock waits are bounded: a stuck holder cannot block a trigger forever.
 */
import { join } from "../paths.ts";
import type { Config } from "../config.ts";
import type { TriggerRole, TriggerState } from "./plan.ts";

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
  role: TriggerRole;
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
  | { kind: "run" }
  /** Too soon after the last run: wait until `until`, then re-check and try again. */
  | { kind: "defer"; until: number; lastRun: number }
  /** Another process already holds the deferred run for this key. */
  | { kind: "coalesced"; until: number; pid: number }
  /** `runs` runs inside the window: not acting until `clearsAt` (or a reset). */
  | { kind: "limited"; runs: number; clearsAt: number };

/** A pending mark outlives its due time by this much before it counts as abandoned. */
export const PENDING_GRACE_MS = 5_000;
/** Longest wait for the state lock; past it the trigger goes on without recording. */
const LOCK_WAIT_MS = 5_000;
const LOCK_POLL_MS = 10;

export const STATE_FILE = join("trigger", "state.json");

function sameKey(a: LimitKey, b: LimitKey): boolean {
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
export function judge(
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
      role: x.role as TriggerRole,
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

function pidAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    // Not found: gone. Anything else (no permission to look): assume alive, coalescing is safe.
    return !(e instanceof Deno.errors.NotFound);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export interface LimiterOptions {
  now?: () => number;
  /** Warnings (corrupt state reset, lock not taken, state not written). */
  warn?: (message: string) => void;
  pid?: number;
}

/** The state file under a log root, with locked read-modify-write. */
export class TriggerLimiter {
  readonly path: string;
  readonly lockPath: string;
  #s: LimitSettings;
  #now: () => number;
  #warn: (m: string) => void;
  #pid: number;

  constructor(logDir: string, settings: LimitSettings, opts: LimiterOptions = {}) {
    this.path = join(logDir, STATE_FILE);
    this.lockPath = join(logDir, "trigger", "state.lock");
    this.#s = settings;
    this.#now = opts.now ?? Date.now;
    this.#warn = opts.warn ?? (() => {});
    this.#pid = opts.pid ?? Deno.pid;
  }

  get settings(): LimitSettings {
    return this.#s;
  }

  /** Read the state; a missing file is empty, a corrupt one is empty plus a warning. */
  async read(): Promise<{ state: StateFile; corrupt: boolean }> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { state: emptyState(), corrupt: false };
      throw e;
    }
    try {
      return { state: parseState(text), corrupt: false };
    } catch (e) {
      this.#warn(
        `trigger state file ${this.path} is corrupt (${(e as Error).message}); it is reset`,
      );
      return { state: emptyState(), corrupt: true };
    }
  }

  /** The verdict without recording anything (dry-run, status). */
  async peek(key: LimitKey): Promise<Verdict> {
    let state = emptyState();
    try {
      state = (await this.read()).state;
    } catch (e) {
      this.#warn(`cannot read ${this.path}: ${(e as Error).message}`);
    }
    return judge(state.entries.find((e) => sameKey(e, key)), this.#now(), this.#s, {
      alive: pidAlive,
    });
  }

  /**
   * One attempt: judge and record under the lock. `owner`: this process is waking from its own
   * deferral. When the state cannot be locked, read or written, the attempt is allowed (a
   * broken log root must not stop self-healing) and a warning says protection was off.
   */
  async attempt(key: LimitKey, owner = false): Promise<Verdict> {
    let lock: Deno.FsFile | undefined;
    try {
      lock = await this.#lock();
      const { state } = await this.read();
      const now = this.#now();
      const entry = state.entries.find((e) => sameKey(e, key));
      const v = judge(entry, now, this.#s, { owner, alive: pidAlive });
      if (v.kind === "run" || v.kind === "defer" || owner) {
        await this.#write(record(state, key, v, now, this.#s, this.#pid, owner));
      }
      return v;
    } catch (e) {
      this.#warn(
        `restart-storm protection unavailable for ${keyName(key)} (${
          (e as Error).message
        }): running without it`,
      );
      return { kind: "run" };
    } finally {
      if (lock) {
        try {
          lock.close();
        } catch { /* closed */ }
      }
    }
  }

  /** Clear this process's pending mark on a key (its deferred run turned out not to be needed). */
  async release(key: LimitKey): Promise<void> {
    let lock: Deno.FsFile | undefined;
    try {
      lock = await this.#lock();
      const { state } = await this.read();
      const entry = state.entries.find((e) => sameKey(e, key));
      if (entry?.pending?.pid !== this.#pid) return;
      delete entry.pending;
      await this.#write({
        version: 1,
        entries: state.entries.filter((e) => e.runs.length > 0 || e.pending),
      });
    } catch (e) {
      this.#warn(`cannot clear the pending mark of ${keyName(key)}: ${(e as Error).message}`);
    } finally {
      lock?.close();
    }
  }

  /** Forget runs and pending marks (one service, or all). Returns how many keys were cleared. */
  async reset(service?: string): Promise<string[]> {
    const lock = await this.#lock();
    try {
      const { state } = await this.read();
      const gone = state.entries.filter((e) => service === undefined || e.service === service);
      const keep = state.entries.filter((e) => !gone.includes(e));
      await this.#write({ version: 1, entries: keep });
      return gone.map(keyName);
    } finally {
      lock.close();
    }
  }

  /** Keys of `service` (all when omitted) at their burst limit now. */
  async limited(service?: string): Promise<{ key: string; runs: number; clearsAt: number }[]> {
    const { state } = await this.read();
    const now = this.#now();
    const out: { key: string; runs: number; clearsAt: number }[] = [];
    for (const e of state.entries) {
      if (service !== undefined && e.service !== service) continue;
      const v = judge(e, now, this.#s, { owner: true });
      if (v.kind === "limited") out.push({ key: keyName(e), runs: v.runs, clearsAt: v.clearsAt });
    }
    return out;
  }

  async #lock(): Promise<Deno.FsFile> {
    await Deno.mkdir(join(this.path, ".."), { recursive: true, mode: 0o750 });
    const f = await Deno.open(this.lockPath, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    const deadline = performance.now() + LOCK_WAIT_MS;
    try {
      while (!(await f.tryLock(true))) {
        if (performance.now() > deadline) {
          throw new Error(`${this.lockPath} stayed locked for ${LOCK_WAIT_MS / 1000}s`);
        }
        await sleep(LOCK_POLL_MS);
      }
    } catch (e) {
      f.close();
      throw e;
    }
    return f;
  }

  async #write(state: StateFile): Promise<void> {
    const tmp = `${this.path}.${this.#pid}.new`;
    await Deno.writeTextFile(tmp, JSON.stringify(state) + "\n", { mode: 0o600 });
    await Deno.rename(tmp, this.path);
  }
}

function emptyState(): StateFile {
  return { version: 1, entries: [] };
}

/** What `status` and `check` say about a service whose triggers stopped acting. */
export interface LimitInfo {
  /** "trigger limit reached: …" — one sentence for messages. */
  message: string;
  keys: { key: string; runs: number; clearsAt: number }[];
}

/**
 * Whether a service's triggers on this node reached their burst limit (any role and state).
 * For `status` and `check`: null when not limited or when the state cannot be read (never an
 * error — this is an annotation, not a result).
 */
export async function triggerLimitReached(
  config: Config,
  service: string,
  now: () => number = Date.now,
): Promise<LimitInfo | null> {
  try {
    const limiter = new TriggerLimiter(config.logDir, limitSettings(config), { now });
    const keys = await limiter.limited(service);
    if (keys.length === 0) return null;
    const parts = keys.map((k) =>
      `${k.key} ran ${k.runs} times in ${config.triggerWindow}s, acts again after ${
        new Date(k.clearsAt).toISOString()
      }`
    );
    return {
      message: `trigger limit reached (${parts.join("; ")}; or run 'powerconsul trigger reset ` +
        `-S ${service}')`,
      keys,
    };
  } catch {
    return null;
  }
}
