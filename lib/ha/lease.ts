/**
 * The lease an active node must keep, and the files the guard reads (all local to the host).
 *
 * A lease is one small JSON file per service and node, `/run/powerconsul/lease/<svc>@<node>`,
 * holding an expiry on the host's boot clock (whole seconds since boot, the kernel's uptime):
 * wall-clock steps cannot move it, and writer and reader share the host. The clock counts whole
 * seconds, so the expiry is rounded down to a whole second (a lease lasts up to one second less
 * than leaseSeconds, never more) and the reader then judges it exactly. A lease renewed "later"
 * than the clock now says was left by an earlier boot (a /run that is not a tmpfs): expired.
 * Written to a sibling and renamed over the target: a reader sees the old lease or the new one,
 * never half of one.
 *
 * The node is part of the name because several nodes of a test cluster can share a host; on a
 * real host there is one node and the name only says whose lease it is.
 *
 * The rule (`judgeLease`) is pure; the file I/O is below it.
 */
import { describeError } from "../errors.ts";
import { segment } from "../names.ts";
import { dirname } from "../paths.ts";
import { LOCK_DIR, lockDirProblem } from "../sys/lockfile.ts";
import { syncIo } from "../sys/small_io.ts";

export const LEASE_DIR = `${LOCK_DIR}/lease`;
export const FENCED_DIR = `${LOCK_DIR}/fenced`;
export const GUARD_DIR = `${LOCK_DIR}/guard`;

/** The file name shared by a service's lease, fence marker and guard pid file on a node. */
export function leaseId(consulService: string, node: string): string {
  segment("the Consul service", consulService);
  segment("the node name", node);
  const id = `${consulService}@${node}`;
  segment("the lease name", id);
  return id;
}

export const leasePath = (id: string) => `${LEASE_DIR}/${id}`;
export const fencePath = (id: string) => `${FENCED_DIR}/${id}`;
export const guardPidPath = (id: string) => `${GUARD_DIR}/${id}.pid`;

/** A point in time on both clocks: the boot clock (decisions) and the wall clock (messages). */
export interface Now {
  /** Whole seconds since boot. */
  boot: number;
  /** Wall clock, ms since the epoch (only for the sentences people read). */
  wallMs: number;
}

export interface Lease {
  by: "powerconsul";
  consulService: string;
  node: string;
  /** Boot-clock seconds at which the lease runs out. */
  expires: number;
  /** Boot-clock seconds of the renewal (the start of the run that confirmed the role). */
  renewed: number;
  /** Boot-clock seconds of the last heartbeat written to KV (null: none yet). */
  heartbeatAt: number | null;
  /** Who renewed it: "check", "service start", "service promote", "failsafe". */
  source: string;
  /** The other nodes of this node's document group when the servers last confirmed the role. */
  group: string[];
  /** The expiry on the wall clock at renewal time, for messages. */
  expiresWall: string;
}

export function parseLease(text: string): Lease | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const num = (x: unknown) => typeof x === "number" && Number.isFinite(x);
  if (
    o.by !== "powerconsul" || typeof o.consulService !== "string" || typeof o.node !== "string" ||
    !num(o.expires) || !num(o.renewed)
  ) return null;
  return {
    by: "powerconsul",
    consulService: o.consulService,
    node: o.node,
    expires: o.expires as number,
    renewed: o.renewed as number,
    heartbeatAt: num(o.heartbeatAt) ? o.heartbeatAt as number : null,
    source: typeof o.source === "string" ? o.source : "",
    group: Array.isArray(o.group) ? o.group.filter((n): n is string => typeof n === "string") : [],
    expiresWall: typeof o.expiresWall === "string" ? o.expiresWall : "",
  };
}

export type LeaseState =
  | { kind: "absent" }
  | { kind: "valid"; lease: Lease; remaining: number }
  | { kind: "expired"; lease: Lease | null; why: string };

/** Wall-clock ISO time of a boot-clock instant, seen from `now`. */
export function wallOf(bootSeconds: number, now: Now): string {
  return new Date(now.wallMs + (bootSeconds - now.boot) * 1000).toISOString();
}

/**
 * The rule: a lease is valid while this boot's clock is before its expiry. A file that cannot be
 * read as a lease, or one from another boot, counts as expired (unknown is never "keep serving").
 */
