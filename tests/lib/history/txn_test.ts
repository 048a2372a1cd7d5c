import assert from "node:assert/strict";
import type { KvEntry, TxnOp, TxnOutcome } from "../../../lib/consul/client.ts";
import { parseHistory } from "../../../lib/history/entry.ts";
import { recordedOps, writeRecorded } from "../../../lib/history/txn.ts";
import { kvEntry } from "../../_support/cluster.ts";

const record = {
  key: "service/web/history",
  entry: {
    time: "2026-01-01T00:00:00.000Z",
    node: "n1",
    service: "web",
    action: "flip" as const,
    before: null,
    after: null,
    reason: "r",
  },
};

/** A KV store with Consul's transaction rule: every check holds or nothing is written. */
class TxnStore {
  kv = new Map<string, KvEntry>();
  index = 10;
  /** Runs before each transaction (a concurrent writer). */
  before?: () => void;
  kvGet(key: string) {
    return Promise.resolve(this.kv.get(key) ?? null);
  }
  set(key: string, value: string) {
    this.kv.set(key, kvEntry(key, value, ++this.index));
  }
  txn(ops: readonly TxnOp[]): Promise<TxnOutcome> {
    this.before?.();
    const failed = ops.flatMap((op, i) => {
      if (!("index" in op)) return [];
      const cur = this.kv.get(op.key)?.modifyIndex ?? 0;
      return cur === op.index ? [] : [{ opIndex: i, what: "index mismatch" }];
    });
    if (failed.length) return Promise.resolve({ ok: false, failed });
    for (const op of ops) {
      if (op.verb === "delete-cas") this.kv.delete(op.key);
      else if ("value" in op) this.set(op.key, op.value);
    }
    return Promise.resolve({ ok: true });
  }
}

Deno.test("recordedOps(): the change first, then a checked history write (create-only when none)", () => {
  const { ops } = recordedOps(
    { kind: "put", key: "cluster/web", value: "{}", cas: 7 },
    record,
    null,
  );
  assert.deepEqual(ops.map((o) => [o.verb, o.key, "index" in o ? o.index : null]), [
    ["cas", "cluster/web", 7],
    ["cas", "service/web/history", 0],
  ]);
  const none = recordedOps({ kind: "none" }, record, kvEntry("service/web/history", "[]", 4));
  assert.deepEqual(none.ops.map((o) => [o.verb, "index" in o ? o.index : null]), [["cas", 4]]);
  const del = recordedOps({ kind: "delete", key: "service/web/pause", cas: 3 }, record, null);
  assert.equal(del.ops[0]!.verb, "delete-cas");
});

Deno.test("writeRecorded(): both or neither; only a history conflict is retried", async () => {
  const s = new TxnStore();
  s.set("cluster/web", "old");
  const at = s.kv.get("cluster/web")!.modifyIndex;
  const won = await writeRecorded(
    s,
    { kind: "put", key: "cluster/web", value: "new", cas: at },
    record,
  );
  assert.deepEqual(won, { won: true, note: "" });
  assert.equal(s.kv.get("cluster/web")!.value, "new");
  assert.equal(parseHistory(s.kv.get(record.key)!.value).length, 1);
  // a stale document index: neither written, not retried
  const lost = await writeRecorded(
    s,
    { kind: "put", key: "cluster/web", value: "x", cas: at },
    record,
  );
  assert.deepEqual(lost, { won: false, note: "lost the race" });
  assert.equal(s.kv.get("cluster/web")!.value, "new");
  assert.equal(parseHistory(s.kv.get(record.key)!.value).length, 1);
  // another record lands first, once: re-read and retried, both kept
  let once = true;
  s.before = () => {
    if (once) {
      once = false;
      s.set(
        record.key,
        JSON.stringify([...parseHistory(s.kv.get(record.key)!.value), record.entry]),
      );
    }
  };
  const retried = await writeRecorded(s, { kind: "none" }, record);
  assert.equal(retried.won, true);
  assert.equal(parseHistory(s.kv.get(record.key)!.value).length, 3);
  // it keeps moving: given up, with the reason
  s.before = () => s.set(record.key, "[]");
  const gave = await writeRecorded(s, { kind: "none" }, record);
  assert.equal(gave.won, false);
  assert.match(gave.note, /kept changing/);
});
