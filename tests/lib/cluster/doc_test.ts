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

Deno.test("flippedDoc() with a winner keeps the number of actives: the winner and the standbys after it", async (t) => {
  const doc = (a: string[], s: string[]) =>
    parseClusterDoc(JSON.stringify({ active_nodes: a, standby_nodes: s, note: 1 }));
  await t.step("one active, two standbys: only the winner becomes active", () => {
    assert.deepEqual(flippedDoc(doc(["a1"], ["s1", "s2"]), undefined, "s2"), {
      active_nodes: ["s2"],
      standby_nodes: ["a1", "s1"],
      note: 1,
      lock: true,
    });
  });
  await t.step(
    "two actives: the winner, then the next standby in document order (wrapping)",
    () => {
      assert.deepEqual(flippedDoc(doc(["a1", "a2"], ["s1", "s2", "s3"]), undefined, "s3"), {
        active_nodes: ["s3", "s1"],
        standby_nodes: ["a1", "a2", "s2"],
        note: 1,
        lock: true,
      });
    },
  );
  await t.step("more actives than standbys: every standby", () => {
    const f = flippedDoc(doc(["a1", "a2", "a3"], ["s1", "s2"]), undefined, "s1");
    assert.deepEqual(f.active_nodes, ["s1", "s2"]);
    assert.deepEqual(f.standby_nodes, ["a1", "a2", "a3"]);
  });
  await t.step("a winner that is no standby is refused", () => {
    assert.throws(
      () => flippedDoc(doc(["a1"], ["s1"]), undefined, "a1"),
      /node a1 is not a standby of the cluster document/,
    );
  });
  await t.step("datacenter documents swap as before", () => {
    assert.equal(flippedDoc(dcDoc(), undefined, undefined).active_datacenter, "dc2");
  });
});
