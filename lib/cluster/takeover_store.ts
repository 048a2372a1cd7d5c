/**
 * The standby's memory on disk: one JSON file per service under /run/powerconsul/state/,
 * written whole to a temporary file and renamed over the old one, so a reader sees one state
 * or the other. The directory is made like the lock directory (root only, 0700, no symlink).
 * A missing, foreign or corrupt file reads as a fresh state: the timers start again, which
 * only ever delays a takeover. Times are wall-clock milliseconds (the only fine clock a new
 * process can read), checked against the boot clock (whole seconds since boot, which no clock
 * step moves): when the wall clock has moved more than CLOCK_SLACK_MS away from the boot clock
 * since the state was written (a clock step, a reboot), the state is fresh.
 */
import { describeError } from "../errors.ts";
import { segment } from "../names.ts";
import { join } from "../paths.ts";
import { LOCK_DIR, lockDirProblem } from "../sys/lockfile.ts";
import { fresh, isHealState, type NodeMemo, type TakeoverState } from "./takeover.ts";
import { syncIo } from "../sys/small_io.ts";

export const STATE_DIR = `${LOCK_DIR}/state`;

export interface TakeoverStore {
  /** The state for a service on a node (fresh when missing or unreadable). */
  load(service: string, node: string): Promise<TakeoverState>;
  save(service: string, node: string, state: TakeoverState): Promise<void>;
  /** Milliseconds on the clock the state is kept in. */
  now(): number;
}

/** Seconds since boot (whole seconds), or null when the sandbox does not tell. */
export function bootSeconds(): number | null {
  try {
    return Deno.osUptime();
  } catch {
    return null;
  }
}

/** How far the wall clock may drift from the boot clock between two runs (rounding included). */
export const CLOCK_SLACK_MS = 2000;

/**
 * Whether a state written at wall time `at` with boot time `boot` can be read at wall time
 * `now` with boot time `bootNow` (pure): the clock did not go back, and both clocks moved
 * alike.
 */
export function sameClock(
  at: number | null,
  boot: number | null,
  now: number,
  bootNow: number | null,
): boolean {
  if (at === null) return true;
  if (at > now) return false;
  if (boot === null || bootNow === null) return true;
  return Math.abs((now - at) - (bootNow - boot) * 1000) <= CLOCK_SLACK_MS;
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const numOrNull = (v: unknown) => v === null || num(v);
const CLASSES = new Set(["passing", "failed", "unreachable", "pending", "absent"]);

/** A stored state, or fresh() when the text is not one (pure). */
export function parseState(text: string): TakeoverState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fresh();
  }
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== "object" || !numOrNull(o.at)) return fresh();
  const nodes: Record<string, NodeMemo> = {};
  const raw = o.nodes;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return fresh();
  for (const [node, x] of Object.entries(raw as Record<string, unknown>)) {
    const m = x as Record<string, unknown> | null;
    if (
      !m || typeof m !== "object" || typeof m.seen !== "boolean" ||
      !CLASSES.has(m.class as string) || typeof m.detail !== "string" ||
      !numOrNull(m.since) || !numOrNull(m.pendingSince)
    ) return fresh();
    const hb = m.heartbeat as Record<string, unknown> | null;
    if (hb !== null && (typeof hb !== "object" || !num(hb.index) || !num(hb.changedAt))) {
      return fresh();
    }
    const mk = m.mark as Record<string, unknown> | null | undefined;
    const mark = mk && typeof mk === "object" && num(mk.index) && num(mk.seenAt) &&
        isHealState(mk.state)
      ? { index: mk.index as number, state: mk.state, seenAt: mk.seenAt as number }
      : null;
    nodes[node] = {
      seen: m.seen,
      episode: num(m.episode) ? m.episode as number : null,
      mark,
      class: m.class as NodeMemo["class"],
      detail: m.detail,
      since: m.since as number | null,
      pendingSince: m.pendingSince as number | null,
      heartbeat: hb === null
        ? null
        : { index: hb.index as number, changedAt: hb.changedAt as number },
    };
  }
  const l = o.lock as Record<string, unknown> | null;
  if (l !== null && (typeof l !== "object" || !num(l.index) || !num(l.since))) return fresh();
  return {
    at: o.at as number | null,
    nodes,
    lock: l === null ? null : { index: l.index as number, since: l.since as number },
  };
}

/** The state files in `dir` (default /run/powerconsul/state). */
export class FileTakeoverStore implements TakeoverStore {
  constructor(
    readonly dir = STATE_DIR,
    readonly clock: () => number = Date.now,
    readonly boot: () => number | null = bootSeconds,
  ) {}
  now(): number {
    return this.clock();
  }
  /**
   * `<service>@<node>.json`: one file per service, as a host is one node; the node in the name
   * keeps apart several nodes run on one host (tests, --node).
   */
  path(service: string, node: string): string {
    const svc = segment("the Consul service", service);
    return join(this.dir, `${svc}@${segment("the node name", node)}.json`);
  }
  load(service: string, node: string): Promise<TakeoverState> {
    return syncIo(() => this.#load(service, node));
  }
  #load(service: string, node: string): TakeoverState {
    const path = this.path(service, node);
    try {
      const st = Deno.lstatSync(path);
      // the directory is root's alone (checked when it is written): only its own files
      if (!st.isFile) return fresh();
      const text = Deno.readTextFileSync(path);
      const state = parseState(text);
      const boot = (JSON.parse(text) as { boot?: unknown }).boot;
      const ok = sameClock(
        state.at,
        typeof boot === "number" ? boot : null,
        this.now(),
        this.boot(),
      );
      return ok ? state : fresh();
    } catch {
      return fresh();
    }
  }
  save(service: string, node: string, state: TakeoverState): Promise<void> {
    return syncIo(() => this.#save(service, node, state));
  }
  #save(service: string, node: string, state: TakeoverState): void {
    const path = this.path(service, node);
    this.#ensureDir();
    const tmp = `${path}.${Deno.pid}.tmp`;
    try {
      const text = JSON.stringify({ ...state, boot: this.boot() }) + "\n";
      Deno.writeTextFileSync(tmp, text, { mode: 0o600 });
      Deno.renameSync(tmp, path);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* never written */ }
      throw new Error(`cannot write takeover state ${path}: ${describeError(e)}`);
    }
  }
  #ensureDir(): void {
    const dirs = this.dir === STATE_DIR ? [LOCK_DIR, STATE_DIR] : [this.dir];
    for (const d of dirs) {
      try {
        Deno.mkdirSync(d, { mode: 0o700 });
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          throw new Error(`cannot create state directory ${d}: ${describeError(e)}`);
        }
      }
    }
    const st = Deno.lstatSync(this.dir);
    const problem = lockDirProblem(this.dir, st);
    if (problem) throw new Error(problem.replace("lock directory", "state directory"));
  }
}

/** A store in memory (tests, dry runs that must leave no trace). */
export class MemoryTakeoverStore implements TakeoverStore {
  readonly states = new Map<string, TakeoverState>();
  constructor(readonly clock: () => number) {}
  now(): number {
    return this.clock();
  }
  load(service: string, node: string): Promise<TakeoverState> {
    return Promise.resolve(structuredClone(this.states.get(`${service}@${node}`) ?? fresh()));
  }
  save(service: string, node: string, state: TakeoverState): Promise<void> {
    this.states.set(`${service}@${node}`, structuredClone(state));
    return Promise.resolve();
  }
}
