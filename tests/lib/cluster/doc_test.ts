import assert from "node:assert/strict";
import {
  flippedDoc,
  parseClusterDoc,
  sameDoc,
  selectGroup,
  unlockedDoc,
} from "../../../lib/cluster/doc.ts";
import { place } from "../../../lib/cluster/role.ts";
import { ClusterError } from "../../../lib/errors.ts";
import { dcDoc, nodesDoc } from "../../_support/cluster.ts";

Deno.test("selectGroup() takes the first matching filter in document order", () => {
  const doc = parseClusterDoc(JSON.stringify({
    filter: {
      "web-east": { active_nodes: ["web-east1"], standby_nodes: ["web-east2"] },
      "web": { active_nodes: ["web-west1"], standby_nodes: ["web-west2"] },
    },
  }));
  assert.equal(selectGroup(doc, "web-east2").pattern, "web-east");
  assert.equal(selectGroup(doc, "web-west2").pattern, "web");
  // matched from the start of the name
  assert.throws(() => selectGroup(doc, "old-web-east1"), ClusterError);
  const p = place({ doc, node: "web-west2", datacenter: "dc1" });
  assert.equal(p.kind, "standby");
});

Deno.test("flippedDoc() swaps roles, locks, keeps other fields; unlockedDoc() removes the lock", () => {
  const doc = nodesDoc({ note: "keep me" });
  const flipped = flippedDoc(doc);
  assert.deepEqual(flipped, {
    active_nodes: ["s1"],
    standby_nodes: ["a1", "a2"],
    note: "keep me",
    lock: true,
  });
  const again = parseClusterDoc(JSON.stringify(flipped));
  assert.ok(
    sameDoc(unlockedDoc(again), {
      active_nodes: ["s1"],
      standby_nodes: ["a1", "a2"],
      note: "keep me",
    }),
  );
  const dc = flippedDoc(dcDoc());
  assert.equal(dc.active_datacenter, "dc2");
  assert.equal(dc.standby_datacenter, "dc1");
  const f = parseClusterDoc(JSON.stringify({
    filter: {
      a: { active_nodes: ["a1"], standby_nodes: ["a2"] },
      b: { active_nodes: ["b1"], standby_nodes: ["b2"] },
    },
  }));
  const ff = flippedDoc(f, "b") as { filter: Record<string, Record<string, unknown>> };
  assert.deepEqual(ff.filter.a, { active_nodes: ["a1"], standby_nodes: ["a2"] });
  assert.deepEqual(ff.filter.b, { active_nodes: ["b2"], standby_nodes: ["b1"], lock: true });
  assert.throws(() => flippedDoc(parseClusterDoc("{}")), ClusterError);
});
