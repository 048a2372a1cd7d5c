import assert from "node:assert/strict";
import { makeEntry } from "../../../lib/history/entry.ts";
import { docSummary, mergeNewest, readHistory, renderHistory } from "../../../lib/history/show.ts";
import { kvEntry } from "../../_support/cluster.ts";

const at = (s: number) => () => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const entry = (service: string, s: number) =>
  makeEntry({
    node: "n2",
    service,
    action: "flip",
    before: { active_nodes: ["n1"], standby_nodes: ["n2"] },
    after: { active_nodes: ["n2"], standby_nodes: ["n1"], lock: true },
    reason: `because ${s}`,
  }, at(s));

Deno.test("readHistory(): the stored list; a garbled value is an error row, not a throw", async () => {
  const good = JSON.stringify([entry("web", 1)]);
  const r = await readHistory(
    { kvGet: (k) => Promise.resolve(kvEntry(k, good, 3)) },
    { servicePrefix: "service" },
    "web",
  );
  assert.equal(r.key, "service/web/history");
  assert.equal(r.entries.length, 1);
  assert.equal(r.error, null);
  const bad = await readHistory(
    { kvGet: (k) => Promise.resolve(kvEntry(k, "{not json", 3)) },
    { servicePrefix: "service" },
    "web",
  );
  assert.deepEqual(bad.entries, []);
  assert.ok(bad.error);
  const none = await readHistory({ kvGet: () => Promise.resolve(null) }, {
    servicePrefix: "service",
  }, "db");
  assert.deepEqual(none.entries, []);
});

Deno.test("mergeNewest(): every service's entries, newest first, at most the limit", () => {
  const reads = [
    { service: "web", key: "k", entries: [entry("web", 1), entry("web", 5)], error: null },
    { service: "db", key: "k2", entries: [entry("db", 3)], error: null },
  ];
  assert.deepEqual(mergeNewest(reads, 2).map((e) => e.reason), ["because 5", "because 3"]);
});

Deno.test("docSummary() and renderHistory(): one row per entry, errors after", () => {
  assert.equal(docSummary({ active_nodes: ["n2"], lock: true }), "n2 (locked)");
  assert.equal(docSummary({ active_datacenter: "dc1" }), "dc:dc1");
  assert.equal(docSummary(null), "-");
  assert.equal(
    docSummary({ filter: { "^a": { active_nodes: ["a1"] } }, lock: true }),
    "^a: a1 (locked)",
  );
  const text = renderHistory([entry("web", 1)], ["service/db/history: garbled"]);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^TIME +NODE +SERVICE +ACTION +ACTIVE BEFORE -> AFTER +REASON$/);
  assert.match(
    lines[1]!,
    /^2026-01-01T00:00:01\.000Z +n2 +web +flip +n1 -> n2 \(locked\) +because 1$/,
  );
  assert.equal(lines[2], "error: service/db/history: garbled");
  assert.equal(renderHistory([], []), "no history recorded\n");
});
