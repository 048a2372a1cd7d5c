/**
 * The guard: a small long-running process on an active node that fences without the agent.
 * It reads only local files and runs only the service manager; it never talks to Consul. Every
 * guardPoll it reads the lease: when the lease ran out (or was removed without a stop), it stops
 * the local services, writes the fence marker and one log line, and keeps guarding; a fresh lease
 * clears the marker; once the services are stopped it runs the role hook (its failure never undoes
 * the fence). It exits when its pid file no longer names it (the wrapper's stop or demote
 * removes it, then signals), or on SIGTERM.
 *
 * `decideTick` is the rule (pure); `runGuard` is the loop over injected ports, so unit tests run
 * it on a fake clock and fake files.
 */
import { type FenceMarker, judgeLease, type LeaseState, type Now } from "./lease.ts";

export interface GuardState {
  /** A valid lease has been seen since the guard started. */
  seenLease: boolean;
  /** The services were stopped for the current lapse (marker written). */
  fenced: boolean;
  /** Boot-clock seconds before which a failed fence is not retried. */
  retryAt: number;
}

export const initialGuardState = (): GuardState => ({
  seenLease: false,
  fenced: false,
  retryAt: 0,
});

export type GuardAction =
  | { op: "exit"; why: string }
  | { op: "fence"; marker: FenceMarker }
  | { op: "clear" }
  | { op: "idle" };

/** Seconds between attempts when stopping the services failed. */
export const FENCE_RETRY_S = 5;

/** What the guard does on one look (pure). */
export function decideTick(
  s: GuardState,
  ownsPidFile: boolean,
  lease: LeaseState,
  now: Now,
): GuardAction {
  if (!ownsPidFile) return { op: "exit", why: "its pid file no longer names it (stopped)" };
  if (lease.kind === "valid") return s.fenced ? { op: "clear" } : { op: "idle" };
  if (lease.kind === "absent" && !s.seenLease) return { op: "idle" };
  if (s.fenced || now.boot < s.retryAt) return { op: "idle" };
  const reason = lease.kind === "absent" ? "the lease file was removed without a stop" : lease.why;
  const expiry = lease.kind === "expired" ? lease.lease?.expiresWall || null : null;
  return {
    op: "fence",
    marker: { at: new Date(now.wallMs).toISOString(), reason, leaseExpiry: expiry },
  };
}

export interface GuardPorts {
  now(): Promise<Now>;
  /** The lease file's text, null when absent. */
  readLease(): Promise<string | null>;
  ownsPidFile(): Promise<boolean>;
  /** Stop one local service through the service manager (bounded). */
  stopService(name: string): Promise<{ ok: boolean; detail: string }>;
  writeMarker(m: FenceMarker): Promise<void>;
  clearMarker(): Promise<void>;
  log(level: "info" | "warn" | "error", line: string): void;
  sleep(ms: number): Promise<void>;
  /** A signal asked the guard to end. */
  stopping(): boolean;
  /**
   * After a fence stopped every service: the role hook (lib/hooks.ts noticeFence). Bounded by
   * its own timeout; a failure is its own to log and never undoes the fence.
   */
  fenced?(m: FenceMarker): Promise<void>;
}

export interface GuardSettings {
  /** Local services in start order (stopped in reverse). */
  services: string[];
  pollMs: number;
}

/** Apply one action; returns the next state, or null to exit. */
export async function applyAction(
  ports: GuardPorts,
  set: GuardSettings,
  s: GuardState,
  a: GuardAction,
  lease: LeaseState,
  now: Now,
): Promise<GuardState | null> {
  const next = { ...s, seenLease: s.seenLease || lease.kind === "valid" };
  switch (a.op) {
    case "exit":
      ports.log("info", `guard exits: ${a.why}`);
      return null;
    case "idle":
      return next;
    case "clear":
      await ports.clearMarker().catch((e) => ports.log("warn", `cannot clear the marker: ${e}`));
      ports.log("info", "a fresh lease: fence cleared, guarding again");
      return { ...next, fenced: false, retryAt: 0 };
    case "fence": {
      // the marker first: whoever sees the services stopped can already read why
      try {
        await ports.writeMarker(a.marker);
      } catch (e) {
        ports.log("error", `cannot write the fence marker: ${e}`);
      }
      const failed: string[] = [];
      for (const svc of [...set.services].reverse()) {
        const r = await ports.stopService(svc);
        if (!r.ok) failed.push(`${svc}: ${r.detail}`);
      }
      const stopped = failed.length === 0
        ? `stopped ${set.services.join(", ")}`
        : `could not stop ${failed.join("; ")} (retrying in ${FENCE_RETRY_S}s)`;
      ports.log(failed.length ? "error" : "warn", `fenced: ${a.marker.reason}: ${stopped}`);
      if (failed.length === 0 && ports.fenced) {
        await ports.fenced(a.marker).catch((e) => ports.log("warn", `role hook: ${e}`));
      }
      return failed.length === 0
        ? { ...next, fenced: true, retryAt: 0 }
        : { ...next, fenced: false, retryAt: now.boot + FENCE_RETRY_S };
    }
  }
}

/** The loop: look, act, sleep, until told to exit. */
export async function runGuard(ports: GuardPorts, set: GuardSettings): Promise<void> {
  let s = initialGuardState();
  while (!ports.stopping()) {
    const now = await ports.now().catch(() => null);
    const owns = await ports.ownsPidFile().catch(() => true);
    let lease: LeaseState;
    if (now === null) {
      // No clock, no judgement: the safe side is that the lease ran out.
      lease = { kind: "expired", lease: null, why: "the boot clock cannot be read" };
    } else {
      lease = await ports.readLease().then(
        (t) => judgeLease(t, now),
        (e): LeaseState => ({
          kind: "expired",
          lease: null,
          why: `the lease cannot be read (${e instanceof Error ? e.message : e})`,
        }),
      );
    }
    const at = now ?? { boot: 0, wallMs: Date.now() };
    const next = await applyAction(ports, set, s, decideTick(s, owns, lease, at), lease, at);
    if (next === null) return;
    s = next;
    await ports.sleep(set.pollMs);
  }
  ports.log("info", "guard exits: terminated by a signal");
}
