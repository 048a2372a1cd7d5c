/**
 * Cluster-wide pause (maintenance mode): a KV flag `<servicePrefix>/<service>/pause` holding
 * {"by", "at", "reason"}. Every node's check reads it: while it is set, checks still probe and
 * report, but nothing flips and no lock is cleared; triggers are logged and not run. A flag that
 * cannot be read as one counts as paused (an unknown state is never acted on).
 */
import type { Config } from "../config.ts";
import type { KvEntry } from "../consul/client.ts";
import { kvPath } from "../names.ts";

export interface PauseFlag {
  by: string;
  at: string;
  reason: string;
}

export type PauseState =
  | { paused: false }
  | { paused: true; flag: PauseFlag; index: number }
  | { paused: true; malformed: string; index: number };

export function pauseKeyFor(config: Pick<Config, "servicePrefix">, service: string): string {
  return kvPath(config.servicePrefix, ["Consul service", service], ["key", "pause"]);
}

/** What a stored flag says (pure): missing → not paused; garbled → paused, with why. */
export function pausedState(entry: KvEntry | null): PauseState {
  if (entry === null) return { paused: false };
  const index = entry.modifyIndex;
  let raw: unknown;
  try {
    raw = JSON.parse(entry.value ?? "");
  } catch {
    return { paused: true, malformed: "the pause flag is not JSON", index };
  }
  const o = raw as Record<string, unknown> | null;
  if (
    !o || typeof o !== "object" || Array.isArray(o) || typeof o.by !== "string" ||
    typeof o.at !== "string" || typeof o.reason !== "string"
  ) {
    return { paused: true, malformed: "the pause flag lacks by/at/reason", index };
  }
  return { paused: true, flag: { by: o.by, at: o.at, reason: o.reason }, index };
}

/** The same from a value alone (a trigger reads KV as text); the index is not needed there. */
export function pausedValue(value: string | null): PauseState {
  if (value === null) return { paused: false };
  return pausedState({
    key: "",
    value,
    modifyIndex: 0,
    createIndex: 0,
    lockIndex: 0,
    flags: 0,
    session: null,
  });
}

/** "paused: <reason> (by web1 at …)" — the words a check and a trigger use. */
export function pauseSentence(s: PauseState): string {
  if (!s.paused) return "";
  if ("malformed" in s) return `paused: ${s.malformed} (resume clears it)`;
  return `paused: ${s.flag.reason} (by ${s.flag.by} at ${s.flag.at})`;
}

export function flagText(flag: PauseFlag): string {
  return JSON.stringify(flag);
}

/** Read the flag of one service; a failed read throws (the caller decides what unknown means). */
export async function readPause(
  kv: { kvGet(key: string): Promise<KvEntry | null> },
  config: Pick<Config, "servicePrefix">,
  service: string,
): Promise<PauseState> {
  return pausedState(await kv.kvGet(pauseKeyFor(config, service)));
}
