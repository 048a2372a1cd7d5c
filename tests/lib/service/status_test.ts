// The status view's pure parts (buildGroups, renderTable).
import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import type { Instance } from "../../../lib/consul/client.ts";
import {
  buildGroups,
  paintFor,
  renderTable,
  type StatusReport,
} from "../../../lib/service/status.ts";

const nodesDoc = { active_nodes: ["a"], standby_nodes: ["b"] };

const ESC = String.fromCharCode(27);

const inst = (node: string, passing: boolean, dc = "dc1", failing: string[] = []): Instance => ({
  node,
  datacenter: dc,
  serviceId: "web",
  service: "web",
  tags: [],
  passing,
  failing,
  pending: false,
  checksIndex: 0,
  claimsActive: false,
});

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

Deno.test("renderTable() shows an error row, colours only when asked", () => {
  const report: StatusReport = {
    node: "a",
    datacenter: "dc1",
    clusterKey: "cluster",
    services: [
      {
        service: "web",
        key: "cluster/web",
        mode: "nodes",
        lock: true,
        groups: buildGroups(
          parseClusterDoc(JSON.stringify({ ...nodesDoc, lock: true })),
          [inst("a", true), inst("b", true)],
          null,
        ),
        pendingFlags: [{ node: "b", promote: "START", demote: "NULL" }],
        switching: null,
        thisNode: { role: "primary", state: "primary", reason: "" },
        error: null,
      },
      {
        service: "bad",
        key: "cluster/bad",
        mode: "error",
        lock: false,
        groups: [],
        pendingFlags: [],
        switching: null,
        thisNode: { role: null, state: null, reason: "" },
        error: "cluster document cluster/bad is not valid JSON",
      },
    ],
  };
  const text = renderTable(report, paintFor(false, undefined));
  assert.ok(!text.includes(ESC), "no colour off a terminal");
  assert.match(text, /^web +nodes +locked +a\(passing\) +b\(passing\) +b:promote=START +primary$/m);
  assert.match(text, /^bad +error .*not valid JSON/m);
  assert.ok(renderTable(report, paintFor(true, undefined)).includes(`${ESC}[32mpassing`));
  assert.ok(!renderTable(report, paintFor(true, "1")).includes(ESC), "NO_COLOR");
});
