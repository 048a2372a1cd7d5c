/**
 * Writes that carry their history record: the change (a check-and-set on the cluster document,
 * the pause flag …) and the appended history list go in one Consul transaction, so a lost
 * check-and-set leaves neither. The history key is itself checked: two records written at once
 * never overwrite each other; when only the history moved, it is re-read and tried again.
 */
import type { KvEntry, TxnOp, TxnOutcome } from "../consul/client.ts";
import { appendEntry, type HistoryRecord } from "./entry.ts";

export interface TxnKv {
  kvGet(key: string): Promise<KvEntry | null>;
  txn(ops: readonly TxnOp[]): Promise<TxnOutcome>;
}

/** The change itself, as one transaction operation (or none: a record alone, e.g. an abort). */
export type Change =
  | { kind: "put"; key: string; value: string; cas?: number }
  | { kind: "delete"; key: string; cas: number }
  | { kind: "none" };

export interface RecordedOutcome {
  /** The change (and its record) happened. */
  won: boolean;
  /** Why not, or what was noticed (a garbled history replaced). */
  note: string;
}

/** History conflicts are retried this often before the change is given up as lost. */
const HISTORY_TRIES = 5;

/** The transaction's operations (pure): the change first, then the checked history write. */
export function recordedOps(
  change: Change,
  record: HistoryRecord,
  history: KvEntry | null,
): { ops: TxnOp[]; replaced: string | null } {
  const ops: TxnOp[] = [];
  if (change.kind === "put") {
    ops.push(
      change.cas === undefined
        ? { verb: "set", key: change.key, value: change.value }
        : { verb: "cas", key: change.key, value: change.value, index: change.cas },
    );
  } else if (change.kind === "delete") {
    ops.push({ verb: "delete-cas", key: change.key, index: change.cas });
  }
  const next = appendEntry(history?.value ?? null, record.entry);
  ops.push({
    verb: "cas",
    key: record.key,
    value: next.text,
    index: history?.modifyIndex ?? 0,
  });
  return { ops, replaced: next.replaced };
}

/** Apply a change with its history record, atomically. */
export async function writeRecorded(
  kv: TxnKv,
  change: Change,
  record: HistoryRecord,
): Promise<RecordedOutcome> {
  let note = "";
  for (let i = 0; i < HISTORY_TRIES; i++) {
    const history = await kv.kvGet(record.key);
    const { ops, replaced } = recordedOps(change, record, history);
    if (replaced) note = `the stored history was replaced (${replaced})`;
    const r = await kv.txn(ops);
    if (r.ok) return { won: true, note };
    const historyAt = ops.length - 1;
    if (r.failed.some((f) => f.opIndex !== historyAt)) {
      return { won: false, note: "lost the race" };
    }
    // Only the history moved (another record landed first): read it again and retry.
  }
  return { won: false, note: `the history key ${record.key} kept changing; not written` };
}
