import assert from "node:assert/strict";
import { runCommand } from "../../lib/command.ts";
import { command, parseLimit } from "../../cmd/history.ts";
import { UsageError } from "../../lib/errors.ts";
import { renderHistory } from "../../lib/history/show.ts";
import { textIo as io } from "../_support/io.ts";

Deno.test("history --help: usage, exit codes, an example", async () => {
  for (const c of [command]) {
    const o = io();
    assert.equal(await runCommand(c, ["--help"], o), 0);
    assert.match(o.text.join(""), /^Usage: powerconsul /);
    assert.match(o.text.join(""), /Exit: 0/);
    assert.match(o.text.join(""), /Example: /);
  }
});

Deno.test("history: --limit takes 1..1000; bad input is a usage error before any read", async () => {
  assert.equal(parseLimit(undefined), 20);
  assert.equal(parseLimit("5"), 5);
  for (const bad of ["0", "-1", "x", "1.5", "1001"]) {
    assert.throws(() => parseLimit(bad), UsageError, bad);
  }
  await assert.rejects(runCommand(command, ["-S", "a/b"], io()), UsageError);
  await assert.rejects(runCommand(command, ["extra"], io()), UsageError);
});

Deno.test("renderHistory(): one row per entry, newest as given; none says so", () => {
  assert.equal(renderHistory([], []), "no history recorded\n");
  const t = renderHistory([{
    time: "2026-01-01T00:00:00.000Z",
    node: "n3",
    service: "web",
    action: "flip",
    before: { active_nodes: ["n2"], standby_nodes: ["n3"] },
    after: { active_nodes: ["n3"], standby_nodes: ["n2"], lock: true },
    reason: "no active passing",
  }], ["service/db/history: the history is not a JSON array"]);
  const lines = t.trimEnd().split("\n");
  assert.match(lines[0]!, /^TIME\s+NODE\s+SERVICE\s+ACTION\s+ACTIVE BEFORE -> AFTER\s+REASON$/);
  assert.match(lines[1]!, /n3\s+web\s+flip\s+n2 -> n3 \(locked\)\s+no active passing$/);
  assert.equal(lines[2], "error: service/db/history: the history is not a JSON array");
});

Deno.test("docSummary(): actives of a node, datacenter or filtered document, with locks", async () => {
  const { docSummary } = await import("../../lib/history/show.ts");
  assert.equal(docSummary(null), "-");
  assert.equal(docSummary({ active_nodes: ["a", "b"], standby_nodes: ["c"] }), "a,b");
  assert.equal(
    docSummary({ active_datacenter: "dc1", standby_datacenter: "dc2", lock: true }),
    "dc:dc1 (locked)",
  );
  assert.equal(
    docSummary({ filter: { "^web": { active_nodes: ["w1"], standby_nodes: ["w2"], lock: true } } }),
    "^web: w1 (locked)",
  );
});