export function judgeLease(text: string | null, now: Now): LeaseState {
  if (text === null) return { kind: "absent" };
  const lease = parseLease(text);
  if (!lease) return { kind: "expired", lease: null, why: "the lease file is not a lease" };
  if (lease.renewed > now.boot + 1) {
    return { kind: "expired", lease, why: "the lease was written before this boot" };
  }
  if (now.boot >= lease.expires) {
    return {
      kind: "expired",
      lease,
      why: `lease expired at ${lease.expiresWall || wallOf(lease.expires, now)}`,
    };
  }
  return { kind: "valid", lease, remaining: lease.expires - now.boot };
}

/** The lease a renewal writes (pure). */
export function renewedLease(
  o: {
    consulService: string;
    node: string;
    leaseSeconds: number;
    source: string;
    heartbeatAt: number | null;
    group: string[];
  },
  start: Now,
): Lease {
  const expires = Math.floor(start.boot + o.leaseSeconds);
  return {
    by: "powerconsul",
    consulService: o.consulService,
    node: o.node,
    expires,
    renewed: start.boot,
    heartbeatAt: o.heartbeatAt,
    source: o.source,
    group: o.group,
    expiresWall: wallOf(expires, start),
  };
}

// ---------------------------------------------------------------------------------------------
// I/O

/** The boot clock now (the kernel's uptime, whole seconds; needs the osUptime permission). */
export function bootNow(): Promise<Now> {
  return Promise.resolve({ boot: Deno.osUptime(), wallMs: Date.now() });
}

/** Create a directory of powerconsul's run directory (0700) and refuse one others can write. */
export function ensureRunDir(dir: string): Promise<void> {
  return syncIo(() => ensureRunDirNow(dir));
}

function ensureRunDirNow(dir: string): void {
  for (const d of [LOCK_DIR, dir]) {
    try {
      Deno.mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`cannot create ${d}: ${describeError(e)}`);
      }
    }
  }
  const problem = lockDirProblem(dir, Deno.lstatSync(dir));
  if (problem) throw new Error(problem);
}

/** Write a small file atomically (sibling, sync, rename), mode 0600. */
export function writeAtomic(path: string, text: string): Promise<void> {
  return syncIo(() => writeAtomicNow(path, text));
}

function writeAtomicNow(path: string, text: string): void {
  ensureRunDirNow(dirname(path));
  const tmp = `${path}.new${Deno.pid}`;
  const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
    f.syncDataSync();
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, path);
}

/** A small file's text, or null when it does not exist (a symlink is never followed). */
export function readSmall(path: string): Promise<string | null> {
  return syncIo(() => readSmallNow(path));
}

function readSmallNow(path: string): string | null {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isFile) return "";
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

export function removeFile(path: string): Promise<void> {
  return syncIo(() => {
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  });
}

/**
 * Write a renewal, unless the lease on file already runs longer (a slower run that started
 * earlier must never shorten what a later one wrote). Returns whether it was written.
 */
export async function writeLease(id: string, lease: Lease): Promise<boolean> {
  const text = await readSmall(leasePath(id)).catch(() => null);
  const current = text ? parseLease(text) : null;
  if (current && current.renewed <= lease.renewed + 1 && current.expires > lease.expires) {
    return false;
  }
  await writeAtomic(leasePath(id), JSON.stringify(lease) + "\n");
  return true;
}

export async function readLease(id: string): Promise<Lease | null> {
  const text = await readSmall(leasePath(id));
  return text === null ? null : parseLease(text);
}

// ---------------------------------------------------------------------------------------------
// the fence marker

export interface FenceMarker {
  /** Wall-clock ISO time the guard stopped the services. */
  at: string;
  reason: string;
  /** The lease's expiry on the wall clock, when there was a lease. */
  leaseExpiry: string | null;
}

export function parseFence(text: string): FenceMarker | null {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o.at !== "string" || typeof o.reason !== "string") return null;
    return {
      at: o.at,
      reason: o.reason,
      leaseExpiry: typeof o.leaseExpiry === "string" ? o.leaseExpiry : null,
    };
  } catch {
    return null;
  }
}

export async function readFence(id: string): Promise<FenceMarker | null> {
  const text = await readSmall(fencePath(id));
  return text === null ? null : parseFence(text) ?? { at: "", reason: "fenced", leaseExpiry: null };
}

/** "fenced: lease expired at … (services stopped at …)" */
export function fenceSentence(m: FenceMarker): string {
  return `fenced: ${m.reason}${m.at ? ` (services stopped by the guard at ${m.at})` : ""}`;
}
