/**
 * Reading and showing the history: the stored list of one service (or of every service with a
 * cluster document), newest first, as a table or JSON lines' worth of objects.
 */
import type { Config } from "../config.ts";
import type { KvEntry } from "../consul/client.ts";
import { type HistoryEntry, historyKeyFor, newestFirst, parseHistory } from "./entry.ts";

export interface HistoryRead {
  service: string;
  key: string;
  entries: HistoryEntry[];
  /** The stored value could not be read as a history (shown, never fatal). */
  error: string | null;
}

export async function readHistory(
  kv: { kvGet(key: string): Promise<KvEntry | null> },
  config: Pick<Config, "servicePrefix">,
  service: string,
): Promise<HistoryRead> {
  const key = historyKeyFor(config, service);
  const e = await kv.kvGet(key);
  try {
    return { service, key, entries: parseHistory(e?.value ?? null), error: null };
  } catch (err) {
    return { service, key, entries: [], error: (err as Error).message };
  }
}

/** Every service's entries merged, newest first, at most `limit` (pure). */
export function mergeNewest(reads: HistoryRead[], limit: number): HistoryEntry[] {
  const all = reads.flatMap((r) => r.entries);
  all.sort((a, b) => a.time < b.time ? -1 : a.time > b.time ? 1 : 0);
  return newestFirst(all, limit);
}

/** The active members of a document, for a one-word summary ("web1,web2 locked"). */
export function docSummary(doc: unknown): string {
  if (doc === null || typeof doc !== "object") return "-";
  const d = doc as Record<string, unknown>;
  const filtered = d.filter !== null && typeof d.filter === "object";
  const groups = filtered
    ? Object.entries(d.filter as Record<string, Record<string, unknown>>)
    : [["", d] as const];
  const parts = groups.map(([pattern, g]) => {
    const a = Array.isArray(g.active_nodes)
      ? (g.active_nodes as unknown[]).join(",")
      : typeof g.active_datacenter === "string"
      ? `dc:${g.active_datacenter}`
      : "all";
    const named = pattern ? `${pattern}: ${a}` : a;
    return g.lock === true ? `${named} (locked)` : named;
  });
  return (parts.join("; ") || "-") + (filtered && d.lock === true ? " (locked)" : "");
}

/** A plain table (pure): TIME NODE SERVICE ACTION ACTIVE BEFORE → AFTER REASON. */
export function renderHistory(entries: HistoryEntry[], errors: string[]): string {
  const rows = entries.map((e) => [
    e.time,
    e.node,
    e.service,
    e.action,
    `${docSummary(e.before)} -> ${docSummary(e.after)}`,
    e.reason,
  ]);
  const head = ["TIME", "NODE", "SERVICE", "ACTION", "ACTIVE BEFORE -> AFTER", "REASON"];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const lines = all.map((r) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join("  ")
  );
  const out = rows.length === 0 ? ["no history recorded"] : lines;
  return [...out, ...errors.map((e) => `error: ${e}`)].join("\n") + "\n";
}
