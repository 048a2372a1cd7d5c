import assert from "node:assert/strict";
import { docWrite, flipFor, planDocCopies, unlockFor } from "../../../lib/cluster/write.ts";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { config, FakeFacts, instance, kvEntry } from "../../_support/cluster.ts";

const cfg = config({ clusterKey: "cluster" });
const doc = { active_nodes: ["a1"], standby_nodes: ["s1"] };
const flipped = { active_nodes: ["s1"], standby_nodes: ["a1"], lock: true };

async function standbyView(d: unknown = doc) {
  return await readClusterView(
    new FakeFacts({
      node: "s1",
      datacenter: "dc1",
      kv: { "cluster/web": kvEntry("cluster/web", d, 17) },
      health: { dc1: [instance("a1", false, "dc1", ["serfHealth=critical"])] },
    }),
    cfg,
    "web",
  );
}

Deno.test("docWrite() is a check-and-set on the index the decision read", async () => {
  const v = await standbyView();
  const at = new Date("2026-01-02T03:04:05.000Z");
  assert.deepEqual(docWrite(v, flipFor(v), "flip", undefined, () => at), {
    kind: "kv-write",
    key: "cluster/web",
    value: JSON.stringify(flipped),
    cas: 17,
    why: "flip",
    record: {
      key: "service/web/history",
      entry: {
        time: at.toISOString(),
        node: v.node,
        service: "web",
        action: "flip",
        before: doc,
        after: flipped,
        reason: v.decision.reason,
      },
    },
  });
  const locked = await standbyView({ ...doc, lock: true });
  assert.deepEqual(unlockFor(locked), doc);
});

Deno.test("planDocCopies() overwrites only a copy that still says what the decision read", async () => {
  const v = await standbyView();
  const copies = [
    {
      dc: "dc2",
      entry: kvEntry("cluster/web", { standby_nodes: ["s1"], active_nodes: ["a1"] }, 5),
    },
    { dc: "dc3", entry: kvEntry("cluster/web", flipped, 6) },
    { dc: "dc4", entry: null },
    { dc: "dc5", entry: kvEntry("cluster/web", "{", 7) },
    { dc: "dc6", entry: kvEntry("cluster/web", { active_nodes: ["x"], standby_nodes: ["y"] }, 8) },
    { dc: "dc7", error: "timed out" },
  ];
  const p = planDocCopies(v, flipped, copies, "flip");
  assert.deepEqual(p.steps, [{
    kind: "kv-write",
    key: "cluster/web",
    value: JSON.stringify(flipped),
    cas: 5,
    dc: "dc2",
    why: "flip",
  }]);
  assert.deepEqual(p.notes, [
    "dc3: already up to date",
    "dc4: no copy of cluster/web, left alone",
    "dc5: copy is not valid JSON, left alone",
    "dc6: copy differs from what this decision was based on, left alone",
    "dc7: not updated (timed out)",
  ]);
});
