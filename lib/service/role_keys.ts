/**
 * The role keys of a switch: `<servicePrefix>/<consulService>/<node>/promote|demote`, whose
 * values (NULL, START, WAIT, FAILED) carry the switch protocol between the initiator and each
 * node's key watch, and the switch lock's key `<servicePrefix>/<consulService>/.switch`.
 */
import { b64decode } from "../consul/client.ts";
import { UsageError } from "../errors.ts";
import { kvPath } from "../names.ts";

export type SwitchKind = "promote" | "demote";
/** Flag values. FAILED is ours: a node that cannot do its part says so instead of going quiet. */
export type RoleKeyValue = "NULL" | "START" | "WAIT" | "FAILED";

export function roleKeyPrefix(servicePrefix: string, consulService: string): string {
  return `${kvPath(servicePrefix, ["the Consul service", consulService])}/`;
}

export function roleKey(
  servicePrefix: string,
  consulService: string,
  node: string,
  kind: SwitchKind,
): string {
  return kvPath(servicePrefix, ["the Consul service", consulService], ["the node name", node]) +
    `/${kind}`;
}

/** Key of the switch lock (a Consul session lock) held while start-primary runs. */
export function switchLockKey(servicePrefix: string, consulService: string): string {
  return `${roleKeyPrefix(servicePrefix, consulService)}.switch`;
}

/** A stored flag value: missing, empty or anything unexpected counts as NULL. */
export function roleKeyValue(v: string | null | undefined): RoleKeyValue {
  const t = (v ?? "").trim().toUpperCase();
  if (t === "START" || t === "WAIT" || t === "FAILED") return t;
  return "NULL";
}

/** The node and kind of a switch key under `prefix` (`<node>/promote|demote`), or null. */
export function parseRoleKey(
  prefix: string,
  key: string,
): { node: string; kind: SwitchKind } | null {
  if (!key.startsWith(prefix)) return null;
  const m = /^([^/]+)\/(promote|demote)$/.exec(key.slice(prefix.length));
  return m ? { node: m[1]!, kind: m[2] as SwitchKind } : null;
}

/** The holder a switch lock's value names (written by the initiator), or null when garbled. */
export function parseSwitchHolder(
  value: string | null | undefined,
): { action: string; node: string; pid: number | null; at: string } | null {
  try {
    const h = JSON.parse(value ?? "");
    if (typeof h !== "object" || h === null || typeof h.node !== "string") return null;
    return {
      action: typeof h.action === "string" ? h.action : "start-primary",
      node: h.node,
      pid: typeof h.pid === "number" ? h.pid : null,
      at: typeof h.at === "string" ? h.at : "?",
    };
  } catch {
    return null;
  }
}

/** Flags of one service read from a key list: node → {promote, demote}. */
export function roleKeysFromEntries(
  prefix: string,
  entries: { key: string; value: string | null; modifyIndex: number }[],
): Map<string, { promote?: RoleKeyValue; demote?: RoleKeyValue }> {
  const out = new Map<string, { promote?: RoleKeyValue; demote?: RoleKeyValue }>();
  for (const e of entries) {
    if (!e.key.startsWith(prefix)) continue;
    const k = parseRoleKey(prefix, e.key);
    if (!k) continue;
    const cur = out.get(k.node) ?? {};
    cur[k.kind] = roleKeyValue(e.value);
    out.set(k.node, cur);
  }
  return out;
}

export interface WatchInput {
  /** The key the watch is on, when the input named one. */
  key: string | null;
  value: RoleKeyValue;
}

/**
 * A `key` watch handler's stdin: the KV object (`{"Key":…,"Value":"<base64>"}`) or `null` for a
 * missing key (Consul sends the word null). Returns null for empty input (run by hand: read KV).
 */
export function parseWatchInput(text: string): WatchInput | null {
  const t = text.trim();
  if (t === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    throw new UsageError("stdin is not a Consul key watch's JSON (expected an object or null)");
  }
  if (v === null) return { key: null, value: "NULL" };
  if (
    typeof v !== "object" || Array.isArray(v) || typeof (v as { Key?: unknown }).Key !== "string"
  ) {
    throw new UsageError(
      "stdin is not a Consul key watch's JSON (an object with Key and Value, or null); " +
        'configure the watch with type "key"',
    );
  }
  const o = v as { Key: string; Value?: string | null };
  let value: string | null = null;
  if (typeof o.Value === "string" && o.Value !== "") {
    try {
      value = b64decode(o.Value);
    } catch {
      throw new UsageError(`stdin: the Value of ${o.Key} is not base64`);
    }
  }
  return { key: o.Key, value: roleKeyValue(value) };
}
