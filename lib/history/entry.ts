/**
 * The failover history (pure): what one role change looks like as a record, and the bounded
 * list of records kept per service in one KV key, `<servicePrefix>/<service>/history`, a JSON
 * array oldest first. The record is written in the same transaction as the change it describes
 * (lib/history/txn.ts), so neither exists without the other.
 */
import type { Config } from "../config.ts";
import { kvPath } from "../names.ts";

export const HISTORY_ACTIONS = [
  "flip",
  "start-primary",
  "abort",
  "forced-failover",
  "lock-cleared",
  "fence",
  "pause",
  "resume",
] as const;
export type HistoryAction = typeof HISTORY_ACTIONS[number];

/** The actions that write the cluster document. */
export const DOC_CHANGES: readonly HistoryAction[] = [
  "flip",
  "start-primary",
  "forced-failover",
  "lock-cleared",
];

/** The actions that move roles (pause, resume, lock clears and aborts do not). */
export const ROLE_CHANGES: readonly HistoryAction[] = [
  "flip",
  "start-primary",
  "forced-failover",
  "fence",
];

/** How many entries a service keeps; older ones drop off as new ones arrive. */
export const HISTORY_LIMIT = 100;

export interface HistoryEntry {
  /** ISO time the node wrote the entry. */
  time: string;
  /** The node that made the change. */
  node: string;
  service: string;
  action: HistoryAction;
  /** The cluster document before and after (null when the change did not touch it). */
  before: unknown;
  after: unknown;
  /** The decision's sentence: why the change happened. */
  reason: string;
}

/** What a write step carries so the executor records it with the change (lib/plan/step.ts). */
export interface HistoryRecord {
  key: string;
  entry: HistoryEntry;
}

export function historyKeyFor(config: Pick<Config, "servicePrefix">, service: string): string {
  return kvPath(config.servicePrefix, ["Consul service", service], ["key", "history"]);
}

/** The stored list; throws an Error with the reason when the value is not a history. */
export function parseHistory(text: string | null): HistoryEntry[] {
  if (text === null || text.trim() === "") return [];
  const raw: unknown = JSON.parse(text);
  if (!Array.isArray(raw)) throw new Error("the history is not a JSON array");
  return raw.map((e, i) => {
    const x = e as Record<string, unknown> | null;
    if (
      !x || typeof x !== "object" || typeof x.time !== "string" || typeof x.node !== "string" ||
      typeof x.action !== "string" || typeof x.reason !== "string" ||
      typeof x.service !== "string"
    ) {
      throw new Error(`history entry ${i} is malformed`);
    }
    return {
      time: x.time,
      node: x.node,
      service: x.service,
      action: x.action as HistoryAction,
      before: x.before ?? null,
      after: x.after ?? null,
      reason: x.reason,
    };
  });
}

/**
 * The stored text with `entry` appended and the oldest dropped past the limit. A stored value
 * that is not a history is replaced (a record must never block the change it records), and
 * the caller is told so it can log it.
 */
export function appendEntry(
  stored: string | null,
  entry: HistoryEntry,
  limit = HISTORY_LIMIT,
): { text: string; replaced: string | null } {
  let list: HistoryEntry[];
  let replaced: string | null = null;
  try {
    list = parseHistory(stored);
  } catch (e) {
    list = [];
    replaced = (e as Error).message;
  }
  list.push(entry);
  return { text: JSON.stringify(list.slice(-limit)), replaced };
}

/** Newest first, at most `limit` (the order `history` shows them in). */
export function newestFirst(list: HistoryEntry[], limit: number): HistoryEntry[] {
  return limit <= 0 ? [] : list.slice(-limit).reverse();
}

export function makeEntry(
  fields: Omit<HistoryEntry, "time">,
  now: () => Date = () => new Date(),
): HistoryEntry {
  return { time: now().toISOString(), ...fields };
}

/** The history step of an action that writes no document (start-primary --abort). */
export function recordStep(
  config: Pick<Config, "servicePrefix">,
  fields: { service: string; node: string; action: HistoryAction; reason: string },
  now?: () => Date,
): { kind: "history"; record: HistoryRecord } {
  return {
    kind: "history",
    record: {
      key: historyKeyFor(config, fields.service),
      entry: makeEntry({ ...fields, before: null, after: null }, now),
    },
  };
}

/** The action of the newest document change in a stored history (pure); null when none. */
export function newestDocChange(text: string | null): HistoryAction | null {
  const list = parseHistory(text);
  for (let i = list.length - 1; i >= 0; i--) {
    if (DOC_CHANGES.includes(list[i]!.action)) return list[i]!.action;
  }
  return null;
}
