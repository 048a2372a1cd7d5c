/**
 * The switch lock: one start-primary (or --abort) per service at a time. It is a Consul session
 * lock on `<servicePrefix>/<consulService>/.switch`: a session with a TTL (renewed while the
 * switch runs), no lock delay, and behaviour "delete", so the key of an initiator that crashed
 * vanishes within two TTLs. The key's value names the holder, for the operator who is refused.
 */
import { parseSwitchHolder } from "./plan.ts";

/** Session TTL of the switch lock; renewed every third of it while the switch runs. */
export const SWITCH_TTL_S = 15;

/** The part of the Consul client the switch lock uses. */
export interface SessionKv {
  sessionCreate(
    o: { name: string; ttl: string; behavior: "delete"; lockDelay: string },
  ): Promise<string>;
  sessionRenew(id: string): Promise<unknown>;
  sessionDestroy(id: string): Promise<unknown>;
  kvPut(key: string, value: string, opts: { acquire?: string; cas?: number }): Promise<boolean>;
  kvGet(
    key: string,
  ): Promise<{ value: string | null; modifyIndex: number; session?: string | null } | null>;
  kvDelete(key: string, opts: { cas?: number }): Promise<unknown>;
}

/** Another switch holds the lock: a refusal (exit 1), unlike a Consul error (unknown, exit 3). */
export class SwitchLockHeld extends Error {
  override name = "SwitchLockHeld";
}

export interface HeldSwitchLock {
  release(): Promise<void>;
}

/** The sentence for a refused take, from the key as it was read (pure). */
export function heldBy(
  key: string,
  holder: { value: string | null; session?: string | null } | null,
): string {
  if (holder === null || !holder.session) {
    return `another switch held ${key} and has just finished; check 'powerconsul status' ` +
      `and re-run if the switch is still wanted`;
  }
  const h = parseSwitchHolder(holder.value);
  const who = h
    ? `${h.action} on ${h.node} (pid ${h.pid ?? "?"}, since ${h.at})`
    : "another operator";
  return `another switch holds ${key}: ${who}; wait for it to finish (or time out)`;
}

/**
 * Take the switch lock for `holder` ("start-primary on web2"). Returns the held lock, or throws
 * SwitchLockHeld naming who holds it; a Consul error (no session, permission denied) escapes.
 */
export async function takeSwitchLock(
  kv: SessionKv,
  key: string,
  holder: { action: string; node: string },
  now: () => Date = () => new Date(),
): Promise<HeldSwitchLock> {
  const sid = await kv.sessionCreate({
    name: `powerconsul ${holder.action} on ${holder.node}`,
    ttl: `${SWITCH_TTL_S}s`,
    behavior: "delete",
    lockDelay: "0s",
  });
  const value = JSON.stringify({
    node: holder.node,
    pid: Deno.pid,
    action: holder.action,
    at: now().toISOString(),
  });
  let got = false;
  try {
    got = await kv.kvPut(key, value, { acquire: sid });
  } finally {
    if (!got) await kv.sessionDestroy(sid).catch(() => false);
  }
  if (!got) throw new SwitchLockHeld(heldBy(key, await kv.kvGet(key).catch(() => null)));
  const timer = setInterval(() => {
    kv.sessionRenew(sid).catch(() => {});
  }, (SWITCH_TTL_S * 1000) / 3);
  return {
    async release() {
      clearInterval(timer);
      try {
        const cur = await kv.kvGet(key);
        if (cur?.session === sid) await kv.kvDelete(key, { cas: cur.modifyIndex });
      } catch { /* the session's end removes it */ }
      await kv.sessionDestroy(sid).catch(() => false);
    },
  };
}
