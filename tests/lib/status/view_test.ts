import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import { buildGroups } from "../../../lib/status/view.ts";
import { instance as inst } from "../../_support/cluster.ts";

Deno.test("buildGroups() lists each listed node with its health, unregistered ones too", () => {
  const doc = parseClusterDoc(JSON.stringify({ active_nodes: ["a"], standby_nodes: ["b", "z"] }));
  const [g] = buildGroups(
    doc,
    [inst("a", true), inst("b", false, "dc1", ["serfHealth=critical"])],
    null,
  );
  assert.equal(g!.mode, "nodes");
  assert.deepEqual(g!.active.map((i) => [i.node, i.passing]), [["a", true]]);
  assert.deepEqual(
    g!.standby.map((i) => [i.node, i.registered, i.failing]),
    [["b", true, ["serfHealth=critical"]], ["z", false, []]],
  );
  const dcDoc = parseClusterDoc(
    JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" }),
  );
  const [d] = buildGroups(
    dcDoc,
    [inst("a", true), inst("x", true, "dc2"), inst("skip", true)],
    "a|x",
  );
  assert.deepEqual(d!.active.map((i) => i.node), ["a"]);
  assert.deepEqual(d!.standby.map((i) => i.node), ["x"]);
});

Deno.test("buildGroups() puts each node in the group the document selects for it", () => {
  const doc = parseClusterDoc(JSON.stringify({
    filter: {
      "web-east": { active_datacenter: "dc1", standby_datacenter: "dc2" },
      "web": {},
    },
  }));
  const [east, rest] = buildGroups(
    doc,
    [inst("web-east1", true), inst("web-east2", true, "dc2"), inst("web-west1", true)],
    null,
  );
  assert.deepEqual(east!.active.map((i) => i.node), ["web-east1"]);
  assert.deepEqual(east!.standby.map((i) => i.node), ["web-east2"]);
  assert.deepEqual(rest!.active.map((i) => i.node), ["web-west1"], "first match wins");
});
