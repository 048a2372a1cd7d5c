import assert from "node:assert/strict";
import {
  appendEntry,
  HISTORY_LIMIT,
  type HistoryEntry,
  historyKeyFor,
  makeEntry,
  newestDocChange,
  newestFirst,
  parseHistory,
} from "../../../lib/history/entry.ts";

const e = (i: number): HistoryEntry =>
  makeEntry({
    node: "n1",
    service: "web",
    action: "flip",
    before: { i },
    after: { i: i + 1 },
    reason: `r${i}`,
  }, () => new Date(Date.UTC(2026, 0, 1, 0, 0, i)));

Deno.test("historyKeyFor(): <servicePrefix>/<service>/history, names validated", () => {
  assert.equal(historyKeyFor({ servicePrefix: "service" }, "web"), "service/web/history");
  assert.throws(() => historyKeyFor({ servicePrefix: "service" }, "a/b"), /"\/"/);
});

Deno.test("appendEntry(): appends, keeps the newest HISTORY_LIMIT, replaces a garbled value", () => {
  let text: string | null = null;
  for (let i = 0; i < HISTORY_LIMIT + 5; i++) text = appendEntry(text, e(i)).text;
  const list = parseHistory(text);
  assert.equal(list.length, HISTORY_LIMIT);
  assert.equal(list[0]!.reason, "r5", "the oldest dropped off");
  assert.equal(list.at(-1)!.reason, `r${HISTORY_LIMIT + 4}`);
  const bad = appendEntry("{not json", e(1));
  assert.match(bad.replaced!, /JSON/);
  assert.equal(parseHistory(bad.text).length, 1);
  assert.equal(appendEntry("[]", e(1)).replaced, null);
});

Deno.test("parseHistory(): empty is none; a malformed entry names its position", () => {
  assert.deepEqual(parseHistory(null), []);
  assert.deepEqual(parseHistory(""), []);
  assert.throws(() => parseHistory("{}"), /not a JSON array/);
  assert.throws(() => parseHistory(JSON.stringify([e(1), { time: 1 }])), /entry 1 is malformed/);
});

Deno.test("newestFirst(): newest first, at most the limit", () => {
  assert.deepEqual(newestFirst([e(1), e(2), e(3)], 2).map((x) => x.reason), ["r3", "r2"]);
  assert.deepEqual(newestFirst([e(1)], 0), []);
});

Deno.test("newestDocChange(): the newest entry that wrote the document; pause and resume are not", () => {
  const e = (action: string) => ({
    time: "2026-01-01T00:00:00.000Z",
    node: "n",
    service: "web",
    action,
    before: null,
    after: null,
    reason: "r",
  });
  assert.equal(
    newestDocChange(JSON.stringify([e("flip"), e("start-primary"), e("pause")])),
    "start-primary",
  );
  assert.equal(newestDocChange(JSON.stringify([e("start-primary"), e("flip")])), "flip");
  assert.equal(newestDocChange(JSON.stringify([e("abort"), e("resume")])), null);
  assert.equal(newestDocChange(null), null);
  assert.throws(() => newestDocChange("[1]"));
});
