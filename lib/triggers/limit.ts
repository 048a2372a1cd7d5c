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
 * (write a sibling, rename) under an flock on `state.mutex` (the mutex of the state file). A
 * corrupt file is reset with a warning. Mutex waits are bounded: a stuck holder cannot block a
 * trigger forever.
 */
import { join } from "../paths.ts";
import type { Config } from "../config.ts";
import {
  keyName,
  type LimitKey,
  type LimitSettings,
  limitSettings,
  parseState,
  record,
  sameKey,
  STATE_FILE,
  type StateFile,
  stormVerdict,
  type Verdict,
} from "./storm.ts";
import { syncIo } from "../sys/small_io.ts";

export {
  keyName,
  type KeyState,
  type LimitKey,
  type LimitSettings,
  limitSettings,
  parseState,
  PENDING_GRACE_MS,
  recentRuns,
  record,
  STATE_FILE,
  type StateFile,
  stormVerdict,
  type Verdict,
} from "./storm.ts";

/** Longest wait for the state mutex; past it the trigger goes on without recording. */
const MUTEX_WAIT_MS = 5_000;
const MUTEX_POLL_MS = 10;

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
  /** Warnings (corrupt state reset, mutex not taken, state not written). */
  warn?: (message: string) => void;
  pid?: number;
}

/** The state file under a log root, with read-modify-write under its mutex. */
export class TriggerLimiter {
  readonly path: string;
  readonly mutexPath: string;
  #s: LimitSettings;
  #now: () => number;
  #warn: (m: string) => void;
  #pid: number;

  constructor(logDir: string, settings: LimitSettings, opts: LimiterOptions = {}) {
    this.path = join(logDir, STATE_FILE);
    this.mutexPath = join(logDir, "trigger", "state.mutex");
    this.#s = settings;
    this.#now = opts.now ?? Date.now;
    this.#warn = opts.warn ?? (() => {});
    this.#pid = opts.pid ?? Deno.pid;
  }

  get settings(): LimitSettings {
    return this.#s;
  }

  /** Read the state; a missing file is empty, a corrupt one is empty plus a warning. */
  read(): Promise<{ state: StateFile; corrupt: boolean }> {
    return syncIo(() => this.#read());
  }
  #read(): { state: StateFile; corrupt: boolean } {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
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
    return stormVerdict(state.entries.find((e) => sameKey(e, key)), this.#now(), this.#s, {
      alive: pidAlive,
    });
  }

  /**
   * One attempt: judge and record under the mutex. `owner`: this process is waking from its own
   * deferral. When the state cannot be read or written, the attempt is allowed (a
   * broken log root must not stop self-healing) and a warning says protection was off.
   */
  async attempt(key: LimitKey, owner = false): Promise<Verdict> {
    let mutex: Deno.FsFile | undefined;
    try {
      mutex = await this.#acquire();
      const { state } = await this.read();
      const now = this.#now();
      const entry = state.entries.find((e) => sameKey(e, key));
      const v = stormVerdict(entry, now, this.#s, { owner, alive: pidAlive });
      if (v.kind === "run" || v.kind === "defer" || owner) {
        await this.#write(record(state, key, v, now, this.#s, this.#pid, owner));
      }
      return v;
    } catch (e) {
      const why = `restart-storm protection unavailable for ${keyName(key)} (${
        (e as Error).message.split("\n")[0]
      }): running without it`;
      this.#warn(why);
      return { kind: "run", unguarded: why };
    } finally {
      if (mutex) {
        try {
          mutex.close();
        } catch { /* closed */ }
      }
    }
  }

  /** Clear this process's pending mark on a key (its deferred run turned out not to be needed). */
  async release(key: LimitKey): Promise<void> {
    let mutex: Deno.FsFile | undefined;
    try {
      mutex = await this.#acquire();
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
      mutex?.close();
    }
  }

  /** Forget runs and pending marks (one service, or all). Returns how many keys were cleared. */
  async reset(service?: string): Promise<string[]> {
    const mutex = await this.#acquire();
    try {
      const { state } = await this.read();
      const gone = state.entries.filter((e) => service === undefined || e.service === service);
      const keep = state.entries.filter((e) => !gone.includes(e));
      await this.#write({ version: 1, entries: keep });
      return gone.map(keyName);
    } finally {
      mutex.close();
    }
  }

  /** Keys of `service` (all when omitted) at their burst limit now. */
  async limited(service?: string): Promise<{ key: string; runs: number; clearsAt: number }[]> {
    const { state } = await this.read();
    const now = this.#now();
    const out: { key: string; runs: number; clearsAt: number }[] = [];
    for (const e of state.entries) {
      if (service !== undefined && e.service !== service) continue;
      const v = stormVerdict(e, now, this.#s, { owner: true });
      if (v.kind === "limited") out.push({ key: keyName(e), runs: v.runs, clearsAt: v.clearsAt });
    }
    return out;
  }

  async #acquire(): Promise<Deno.FsFile> {
    await Deno.mkdir(join(this.path, ".."), { recursive: true, mode: 0o750 });
    const f = await Deno.open(this.mutexPath, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    const deadline = performance.now() + MUTEX_WAIT_MS;
    try {
      while (!(await f.tryLock(true))) {
        if (performance.now() > deadline) {
          throw new Error(`${this.mutexPath} stayed held for ${MUTEX_WAIT_MS / 1000}s`);
        }
        await sleep(MUTEX_POLL_MS);
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
